#pragma once

// RedisSyncClient: a blocking Redis connection (hiredis redisConnectWithTimeout) for command-line
// tools and one-shot checks (`llmpool status`, readiness probes from the CLI). Owned and used by
// one thread; never use it on an event-loop thread (use RedisClient there).

#include "Config.h"
#include "Result.h"
#include "storage/RedisReply.h"

#include <QByteArray>
#include <QList>

struct redisContext;

namespace llmpool::gateway {

class RedisSyncClient
{
public:
    explicit RedisSyncClient(QString url, int timeoutMs = 2'000);
    ~RedisSyncClient();
    RedisSyncClient(const RedisSyncClient &) = delete;
    RedisSyncClient &operator=(const RedisSyncClient &) = delete;

    // Connects, then AUTH / SELECT as the URL says. "redis_url_invalid", "redis_unavailable".
    Status connect();
    bool isConnected() const { return m_context != nullptr; }
    void disconnect();

    // One command; connects first if needed. A transport failure drops the connection (the next
    // call reconnects) and reports "redis_unavailable"; a Redis error reply is an ok() Result.
    Result<RedisReply> command(const QList<QByteArray> &args);
    // Several commands in one round trip (pipelined); the replies in order. A transport failure
    // fails the whole call (some commands may have run: use it for idempotent commands).
    Result<QList<RedisReply>> pipeline(const QList<QList<QByteArray>> &commands);
    Status ping();

private:
    QString m_url;
    int m_timeoutMs;
    RedisUrl m_endpoint;
    redisContext *m_context = nullptr;
};

} // namespace llmpool::gateway
