#pragma once

// ApiKeyAuth: who is calling the data plane. Takes the user key from `Authorization: Bearer`,
// `api-key` (Azure SDKs) or `x-api-key`, hashes it (SHA-256; the plaintext goes no further) and
// answers from the KeyCache, or from the database on a miss (on a database thread; the answer
// comes back on the caller's thread).
//
// Verdicts (SPEC §3): no key, an unknown, revoked, disabled or expired key → 401; a good key of a
// disabled user → 403. Expiry is checked against the clock at every request, not only at fetch.
//
// Thread-safe: one instance shared by every event-loop thread; authenticate() answers on the
// thread of `context`.

#include "Result.h"
#include "proxy/KeyCache.h"

#include <functional>

class QObject;

namespace llmpool::gateway {

class Database;
class HttpRequest;

class ApiKeyAuth
{
public:
    using Done = std::function<void(Result<KeyCache::Entry>)>;

    ApiKeyAuth(Database *database, KeyCache *cache);

    // The presented key, or empty. Bearer wins over api-key, which wins over x-api-key.
    static QByteArrayView presentedKey(const HttpRequest &request);

    // Calls `done` exactly once (unless `context` dies first): synchronously on a cache hit,
    // later on `context`'s thread on a miss.
    void authenticate(const HttpRequest &request, QObject *context, Done done);

    // The verdict for a cached entry at `nowMs` (pure; exposed for tests).
    static Result<KeyCache::Entry> verdict(const KeyCache::Entry &entry, qint64 nowMs);

    static Error missingKey();
    static Error invalidKey();

private:
    Database *m_database;
    KeyCache *m_cache;
};

} // namespace llmpool::gateway
