#include "storage/RedisSubscriber.h"

#include "Log.h"
#include "storage/ConnectionUrls.h"

#include <QPointer>
#include <QThread>

#include <utility>

namespace llmpool::gateway {

namespace {

QList<QByteArray> withoutDuplicates(QList<QByteArray> names)
{
    // Redis confirms each name given, duplicates too; hiredis keeps one entry per name. Counting
    // confirmations is simpler on a list without them.
    QList<QByteArray> out;
    for (QByteArray &name : names) {
        if (!out.contains(name))
            out.append(std::move(name));
    }
    return out;
}

} // namespace

RedisSubscriber::RedisSubscriber(RedisClient::Options options, QList<QByteArray> channels, QList<QByteArray> patterns,
                                 QObject *parent)
    : QObject(parent), m_options(std::move(options)), m_channels(withoutDuplicates(std::move(channels))),
      m_patterns(withoutDuplicates(std::move(patterns))),
      m_connector(new RedisConnector({m_options.connectTimeoutMs, m_options.minBackoffMs, m_options.maxBackoffMs,
                                      /*resetBackoffOnConnect=*/false},
                                     this))
{
    m_confirmTimer.setSingleShot(true);
    connect(&m_confirmTimer, &QTimer::timeout, this, [this] {
        if (m_unconfirmed > 0)
            m_connector->dropConnection(
                QStringLiteral("SUBSCRIBE not confirmed within %1 ms").arg(m_options.connectTimeoutMs));
    });
    connect(m_connector, &RedisConnector::connected, this, &RedisSubscriber::subscribeAll);
    connect(m_connector, &RedisConnector::pushReceived, this, &RedisSubscriber::handlePush);
    connect(m_connector, &RedisConnector::disconnected, this, &RedisSubscriber::connectionLost);
    connect(m_connector, &RedisConnector::reconnectScheduled, this, &RedisSubscriber::reconnectScheduled);
}

RedisSubscriber::~RedisSubscriber()
{
    blockSignals(true);
    m_connector->stop();
}

Status RedisSubscriber::start()
{
    Q_ASSERT(QThread::currentThread() == thread());
    if (m_connector->state() != RedisConnector::State::Stopped)
        return Ok{};
    if (m_channels.isEmpty() && m_patterns.isEmpty())
        return Error::internal(QStringLiteral("redis_subscribe_invalid"),
                               QStringLiteral("no Redis channels or patterns to subscribe to"));
    Result<RedisUrl> url = parseRedisUrl(m_options.url);
    if (!url)
        return url.takeError();
    m_connector->start(std::move(url.value()));
    return Ok{};
}

void RedisSubscriber::stop()
{
    // Emits disconnected() when it was connected, and connectionLost() resets the rest.
    m_connector->stop();
}

void RedisSubscriber::subscribeAll()
{
    m_unconfirmed = int(m_channels.size() + m_patterns.size());
    const bool sent = (m_channels.isEmpty() || m_connector->subscribe(QByteArrayLiteral("SUBSCRIBE"), m_channels)) &&
                      (m_patterns.isEmpty() || m_connector->subscribe(QByteArrayLiteral("PSUBSCRIBE"), m_patterns));
    if (!sent) {
        // Only when hiredis is already tearing the connection down; its end is reported next.
        qCWarning(lcRedis) << "cannot send SUBSCRIBE; waiting for the reconnect";
        return;
    }
    m_confirmTimer.start(m_options.connectTimeoutMs);
}

void RedisSubscriber::handlePush(const QList<QByteArray> &push)
{
    // RESP2 pushes: message CHANNEL PAYLOAD, pmessage PATTERN CHANNEL PAYLOAD,
    // subscribe|psubscribe NAME COUNT.
    if (push.size() < 3)
        return;
    const QByteArray &kind = push.at(0);
    if (kind == "message") {
        emit message(push.at(1), push.at(2));
    } else if (kind == "pmessage") {
        if (push.size() >= 4)
            emit message(push.at(2), push.at(3));
    } else if (kind == "subscribe" || kind == "psubscribe") {
        if (m_unconfirmed > 0 && --m_unconfirmed == 0) {
            m_confirmTimer.stop();
            m_connector->resetBackoff();
            m_subscribed = true;
            qCDebug(lcRedis).noquote() << "subscribed to" << m_channels.size() << "channel(s) and" << m_patterns.size()
                                       << "pattern(s) on" << m_connector->url().redacted();
            emit subscribed();
        }
    }
}

void RedisSubscriber::connectionLost(const QString &reason)
{
    m_confirmTimer.stop();
    m_unconfirmed = 0;
    const bool wasSubscribed = std::exchange(m_subscribed, false);
    // A receiver may destroy us.
    QPointer<RedisSubscriber> self(this);
    if (wasSubscribed)
        emit unsubscribedDown();
    if (self)
        emit disconnected(reason);
}

} // namespace llmpool::gateway
