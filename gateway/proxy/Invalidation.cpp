#include "proxy/Invalidation.h"

#include "Log.h"
#include "proxy/CatalogStore.h"
#include "proxy/KeyCache.h"
#include "storage/RedisSubscriber.h"

namespace llmpool::gateway {

namespace {
constexpr int kLiveCatalogReloadMs = 60'000;    // a safety net only: changes are announced
constexpr int kDegradedCatalogReloadMs = 1'000; // nothing is announced: poll within SPEC's second
} // namespace

Invalidation::Invalidation(const QString &redisUrl, KeyCache *keys, CatalogStore *catalog, QObject *parent)
    : QObject(parent), m_keys(keys), m_catalog(catalog)
{
    RedisClient::Options options;
    options.url = redisUrl;
    m_subscriber =
        std::make_unique<RedisSubscriber>(options, QList<QByteArray>{QByteArray(kChannel.data(), kChannel.size())});
    connect(m_subscriber.get(), &RedisSubscriber::message, this,
            [this](const QByteArray &, const QByteArray &payload) { apply(payload); });
    connect(m_subscriber.get(), &RedisSubscriber::subscribed, this, [this] { setLive(true); });
    connect(m_subscriber.get(), &RedisSubscriber::unsubscribedDown, this, [this] { setLive(false); });
}

Invalidation::~Invalidation() = default;

void Invalidation::start()
{
    setLive(false);
    if (auto started = m_subscriber->start(); !started) {
        qCWarning(lcRedis).noquote() << "invalidation channel:" << started.error().message;
    }
}

void Invalidation::setLive(bool live)
{
    if (live) {
        // Whatever was announced while we were deaf is lost: start from the database again.
        m_keys->clear();
        m_catalog->reload();
    }
    m_keys->setInvalidationLive(live);
    m_catalog->setReloadInterval(live ? kLiveCatalogReloadMs : kDegradedCatalogReloadMs);
    qCInfo(lcProxy) << "invalidation channel" << (live ? "live" : "down: caches trust entries for 1 s");
}

void Invalidation::apply(QByteArrayView message)
{
    bool ok = false;
    if (message == "catalog") {
        m_catalog->reload();
    } else if (message == "all") {
        m_keys->clear();
        m_catalog->reload();
    } else if (message.startsWith("key:")) {
        m_keys->invalidateHash(message.sliced(4).toByteArray());
    } else if (message.startsWith("keyid:")) {
        const qint64 id = message.sliced(6).toLongLong(&ok);
        ok ? m_keys->invalidateKeyId(id) : m_keys->clear();
    } else if (message.startsWith("user:")) {
        const qint64 id = message.sliced(5).toLongLong(&ok);
        ok ? m_keys->invalidateUser(id) : m_keys->clear();
    } else {
        // Unknown (a newer instance's message?): the safe reading is "anything may have changed".
        m_keys->clear();
        m_catalog->reload();
    }
}

} // namespace llmpool::gateway
