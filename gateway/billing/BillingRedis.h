#pragma once

// BillingRedis: running the billing scripts (BillingScripts.h) on a Redis connection, and the one
// operation everything that changes a wallet in PostgreSQL does afterwards: syncWallet(), which
// tells every gateway instance's admission the new balance.
//
// Scripts go as EVALSHA; a NOSCRIPT reply (Redis restarted or flushed its script cache) is
// answered by sending the same call as EVAL, which caches the script again.

#include "Money.h"
#include "Result.h"
#include "billing/BillingScripts.h"
#include "storage/RedisReply.h"

#include <QByteArray>
#include <QList>

#include <functional>

class QObject;

namespace llmpool::gateway {
class RedisClient;
class RedisSyncClient;
} // namespace llmpool::gateway

namespace llmpool::gateway::billing {

// How long a wallet balance cached in Redis is trusted before it is read again from PostgreSQL.
// Every wallet write updates it at once (syncWallet); the expiry only heals a missed update.
inline constexpr int kWalletTtlMs = 30'000;

// A wallet as PostgreSQL has it after a committed change.
struct WalletState
{
    qint64 userId = 0;
    Money balance; // cash + credit_limit - debt
    qint64 version = 0; // the user's newest ledger entry id (0: none yet)
    struct KeySpend
    {
        qint64 keyId = 0;
        Money spent; // api_keys.spent
    };
    QList<KeySpend> keys;               // optional: key spend totals at the same version
    QList<QByteArray> settledRequests;  // request ids now in PostgreSQL (drops their "pending")
};

// Asynchronous, on the RedisClient's thread. `done` gets the script's reply (a Redis error reply
// becomes an Error "redis_error"), or "redis_unavailable".
void runScript(RedisClient *redis, const RedisScript &script, QList<QByteArray> keys, QList<QByteArray> args,
               QObject *context, std::function<void(Result<RedisReply>)> done);
// Runs `then(true)` once `redis` is connected — at once when it is; when it is still making its
// first connection (a thread's client starts on first use), when that succeeds — or `then(false)`
// when it is not connected and not about to be. On the RedisClient's thread, guarded by `context`.
void whenConnected(RedisClient *redis, QObject *context, std::function<void(bool)> then);

// Blocking, for worker threads and command-line tools.
Result<RedisReply> runScriptSync(RedisSyncClient &redis, const RedisScript &script, const QList<QByteArray> &keys,
                                 const QList<QByteArray> &args);

void syncWallet(RedisClient *redis, const WalletState &state, QObject *context, std::function<void(Status)> done);
Status syncWalletSync(RedisSyncClient &redis, const WalletState &state);
// Several wallets in one round trip (the worker's batch).
Status syncWalletsSync(RedisSyncClient &redis, const QList<WalletState> &states);

// The keys and arguments of the sync script for `state` (exposed for pipelining by the worker).
void syncScriptArgs(const WalletState &state, QList<QByteArray> &keys, QList<QByteArray> &args);

} // namespace llmpool::gateway::billing
