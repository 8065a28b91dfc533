#include "storage/BillingRepository.h"

#include "storage/SqlErrors.h"
#include "storage/Transaction.h"

#include <QSqlError>
#include <QSqlQuery>

namespace llmpool::gateway {

namespace {

Error unreadable(const char *what)
{
    return Error::internal(QStringLiteral("database_error"), QStringLiteral("unreadable %1").arg(QLatin1String(what)));
}

} // namespace

Result<AdmissionSnapshot> BillingRepository::admissionState(QSqlDatabase &db, qint64 userId, qint64 keyId)
{
    QSqlQuery q(db);
    q.setForwardOnly(true);
    q.prepare(QStringLiteral("SELECT (w.cash + w.credit_limit - w.debt)::text, "
                             "coalesce((SELECT max(l.id) FROM ledger_entries l WHERE l.user_id = w.user_id), 0), "
                             "coalesce((SELECT k.spent FROM api_keys k WHERE k.id = ? AND k.user_id = w.user_id), 0)::text "
                             "FROM wallets w WHERE w.user_id = ?"));
    q.addBindValue(keyId);
    q.addBindValue(userId);
    if (!q.exec()) {
        return SqlErrors::toError(q.lastError(), db, u"load wallet");
    }
    AdmissionSnapshot snapshot;
    if (!q.next()) {
        return snapshot; // no wallet: nothing to spend
    }
    auto balance = Money::parse(q.value(0).toString());
    auto spent = Money::parse(q.value(2).toString());
    if (!balance || !spent) {
        return unreadable("wallet");
    }
    snapshot.hasWallet = true;
    snapshot.balance = *balance;
    snapshot.version = q.value(1).toLongLong();
    snapshot.keySpent = *spent;
    return snapshot;
}

Result<QList<SettledState>> BillingRepository::settle(QSqlDatabase &db, const QByteArray &eventsJson)
{
    return inTransaction(db, [&]() -> Result<QList<SettledState>> {
        QSqlQuery q(db);
        q.setForwardOnly(true);
        q.prepare(QStringLiteral("SELECT user_id, balance::text, version, key_id, key_spent::text "
                                 "FROM llmpool_settle_usage(?::jsonb)"));
        q.addBindValue(QString::fromUtf8(eventsJson));
        if (!q.exec()) {
            return SqlErrors::toError(q.lastError(), db, u"settle usage");
        }
        QList<SettledState> rows;
        while (q.next()) {
            SettledState row;
            row.userId = q.value(0).toLongLong();
            row.version = q.value(2).toLongLong();
            if (q.value(3).isNull()) {
                auto balance = Money::parse(q.value(1).toString());
                if (!balance) {
                    return unreadable("wallet balance");
                }
                row.balance = *balance;
            } else {
                row.keyId = q.value(3).toLongLong();
                auto spent = Money::parse(q.value(4).toString());
                if (!spent) {
                    return unreadable("key spend");
                }
                row.keySpent = *spent;
            }
            rows.append(row);
        }
        return rows;
    });
}

Status BillingRepository::maintainUsagePartitions(QSqlDatabase &db)
{
    QSqlQuery q(db);
    if (!q.exec(QStringLiteral("SELECT usage_events_maintain()"))) {
        return SqlErrors::toError(q.lastError(), db, u"maintain usage partitions");
    }
    return Ok{};
}

} // namespace llmpool::gateway
