#include "billing/BillingRedis.h"

#include "storage/RedisClient.h"
#include "storage/RedisSyncClient.h"

#include <QObject>
#include <QPointer>

namespace llmpool::gateway::billing {

namespace {

Result<RedisReply> replyOrError(Result<RedisReply> reply, const RedisScript &script)
{
    if (reply && reply->isError()) {
        return Error::unavailable(QStringLiteral("redis_error"),
                                  QStringLiteral("Redis refused the billing script '%1': %2")
                                      .arg(QLatin1String(script.name), QString::fromUtf8(reply->string.left(200))));
    }
    return reply;
}

} // namespace

void runScript(RedisClient *redis, const RedisScript &script, QList<QByteArray> keys, QList<QByteArray> args,
               QObject *context, std::function<void(Result<RedisReply>)> done)
{
    const QList<QByteArray> command = scriptCommand(script, keys, args);
    QPointer<RedisClient> client(redis);
    redis->command(command, context,
                   [client, &script, keys = std::move(keys), args = std::move(args), context,
                    done = std::move(done)](Result<RedisReply> reply) mutable {
                       if (reply && reply->isError() && isNoScriptError(reply->string) && client) {
                           client->command(scriptCommand(script, keys, args, true), context,
                                           [&script, done = std::move(done)](Result<RedisReply> again) {
                                               done(replyOrError(std::move(again), script));
                                           });
                           return;
                       }
                       done(replyOrError(std::move(reply), script));
                   });
}

void whenConnected(RedisClient *redis, QObject *context, std::function<void(bool)> then)
{
    if (redis->isConnected() || redis->state() != RedisClient::State::Connecting) {
        then(redis->isConnected());
        return;
    }
    // Whichever comes first: connected, or a failed attempt (a reconnect gets scheduled).
    auto once = std::make_shared<std::function<void(bool)>>(std::move(then));
    auto fire = [once](bool ok) {
        if (*once) {
            auto f = std::exchange(*once, {});
            f(ok);
        }
    };
    QObject::connect(redis, &RedisClient::connected, context, [fire] { fire(true); }, Qt::SingleShotConnection);
    QObject::connect(
        redis, &RedisClient::reconnectScheduled, context, [fire](int, const QString &) { fire(false); },
        Qt::SingleShotConnection);
}

Result<RedisReply> runScriptSync(RedisSyncClient &redis, const RedisScript &script, const QList<QByteArray> &keys,
                                 const QList<QByteArray> &args)
{
    auto reply = redis.command(scriptCommand(script, keys, args));
    if (reply && reply->isError() && isNoScriptError(reply->string)) {
        reply = redis.command(scriptCommand(script, keys, args, true));
    }
    return replyOrError(std::move(reply), script);
}

void syncScriptArgs(const WalletState &state, QList<QByteArray> &keys, QList<QByteArray> &args)
{
    const UserKeys user = UserKeys::of(state.userId);
    keys = {user.wallet, user.pending, user.totals};
    args = {state.balance.nanosText(), QByteArray::number(state.version), QByteArray::number(kWalletTtlMs),
            QByteArray::number(state.settledRequests.size())};
    args << state.settledRequests;
    for (const auto &key : state.keys) {
        keys << user.keySpend(key.keyId);
        args << key.spent.nanosText();
    }
}

void syncWallet(RedisClient *redis, const WalletState &state, QObject *context, std::function<void(Status)> done)
{
    QList<QByteArray> keys, args;
    syncScriptArgs(state, keys, args);
    runScript(redis, syncScript(), std::move(keys), std::move(args), context,
              [done = std::move(done)](Result<RedisReply> reply) {
                  if (done) {
                      done(reply ? Status(Ok{}) : Status(reply.error()));
                  }
              });
}

Status syncWalletSync(RedisSyncClient &redis, const WalletState &state)
{
    QList<QByteArray> keys, args;
    syncScriptArgs(state, keys, args);
    auto reply = runScriptSync(redis, syncScript(), keys, args);
    if (!reply) {
        return reply.error();
    }
    return Ok{};
}

Status syncWalletsSync(RedisSyncClient &redis, const QList<WalletState> &states)
{
    if (states.isEmpty()) {
        return Ok{};
    }
    QList<QList<QByteArray>> commands;
    commands.reserve(states.size());
    for (const WalletState &state : states) {
        QList<QByteArray> keys, args;
        syncScriptArgs(state, keys, args);
        commands.append(scriptCommand(syncScript(), keys, args));
    }
    auto replies = redis.pipeline(commands);
    if (!replies) {
        return replies.error();
    }
    // The script cache is empty after a Redis restart: send the ones refused again, as EVAL.
    for (qsizetype i = 0; i < replies->size(); ++i) {
        const RedisReply &reply = replies->at(i);
        if (reply.isError() && isNoScriptError(reply.string)) {
            if (auto again = syncWalletSync(redis, states.at(i)); !again) {
                return again;
            }
        } else if (auto checked = replyOrError(reply, syncScript()); !checked) {
            return checked.error();
        }
    }
    return Ok{};
}

} // namespace llmpool::gateway::billing
