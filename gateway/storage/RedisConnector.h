#pragma once

// RedisConnector: keeps ONE asynchronous hiredis connection up, driven by the Qt event loop of the
// thread it lives on. The machinery shared by RedisClient (commands) and RedisSubscriber (pub/sub);
// each owns its own connector, because a subscribed connection can no longer carry commands.
//
// Thread: create, start, use and destroy it on one thread; every callback and signal runs there,
// replies and pushes directly from the socket notifier (no extra hop per reply), failures through
// a queued call.
//
// Connection handling:
//   - start() connects to a redis:// or unix:// URL, then sends AUTH (when the URL has a
//     password) and SELECT (db != 0) before anything else; connected() is emitted when those
//     succeeded. A connect or handshake that takes longer than Options::connectTimeoutMs is
//     abandoned.
//   - When the connection drops (or cannot be made), it reconnects with exponential backoff,
//     Options::minBackoffMs doubling up to maxBackoffMs, reset once connected again (or, with
//     Options::resetBackoffOnConnect false, when the owner calls resetBackoff(): the subscriber
//     counts a connection as good only once its SUBSCRIBE is confirmed).
//     disconnected() and reconnectScheduled() say so.
//   - While not connected, send() fails fast with "redis_unavailable" (503) instead of queueing.
//     Commands in flight when the connection drops fail the same way.
//
// Why not hiredis's adapters/qt.h: on Qt 6 it connects SIGNAL(activated(int)), which no longer
// exists on QSocketNotifier, so it never reads; it also allocates a notifier per add/del event.
// Here each hiredis context gets two QSocketNotifiers, created disabled and only toggled.
//
// hiredis may free its context inside its own callbacks (a disconnect during a read); the
// per-context state is therefore separate from the connector, freed only when both hiredis and
// the connector have let go of it, and the connector never calls back into hiredis from inside
// hiredis.

#include "Config.h"
#include "Result.h"
#include "storage/RedisReply.h"

#include <QByteArray>
#include <QList>
#include <QObject>
#include <QTimer>

#include <functional>

namespace llmpool::gateway {

namespace detail {
class RedisConnection;
}

class RedisConnector : public QObject
{
    Q_OBJECT

public:
    struct Options
    {
        int connectTimeoutMs = 5'000; // TCP connect + AUTH/SELECT
        int minBackoffMs = 100;
        int maxBackoffMs = 5'000;
        bool resetBackoffOnConnect = true;
    };

    enum class State { Stopped, Connecting, Connected, WaitingToReconnect };
    Q_ENUM(State)

    explicit RedisConnector(Options options, QObject *parent = nullptr);
    // Drops the connection; callbacks still pending get "redis_unavailable" through queued calls
    // (dropped if their context is gone by then). No signals from here on.
    ~RedisConnector() override;

    // Starts connecting to `url`; returns at once. A no-op unless stopped.
    void start(RedisUrl url);
    // Disconnects and stops reconnecting; pending commands fail with redis_unavailable.
    void stop();
    // Gives up the current connection (a broken protocol state the owner noticed) and reconnects
    // with the backoff, as if the server had closed it.
    void dropConnection(const QString &reason);
    void resetBackoff();

    State state() const { return m_state; }
    bool isConnected() const { return m_state == State::Connected; }
    const RedisUrl &url() const { return m_url; }
    int pendingCommands() const;

    // Sends one command, binary-safe. `callback` runs exactly once on this thread: with the reply
    // (a Redis error reply is an ok() Result of type Error), or with "redis_unavailable" (not
    // connected, or the connection was lost before the reply; delivered through a queued call).
    // `context` guards the callback: if it is destroyed first, the callback is dropped. A null
    // context means fire-and-forget.
    void send(const QList<QByteArray> &args, QObject *context, std::function<void(Result<RedisReply>)> callback);

    // Sends `verb` ("SUBSCRIBE" or "PSUBSCRIBE") with `names` on the current connection. From then
    // on every push for those names (confirmations, messages) arrives through pushReceived(). The
    // subscriptions end with the connection: subscribe again after the next connected(). False
    // when there is no connection to send on.
    bool subscribe(const QByteArray &verb, const QList<QByteArray> &names);

Q_SIGNALS:
    void connected();
    void disconnected(const QString &reason);
    void reconnectScheduled(int delayMs, const QString &reason);
    // A pub/sub push, flattened to its elements (integers as decimal text), e.g.
    // {"message", channel, payload}, {"pmessage", pattern, channel, payload},
    // {"subscribe", channel, "1"}. Emitted from inside the socket read: a receiver may delete the
    // connector or stop it, both are deferred safely.
    void pushReceived(const QList<QByteArray> &push);

private:
    friend class detail::RedisConnection;

    void connectNow();
    void sendHandshake();
    void tcpConnected(detail::RedisConnection *connection);
    void markConnected();
    // The current connection ended (hiredis freed it); schedule the next one.
    void connectionEnded(detail::RedisConnection *connection, const QString &reason);
    void scheduleReconnect(const QString &reason);
    void failLater(QObject *context, std::function<void(Result<RedisReply>)> callback, Error error);

    Options m_options;
    RedisUrl m_url;
    State m_state = State::Stopped;
    detail::RedisConnection *m_connection = nullptr;
    QTimer m_reconnectTimer{this};
    QTimer m_connectTimer{this};
    quint64 m_generation = 0; // tells an earlier connection's handshake replies apart
    int m_nextBackoffMs = 0;
    int m_failuresSinceConnected = 0;
    QString m_lastReason;
};

} // namespace llmpool::gateway
