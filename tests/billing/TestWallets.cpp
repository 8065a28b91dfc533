// Wallets, the ledger and reconcile (SPEC §5): WalletRepository against a migrated database, real
// concurrency on several connections, and `llmpool billing reconcile` in-process with injected
// stdio.

#include "SharedServices.h"
#include "StorageTestUtil.h"
#include "cli/BillingCommands.h"
#include "storage/AuditRepository.h"
#include "storage/Database.h"
#include "storage/Transaction.h"
#include "storage/UserRepository.h"
#include "storage/WalletRepository.h"

#include <QElapsedTimer>
#include <QFile>
#include <QJsonObject>
#include <QScopeGuard>
#include <QTemporaryDir>
#include <QTest>

#include <atomic>
#include <latch>
#include <thread>

using namespace llmpool;
using namespace llmpool::gateway;
using namespace llmpool::test;

namespace {

Money money(const char *text)
{
    Result<Money> m = Money::parse(QString::fromLatin1(text));
    if (!m)
        qFatal("bad test amount %s", text);
    return *m;
}

WalletAmounts amounts(const char *cash, const char *limit, const char *debt)
{
    return WalletAmounts{money(cash), money(limit), money(debt)};
}

QString describe(const WalletAmounts &a)
{
    return a.cash.toString() + QLatin1Char('/') + a.creditLimit.toString() + QLatin1Char('/') + a.debt.toString();
}

struct CliRun
{
    int exitCode = -1;
    QString out;
    QString err;
};

} // namespace

