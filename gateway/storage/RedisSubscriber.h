#pragma once

// RedisSubscriber: Redis pub/sub for cache invalidation across gateway instances (STYLE §1: a
// revoked key or a new price reaches every instance at once). It owns a DEDICATED connection (a
// RedisConnector of its own: a subscribed connection cannot carry commands) that SUBSCRIBEs to a
// fixed list of channels and PSUBSCRIBEs to a fixed list of patterns, and delivers every message
// through message(). Publish with RedisClient::publish().
//
// Thread: lives on one thread with an event loop (one subscriber per process is enough; hand
// the messages to other threads through queued connections). Create, start, stop and destroy it
// there; its signals are emitted there, message() directly from the socket read.
//
// Up and down: the subscription is "up" once Redis confirmed every channel and pattern; then
// subscribed() is emitted and isSubscribed() is true. When the connection is lost (Redis
// restart, network cut, stop()) unsubscribedDown() and disconnected(reason) are emitted and
// isSubscribed() is false; the subscriber reconnects with RedisClient's backoff and subscribes
// again, emitting subscribed() once more. Messages published while it was down are lost (pub/sub
// keeps nothing), so a cache fed by it should shorten its TTLs while down and treat every
// subscribed() after the first as "anything may have changed".
// A SUBSCRIBE that Redis refuses (an ACL denying a channel: hiredis closes the connection with
// Redis's error as the reason) or does not confirm within Options::connectTimeoutMs is retried
// with the backoff, which only starts over once a subscription was confirmed: a connection that
// can never subscribe must not reconnect ten times a second.

#include "Result.h"
#include "storage/RedisClient.h"

#include <QByteArray>
#include <QList>
#include <QObject>
#include <QTimer>

namespace llmpool::gateway {

class RedisSubscriber : public QObject
{
    Q_OBJECT

public:
    // `options`: the URL, connect timeout and backoff, as for RedisClient (RedisPool::options()).
    // `channels` are SUBSCRIBEd and `patterns` PSUBSCRIBEd (glob-style); duplicates are ignored.
    RedisSubscriber(RedisClient::Options options, QList<QByteArray> channels, QList<QByteArray> patterns = {},
                    QObject *parent = nullptr);
    // No signals from here on.
    ~RedisSubscriber() override;

    // Parses the URL ("redis_url_invalid"), refuses an empty channel and pattern list
    // ("redis_subscribe_invalid"), and starts connecting; returns before anything is subscribed.
    Status start();
    // Disconnects and stops reconnecting (unsubscribedDown() if it was up).
    void stop();

    bool isSubscribed() const { return m_subscribed; }
    bool isConnected() const { return m_connector->isConnected(); }
    const QList<QByteArray> &channels() const { return m_channels; }
    const QList<QByteArray> &patterns() const { return m_patterns; }
    QString redactedUrl() const { return m_connector->url().redacted(); }

Q_SIGNALS:
    // One published message, binary-safe. For a pattern subscription `channel` is the channel the
    // message was published to, not the pattern.
    void message(const QByteArray &channel, const QByteArray &payload);
    // Every channel and pattern is confirmed: after start(), and again after each reconnect.
    void subscribed();
    // The subscription was up and is lost; messages are missed until the next subscribed().
    void unsubscribedDown();
    // The connection was lost (or stop()); `reason` has no secret in it.
    void disconnected(const QString &reason);
    void reconnectScheduled(int delayMs, const QString &reason);

private:
    void subscribeAll();
    void handlePush(const QList<QByteArray> &push);
    void connectionLost(const QString &reason);

    RedisClient::Options m_options;
    QList<QByteArray> m_channels;
    QList<QByteArray> m_patterns;
    RedisConnector *m_connector; // child
    QTimer m_confirmTimer{this};
    int m_unconfirmed = 0; // channels + patterns sent on this connection and not confirmed yet
    bool m_subscribed = false;
};

} // namespace llmpool::gateway
