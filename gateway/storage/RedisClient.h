#pragma once

// RedisClient: one asynchronous Redis connection for commands, on the Qt event loop of the thread
// the client lives on (one client per event-loop thread, STYLE §1; see RedisPool). Create it, call
// start(), issue commands and destroy it on that same thread; callbacks run on it too, directly
// from the socket notifier for replies (no extra hop per reply), through a queued call for
// failures.
//
// The connection itself (hiredis on the Qt loop, AUTH/SELECT handshake, connect timeout,
// reconnect with exponential backoff) is a RedisConnector, shared with RedisSubscriber; see there.
// While not connected, command() fails fast with "redis_unavailable" (503) instead of queueing:
// the caller (billing, rate limits) has its own fallback (spool, local limits). Commands in flight
// when the connection drops fail the same way.

#include "Result.h"
#include "storage/RedisConnector.h"
#include "storage/RedisReply.h"

#include <QByteArray>
#include <QList>
#include <QObject>

#include <functional>

namespace llmpool::gateway {

class RedisClient : public QObject
{
    Q_OBJECT

public:
    struct Options
    {
        QString url = QStringLiteral("redis://127.0.0.1:6379/0"); // parsed by RedisUrl::parse
        int connectTimeoutMs = 5'000;                             // TCP connect + AUTH/SELECT
        int minBackoffMs = 100;
        int maxBackoffMs = 5'000;
    };

    using State = RedisConnector::State;

    explicit RedisClient(Options options, QObject *parent = nullptr);
    // Drops the connection; callbacks still pending get "redis_unavailable" through queued calls
    // (dropped if their context is gone by then).
    ~RedisClient() override;

    // Parses the URL ("redis_url_invalid") and starts connecting; returns before it is connected.
    Status start();
    // Disconnects and stops reconnecting; pending commands fail with redis_unavailable.
    void stop();

    State state() const { return m_connector->state(); }
    bool isConnected() const { return m_connector->isConnected(); }
    // Commands sent and not answered yet.
    int pendingCommands() const { return m_connector->pendingCommands(); }
    QString redactedUrl() const { return m_connector->url().redacted(); }

    // Sends one command, binary-safe: {"SET", key, value}. `callback` runs on this thread with the
    // reply (a Redis error reply is an ok() Result of type Error), or with "redis_unavailable".
    // `context` (living on this thread) guards the callback: if it is destroyed first, the callback
    // is dropped. A null context means fire-and-forget. Commands are pipelined: issue many, the
    // replies come back in order.
    void command(QList<QByteArray> args, QObject *context, std::function<void(Result<RedisReply>)> callback);

    // PING; done(Ok) on PONG.
    void ping(QObject *context, std::function<void(Status)> done);

    // PUBLISH, binary-safe; done(number of subscribers that received it, across all instances),
    // or "redis_unavailable" / "redis_error". Fire-and-forget without a context.
    void publish(const QByteArray &channel, const QByteArray &payload, QObject *context = nullptr,
                 std::function<void(Result<qint64>)> done = {});

Q_SIGNALS:
    void connected();
    void disconnected(const QString &reason);
    void reconnectScheduled(int delayMs, const QString &reason);

private:
    Options m_options;
    RedisConnector *m_connector; // child
};

} // namespace llmpool::gateway