class TestWallets : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<SharedServices> m_services;
    std::unique_ptr<Database> m_db;
    QString m_url;
    QTemporaryDir m_dir;
    int m_users = 0;
    int m_configs = 0;

    qint64 newUser(const QString &prefix = QStringLiteral("wallet"))
    {
        NewUser user;
        user.name = QStringLiteral("%1-%2").arg(prefix).arg(++m_users);
        Result<UserRecord> created =
            m_db->runSync([user](QSqlDatabase &db) { return UserRepository::create(db, user); });
        if (!created)
            qFatal("cannot create a user: %s", qPrintable(created.error().message));
        return created->id;
    }

    Result<MovementResult> move(qint64 userId, MovementKind kind, const char *amount, const QString &requestId,
                                std::optional<QString> note = std::nullopt)
    {
        Movement m{userId, kind, money(amount), requestId, std::move(note)};
        return m_db->runSync([m](QSqlDatabase &db) { return WalletRepository::applyMovement(db, m); });
    }

    // What the usage worker does for a request (llmpool_settle_usage), written here with the same
    // rule so the tests can put a wallet into debt without the pipeline.
    Status spend(qint64 userId, const char *amount, const QString &requestId)
    {
        const Money cost = money(amount);
        return m_db->runSync([=](QSqlDatabase &db) {
            return inTransaction(db, [&]() -> Status {
                QSqlQuery lock(db);
                if (!lock.exec(QStringLiteral("SELECT 1 FROM wallets WHERE user_id = %1 FOR UPDATE").arg(userId)))
                    return Error::internal(QStringLiteral("test"), lock.lastError().text());
                Result<std::optional<WalletRecord>> w = WalletRepository::wallet(db, userId);
                if (!w || !w->has_value())
                    return Error::internal(QStringLiteral("test"), QStringLiteral("no wallet"));
                Result<WalletAmounts> after = WalletRepository::applyRule((*w)->amounts, u"spend", cost);
                if (!after)
                    return after.takeError();
                QSqlQuery q(db);
                q.prepare(QStringLiteral(
                    "WITH e AS (INSERT INTO ledger_entries (user_id, kind, amount, cash_after, credit_limit_after, "
                    "debt_after, unique_request_id) VALUES (:u, 'spend', CAST(:a AS numeric), CAST(:c AS numeric), "
                    "CAST(:l AS numeric), CAST(:d AS numeric), :r) RETURNING 1) "
                    "UPDATE wallets SET cash = CAST(:c2 AS numeric), debt = CAST(:d2 AS numeric) WHERE user_id = :u2"));
                q.bindValue(QStringLiteral(":u"), QVariant::fromValue(userId));
                q.bindValue(QStringLiteral(":a"), cost.toString());
                q.bindValue(QStringLiteral(":c"), after->cash.toString());
                q.bindValue(QStringLiteral(":l"), after->creditLimit.toString());
                q.bindValue(QStringLiteral(":d"), after->debt.toString());
                q.bindValue(QStringLiteral(":r"), requestId);
                q.bindValue(QStringLiteral(":c2"), after->cash.toString());
                q.bindValue(QStringLiteral(":d2"), after->debt.toString());
                q.bindValue(QStringLiteral(":u2"), QVariant::fromValue(userId));
                if (!q.exec())
                    return Error::internal(QStringLiteral("test"), q.lastError().text());
                return Ok{};
            });
        });
    }

    WalletRecord walletOf(qint64 userId)
    {
        Result<std::optional<WalletRecord>> w =
            m_db->runSync([userId](QSqlDatabase &db) { return WalletRepository::wallet(db, userId); });
        if (!w || !w->has_value())
            qFatal("no wallet for user %lld", userId);
        return **w;
    }

    qint64 count(const QString &sql)
    {
        Result<SqlOutcome> r = sqlOn(*m_db, sql);
        if (!r || !r->ok)
            qFatal("query failed: %s: %s", qPrintable(sql), r ? qPrintable(r->message) : "");
        return r->value.toLongLong();
    }

    void exec(const QString &sql)
    {
        Result<SqlOutcome> r = sqlOn(*m_db, sql);
        QVERIFY2(r.ok() && r->ok, qPrintable(sql + QStringLiteral(": ") + (r ? r->message : r.error().message)));
    }

    Result<ReconcileReport> reconcile()
    {
        return m_db->runSync([](QSqlDatabase &db) { return WalletRepository::reconcile(db); });
    }

    CliRun runCli(const QString &databaseUrl)
    {
        const QString path = m_dir.filePath(QStringLiteral("reconcile-%1.toml").arg(++m_configs));
        QFile file(path);
        if (!file.open(QIODevice::WriteOnly))
            qFatal("cannot write %s", qPrintable(path));
        file.write("[database]\nurl = \"" + databaseUrl.toUtf8() + "\"\n[redis]\nurl = \"" +
                   m_services->redisUrl().toUtf8() + "\"\n");
        file.close();
        QString outText, errText, inText;
        QTextStream out(&outText), err(&errText), in(&inText);
        CliContext ctx{out, err, in, QProcessEnvironment(), path};
        // The group itself, as `llmpool billing` runs it (Cli::run only adds --config handling).
        std::unique_ptr<CommandGroup> billing = makeBillingCommands();
        CliRun r;
        r.exitCode = billing->execute({QStringLiteral("billing"), QStringLiteral("reconcile")}, ctx);
        out.flush();
        err.flush();
        r.out = outText;
        r.err = errText;
        return r;
    }

    // Runs `work` on `threads` threads that all start it at the same moment (each on its own pool
    // connection: the pool has at least that many).
    template <class Work> void together(int threads, Work work)
    {
        std::latch start(threads);
        std::vector<std::thread> pool;
        for (int i = 0; i < threads; ++i) {
            pool.emplace_back([&, i] {
                start.arrive_and_wait();
                work(i);
            });
        }
        for (std::thread &t : pool)
            t.join();
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        Result<std::unique_ptr<SharedServices>> services = SharedServices::fromEnv();
        QVERIFY2(services.ok(), services.ok() ? "" : qPrintable(services.error().message));
        m_services = std::move(services.value());
        m_db = migratedDatabase(*m_services, &m_url, 8);
    }

    void cleanupTestCase()
    {
        if (m_db)
            m_db->stop();
        m_db.reset();
        m_services.reset();
    }

    void rules_data()
    {
        QTest::addColumn<QString>("kind");
        QTest::addColumn<QString>("before"); // cash/credit_limit/debt
        QTest::addColumn<QString>("amount");
        QTest::addColumn<QString>("after"); // or the error code
        QTest::newRow("deposit into an empty wallet") << "deposit"
                                                      << "0/0/0"
                                                      << "10"
                                                      << "10/0/0";
        QTest::newRow("deposit repays all debt first") << "deposit"
                                                       << "0/50/30"
                                                       << "100"
                                                       << "70/50/0";
        QTest::newRow("deposit smaller than the debt") << "deposit"
                                                       << "0/50/30"
                                                       << "12.5"
                                                       << "0/50/17.5";
        QTest::newRow("deposit equal to the debt") << "deposit"
                                                   << "0/50/30"
                                                   << "30"
                                                   << "0/50/0";
        QTest::newRow("deposit of one nano") << "deposit"
                                             << "1/0/0"
                                             << "0.000000001"
                                             << "1.000000001/0/0";
        QTest::newRow("deposit zero") << "deposit"
                                      << "0/0/0"
                                      << "0"
                                      << "invalid_amount";
        QTest::newRow("deposit negative") << "deposit"
                                          << "5/0/0"
                                          << "-1"
                                          << "invalid_amount";
        QTest::newRow("withdrawal") << "withdrawal"
                                    << "10/5/0"
                                    << "4"
                                    << "6/5/0";
        QTest::newRow("withdrawal of all cash") << "withdrawal"
                                                << "10/0/0"
                                                << "10"
                                                << "0/0/0";
        QTest::newRow("withdrawal short") << "withdrawal"
                                          << "10/100/0"
                                          << "10.000000001"
                                          << "insufficient_funds";
        QTest::newRow("withdrawal never takes credit") << "withdrawal"
                                                       << "0/100/0"
                                                       << "1"
                                                       << "insufficient_funds";
        QTest::newRow("credit up") << "credit"
                                   << "1/0/0"
                                   << "25"
                                   << "1/25/0";
        QTest::newRow("credit down") << "credit"
                                     << "1/25/0"
                                     << "-5"
                                     << "1/20/0";
        QTest::newRow("credit down to zero") << "credit"
                                             << "1/25/3"
                                             << "-25"
                                             << "1/0/3";
        QTest::newRow("credit below zero") << "credit"
                                           << "1/25/0"
                                           << "-25.000000001"
                                           << "credit_limit_negative";
        QTest::newRow("credit zero") << "credit"
                                     << "1/25/0"
                                     << "0"
                                     << "invalid_amount";
        QTest::newRow("spend from cash") << "spend"
                                         << "10/5/0"
                                         << "3"
                                         << "7/5/0";
        QTest::newRow("spend beyond cash is debt") << "spend"
                                                   << "10/5/1"
                                                   << "13"
                                                   << "0/5/4";
        QTest::newRow("free spend") << "spend"
                                    << "10/5/0"
                                    << "0"
                                    << "10/5/0";
        QTest::newRow("refund repays debt") << "refund"
                                            << "0/5/4"
                                            << "6"
                                            << "2/5/0";
        QTest::newRow("positive adjustment") << "adjustment"
                                             << "0/5/4"
                                             << "1"
                                             << "0/5/3";
        QTest::newRow("negative adjustment") << "adjustment"
                                             << "2/5/0"
                                             << "-3"
                                             << "0/5/1";
        QTest::newRow("unknown kind") << "gift"
                                      << "0/0/0"
                                      << "1"
                                      << "invalid_kind";
    }

    void rules()
    {
        QFETCH(QString, kind);
        QFETCH(QString, before);
        QFETCH(QString, amount);
        QFETCH(QString, after);
        const QStringList b = before.split(QLatin1Char('/'));
        const WalletAmounts start{*Money::parse(b[0]), *Money::parse(b[1]), *Money::parse(b[2])};
        Result<WalletAmounts> result = WalletRepository::applyRule(start, kind, *Money::parse(amount));
        if (!after.contains(QLatin1Char('/'))) {
            QVERIFY(!result.ok());
            QCOMPARE(result.error().code, after);
            QCOMPARE(result.error().httpStatus, after.startsWith(QLatin1String("invalid")) ? 400 : 409);
            return;
        }
        QVERIFY2(result.ok(), result.ok() ? "" : qPrintable(result.error().message));
        const QStringList a = after.split(QLatin1Char('/'));
        QCOMPARE(describe(*result),
                 describe(WalletAmounts{*Money::parse(a[0]), *Money::parse(a[1]), *Money::parse(a[2])}));
    }

    void depositRepaysDebtFirst()
    {
        const qint64 user = newUser();
        QVERIFY(move(user, MovementKind::Credit, "100", QStringLiteral("credit-1")).ok());
        QVERIFY(spend(user, "50", QStringLiteral("req-1")).ok());
        QCOMPARE(describe(walletOf(user).amounts), describe(amounts("0", "100", "50")));

        Result<MovementResult> first = move(user, MovementKind::Deposit, "30", QStringLiteral("dep-1"));
        QVERIFY2(first.ok(), first.ok() ? "" : qPrintable(first.error().message));
        QVERIFY(!first->replayed);
        QCOMPARE(first->entry.kind, QStringLiteral("deposit"));
        QCOMPARE(first->entry.amount, money("30"));
        QCOMPARE(describe(first->entry.after), describe(amounts("0", "100", "20")));
        QCOMPARE(describe(first->wallet.amounts), describe(amounts("0", "100", "20")));
        QCOMPARE(first->wallet.version, first->entry.id);
        QCOMPARE(first->wallet.currency, QStringLiteral("USD"));

        Result<MovementResult> second = move(user, MovementKind::Deposit, "50.5", QStringLiteral("dep-2"));
        QVERIFY(second.ok());
        QCOMPARE(describe(second->entry.after), describe(amounts("30.5", "100", "0")));
        const WalletRecord w = walletOf(user);
        QCOMPARE(describe(w.amounts), describe(amounts("30.5", "100", "0")));
        QCOMPARE(w.version, second->entry.id);
        QCOMPARE(*w.amounts.balance(), money("130.5"));
    }

    void withdrawalNeedsCash()
    {
        const qint64 user = newUser();
        QVERIFY(move(user, MovementKind::Deposit, "10", QStringLiteral("d")).ok());
        QVERIFY(move(user, MovementKind::Credit, "1000", QStringLiteral("c")).ok());
        const qint64 entries =
            count(QStringLiteral("SELECT count(*) FROM ledger_entries WHERE user_id = %1").arg(user));

        Result<MovementResult> tooMuch = move(user, MovementKind::Withdrawal, "10.000000001", QStringLiteral("w1"));
        QVERIFY(!tooMuch.ok());
        QCOMPARE(tooMuch.error().httpStatus, 409);
        QCOMPARE(tooMuch.error().code, QStringLiteral("insufficient_funds"));
        QCOMPARE(count(QStringLiteral("SELECT count(*) FROM ledger_entries WHERE user_id = %1").arg(user)), entries);
        QCOMPARE(describe(walletOf(user).amounts), describe(amounts("10", "1000", "0")));

        // The refused key was not used up: the same key with an amount that fits goes through.
        Result<MovementResult> ok =
            move(user, MovementKind::Withdrawal, "7.25", QStringLiteral("w1"), QStringLiteral("payout"));
        QVERIFY(ok.ok());
        QCOMPARE(ok->entry.amount, money("7.25")); // positive, the kind gives the direction
        QCOMPARE(ok->entry.note, std::optional<QString>(QStringLiteral("payout")));
        QCOMPARE(describe(walletOf(user).amounts), describe(amounts("2.75", "1000", "0")));
    }

    void creditUpAndDown()
    {
        const qint64 user = newUser();
        Result<MovementResult> up = move(user, MovementKind::Credit, "40", QStringLiteral("c1"));
        QVERIFY(up.ok());
        QCOMPARE(up->entry.amount, money("40"));
        Result<MovementResult> down = move(user, MovementKind::Credit, "-15", QStringLiteral("c2"));
        QVERIFY(down.ok());
        QCOMPARE(down->entry.amount, money("-15"));
        QCOMPARE(describe(walletOf(user).amounts), describe(amounts("0", "25", "0")));

        Result<MovementResult> below = move(user, MovementKind::Credit, "-25.5", QStringLiteral("c3"));
        QVERIFY(!below.ok());
        QCOMPARE(below.error().code, QStringLiteral("credit_limit_negative"));
        QVERIFY2(below.error().message.contains(QStringLiteral("25.000000000")), qPrintable(below.error().message));
        Result<MovementResult> zero = move(user, MovementKind::Credit, "0", QStringLiteral("c4"));
        QVERIFY(!zero.ok());
        QCOMPARE(zero.error().httpStatus, 400);
        QCOMPARE(zero.error().param, QStringLiteral("amount"));

        // Lowering the line below what is owed is allowed: the debt stays and is still owed.
        QVERIFY(spend(user, "20", QStringLiteral("r1")).ok());
        QVERIFY(move(user, MovementKind::Credit, "-25", QStringLiteral("c5")).ok());
        QCOMPARE(describe(walletOf(user).amounts), describe(amounts("0", "0", "20")));
    }

    void replayReturnsTheOriginal()
    {
        const qint64 user = newUser();
        Result<MovementResult> first =
            move(user, MovementKind::Deposit, "5", QStringLiteral("same"), QStringLiteral("a"));
        QVERIFY(first.ok());
        QVERIFY(!first->replayed);
        QVERIFY(move(user, MovementKind::Deposit, "1", QStringLiteral("other")).ok());

        Result<MovementResult> again =
            move(user, MovementKind::Deposit, "5.000", QStringLiteral("same"), QStringLiteral("b"));
        QVERIFY(again.ok());
        QVERIFY(again->replayed);
        QCOMPARE(again->entry.id, first->entry.id);
        QCOMPARE(describe(again->entry.after), describe(first->entry.after));
        QCOMPARE(again->entry.note, std::optional<QString>(QStringLiteral("a"))); // the original's
        QCOMPARE(again->entry.createdAt, first->entry.createdAt);
        QCOMPARE(describe(walletOf(user).amounts), describe(amounts("6", "0", "0")));
        QCOMPARE(again->wallet.version, walletOf(user).version);

        Result<MovementResult> otherAmount = move(user, MovementKind::Deposit, "6", QStringLiteral("same"));
        QVERIFY(!otherAmount.ok());
        QCOMPARE(otherAmount.error().httpStatus, 409);
        QCOMPARE(otherAmount.error().code, QStringLiteral("idempotency_conflict"));
        Result<MovementResult> otherKind = move(user, MovementKind::Withdrawal, "5", QStringLiteral("same"));
        QVERIFY(!otherKind.ok());
        QCOMPARE(otherKind.error().code, QStringLiteral("idempotency_conflict"));
        QCOMPARE(count(QStringLiteral("SELECT count(*) FROM ledger_entries WHERE user_id = %1").arg(user)), 2);

        // Keys are per user: another user's "same" is a new deposit.
        const qint64 other = newUser();
        Result<MovementResult> theirs = move(other, MovementKind::Deposit, "5", QStringLiteral("same"));
        QVERIFY(theirs.ok());
        QVERIFY(!theirs->replayed);
        QVERIFY(theirs->entry.id != first->entry.id);
    }

    void unknownUser()
    {
        Result<MovementResult> r = move(987654321, MovementKind::Deposit, "1", QStringLiteral("x"));
        QVERIFY(!r.ok());
        QCOMPARE(r.error().httpStatus, 404);
        Result<std::optional<WalletRecord>> w =
            m_db->runSync([](QSqlDatabase &db) { return WalletRepository::wallet(db, 987654321); });
        QVERIFY(w.ok());
        QVERIFY(!w->has_value());
        Result<LedgerPage> page =
            m_db->runSync([](QSqlDatabase &db) { return WalletRepository::ledgerPage(db, 987654321, 0, 20); });
        QVERIFY(!page.ok());
        QCOMPARE(page.error().httpStatus, 404);
    }

    void validation_data()
    {
        QTest::addColumn<int>("kind");
        QTest::addColumn<QString>("amount");
        QTest::addColumn<QString>("requestId");
        QTest::addColumn<QString>("note");
        QTest::addColumn<QString>("param");
        const int deposit = int(MovementKind::Deposit), withdrawal = int(MovementKind::Withdrawal);
        QTest::newRow("zero deposit") << deposit << "0"
                                      << "k"
                                      << ""
                                      << "amount";
        QTest::newRow("negative deposit") << deposit << "-3"
                                          << "k"
                                          << ""
                                          << "amount";
        QTest::newRow("negative withdrawal") << withdrawal << "-3"
                                             << "k"
                                             << ""
                                             << "amount";
        QTest::newRow("empty request id") << deposit << "1"
                                          << ""
                                          << ""
                                          << "unique_request_id";
        QTest::newRow("long request id") << deposit << "1" << QString(201, u'r') << ""
                                         << "unique_request_id";
        QTest::newRow("NUL in request id") << deposit << "1" << QStringLiteral("a") + QChar(u'\0') << ""
                                           << "unique_request_id";
        QTest::newRow("long note") << deposit << "1"
                                   << "k" << QString(1001, u'n') << "note";
        QTest::newRow("NUL in note") << deposit << "1"
                                     << "k" << QStringLiteral("x") + QChar(u'\0') << "note";
    }

    void validation()
    {
        QFETCH(int, kind);
        QFETCH(QString, amount);
        QFETCH(QString, requestId);
        QFETCH(QString, note);
        QFETCH(QString, param);
        const qint64 user = newUser();
        Movement m{user, MovementKind(kind), *Money::parse(amount), requestId,
                   note.isEmpty() ? std::nullopt : std::optional<QString>(note)};
        Result<MovementResult> r =
            m_db->runSync([m](QSqlDatabase &db) { return WalletRepository::applyMovement(db, m); });
        QVERIFY(!r.ok());
        QCOMPARE(r.error().httpStatus, 400);
        QCOMPARE(r.error().param, param);
        QCOMPARE(count(QStringLiteral("SELECT count(*) FROM ledger_entries WHERE user_id = %1").arg(user)), 0);
    }

    void hostileTextIsStoredVerbatim()
    {
        const qint64 user = newUser();
        const QString requestId = QStringLiteral("'); DROP TABLE ledger_entries; -- \"%_\\");
        const QString note = QStringLiteral("Robert'); DELETE FROM wallets; --\n\t\u00e9\u4e2d\U0001F600");
        Result<MovementResult> r = move(user, MovementKind::Deposit, "1", requestId, note);
        QVERIFY2(r.ok(), r.ok() ? "" : qPrintable(r.error().message));
        QCOMPARE(r->entry.uniqueRequestId, requestId);
        QCOMPARE(r->entry.note, std::optional<QString>(note));
        Result<MovementResult> again = move(user, MovementKind::Deposit, "1", requestId);
        QVERIFY(again.ok() && again->replayed);
        QVERIFY(count(QStringLiteral("SELECT count(*) FROM wallets")) > 0);
    }

    void auditCommitsWithTheMovement()
    {
        const qint64 user = newUser();
        const Movement m{user, MovementKind::Deposit, money("3"), QStringLiteral("audited"), std::nullopt};
        // A failing audit rolls the movement back.
        Result<MovementResult> refused = m_db->runSync([m](QSqlDatabase &db) {
            return WalletRepository::applyMovement(
                db, m, [](QSqlDatabase &, const WalletRecord &, const MovementResult &) {
                    return Status(Error::internal(QStringLiteral("audit_failed"), QStringLiteral("no audit today")));
                });
        });
        QVERIFY(!refused.ok());
        QCOMPARE(refused.error().code, QStringLiteral("audit_failed"));
        QCOMPARE(count(QStringLiteral("SELECT count(*) FROM ledger_entries WHERE user_id = %1").arg(user)), 0);
        QCOMPARE(describe(walletOf(user).amounts), describe(amounts("0", "0", "0")));

        std::atomic<int> audits = 0;
        auto audit = [&audits](QSqlDatabase &db, const WalletRecord &before, const MovementResult &after) {
            ++audits;
            return AuditRepository::insert(db, QStringLiteral("tester"), QStringLiteral("wallet.deposit"),
                                           QStringLiteral("wallet"), QString::number(after.entry.userId),
                                           QJsonObject{{QStringLiteral("cash"), before.amounts.cash.toString()}},
                                           QJsonObject{{QStringLiteral("cash"), after.wallet.amounts.cash.toString()}});
        };
        Result<MovementResult> done =
            m_db->runSync([m, audit](QSqlDatabase &db) { return WalletRepository::applyMovement(db, m, audit); });
        QVERIFY(done.ok());
        // A replay writes nothing, so it is not audited.
        Result<MovementResult> replay =
            m_db->runSync([m, audit](QSqlDatabase &db) { return WalletRepository::applyMovement(db, m, audit); });
        QVERIFY(replay.ok() && replay->replayed);
        QCOMPARE(audits.load(), 1);
        QCOMPARE(count(QStringLiteral("SELECT count(*) FROM audit_log WHERE action = 'wallet.deposit' AND "
                                      "resource_id = '%1' AND after->>'cash' = '3.000000000'")
                           .arg(user)),
                 1);
    }

    void concurrentReplaysMakeOneEntry()
    {
        const qint64 user = newUser();
        constexpr int kThreads = 8;
        for (int round = 0; round < 5; ++round) {
            const QString key = QStringLiteral("concurrent-%1").arg(round);
            std::atomic<int> created = 0, replayed = 0, failed = 0;
            std::vector<qint64> ids(kThreads, 0);
            together(kThreads, [&](int i) {
                Movement m{user, MovementKind::Deposit, money("2.5"), key, std::nullopt};
                Result<MovementResult> r =
                    m_db->runSync([m](QSqlDatabase &db) { return WalletRepository::applyMovement(db, m); });
                if (!r) {
                    ++failed;
                    qWarning("thread %d: %s", i, qPrintable(r.error().message));
                    return;
                }
                (r->replayed ? replayed : created)++;
                ids[size_t(i)] = r->entry.id;
            });
            QCOMPARE(failed.load(), 0);
            QCOMPARE(created.load(), 1);
            QCOMPARE(replayed.load(), kThreads - 1);
            for (qint64 id : ids)
                QCOMPARE(id, ids.front());
            QCOMPARE(count(QStringLiteral("SELECT count(*) FROM ledger_entries WHERE user_id = %1 AND "
                                          "unique_request_id = '%2'")
                               .arg(user)
                               .arg(key)),
                     1);
        }
        QCOMPARE(describe(walletOf(user).amounts), describe(amounts("12.5", "0", "0")));
    }

    void concurrentMovementsStayExact()
    {
        // Eight connections move money in one wallet at once: deposits, withdrawals (some refused),
        // credit changes and spending. Every accepted movement is one entry, the wallet equals the
        // newest entry, and reconcile proves the chain.
        const qint64 user = newUser();
        QVERIFY(move(user, MovementKind::Deposit, "10", QStringLiteral("seed")).ok());
        constexpr int kThreads = 8, kEach = 25;
        std::atomic<int> accepted = 0, refused = 0, failed = 0;
        together(kThreads, [&](int t) {
            for (int i = 0; i < kEach; ++i) {
                const QString key = QStringLiteral("mix-%1-%2").arg(t).arg(i);
                Status s = Ok{};
                switch ((t + i) % 4) {
                case 0:
                    s = move(user, MovementKind::Deposit, "1.000000001", key).ok() ? Status(Ok{}) : Status(Error{});
                    break;
                case 1: {
                    Result<MovementResult> r = move(user, MovementKind::Withdrawal, "1.5", key);
                    if (!r && r.error().code == QLatin1String("insufficient_funds")) {
                        ++refused;
                        continue;
                    }
                    s = r ? Status(Ok{}) : Status(r.error());
                    break;
                }
                case 2:
                    s = move(user, MovementKind::Credit, (i % 2) ? "0.25" : "0.5", key).ok() ? Status(Ok{})
                                                                                             : Status(Error{});
                    break;
                default:
                    s = spend(user, "0.3", key);
                    break;
                }
                (s ? accepted : failed)++;
            }
        });
        QCOMPARE(failed.load(), 0);
        QCOMPARE(accepted.load() + refused.load(), kThreads * kEach);
        QCOMPARE(count(QStringLiteral("SELECT count(*) FROM ledger_entries WHERE user_id = %1").arg(user)),
                 qint64(accepted.load() + 1));
        Result<ReconcileReport> report = reconcile();
        QVERIFY2(report.ok(), report.ok() ? "" : qPrintable(report.error().message));
        QVERIFY2(report->drifts.isEmpty(),
                 qPrintable(report->drifts.isEmpty() ? QString() : report->drifts.first().field));
    }

    void ledgerPagesNewestFirst()
    {
        const qint64 user = newUser();
        QList<qint64> ids;
        for (int i = 1; i <= 7; ++i) {
            Result<MovementResult> r = move(user, MovementKind::Deposit, "1", QStringLiteral("p%1").arg(i));
            QVERIFY(r.ok());
            ids.prepend(r->entry.id);
        }
        Result<LedgerPage> first =
            m_db->runSync([user](QSqlDatabase &db) { return WalletRepository::ledgerPage(db, user, 0, 3); });
        QVERIFY(first.ok());
        QCOMPARE(first->total, 7);
        QCOMPARE(first->entries.size(), 3);
        QCOMPARE(first->entries[0].id, ids[0]);
        QCOMPARE(first->entries[0].after.cash, money("7"));
        QCOMPARE(first->entries[2].id, ids[2]);
        Result<LedgerPage> last =
            m_db->runSync([user](QSqlDatabase &db) { return WalletRepository::ledgerPage(db, user, 6, 3); });
        QVERIFY(last.ok());
        QCOMPARE(last->entries.size(), 1);
        QCOMPARE(last->entries[0].id, ids[6]);
        QCOMPARE(last->entries[0].uniqueRequestId, QStringLiteral("p1"));
        Result<LedgerPage> beyond =
            m_db->runSync([user](QSqlDatabase &db) { return WalletRepository::ledgerPage(db, user, 30, 3); });
        QVERIFY(beyond.ok());
        QCOMPARE(beyond->total, 7);
        QVERIFY(beyond->entries.isEmpty());
        const qint64 empty = newUser();
        Result<LedgerPage> none =
            m_db->runSync([empty](QSqlDatabase &db) { return WalletRepository::ledgerPage(db, empty, 0, 3); });
        QVERIFY(none.ok());
        QCOMPARE(none->total, 0);
        QCOMPARE(walletOf(empty).version, 0);
    }

    // Reconcile needs a database of its own: the drift cases corrupt it on purpose.
    void reconcileFindsDrift()
    {
        QString url;
        std::unique_ptr<Database> db = migratedDatabase(*m_services, &url, 2);
        std::swap(db, m_db);
        auto restore = qScopeGuard([&] { std::swap(db, m_db); });

        const CliRun empty = runCli(url);
        QCOMPARE(empty.exitCode, 0);
        QCOMPARE(empty.out.trimmed(), QStringLiteral("ok: 0 wallets match the ledger"));

        const qint64 alice = newUser(QStringLiteral("alice"));
        const QString aliceName = QStringLiteral("alice-%1").arg(m_users);
        const qint64 bob = newUser(QStringLiteral("bob"));
        const qint64 carol = newUser(QStringLiteral("carol"));
        QVERIFY(move(alice, MovementKind::Credit, "20", QStringLiteral("a1")).ok());
        QVERIFY(spend(alice, "12.75", QStringLiteral("a2")).ok());
        QVERIFY(move(alice, MovementKind::Deposit, "100", QStringLiteral("a3")).ok());
        QVERIFY(move(alice, MovementKind::Withdrawal, "7", QStringLiteral("a4")).ok());
        QVERIFY(move(bob, MovementKind::Deposit, "1", QStringLiteral("b1")).ok());
        QVERIFY(move(bob, MovementKind::Deposit, "2", QStringLiteral("b2")).ok());
        QVERIFY(move(bob, MovementKind::Deposit, "3", QStringLiteral("b3")).ok());

        Result<ReconcileReport> clean = reconcile();
        QVERIFY(clean.ok());
        QCOMPARE(clean->wallets, 3);
        QVERIFY(clean->drifts.isEmpty());
        const CliRun ok = runCli(url);
        QCOMPARE(ok.exitCode, 0);
        QCOMPARE(ok.out.trimmed(), QStringLiteral("ok: 3 wallets match the ledger"));
        QVERIFY(ok.err.isEmpty());

        // A wallet edited behind the ledger's back.
        exec(QStringLiteral("UPDATE wallets SET cash = cash + 1 WHERE user_id = %1").arg(alice));
        Result<ReconcileReport> edited = reconcile();
        QVERIFY(edited.ok());
        QCOMPARE(edited->drifts.size(), 1);
        QCOMPARE(edited->drifts[0].userId, alice);
        QCOMPARE(edited->drifts[0].userName, aliceName);
        QCOMPARE(edited->drifts[0].entryId, 0);
        QCOMPARE(edited->drifts[0].field, QStringLiteral("cash"));
        QCOMPARE(edited->drifts[0].actual, QStringLiteral("81.250000000"));
        QCOMPARE(edited->drifts[0].expected, QStringLiteral("80.250000000"));
        const CliRun drift = runCli(url);
        QCOMPARE(drift.exitCode, 1);
        QVERIFY2(drift.out.contains(QStringLiteral("user %1 (alice-").arg(alice)), qPrintable(drift.out));
        QVERIFY2(drift.out.contains(QStringLiteral("cash: wallet 81.250000000, ledger 80.250000000")),
                 qPrintable(drift.out));
        QVERIFY2(!drift.out.contains(QStringLiteral("bob")), qPrintable(drift.out));
        exec(QStringLiteral("UPDATE wallets SET cash = cash - 1 WHERE user_id = %1").arg(alice));
        QCOMPARE(runCli(url).exitCode, 0);

        // A wallet with money but no ledger at all.
        exec(QStringLiteral("UPDATE wallets SET credit_limit = 5 WHERE user_id = %1").arg(carol));
        Result<ReconcileReport> unbooked = reconcile();
        QVERIFY(unbooked.ok());
        QCOMPARE(unbooked->drifts.size(), 1);
        QCOMPARE(unbooked->drifts[0].userId, carol);
        QCOMPARE(unbooked->drifts[0].field, QStringLiteral("credit_limit"));
        QCOMPARE(unbooked->drifts[0].expected, QStringLiteral("0.000000000"));
        exec(QStringLiteral("UPDATE wallets SET credit_limit = 0 WHERE user_id = %1").arg(carol));

        // A ledger row rewritten (the append-only trigger switched off, as an intruder would):
        // the wallet still matches the newest entry, but the chain does not add up.
        exec(QStringLiteral("ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_append_only"));
        exec(QStringLiteral("UPDATE ledger_entries SET amount = 2.5 WHERE user_id = %1 AND unique_request_id = 'b2'")
                 .arg(bob));
        Result<ReconcileReport> tampered = reconcile();
        QVERIFY(tampered.ok());
        QVERIFY(!tampered->drifts.isEmpty());
        QCOMPARE(tampered->drifts[0].userId, bob);
        QVERIFY(tampered->drifts[0].entryId > 0);
        QCOMPARE(tampered->drifts[0].field, QStringLiteral("cash_after"));
        QCOMPARE(tampered->drifts[0].actual, QStringLiteral("3.000000000"));
        QCOMPARE(tampered->drifts[0].expected, QStringLiteral("3.500000000"));
        const CliRun chain = runCli(url);
        QCOMPARE(chain.exitCode, 1);
        QVERIFY2(chain.out.contains(QStringLiteral("ledger entry %1: cash_after recorded 3.000000000, replay gives "
                                                   "3.500000000")
                                        .arg(tampered->drifts[0].entryId)),
                 qPrintable(chain.out));
        exec(QStringLiteral("UPDATE ledger_entries SET amount = 2 WHERE user_id = %1 AND unique_request_id = 'b2'")
                 .arg(bob));
        QCOMPARE(runCli(url).exitCode, 0);

        // A row removed from the middle of the chain.
        exec(QStringLiteral("DELETE FROM ledger_entries WHERE user_id = %1 AND unique_request_id = 'a3'").arg(alice));
        exec(QStringLiteral("ALTER TABLE ledger_entries ENABLE TRIGGER ledger_entries_append_only"));
        Result<ReconcileReport> missing = reconcile();
        QVERIFY(missing.ok());
        QVERIFY(!missing->drifts.isEmpty());
        for (const WalletDrift &d : missing->drifts) {
            QCOMPARE(d.userId, alice);
            QVERIFY(d.entryId > 0);
        }
        QCOMPARE(runCli(url).exitCode, 1);
    }

    void reconcileCannotReachTheDatabase()
    {
        const CliRun r = runCli(QStringLiteral("postgres://nobody:secret@127.0.0.1:1/none"));
        QCOMPARE(r.exitCode, 3);
        QVERIFY(r.out.isEmpty());
        QVERIFY2(r.err.startsWith(QStringLiteral("llmpool: ")), qPrintable(r.err));
        QVERIFY2(!r.err.contains(QStringLiteral("secret")), qPrintable(r.err));
    }

    void reconcileScales()
    {
        // A large ledger: 1,000 users x 200 entries (deposits and spends, consistent), in a database
        // of its own. The whole check must stay a matter of seconds.
        QString url;
        std::unique_ptr<Database> db = migratedDatabase(*m_services, &url, 1);
        const int users = 1'000, perUser = qEnvironmentVariableIntValue("LLMPOOL_RECONCILE_ENTRIES") > 0
                                               ? qEnvironmentVariableIntValue("LLMPOOL_RECONCILE_ENTRIES")
                                               : 200;
        auto run = [&db](const QString &sql) {
            Result<SqlOutcome> r = sqlOn(*db, sql);
            QVERIFY2(r.ok() && r->ok, qPrintable(sql + (r ? r->message : r.error().message)));
        };
        run(QStringLiteral("INSERT INTO users (name) SELECT 'bulk-' || g FROM generate_series(1, %1) g").arg(users));
        run(QStringLiteral("INSERT INTO wallets (user_id) SELECT id FROM users"));
        // Odd steps deposit 2, even steps spend 1: cash after step g is g/2 rounded up.
        run(QStringLiteral(
                "INSERT INTO ledger_entries (user_id, kind, amount, cash_after, credit_limit_after, debt_after, "
                "unique_request_id) SELECT u.id, CASE WHEN g % 2 = 1 THEN 'deposit' ELSE 'spend' END, "
                "CASE WHEN g % 2 = 1 THEN 2 ELSE 1 END, (g + 1) / 2 + CASE WHEN g % 2 = 1 THEN 1 ELSE 0 END, 0, 0, "
                "'bulk-' || g FROM generate_series(1, %1) g CROSS JOIN users u ORDER BY g, u.id")
                .arg(perUser));
        run(QStringLiteral("UPDATE wallets SET cash = (SELECT l.cash_after FROM ledger_entries l WHERE l.user_id = "
                           "wallets.user_id ORDER BY l.id DESC LIMIT 1)"));
        run(QStringLiteral("ANALYZE ledger_entries"));

        QElapsedTimer timer;
        timer.start();
        Result<ReconcileReport> report =
            db->runSync([](QSqlDatabase &conn) { return WalletRepository::reconcile(conn); });
        const qint64 ms = timer.elapsed();
        QVERIFY2(report.ok(), report.ok() ? "" : qPrintable(report.error().message));
        QCOMPARE(report->wallets, users);
        QVERIFY2(report->drifts.isEmpty(),
                 qPrintable(report->drifts.isEmpty()
                                ? QString()
                                : report->drifts.first().field + QLatin1Char(' ') + report->drifts.first().actual +
                                      QStringLiteral(" vs ") + report->drifts.first().expected));
        qInfo("reconcile of %d ledger entries over %d wallets: %lld ms", users * perUser, users, ms);
        QVERIFY2(ms < 60'000, qPrintable(QStringLiteral("%1 ms").arg(ms)));

        run(QStringLiteral("UPDATE wallets SET debt = 1 WHERE user_id = 500"));
        Result<ReconcileReport> drift =
            db->runSync([](QSqlDatabase &conn) { return WalletRepository::reconcile(conn); });
        QVERIFY(drift.ok());
        QCOMPARE(drift->drifts.size(), 1);
        QCOMPARE(drift->drifts[0].userId, 500);
        QCOMPARE(drift->drifts[0].userName, QStringLiteral("bulk-500"));
        db->stop();
    }
};

QTEST_GUILESS_MAIN(TestWallets)
#include "TestWallets.moc"
