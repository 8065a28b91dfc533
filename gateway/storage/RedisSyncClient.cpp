#include "storage/RedisSyncClient.h"

#include "storage/ConnectionUrls.h"

#include <QVarLengthArray>

#include <hiredis/hiredis.h>

#include <sys/time.h>

namespace llmpool::gateway {

namespace {

Error unavailable(const QString &message)
{
    return Error::unavailable(QStringLiteral("redis_unavailable"), message);
}

timeval toTimeval(int ms)
{
    timeval tv{};
    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    return tv;
}

} // namespace

RedisSyncClient::RedisSyncClient(QString url, int timeoutMs) : m_url(std::move(url)), m_timeoutMs(qMax(1, timeoutMs)) {}

RedisSyncClient::~RedisSyncClient()
{
    disconnect();
}

void RedisSyncClient::disconnect()
{
    if (m_context) {
        redisFree(m_context);
        m_context = nullptr;
    }
}

Status RedisSyncClient::connect()
{
    disconnect();
    Result<RedisUrl> endpoint = parseRedisUrl(m_url);
    if (!endpoint)
        return endpoint.takeError();
    m_endpoint = std::move(endpoint.value());

    const timeval timeout = toTimeval(m_timeoutMs);
    redisContext *c = m_endpoint.transport == RedisUrl::Transport::Unix
                          ? redisConnectUnixWithTimeout(m_endpoint.socketPath.toUtf8().constData(), timeout)
                          : redisConnectWithTimeout(m_endpoint.host.toUtf8().constData(), m_endpoint.port, timeout);
    if (!c)
        return unavailable(QStringLiteral("cannot connect to ") + m_endpoint.redacted() +
                           QStringLiteral(": out of memory"));
    if (c->err) {
        const QString reason = QString::fromLocal8Bit(c->errstr);
        redisFree(c);
        return unavailable(QStringLiteral("cannot connect to ") + m_endpoint.redacted() + QStringLiteral(": ") +
                           reason);
    }
    redisSetTimeout(c, timeout); // reads and writes too, so a hung server cannot hang the CLI
    m_context = c;

    auto handshake = [this](const QList<QByteArray> &args, const char *what) -> Status {
        Result<RedisReply> reply = command(args);
        if (!reply)
            return reply.takeError();
        if (reply->isError()) {
            const QString message =
                QString::fromLatin1(what) + QStringLiteral(" failed: ") + QString::fromUtf8(reply->string.left(200));
            disconnect();
            return unavailable(message);
        }
        return Ok{};
    };
    if (!m_endpoint.password.isEmpty()) {
        QList<QByteArray> auth{QByteArrayLiteral("AUTH")};
        if (!m_endpoint.username.isEmpty() && m_endpoint.username != u"default")
            auth << m_endpoint.username.toUtf8();
        auth << m_endpoint.password.toUtf8();
        if (Status s = handshake(auth, "AUTH"); !s)
            return s;
    }
    if (m_endpoint.db != 0) {
        if (Status s = handshake({QByteArrayLiteral("SELECT"), QByteArray::number(m_endpoint.db)}, "SELECT"); !s)
            return s;
    }
    return Ok{};
}

Result<RedisReply> RedisSyncClient::command(const QList<QByteArray> &args)
{
    if (args.isEmpty())
        return Error::internal(QStringLiteral("redis_error"), QStringLiteral("empty Redis command"));
    if (!m_context) {
        if (Status s = connect(); !s)
            return s.takeError();
    }
    QVarLengthArray<const char *, 8> argv;
    QVarLengthArray<size_t, 8> lengths;
    for (const QByteArray &arg : args) {
        argv.append(arg.constData());
        lengths.append(size_t(arg.size()));
    }
    auto *reply = static_cast<redisReply *>(redisCommandArgv(m_context, int(argv.size()), argv.data(), lengths.data()));
    if (!reply) {
        const QString reason = QString::fromLocal8Bit(m_context->errstr);
        disconnect();
        return unavailable(QStringLiteral("Redis command failed: ") + reason);
    }
    RedisReply out = RedisReply::fromHiredis(reply);
    freeReplyObject(reply);
    return out;
}

Result<QList<RedisReply>> RedisSyncClient::pipeline(const QList<QList<QByteArray>> &commands)
{
    if (!m_context) {
        if (Status s = connect(); !s)
            return s.takeError();
    }
    for (const QList<QByteArray> &args : commands) {
        QVarLengthArray<const char *, 16> argv;
        QVarLengthArray<size_t, 16> lengths;
        for (const QByteArray &arg : args) {
            argv.append(arg.constData());
            lengths.append(size_t(arg.size()));
        }
        if (redisAppendCommandArgv(m_context, int(argv.size()), argv.data(), lengths.data()) != REDIS_OK) {
            disconnect();
            return unavailable(QStringLiteral("Redis command failed: out of memory"));
        }
    }
    QList<RedisReply> replies;
    replies.reserve(commands.size());
    for (qsizetype i = 0; i < commands.size(); ++i) {
        void *raw = nullptr;
        if (redisGetReply(m_context, &raw) != REDIS_OK || !raw) {
            const QString reason = QString::fromLocal8Bit(m_context->errstr);
            disconnect();
            return unavailable(QStringLiteral("Redis command failed: ") + reason);
        }
        auto *reply = static_cast<redisReply *>(raw);
        replies.append(RedisReply::fromHiredis(reply));
        freeReplyObject(reply);
    }
    return replies;
}

Status RedisSyncClient::ping()
{
    Result<RedisReply> reply = command({QByteArrayLiteral("PING")});
    if (!reply)
        return reply.takeError();
    if (reply->isStatus() && reply->string == "PONG")
        return Ok{};
    return unavailable(QStringLiteral("unexpected PING reply: ") + reply->describe());
}

} // namespace llmpool::gateway
