#pragma once

// BillingRepository: the SQL of the usage pipeline and of admission (SPEC §5). Pure functions over
// a connection: call them inside a Database job, on that job's database thread.

#include "Money.h"
#include "Result.h"

#include <QByteArray>
#include <QList>

#include <optional>

class QSqlDatabase;

namespace llmpool::gateway {

// What admission needs of a wallet, read in one statement (one snapshot).
struct AdmissionSnapshot
{
    bool hasWallet = false;
    Money balance;      // cash + credit_limit - debt
    qint64 version = 0; // the user's newest ledger entry id
    Money keySpent;     // api_keys.spent of the key (0 if it is not the user's)
};

// One row of llmpool_settle_usage(): a wallet (balance set) or a key's spend (keyId set).
struct SettledState
{
    qint64 userId = 0;
    std::optional<Money> balance;
    qint64 version = 0;
    qint64 keyId = 0;
    Money keySpent;
};

class BillingRepository
{
public:
    static Result<AdmissionSnapshot> admissionState(QSqlDatabase &db, qint64 userId, qint64 keyId);
    // One transaction: inserts the events (a JSON array of UsageEventJson objects), charges the
    // ones really inserted, returns the wallet and key states after it. Idempotent.
    static Result<QList<SettledState>> settle(QSqlDatabase &db, const QByteArray &eventsJson);
    // Creates the coming months' usage partitions and drops expired ones (usage_events_maintain()).
    static Status maintainUsagePartitions(QSqlDatabase &db);
};

} // namespace llmpool::gateway
