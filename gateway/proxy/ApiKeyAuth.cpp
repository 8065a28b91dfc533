#include "proxy/ApiKeyAuth.h"

#include "ApiKeys.h"
#include "Clock.h"
#include "http/HttpRequest.h"
#include "storage/Database.h"

namespace llmpool::gateway {

ApiKeyAuth::ApiKeyAuth(Database *database, KeyCache *cache) : m_database(database), m_cache(cache) {}

QByteArrayView ApiKeyAuth::presentedKey(const HttpRequest &request)
{
    const QByteArrayView authorization = request.header("authorization");
    if (!authorization.isEmpty()) {
        constexpr QByteArrayView bearer("bearer ");
        if (authorization.size() > bearer.size() && asciiEqualsIgnoreCase(authorization.first(bearer.size()), bearer)) {
            return authorization.sliced(bearer.size()).trimmed();
        }
        return {};
    }
    const QByteArrayView apiKey = request.header("api-key");
    if (!apiKey.isEmpty()) {
        return apiKey.trimmed();
    }
    return request.header("x-api-key").trimmed();
}

Error ApiKeyAuth::missingKey()
{
    return Error{QStringLiteral("invalid_request_error"),
                 QStringLiteral("missing_api_key"),
                 401,
                 QStringLiteral("You didn't provide an API key. Send it as 'Authorization: Bearer sk-lp-…', or in "
                                "an 'api-key' or 'x-api-key' header."),
                 {}};
}

Error ApiKeyAuth::invalidKey()
{
    // One message for unknown, revoked, disabled and expired keys: which one it was is nobody's
    // business but the key owner's, who can see it in the console.
    return Error{QStringLiteral("invalid_request_error"),
                 QStringLiteral("invalid_api_key"),
                 401,
                 QStringLiteral("Incorrect, revoked or expired API key provided."),
                 {}};
}

Result<KeyCache::Entry> ApiKeyAuth::verdict(const KeyCache::Entry &entry, qint64 nowMs)
{
    if (!entry) {
        return invalidKey();
    }
    const ApiKeyRecord &key = entry->key;
    if (key.revokedAt || !key.enabled ||
        (key.expiresAt && key.expiresAt->isValid() && key.expiresAt->toMSecsSinceEpoch() <= nowMs)) {
        return invalidKey();
    }
    if (!entry->userEnabled) {
        return Error{QStringLiteral("permission_error"),
                     QStringLiteral("user_disabled"),
                     403,
                     QStringLiteral("This account is disabled."),
                     {}};
    }
    return entry;
}

void ApiKeyAuth::authenticate(const HttpRequest &request, QObject *context, Done done)
{
    const QByteArrayView presented = presentedKey(request);
    if (presented.isEmpty()) {
        done(missingKey());
        return;
    }
    // A string that cannot be one of our keys is refused without a lookup (and without caching
    // attacker-chosen strings).
    if (!ApiKeys::looksLikeKey(presented)) {
        done(invalidKey());
        return;
    }
    const QByteArray hash = ApiKeys::hash(presented);
    const qint64 now = Clock::instance().nowMSecs();
    if (auto cached = m_cache->find(hash, now)) {
        done(verdict(*cached, now));
        return;
    }
    KeyCache *cache = m_cache;
    const quint64 generation = cache->generation();
    m_database->run(
        context,
        [hash](QSqlDatabase &db) -> Result<KeyCache::Entry> {
            auto found = ApiKeyRepository::findByHash(db, hash, Clock::instance().nowUtc());
            if (!found) {
                return found.takeError();
            }
            if (!found->has_value()) {
                return KeyCache::Entry();
            }
            ApiKeyLookup &lookup = **found;
            return KeyCache::Entry(std::make_shared<const CachedKey>(
                CachedKey{std::move(lookup.key), std::move(lookup.userName), lookup.userEnabled}));
        },
        [cache, hash, generation, done = std::move(done)](Result<KeyCache::Entry> fetched) {
            if (!fetched) {
                // The database is down: say so (503), never "invalid key".
                done(fetched.takeError());
                return;
            }
            const qint64 now = Clock::instance().nowMSecs();
            cache->put(hash, *fetched, now, generation);
            done(verdict(*fetched, now));
        },
        JobRetry::Idempotent);
}

} // namespace llmpool::gateway
