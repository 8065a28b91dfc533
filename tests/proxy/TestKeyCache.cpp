// The data plane's key cache: freshness windows (long while invalidations are live, 1 s while
// not), invalidation by hash, key id and user, and no stale answer cached across an invalidation.

#include "proxy/ApiKeyAuth.h"
#include "proxy/KeyCache.h"

#include <QTest>

using namespace llmpool::gateway;

namespace {
KeyCache::Entry entry(qint64 keyId, qint64 userId, bool userEnabled = true)
{
    CachedKey k;
    k.key.id = keyId;
    k.key.userId = userId;
    k.userEnabled = userEnabled;
    return std::make_shared<const CachedKey>(k);
}
const QByteArray kHashA = QByteArray(64, 'a');
const QByteArray kHashB = QByteArray(64, 'b');
} // namespace

class TestKeyCache : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void freshness()
    {
        KeyCache cache(30'000, 1'000);
        cache.put(kHashA, entry(1, 10), 1'000, cache.generation());
        QVERIFY(cache.find(kHashA, 1'500).has_value());
        QVERIFY(!cache.find(kHashA, 2'000).has_value()); // degraded: 1 s
        cache.setInvalidationLive(true);
        QVERIFY(cache.find(kHashA, 30'999).has_value());
        QVERIFY(!cache.find(kHashA, 31'000).has_value());
        QVERIFY(!cache.find(kHashB, 1'000).has_value());
    }

    void negativeEntries()
    {
        KeyCache cache;
        cache.setInvalidationLive(true);
        cache.put(kHashA, nullptr, 0, cache.generation());
        auto found = cache.find(kHashA, 10);
        QVERIFY(found.has_value());
        QVERIFY(*found == nullptr);
        QCOMPARE(ApiKeyAuth::verdict(*found, 10).error().httpStatus, 401);
    }

    void invalidation()
    {
        KeyCache cache;
        cache.setInvalidationLive(true);
        cache.put(kHashA, entry(1, 10), 0, cache.generation());
        cache.put(kHashB, entry(2, 20), 0, cache.generation());
        cache.invalidateKeyId(1);
        QVERIFY(!cache.find(kHashA, 1).has_value());
        QVERIFY(cache.find(kHashB, 1).has_value());
        cache.invalidateUser(20);
        QVERIFY(!cache.find(kHashB, 1).has_value());
        cache.put(kHashA, entry(1, 10), 0, cache.generation());
        cache.invalidateHash(kHashA);
        QCOMPARE(cache.size(), 0);
    }

    void noStaleAnswerAcrossAnInvalidation()
    {
        KeyCache cache;
        cache.setInvalidationLive(true);
        const quint64 before = cache.generation();  // a fetch starts…
        cache.invalidateKeyId(1);                   // …the key is revoked meanwhile…
        cache.put(kHashA, entry(1, 10), 0, before); // …the fetch's (stale) answer arrives
        QVERIFY(!cache.find(kHashA, 1).has_value());
    }

    void verdicts()
    {
        QVERIFY(ApiKeyAuth::verdict(entry(1, 10), 0).ok());
        QCOMPARE(ApiKeyAuth::verdict(entry(1, 10, false), 0).error().httpStatus, 403);
        CachedKey revoked;
        revoked.key.revokedAt = QDateTime::fromMSecsSinceEpoch(5);
        QCOMPARE(ApiKeyAuth::verdict(std::make_shared<const CachedKey>(revoked), 0).error().httpStatus, 401);
        CachedKey expiring;
        expiring.key.expiresAt = QDateTime::fromMSecsSinceEpoch(1'000);
        auto e = std::make_shared<const CachedKey>(expiring);
        QVERIFY(ApiKeyAuth::verdict(e, 999).ok());
        QCOMPARE(ApiKeyAuth::verdict(e, 1'000).error().code, QStringLiteral("invalid_api_key"));
    }
};

QTEST_GUILESS_MAIN(TestKeyCache)
#include "TestKeyCache.moc"
