#include "storage/RedisClient.h"

#include "storage/ConnectionUrls.h"

#include <QThread>

namespace llmpool::gateway {

RedisClient::RedisClient(Options options, QObject *parent)
    : QObject(parent), m_options(std::move(options)),
      m_connector(new RedisConnector(
          {m_options.connectTimeoutMs, m_options.minBackoffMs, m_options.maxBackoffMs, /*resetBackoffOnConnect=*/true},
          this))
{
    connect(m_connector, &RedisConnector::connected, this, &RedisClient::connected);
    connect(m_connector, &RedisConnector::disconnected, this, &RedisClient::disconnected);
    connect(m_connector, &RedisConnector::reconnectScheduled, this, &RedisClient::reconnectScheduled);
}

RedisClient::~RedisClient()
{
    // Nobody may observe signals from a half-destroyed client.
    blockSignals(true);
    m_connector->stop();
}

Status RedisClient::start()
{
    Q_ASSERT(QThread::currentThread() == thread());
    if (m_connector->state() != State::Stopped)
        return Ok{};
    Result<RedisUrl> url = parseRedisUrl(m_options.url);
    if (!url)
        return url.takeError();
    m_connector->start(std::move(url.value()));
    return Ok{};
}

void RedisClient::stop()
{
    m_connector->stop();
}

void RedisClient::command(QList<QByteArray> args, QObject *context, std::function<void(Result<RedisReply>)> callback)
{
    if (args.isEmpty()) {
        if (context)
            QMetaObject::invokeMethod(
                context,
                [callback = std::move(callback)] {
                    callback(Error::internal(QStringLiteral("redis_error"), QStringLiteral("empty Redis command")));
                },
                Qt::QueuedConnection);
        return;
    }
    m_connector->send(args, context, std::move(callback));
}

void RedisClient::ping(QObject *context, std::function<void(Status)> done)
{
    command({QByteArrayLiteral("PING")}, context, [done = std::move(done)](Result<RedisReply> reply) {
        if (!reply)
            done(reply.takeError());
        else if (reply->isStatus() && reply->string == "PONG")
            done(Ok{});
        else
            done(Error::unavailable(QStringLiteral("redis_unavailable"),
                                    QStringLiteral("unexpected PING reply: ") + reply->describe()));
    });
}

void RedisClient::publish(const QByteArray &channel, const QByteArray &payload, QObject *context,
                          std::function<void(Result<qint64>)> done)
{
    if (!context || !done) {
        command({QByteArrayLiteral("PUBLISH"), channel, payload}, nullptr, {});
        return;
    }
    command({QByteArrayLiteral("PUBLISH"), channel, payload}, context,
            [done = std::move(done)](Result<RedisReply> reply) {
                if (!reply)
                    done(reply.takeError());
                else if (reply->isInteger())
                    done(reply->integer);
                else
                    done(Error::internal(QStringLiteral("redis_error"),
                                         QStringLiteral("PUBLISH failed: ") + reply->describe()));
            });
}

} // namespace llmpool::gateway
