#pragma once

// Invalidation: how an admin change made on one instance reaches every instance at once (SPEC §9:
// within 1 second). Writers publish one message on the Redis channel kChannel after their
// transaction commits; every gateway subscribes and drops what the message names:
//   "catalog"       the catalog changed (upstreams, models, prices): reload it now
//   "key:<sha256>"  one key changed (revoked, rotated, limits): drop it from the key cache
//   "keyid:<id>"    the same, by key id
//   "user:<id>"     a user changed (disabled, renamed): drop all of that user's keys
//   "all"           drop everything (after a restore, a bulk change)
// While the subscription is down, nothing is announced, so the caches fall back to a 1 s
// freshness window and the catalog to a 1 s reload; when it comes back, everything is reloaded
// once, since messages sent meanwhile were lost.
//
// Thread: the object lives on the main thread (its subscriber connection and callbacks do).

#include <QByteArray>
#include <QObject>

#include <memory>

namespace llmpool::gateway {

class CatalogStore;
class KeyCache;
class RedisSubscriber;

class Invalidation : public QObject
{
    Q_OBJECT
public:
    static constexpr QLatin1StringView kChannel{"llmpool:invalidate"};

    Invalidation(const QString &redisUrl, KeyCache *keys, CatalogStore *catalog, QObject *parent = nullptr);
    ~Invalidation() override;

    void start();
    // Applies one message (also what the subscriber calls).
    void apply(QByteArrayView message);

    // Message builders for publishers.
    static QByteArray catalogChanged() { return QByteArrayLiteral("catalog"); }
    static QByteArray keyChanged(qint64 keyId) { return "keyid:" + QByteArray::number(keyId); }
    static QByteArray userChanged(qint64 userId) { return "user:" + QByteArray::number(userId); }

private:
    void setLive(bool live);

    KeyCache *m_keys;
    CatalogStore *m_catalog;
    std::unique_ptr<RedisSubscriber> m_subscriber;
};

} // namespace llmpool::gateway
