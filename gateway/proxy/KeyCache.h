#pragma once

// KeyCache: the data plane's in-process cache of API key lookups, keyed by the key's SHA-256, so
// that authenticating a request costs a hash and a map lookup instead of a database round trip.
// The database stays the source of truth:
//   - every entry expires after a freshness window (default 30 s) and is fetched again;
//   - a revoke, rotate, update or user change is published on Redis (see KeyInvalidation) and every
//     instance drops the affected entries at once;
//   - while that invalidation channel is down, entries are trusted for at most 1 s, so a change
//     still reaches every instance within a second (SPEC §9).
// Unknown keys are cached too (negatively, same rules), so a flood of bad keys does not become a
// flood of queries.
//
// Thread-safe: shared by every event-loop thread. A sharded map, each shard behind its own mutex;
// critical sections are a hash lookup or insert, nothing else.

#include "storage/ApiKeyRepository.h"

#include <QByteArray>
#include <QHash>
#include <QMutex>

#include <array>
#include <atomic>
#include <memory>
#include <optional>

namespace llmpool::gateway {

// What a request needs to know about its key; immutable once cached.
struct CachedKey
{
    ApiKeyRecord key;
    QString userName;
    bool userEnabled = true;
};

class KeyCache
{
public:
    // nullptr inside = "no key has this hash" (a cached negative answer).
    using Entry = std::shared_ptr<const CachedKey>;

    explicit KeyCache(qint64 freshnessMs = 30'000, qint64 degradedFreshnessMs = 1'000);

    // The cached answer for `keyHash`, or nullopt when it must be fetched.
    std::optional<Entry> find(const QByteArray &keyHash, qint64 nowMs) const;
    // Read generation() before fetching and pass it here: an answer fetched before an
    // invalidation that arrived meanwhile may be stale, so it is not cached.
    quint64 generation() const { return m_generation.load(std::memory_order_acquire); }
    void put(const QByteArray &keyHash, Entry entry, qint64 nowMs, quint64 fetchGeneration);

    void invalidateHash(const QByteArray &keyHash);
    void invalidateKeyId(qint64 keyId);
    void invalidateUser(qint64 userId);
    void clear();

    // Whether invalidations are being received; when not, entries live degradedFreshnessMs at most.
    void setInvalidationLive(bool live) { m_live.store(live, std::memory_order_relaxed); }
    bool invalidationLive() const { return m_live.load(std::memory_order_relaxed); }

    qsizetype size() const;

private:
    struct Slot
    {
        Entry entry;
        qint64 fetchedAtMs = 0;
    };
    struct Shard
    {
        mutable QMutex mutex;
        QHash<QByteArray, Slot> entries;
    };
    static constexpr int kShards = 16;

    Shard &shardFor(const QByteArray &keyHash) const;
    template <class Pred> void eraseIf(Pred pred);

    qint64 m_freshnessMs;
    qint64 m_degradedFreshnessMs;
    std::atomic<bool> m_live{false};
    std::atomic<quint64> m_generation{0};
    mutable std::array<Shard, kShards> m_shards;
};

} // namespace llmpool::gateway
