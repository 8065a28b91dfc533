#pragma once

// BillingScripts: the Redis side of admission (SPEC §5). Every instance shares these keys, and
// every change to them is one Lua script, so admission is atomic across gateway instances.
//
// Per user U (hash tag {u<U>} keeps a user's keys in one slot, should Redis ever be clustered):
//   llmpool:{uU}:w      hash  bal = cash + credit_limit - debt as PostgreSQL last said (nanos),
//                             ver = that state's version (the user's newest ledger entry id).
//                             Expires (walletTtlMs) so a missed update heals by a reload.
//                             sw = when admission last looked for expired reservations (ms).
//   llmpool:{uU}:r      hash  request id -> "<amount nanos> <key id> <expiry ms>": live
//                             reservations. Those of a crashed gateway expire: a refusal (at most
//                             once a second per user) releases the expired ones before it answers.
//                             Leases (LeaseBook) are entries too, under ids "L<instance>.<n>".
//   llmpool:{uU}:p      hash  request id -> "<cost nanos> <key id>": finished, queued for the
//                             worker, not yet in PostgreSQL ("pending")
//   llmpool:{uU}:s      hash  totals: res, pend, kr<K> / kp<K> (reserved / pending per key K)
//   llmpool:{uU}:k<K>   hash  spent = api_keys.spent (nanos), ver (same versions as :w). Expires.
//   llmpool:usage       stream of finished usage events (field "e": the event's JSON)
//
// available = bal - res - pend. Amounts are integer nanos in decimal text; the scripts do exact
// arithmetic on them (plain numbers below 2^52, two-limb beyond: Lua numbers are doubles).
//
// Scripts:
//   admit   reserve `amount` for a request if available (and the key's spending cap) covers it
//   finish  release the reservation (or take the cost off the lease it was admitted against),
//           append the event to the stream, hold its cost as pending —
//           one atomic step, so the money is never both released and unqueued; several events
//           (of any users) per call (FinishBatch builds its keys and arguments)
//   release take back a reservation whose request will not run (admission answered too late)
//   sync    store a wallet state (and key spend) from PostgreSQL if it is not older than what is
//           there, and drop the pending entries of requests PostgreSQL now contains

#include "Money.h"

#include <QByteArray>
#include <QList>

namespace llmpool::gateway::billing {

inline constexpr char kUsageStream[] = "llmpool:usage";
inline constexpr char kUsageGroup[] = "llmpool-workers";
inline constexpr char kUsageDeadStream[] = "llmpool:usage:dead"; // events the worker could not read

struct RedisScript
{
    const char *name;
    QByteArray source;
    QByteArray sha1; // hex, for EVALSHA
};

const RedisScript &admitScript();
const RedisScript &finishScript();
const RedisScript &syncScript();
const RedisScript &releaseScript();

struct UserKeys
{
    QByteArray wallet, reservations, pending, totals;
    QByteArray keySpend(qint64 keyId) const;
    static UserKeys of(qint64 userId);
};

// The keys and arguments of one `finish` call: the events in the order added (the reply holds their
// stream entry ids in that order).
class FinishBatch
{
public:
    explicit FinishBatch(QByteArray stream = QByteArray(kUsageStream));
    // `cost` as nanos text (Money::nanosText), `keyId` as decimal text, `lease` the id of the lease
    // the request was admitted against (empty: none).
    void add(qint64 userId, QByteArray requestId, QByteArray cost, QByteArray keyId, QByteArray json,
             QByteArray lease = {});
    int size() const { return int(m_args.size() / 6); }
    const QList<QByteArray> &keys() const { return m_keys; }
    const QList<QByteArray> &args() const { return m_args; }

private:
    QList<qint64> m_users; // slot i + 1 (few users per batch: a linear search)
    QList<QByteArray> m_keys;
    QList<QByteArray> m_args;
};

// Integer nanos as the scripts' text ("-1500000000", Money::nanosText) back to an amount.
Result<Money> moneyFromNanosText(QByteArrayView text);

// The command for one script call: EVALSHA sha numkeys keys... args... (EVAL when `withSource`:
// the reply to EVALSHA was NOSCRIPT, after a Redis restart or flush).
QList<QByteArray> scriptCommand(const RedisScript &script, const QList<QByteArray> &keys,
                                const QList<QByteArray> &args, bool withSource = false);
bool isNoScriptError(QByteArrayView errorText);

} // namespace llmpool::gateway::billing
