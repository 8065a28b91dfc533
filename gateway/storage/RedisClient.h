#pragma once

// RedisClient: one asynchronous hiredis connection driven by the Qt event loop of the thread the
// client lives on (one client per event-loop thread, STYLE §1). Create it, call start(), issue
// commands and destroy it on that same thread; callbacks run on it too, directly from the socket
// notifier for replies (no extra hop per reply), through a queued call for failures.
//
// Connection handling:
//   - start() connects to a redis:// or unix:// URL, then sends AUTH (when the URL has a
//     password) and SELECT (db != 0) before anything else; connected() is emitted when those
//     succeeded. A connect or handshake that takes longer than Options::connectTimeoutMs is
//     abandoned.
//   - When the connection drops (or cannot be made), the client reconnects with exponential
//     backoff, Options::minBackoffMs doubling up to maxBackoffMs, reset once connected again.
//     disconnected() and reconnectScheduled() say so.
//   - While not connected, command() fails fast with "redis_unavailable" (503) instead of
//     queueing: the caller (billing, rate limits) has its own fallback (spool, local limits).
//     Commands in flight when the connection drops fail the same way.
//
// Why not hiredis's adapters/qt.h: on Qt 6 it connects SIGNAL(activated(int)), which no longer
// exists on QSocketNotifier, so it never reads; it also allocates a notifier per add/del event.
// Here each hiredis context gets two QSocketNotifiers, created disabled and only toggled.
//
// hiredis may free its context inside its own callbacks (a disconnect during a read); the
// per-context state is therefore separate from the client, freed only when both hiredis and the
// client have let go of it, and the client never calls back into hiredis from inside hiredis.

#include "Result.h"
#include "storage/RedisEndpoint.h"
#include "storage/RedisReply.h"

#include <QByteArray>
#include <QList>
#include <QObject>
#include <QPointer>
#include <QTimer>

#include <functional>

namespace llmpool::gateway {

namespace detail {
class RedisConnection;
}

class RedisClient : public QObject
{
    Q_OBJECT

public:
    struct Options
    {
        QString url = QStringLiteral("redis://127.0.0.1:6379/0");
        int connectTimeoutMs = 5'000; // TCP connect + AUTH/SELECT
        int minBackoffMs = 100;
        int maxBackoffMs = 5'000;
    };

    enum class State { Stopped, Connecting, Connected, WaitingToReconnect };
    Q_ENUM(State)

    explicit RedisClient(Options options, QObject *parent = nullptr);
    // Drops the connection; callbacks still pending get "redis_unavailable" through queued calls
    // (dropped if their context is gone by then).
    ~RedisClient() override;

    // Parses the URL ("redis_url_invalid") and starts connecting; returns before it is connected.
    Status start();
    // Disconnects and stops reconnecting; pending commands fail with redis_unavailable.
    void stop();

    State state() const { return m_state; }
    bool isConnected() const { return m_state == State::Connected; }
    // Commands sent and not answered yet.
    int pendingCommands() const;
    QString redactedUrl() const { return m_endpoint.redacted(); }

    // Sends one command, binary-safe: {"SET", key, value}. `callback` runs on this thread with the
    // reply (a Redis error reply is an ok() Result of type Error), or with "redis_unavailable".
    // `context` (living on this thread) guards the callback: if it is destroyed first, the callback
    // is dropped. A null context means fire-and-forget. Commands are pipelined: issue many, the
    // replies come back in order.
    void command(QList<QByteArray> args, QObject *context, std::function<void(Result<RedisReply>)> callback);

    // PING; done(Ok) on PONG.
    void ping(QObject *context, std::function<void(Status)> done);

Q_SIGNALS:
    void connected();
    void disconnected(const QString &reason);
    void reconnectScheduled(int delayMs, const QString &reason);

private:
    friend class detail::RedisConnection;

    void connectNow();
    void sendHandshake();
    void tcpConnected(detail::RedisConnection *connection);
    void markConnected();
    // The current connection ended (hiredis freed it) or we give it up; schedule the next one.
    void connectionEnded(detail::RedisConnection *connection, const QString &reason);
    void abandonConnection(const QString &reason);
    void scheduleReconnect(const QString &reason);
    void failLater(QObject *context, std::function<void(Result<RedisReply>)> callback, Error error);

    Options m_options;
    RedisEndpoint m_endpoint;
    State m_state = State::Stopped;
    detail::RedisConnection *m_connection = nullptr;
    QTimer m_reconnectTimer;
    QTimer m_connectTimer;
    int m_nextBackoffMs = 0;
    int m_failuresSinceConnected = 0;
    QString m_lastReason;
};

} // namespace llmpool::gateway
