// The wallet resource (SPEC §5, §6, §9): GET /users/{id}/wallet, GET /users/{id}/ledger and
// POST /users/{id}/deposits | withdrawals | credits.
//
// Movements are idempotent by `unique_request_id` (required): the first request answers 201 with
// the new ledger entry, a repeat 200 with the original one (409 if it names another kind or
// amount). Each committed movement writes its audit row in the same transaction and then tells
// every gateway's admission the new balance through Redis (billing::syncWallet), so a deposit is
// spendable at once everywhere.
//
// `reserved` is what in-flight and not yet settled requests hold in Redis (the user's totals hash,
// res + pend); `available` = cash + credit_limit - debt - reserved. When Redis cannot be asked, the
// wallet still answers from PostgreSQL with reserved "0.000000000" and reserved_unavailable true.

#include "Log.h"
#include "admin/AdminResource.h"
#include "billing/BillingRedis.h"
#include "billing/BillingScripts.h"
#include "storage/AuditRepository.h"
#include "storage/RedisPool.h"
#include "storage/WalletRepository.h"

#include <QPointer>
#include <QTimer>

namespace llmpool::gateway {

namespace {

using namespace admin;

// How long a request waits for this thread's Redis client while it makes its first connection.
constexpr int kRedisConnectWaitMs = 1'000;

QJsonObject amountsJson(const WalletAmounts &amounts)
{
    return QJsonObject{{QStringLiteral("cash"), amounts.cash.toString()},
                       {QStringLiteral("credit_limit"), amounts.creditLimit.toString()},
                       {QStringLiteral("debt"), amounts.debt.toString()}};
}

QJsonObject entryJson(const LedgerEntry &entry)
{
    return QJsonObject{{QStringLiteral("id"), entry.id},
                       {QStringLiteral("user_id"), entry.userId},
                       {QStringLiteral("kind"), entry.kind},
                       {QStringLiteral("amount"), entry.amount.toString()},
                       {QStringLiteral("cash_after"), entry.after.cash.toString()},
                       {QStringLiteral("credit_limit_after"), entry.after.creditLimit.toString()},
                       {QStringLiteral("debt_after"), entry.after.debt.toString()},
                       {QStringLiteral("unique_request_id"), entry.uniqueRequestId},
                       {QStringLiteral("note"), entry.note ? QJsonValue(*entry.note) : QJsonValue::Null},
                       {QStringLiteral("created_at"), timeJson(entry.createdAt)}};
}

QJsonObject walletJson(const WalletRecord &wallet, std::optional<Money> reserved)
{
    QJsonObject json = amountsJson(wallet.amounts);
    json.insert(QStringLiteral("user_id"), wallet.userId);
    json.insert(QStringLiteral("currency"), wallet.currency);
    const Money held = reserved.value_or(Money::zero());
    Result<Money> balance = wallet.amounts.balance();
    Result<Money> available = balance ? balance->sub(held) : balance;
    json.insert(QStringLiteral("reserved"), held.toString());
    json.insert(QStringLiteral("available"), available ? QJsonValue(available->toString()) : QJsonValue::Null);
    // Only when it is true, so the usual answer is exactly SPEC §9's field list.
    if (!reserved)
        json.insert(QStringLiteral("reserved_unavailable"), true);
    return json;
}

// Runs `go(true)` once this thread's Redis client is connected, or `go(false)` when it is not and
// is not about to be (down, waiting to reconnect, or still connecting after the wait). A client is
// made on first use, so the first request of a thread may find it still connecting.
void whenRedisReady(RedisClient *client, QObject *context, std::function<void(bool)> go)
{
    if (client->isConnected())
        return go(true);
    if (client->state() != RedisClient::State::Connecting)
        return go(false);
    auto decided = std::make_shared<bool>(false);
    auto waiting = std::make_shared<QMetaObject::Connection>();
    auto decide = [decided, waiting, go](bool ready) {
        if (*decided)
            return;
        *decided = true;
        QObject::disconnect(*waiting);
        go(ready);
    };
    *waiting = QObject::connect(client, &RedisClient::connected, context, [decide] { decide(true); });
    QTimer::singleShot(kRedisConnectWaitMs, context, [decide] { decide(false); });
}

// What the user's requests hold in Redis: reserved (in flight) + pending (finished, not settled).
void readReserved(const AdminContext &context, qint64 userId, QObject *threadContext,
                  std::function<void(std::optional<Money>)> done)
{
    if (!context.redis)
        return done(std::nullopt);
    RedisClient *client = context.redis->local();
    QPointer<RedisClient> guard(client);
    whenRedisReady(client, threadContext, [guard, userId, threadContext, done](bool ready) {
        if (!ready || !guard)
            return done(std::nullopt);
        const billing::UserKeys keys = billing::UserKeys::of(userId);
        guard->command({QByteArrayLiteral("HMGET"), keys.totals, QByteArrayLiteral("res"), QByteArrayLiteral("pend")},
                       threadContext, [userId, done](Result<RedisReply> reply) {
                           if (!reply || !reply->isArray() || reply->elements.size() != 2) {
                               qCWarning(lcAdmin).noquote()
                                   << "wallet of user" << userId << "shown without reservations:"
                                   << (reply ? reply->describe().left(200) : reply.error().message);
                               return done(std::nullopt);
                           }
                           Money total;
                           for (const RedisReply &field : reply->elements) {
                               if (field.isNil())
                                   continue;
                               Result<Money> amount = billing::moneyFromNanosText(field.string);
                               Result<Money> sum = amount ? total.add(*amount) : amount;
                               if (!field.isString() || !sum) {
                                   qCWarning(lcAdmin).noquote()
                                       << "wallet of user" << userId << "shown without reservations: Redis holds"
                                       << field.describe().left(100);
                                   return done(std::nullopt);
                               }
                               total = *sum;
                           }
                           done(total);
                       });
    });
}

// Tells every instance's admission the wallet's new balance. Fire-and-forget: the cached balance
// expires by itself (billing::kWalletTtlMs) if this is lost.
void announceWallet(const AdminContext &context, const WalletRecord &wallet)
{
    if (!context.redis)
        return;
    Result<Money> balance = wallet.amounts.balance();
    if (!balance) {
        qCWarning(lcAdmin).noquote() << "wallet of user" << wallet.userId
                                     << "not announced:" << balance.error().message;
        return;
    }
    const billing::WalletState state{wallet.userId, *balance, wallet.version, {}, {}};
    RedisClient *client = context.redis->local();
    QPointer<RedisClient> guard(client);
    whenRedisReady(client, client, [guard, state](bool ready) {
        if (!ready || !guard) {
            qCWarning(lcAdmin).noquote() << "wallet of user" << state.userId << "not announced: Redis is not connected";
            return;
        }
        billing::syncWallet(guard, state, guard, [userId = state.userId](Status synced) {
            if (!synced)
                qCWarning(lcAdmin).noquote()
                    << "wallet of user" << userId << "not announced:" << synced.error().message;
        });
    });
}

std::optional<qint64> userIdOf(AdminCall &call)
{
    const QByteArray rawId = call.request.pathParam("id");
    const std::optional<qint64> id = parseId(rawId);
    if (!id)
        replyError(call.responder, notFound(QStringLiteral("user"), rawId));
    return id;
}

void getWallet(AdminCall &call)
{
    const std::optional<qint64> id = userIdOf(call);
    if (!id)
        return;
    auto context = call.context;
    runJob(
        call, [id = *id](QSqlDatabase &db) { return WalletRepository::wallet(db, id); },
        [id = *id, context](HttpResponder &responder, std::optional<WalletRecord> wallet) {
            if (!wallet)
                return replyError(responder, Error::notFound(QStringLiteral("user %1 does not exist").arg(id)));
            QObject *threadContext = responder.threadContext();
            if (!threadContext)
                return;
            readReserved(*context, id, threadContext,
                         [responder, wallet = *wallet](std::optional<Money> reserved) mutable {
                             respondJson(responder, 200, walletJson(wallet, reserved));
                         });
        },
        JobRetry::Idempotent);
}

void getLedger(AdminCall &call)
{
    const std::optional<qint64> id = userIdOf(call);
    if (!id)
        return;
    Result<PageRequest> page = parsePage(call.request);
    if (!page)
        return replyError(call.responder, page.error());
    const PageRequest p = *page;
    runJob(
        call, [id = *id, p](QSqlDatabase &db) { return WalletRepository::ledgerPage(db, id, p.offset(), p.pageSize); },
        [p](HttpResponder &responder, LedgerPage result) {
            QJsonArray data;
            for (const LedgerEntry &entry : result.entries)
                data.append(entryJson(entry));
            respondJson(responder, 200, pageJson(data, p, result.total));
        },
        JobRetry::Idempotent);
}

void postMovement(AdminCall &call, MovementKind kind)
{
    const std::optional<qint64> id = userIdOf(call);
    if (!id)
        return;
    const QLatin1StringView amountField("amount"), requestField("unique_request_id"), noteField("note");
    BodyReader body(call.request.body(), {amountField, requestField, noteField});
    std::optional<std::optional<Money>> amount;
    std::optional<QString> requestId;
    std::optional<std::optional<QString>> note;
    body.require(amountField);
    body.nullableMoney(amountField, amount);
    body.require(requestField);
    body.string(requestField, requestId, WalletRepository::kMaxRequestIdLength);
    body.nullableString(noteField, note, WalletRepository::kMaxNoteLength);
    if (body.error())
        return replyError(call.responder, *body.error());
    if (!amount || !amount->has_value())
        return replyError(call.responder,
                          BodyReader::invalidField(amountField, QStringLiteral("amount must be a decimal string such "
                                                                               "as \"12.5\"")));
    Movement movement;
    movement.userId = *id;
    movement.kind = kind;
    movement.amount = **amount;
    movement.uniqueRequestId = *requestId;
    movement.note = note.value_or(std::nullopt);
    if (Status valid = WalletRepository::validate(movement); !valid)
        return replyError(call.responder, valid.error());

    const QString actor = call.actor;
    auto context = call.context;
    runJob(
        call,
        [movement, actor](QSqlDatabase &db) {
            const QString action = QStringLiteral("wallet.") + WalletRepository::kindName(movement.kind);
            return WalletRepository::applyMovement(
                db, movement, [&](QSqlDatabase &conn, const WalletRecord &before, const MovementResult &after) {
                    QJsonObject afterJson = amountsJson(after.wallet.amounts);
                    afterJson.insert(QStringLiteral("entry"), entryJson(after.entry));
                    return AuditRepository::insert(conn, actor, action, QStringLiteral("wallet"),
                                                   QString::number(movement.userId), amountsJson(before.amounts),
                                                   afterJson);
                });
        },
        [context](HttpResponder &responder, MovementResult result) {
            // Also on a replay: the state is current, and it heals an announcement lost the first time.
            announceWallet(*context, result.wallet);
            respondJson(responder, result.replayed ? 200 : 201, entryJson(result.entry));
        },
        // Safe to re-run on a fresh connection: the idempotency key turns a repeat into a replay.
        JobRetry::Idempotent);
}

} // namespace

std::vector<AdminRoute> walletRoutes()
{
    auto movement = [](MovementKind kind) { return [kind](AdminCall &call) { postMovement(call, kind); }; };
    return {
        {"GET",
         "/users/{id}/wallet",
         getWallet,
         {.summary = "Get a user's wallet (reserved: what in-flight and unsettled requests hold)",
          .tag = "wallets",
          .responseSchema = "Wallet"}},
        {"GET",
         "/users/{id}/ledger",
         getLedger,
         {.summary = "A user's ledger, newest first",
          .tag = "wallets",
          .responseSchema = "LedgerEntry",
          .shape = api::Shape::Page}},
        {"POST",
         "/users/{id}/deposits",
         movement(MovementKind::Deposit),
         {.summary = "Deposit: repays debt first, the rest is cash",
          .tag = "wallets",
          .requestSchema = "MoneyMovement",
          .responseSchema = "LedgerEntry",
          .status = 201,
          .description = "A repeated unique_request_id answers 200 with the original entry; 409 "
                         "idempotency_conflict when its kind or amount differ.",
          .replayStatus = 200}},
        {"POST",
         "/users/{id}/withdrawals",
         movement(MovementKind::Withdrawal),
         {.summary = "Withdraw cash (409 insufficient_funds when cash is short; never from credit)",
          .tag = "wallets",
          .requestSchema = "MoneyMovement",
          .responseSchema = "LedgerEntry",
          .status = 201,
          .description = "A repeated unique_request_id answers 200 with the original entry.",
          .replayStatus = 200}},
        {"POST",
         "/users/{id}/credits",
         movement(MovementKind::Credit),
         {.summary = "Change the credit limit by a signed amount (it must stay >= 0)",
          .tag = "wallets",
          .requestSchema = "MoneyMovement",
          .responseSchema = "LedgerEntry",
          .status = 201,
          .description = "A repeated unique_request_id answers 200 with the original entry.",
          .replayStatus = 200}},
    };
}

} // namespace llmpool::gateway
