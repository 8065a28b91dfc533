#include "storage/WalletRepository.h"

#include "storage/SqlErrors.h"
#include "storage/SqlValues.h"
#include "storage/Transaction.h"

#include <QSqlError>
#include <QSqlQuery>

namespace llmpool::gateway {

namespace {

constexpr QStringView kUniqueConstraint(u"ledger_entries_user_request_unique");

// The select list of a ledger entry aliased `l`, in the order readEntry() expects.
QString entryColumns()
{
    return QStringLiteral("l.id, l.user_id, l.kind, l.amount::text, l.cash_after::text, l.credit_limit_after::text, "
                          "l.debt_after::text, l.unique_request_id, l.note, ") +
           SqlValues::epochMs(u"l.created_at");
}

// NUMERIC(38,9) as text always parses (same range, same scale); anything else is a broken database.
Result<Money> moneyAt(const QSqlQuery &q, int column)
{
    Result<Money> money = Money::parse(q.value(column).toString());
    if (!money)
        return SqlErrors::failed(QStringLiteral("the database returned an amount that is not a decimal: %1")
                                     .arg(q.value(column).toString().left(60)));
    return money;
}

Result<WalletAmounts> amountsAt(const QSqlQuery &q, int first)
{
    Result<Money> cash = moneyAt(q, first);
    Result<Money> limit = moneyAt(q, first + 1);
    Result<Money> debt = moneyAt(q, first + 2);
    if (!cash)
        return cash.takeError();
    if (!limit)
        return limit.takeError();
    if (!debt)
        return debt.takeError();
    return WalletAmounts{*cash, *limit, *debt};
}

Result<LedgerEntry> readEntry(const QSqlQuery &q)
{
    LedgerEntry e;
    e.id = q.value(0).toLongLong();
    e.userId = q.value(1).toLongLong();
    e.kind = q.value(2).toString();
    Result<Money> amount = moneyAt(q, 3);
    if (!amount)
        return amount.takeError();
    e.amount = *amount;
    Result<WalletAmounts> after = amountsAt(q, 4);
    if (!after)
        return after.takeError();
    e.after = *after;
    e.uniqueRequestId = q.value(7).toString();
    e.note = SqlValues::optionalString(q.value(8));
    e.createdAt = SqlValues::dateTime(q.value(9));
    return e;
}

Result<qint64> newestEntryId(QSqlDatabase &db, qint64 userId)
{
    // Served by ledger_entries_user_id_idx (user_id, id DESC): one index probe.
    QSqlQuery q(db);
    q.prepare(QStringLiteral("SELECT coalesce(max(id), 0) FROM ledger_entries WHERE user_id = :user"));
    q.bindValue(QStringLiteral(":user"), QVariant::fromValue(userId));
    if (!q.exec() || !q.next())
        return SqlErrors::fromQuery(q, db, u"read wallet version");
    return q.value(0).toLongLong();
}

Money minOf(Money a, Money b)
{
    return a < b ? a : b;
}

Error amountError(const QString &message)
{
    return Error::invalidRequest(QStringLiteral("invalid_amount"), message, QStringLiteral("amount"));
}

// Cash coming in (deposit, refund, positive adjustment): repays debt first, the rest is cash.
Result<WalletAmounts> cashIn(WalletAmounts w, Money amount)
{
    const Money repay = minOf(w.debt, amount);
    Result<Money> debt = w.debt.sub(repay);
    Result<Money> rest = amount.sub(repay);
    if (!debt)
        return debt.takeError();
    if (!rest)
        return rest.takeError();
    Result<Money> cash = w.cash.add(*rest);
    if (!cash)
        return cash.takeError();
    w.cash = *cash;
    w.debt = *debt;
    return w;
}

// Money going out to usage (spend, negative adjustment): from cash first, the rest becomes debt.
Result<WalletAmounts> cashOut(WalletAmounts w, Money amount)
{
    const Money take = minOf(w.cash, amount);
    Result<Money> cash = w.cash.sub(take);
    Result<Money> owed = amount.sub(take);
    if (!cash)
        return cash.takeError();
    if (!owed)
        return owed.takeError();
    Result<Money> debt = w.debt.add(*owed);
    if (!debt)
        return debt.takeError();
    w.cash = *cash;
    w.debt = *debt;
    return w;
}

bool hasNul(const QString &text)
{
    return text.contains(QChar(u'\0'));
}

} // namespace

Result<Money> WalletAmounts::balance() const
{
    Result<Money> sum = cash.add(creditLimit);
    if (!sum)
        return sum;
    return sum->sub(debt);
}

QString WalletRepository::kindName(MovementKind kind)
{
    switch (kind) {
    case MovementKind::Deposit:
        return QStringLiteral("deposit");
    case MovementKind::Withdrawal:
        return QStringLiteral("withdrawal");
    case MovementKind::Credit:
        return QStringLiteral("credit");
    }
    Q_UNREACHABLE();
    return {};
}

Result<std::optional<WalletRecord>> WalletRepository::wallet(QSqlDatabase &db, qint64 userId)
{
    QSqlQuery q(db);
    q.prepare(QStringLiteral("SELECT w.cash::text, w.credit_limit::text, w.debt::text, w.currency, "
                             "coalesce((SELECT max(l.id) FROM ledger_entries l WHERE l.user_id = w.user_id), 0) "
                             "FROM wallets w WHERE w.user_id = :user"));
    q.bindValue(QStringLiteral(":user"), QVariant::fromValue(userId));
    if (!q.exec())
        return SqlErrors::fromQuery(q, db, u"read wallet");
    if (!q.next())
        return std::optional<WalletRecord>{};
    Result<WalletAmounts> amounts = amountsAt(q, 0);
    if (!amounts)
        return amounts.takeError();
    return std::optional<WalletRecord>(WalletRecord{userId, *amounts, q.value(3).toString(), q.value(4).toLongLong()});
}

Result<LedgerPage> WalletRepository::ledgerPage(QSqlDatabase &db, qint64 userId, qint64 offset, int limit)
{
    LedgerPage page;
    QSqlQuery count(db);
    count.prepare(QStringLiteral(
        "SELECT (SELECT count(*) FROM ledger_entries l WHERE l.user_id = u.id) FROM users u WHERE u.id = :user"));
    count.bindValue(QStringLiteral(":user"), QVariant::fromValue(userId));
    if (!count.exec())
        return SqlErrors::fromQuery(count, db, u"count ledger entries");
    if (!count.next())
        return Error::notFound(QStringLiteral("user %1 does not exist").arg(userId));
    page.total = count.value(0).toLongLong();
    if (page.total <= offset)
        return page;

    QSqlQuery q(db);
    q.prepare(QStringLiteral("SELECT ") + entryColumns() +
              QStringLiteral(" FROM ledger_entries l WHERE l.user_id = :user ORDER BY l.id DESC "
                             "LIMIT :limit OFFSET :offset"));
    q.bindValue(QStringLiteral(":user"), QVariant::fromValue(userId));
    q.bindValue(QStringLiteral(":limit"), limit);
    q.bindValue(QStringLiteral(":offset"), QVariant::fromValue(offset));
    if (!q.exec())
        return SqlErrors::fromQuery(q, db, u"list ledger entries");
    while (q.next()) {
        Result<LedgerEntry> entry = readEntry(q);
        if (!entry)
            return entry.takeError();
        page.entries.append(std::move(*entry));
    }
    return page;
}

Status WalletRepository::validate(const Movement &m)
{
    switch (m.kind) {
    case MovementKind::Deposit:
    case MovementKind::Withdrawal:
        if (!m.amount.isPositive())
            return amountError(QStringLiteral("amount must be greater than zero"));
        break;
    case MovementKind::Credit:
        if (m.amount.isZero())
            return amountError(
                QStringLiteral("amount must not be zero (positive raises the credit limit, negative lowers it)"));
        break;
    }
    if (m.uniqueRequestId.isEmpty() || m.uniqueRequestId.size() > kMaxRequestIdLength)
        return Error::invalidRequest(
            QStringLiteral("invalid_field"),
            QStringLiteral("unique_request_id must have 1 to %1 characters").arg(kMaxRequestIdLength),
            QStringLiteral("unique_request_id"));
    if (hasNul(m.uniqueRequestId))
        return Error::invalidRequest(QStringLiteral("invalid_field"),
                                     QStringLiteral("unique_request_id must not contain NUL characters"),
                                     QStringLiteral("unique_request_id"));
    if (m.note && m.note->size() > kMaxNoteLength)
        return Error::invalidRequest(QStringLiteral("invalid_field"),
                                     QStringLiteral("note must have at most %1 characters").arg(kMaxNoteLength),
                                     QStringLiteral("note"));
    if (m.note && hasNul(*m.note))
        return Error::invalidRequest(QStringLiteral("invalid_field"),
                                     QStringLiteral("note must not contain NUL characters"), QStringLiteral("note"));
    return Ok{};
}

Result<WalletAmounts> WalletRepository::applyRule(const WalletAmounts &before, QStringView kind, Money amount)
{
    if (kind == u"deposit" || kind == u"refund") {
        if (!amount.isPositive())
            return amountError(QStringLiteral("amount must be greater than zero"));
        return cashIn(before, amount);
    }
    if (kind == u"withdrawal") {
        if (!amount.isPositive())
            return amountError(QStringLiteral("amount must be greater than zero"));
        if (before.cash < amount)
            return Error::conflict(QStringLiteral("insufficient_funds"),
                                   QStringLiteral("the wallet holds %1 in cash; a withdrawal of %2 needs more "
                                                  "(withdrawals take cash only, never credit)")
                                       .arg(before.cash.toString(), amount.toString()));
        WalletAmounts after = before;
        Result<Money> cash = before.cash.sub(amount);
        if (!cash)
            return cash.takeError();
        after.cash = *cash;
        return after;
    }
    if (kind == u"credit") {
        if (amount.isZero())
            return amountError(QStringLiteral("amount must not be zero"));
        Result<Money> limit = before.creditLimit.add(amount);
        if (!limit)
            return limit.takeError();
        if (limit->isNegative())
            return Error::conflict(QStringLiteral("credit_limit_negative"),
                                   QStringLiteral("the credit limit is %1; changing it by %2 would make it negative")
                                       .arg(before.creditLimit.toString(), amount.toString()));
        WalletAmounts after = before;
        after.creditLimit = *limit;
        return after;
    }
    if (kind == u"spend") {
        if (amount.isNegative())
            return amountError(QStringLiteral("a spend amount must not be negative"));
        return cashOut(before, amount);
    }
    if (kind == u"adjustment") {
        if (amount.isZero())
            return amountError(QStringLiteral("amount must not be zero"));
        return amount.isPositive() ? cashIn(before, amount) : cashOut(before, amount.negated());
    }
    return Error::invalidRequest(QStringLiteral("invalid_kind"),
                                 QStringLiteral("unknown ledger entry kind \"%1\"").arg(kind.left(40)),
                                 QStringLiteral("kind"));
}

Result<MovementResult> WalletRepository::applyMovement(QSqlDatabase &db, const Movement &m, const AuditFn &audit)
{
    if (Status valid = validate(m); !valid)
        return valid.takeError();
    const QString kind = kindName(m.kind);

    // Set when the insert lost a race on the idempotency key: the transaction is aborted then, so
    // it is rolled back and run once more, and the second run finds the winner's entry.
    bool raced = false;
    auto attempt = [&]() -> Result<MovementResult> {
        // Every change of this wallet (admin movements, the usage worker's settlement) takes this
        // lock first, so what follows sees the latest committed state and nobody else writes it.
        QSqlQuery lock(db);
        lock.prepare(QStringLiteral("SELECT cash::text, credit_limit::text, debt::text, currency FROM wallets "
                                    "WHERE user_id = :user FOR UPDATE"));
        lock.bindValue(QStringLiteral(":user"), QVariant::fromValue(m.userId));
        if (!lock.exec())
            return SqlErrors::fromQuery(lock, db, u"lock wallet");
        if (!lock.next())
            return Error::notFound(QStringLiteral("user %1 does not exist").arg(m.userId));
        Result<WalletAmounts> current = amountsAt(lock, 0);
        if (!current)
            return current.takeError();
        Result<qint64> version = newestEntryId(db, m.userId);
        if (!version)
            return version.takeError();
        const WalletRecord before{m.userId, *current, lock.value(3).toString(), *version};

        // Idempotency first: a replay answers with the original entry whatever the wallet holds now.
        QSqlQuery existing(db);
        existing.prepare(QStringLiteral("SELECT ") + entryColumns() +
                         QStringLiteral(" FROM ledger_entries l WHERE l.user_id = :user "
                                        "AND l.unique_request_id = :request"));
        existing.bindValue(QStringLiteral(":user"), QVariant::fromValue(m.userId));
        existing.bindValue(QStringLiteral(":request"), m.uniqueRequestId);
        if (!existing.exec())
            return SqlErrors::fromQuery(existing, db, u"find ledger entry");
        if (existing.next()) {
            Result<LedgerEntry> entry = readEntry(existing);
            if (!entry)
                return entry.takeError();
            if (entry->kind != kind || entry->amount != m.amount)
                return Error::conflict(QStringLiteral("idempotency_conflict"),
                                       QStringLiteral("unique_request_id was already used for a %1 of %2; a "
                                                      "repeated request must carry the same kind and amount")
                                           .arg(entry->kind, entry->amount.toString()));
            return MovementResult{std::move(*entry), before, true};
        }

        Result<WalletAmounts> after = applyRule(*current, kind, m.amount);
        if (!after)
            return after.takeError();

        QSqlQuery insert(db);
        insert.prepare(
            QStringLiteral("INSERT INTO ledger_entries AS l (user_id, kind, amount, cash_after, credit_limit_after, "
                           "debt_after, unique_request_id, note) VALUES (:user, :kind, CAST(:amount AS numeric), "
                           "CAST(:cash AS numeric), CAST(:limit AS numeric), CAST(:debt AS numeric), :request, :note) "
                           "RETURNING ") +
            entryColumns());
        insert.bindValue(QStringLiteral(":user"), QVariant::fromValue(m.userId));
        insert.bindValue(QStringLiteral(":kind"), kind);
        insert.bindValue(QStringLiteral(":amount"), m.amount.toString());
        insert.bindValue(QStringLiteral(":cash"), after->cash.toString());
        insert.bindValue(QStringLiteral(":limit"), after->creditLimit.toString());
        insert.bindValue(QStringLiteral(":debt"), after->debt.toString());
        insert.bindValue(QStringLiteral(":request"), m.uniqueRequestId);
        insert.bindValue(QStringLiteral(":note"), SqlValues::toVariant(m.note));
        if (!insert.exec()) {
            if (SqlErrors::isUniqueViolation(insert.lastError(), kUniqueConstraint)) {
                raced = true;
                return Error::conflict(
                    QStringLiteral("idempotency_conflict"),
                    QStringLiteral("another request with the same unique_request_id is in progress"));
            }
            return SqlErrors::fromQuery(insert, db, u"write ledger entry");
        }
        if (!insert.next())
            return SqlErrors::failed(QStringLiteral("write ledger entry: no row returned"));
        Result<LedgerEntry> entry = readEntry(insert);
        if (!entry)
            return entry.takeError();

        QSqlQuery update(db);
        update.prepare(QStringLiteral("UPDATE wallets SET cash = CAST(:cash AS numeric), "
                                      "credit_limit = CAST(:limit AS numeric), debt = CAST(:debt AS numeric) "
                                      "WHERE user_id = :user"));
        update.bindValue(QStringLiteral(":cash"), after->cash.toString());
        update.bindValue(QStringLiteral(":limit"), after->creditLimit.toString());
        update.bindValue(QStringLiteral(":debt"), after->debt.toString());
        update.bindValue(QStringLiteral(":user"), QVariant::fromValue(m.userId));
        if (!update.exec())
            return SqlErrors::fromQuery(update, db, u"update wallet");

        MovementResult result{std::move(*entry), WalletRecord{m.userId, *after, before.currency, 0}, false};
        result.wallet.version = result.entry.id;
        if (audit) {
            if (Status audited = audit(db, before, result); !audited)
                return audited.takeError();
        }
        return result;
    };

    Result<MovementResult> result = inTransaction(db, attempt);
    if (!result && raced) {
        raced = false;
        result = inTransaction(db, attempt);
    }
    return result;
}

Result<ReconcileReport> WalletRepository::reconcile(QSqlDatabase &db)
{
    return inTransaction(db, [&]() -> Result<ReconcileReport> {
        // One snapshot for every query below: a movement committing meanwhile cannot look like drift.
        QSqlQuery snapshot(db);
        if (!snapshot.exec(QStringLiteral("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")))
            return SqlErrors::fromQuery(snapshot, db, u"reconcile");

        ReconcileReport report;
        QSqlQuery count(db);
        if (!count.exec(QStringLiteral("SELECT count(*) FROM users")) || !count.next())
            return SqlErrors::fromQuery(count, db, u"count users");
        report.wallets = count.value(0).toLongLong();

        const int limit = kMaxReportedDrifts + 1;
        auto addDrift = [&report](WalletDrift drift) {
            if (report.drifts.size() >= kMaxReportedDrifts) {
                report.truncated = true;
                return;
            }
            report.drifts.append(std::move(drift));
        };

        // 1. The wallet against its newest ledger entry (zero without one).
        QSqlQuery wallets(db);
        wallets.prepare(QStringLiteral(
            "SELECT u.id, u.name, w.user_id IS NULL, w.cash::text, w.credit_limit::text, w.debt::text, "
            "coalesce(l.cash_after, 0)::text, coalesce(l.credit_limit_after, 0)::text, coalesce(l.debt_after, 0)::text "
            "FROM users u LEFT JOIN wallets w ON w.user_id = u.id "
            "LEFT JOIN LATERAL (SELECT le.cash_after, le.credit_limit_after, le.debt_after FROM ledger_entries le "
            "WHERE le.user_id = u.id ORDER BY le.id DESC LIMIT 1) l ON true "
            "WHERE w.user_id IS NULL OR w.cash <> coalesce(l.cash_after, 0) "
            "OR w.credit_limit <> coalesce(l.credit_limit_after, 0) OR w.debt <> coalesce(l.debt_after, 0) "
            "ORDER BY u.id LIMIT :limit"));
        wallets.bindValue(QStringLiteral(":limit"), limit);
        if (!wallets.exec())
            return SqlErrors::fromQuery(wallets, db, u"compare wallets with the ledger");
        while (wallets.next()) {
            const qint64 userId = wallets.value(0).toLongLong();
            const QString name = wallets.value(1).toString();
            if (wallets.value(2).toBool()) {
                addDrift(
                    {userId, name, 0, QStringLiteral("wallet"), QStringLiteral("missing"), QStringLiteral("present")});
                continue;
            }
            static const char *const fields[] = {"cash", "credit_limit", "debt"};
            for (int i = 0; i < 3; ++i) {
                Result<Money> actual = moneyAt(wallets, 3 + i);
                Result<Money> expected = moneyAt(wallets, 6 + i);
                if (!actual)
                    return actual.takeError();
                if (!expected)
                    return expected.takeError();
                if (*actual != *expected)
                    addDrift({userId, name, 0, QLatin1String(fields[i]), actual->toString(), expected->toString()});
            }
        }

        // 2. Every entry against its predecessor: replaying the rules from zero must give each
        // entry's recorded amounts. Checking each step against the recorded state before it is
        // the same proof as a full replay (by induction), and it is one window-function pass.
        // Only one of cash_in / cash_out / withdrawn / credit_delta is non-zero per row.
        QSqlQuery steps(db);
        steps.prepare(QStringLiteral(
            "WITH steps AS ("
            " SELECT l.id, l.user_id, l.kind, l.amount, l.cash_after, l.credit_limit_after, l.debt_after,"
            "  coalesce(lag(l.cash_after) OVER w, 0) AS c0,"
            "  coalesce(lag(l.credit_limit_after) OVER w, 0) AS l0,"
            "  coalesce(lag(l.debt_after) OVER w, 0) AS d0"
            " FROM ledger_entries l WINDOW w AS (PARTITION BY l.user_id ORDER BY l.id)"
            "), moves AS ("
            " SELECT s.*,"
            "  CASE WHEN s.kind IN ('deposit', 'refund') OR (s.kind = 'adjustment' AND s.amount > 0)"
            "   THEN s.amount ELSE 0 END AS cash_in,"
            "  CASE WHEN s.kind = 'spend' THEN s.amount"
            "   WHEN s.kind = 'adjustment' AND s.amount < 0 THEN -s.amount ELSE 0 END AS cash_out,"
            "  CASE WHEN s.kind = 'withdrawal' THEN s.amount ELSE 0 END AS withdrawn,"
            "  CASE WHEN s.kind = 'credit' THEN s.amount ELSE 0 END AS credit_delta"
            " FROM steps s"
            "), replay AS ("
            " SELECT m.*,"
            "  m.c0 + (m.cash_in - least(m.d0, m.cash_in)) - least(m.c0, m.cash_out) - m.withdrawn AS c1,"
            "  m.l0 + m.credit_delta AS l1,"
            "  m.d0 - least(m.d0, m.cash_in) + (m.cash_out - least(m.c0, m.cash_out)) AS d1"
            " FROM moves m"
            ") "
            "SELECT r.user_id, u.name, r.id, r.cash_after::text, r.c1::text, r.credit_limit_after::text, r.l1::text,"
            " r.debt_after::text, r.d1::text "
            "FROM replay r JOIN users u ON u.id = r.user_id "
            "WHERE r.cash_after <> r.c1 OR r.credit_limit_after <> r.l1 OR r.debt_after <> r.d1 "
            "ORDER BY r.user_id, r.id LIMIT :limit"));
        steps.bindValue(QStringLiteral(":limit"), limit);
        if (!steps.exec())
            return SqlErrors::fromQuery(steps, db, u"replay the ledger");
        while (steps.next()) {
            const qint64 userId = steps.value(0).toLongLong();
            const QString name = steps.value(1).toString();
            const qint64 entryId = steps.value(2).toLongLong();
            static const char *const fields[] = {"cash_after", "credit_limit_after", "debt_after"};
            for (int i = 0; i < 3; ++i) {
                Result<Money> recorded = moneyAt(steps, 3 + 2 * i);
                Result<Money> replayed = moneyAt(steps, 4 + 2 * i);
                if (!recorded)
                    return recorded.takeError();
                if (!replayed)
                    return replayed.takeError();
                if (*recorded != *replayed)
                    addDrift(
                        {userId, name, entryId, QLatin1String(fields[i]), recorded->toString(), replayed->toString()});
            }
        }
        return report;
    });
}

} // namespace llmpool::gateway
