#include "proxy/KeyCache.h"

namespace llmpool::gateway {

KeyCache::KeyCache(qint64 freshnessMs, qint64 degradedFreshnessMs)
    : m_freshnessMs(freshnessMs), m_degradedFreshnessMs(degradedFreshnessMs)
{
}

KeyCache::Shard &KeyCache::shardFor(const QByteArray &keyHash) const
{
    // The key is already a SHA-256 in hex: its first character is uniformly distributed.
    const char c = keyHash.isEmpty() ? '0' : keyHash.at(0);
    const int nibble = c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
    return m_shards[size_t(nibble & (kShards - 1))];
}

std::optional<KeyCache::Entry> KeyCache::find(const QByteArray &keyHash, qint64 nowMs) const
{
    const qint64 window = invalidationLive() ? m_freshnessMs : m_degradedFreshnessMs;
    Shard &shard = shardFor(keyHash);
    QMutexLocker lock(&shard.mutex);
    const auto it = shard.entries.constFind(keyHash);
    if (it == shard.entries.cend() || nowMs - it->fetchedAtMs >= window || nowMs < it->fetchedAtMs) {
        return std::nullopt;
    }
    return it->entry;
}

void KeyCache::put(const QByteArray &keyHash, Entry entry, qint64 nowMs, quint64 fetchGeneration)
{
    Shard &shard = shardFor(keyHash);
    QMutexLocker lock(&shard.mutex);
    // Checked under the shard lock; invalidations bump the generation before taking shard locks,
    // so an invalidation either sees this entry (and removes it) or this check sees its bump.
    if (generation() != fetchGeneration) {
        return;
    }
    shard.entries.insert(keyHash, Slot{std::move(entry), nowMs});
}

void KeyCache::invalidateHash(const QByteArray &keyHash)
{
    m_generation.fetch_add(1, std::memory_order_acq_rel);
    Shard &shard = shardFor(keyHash);
    QMutexLocker lock(&shard.mutex);
    shard.entries.remove(keyHash);
}

template <class Pred> void KeyCache::eraseIf(Pred pred)
{
    m_generation.fetch_add(1, std::memory_order_acq_rel);
    for (Shard &shard : m_shards) {
        QMutexLocker lock(&shard.mutex);
        shard.entries.removeIf([&](const QHash<QByteArray, Slot>::iterator &it) { return pred(it.value()); });
    }
}

void KeyCache::invalidateKeyId(qint64 keyId)
{
    eraseIf([keyId](const Slot &s) { return s.entry && s.entry->key.id == keyId; });
}

void KeyCache::invalidateUser(qint64 userId)
{
    eraseIf([userId](const Slot &s) { return s.entry && s.entry->key.userId == userId; });
}

void KeyCache::clear()
{
    eraseIf([](const Slot &) { return true; });
}

qsizetype KeyCache::size() const
{
    qsizetype n = 0;
    for (const Shard &shard : m_shards) {
        QMutexLocker lock(&shard.mutex);
        n += shard.entries.size();
    }
    return n;
}

} // namespace llmpool::gateway
