#pragma once

// Admin JWTs (SPEC §4): HS256 only, compact serialization, base64url without padding.
//
// verify() is deliberately narrow. The header must say exactly "alg":"HS256" (so "none", "hs256",
// "HS512" and RS/ES algorithms fail before any key is used: no algorithm confusion), must not carry
// "crit" extensions we would have to understand (RFC 7515 §4.1.11), and the signature is compared in
// constant time. `exp` and `nbf` are enforced when present and must be numbers; the token must carry
// admin rights: `scope` as a space-separated string or an array containing "admin", or
// `realm` == "admin".
//
// Every failure has its own Error.code (below) for logs and tests; the HTTP layer answers all of
// them with the same 401 and no detail, so a caller cannot probe which check failed.
//
// Stateless and thread-safe.

#include "Result.h"

#include <QByteArray>
#include <QByteArrayView>
#include <QJsonObject>
#include <QString>

namespace llmpool {

class Jwt
{
public:
    // Error.code values (Error.httpStatus is 401 for all of them).
    static constexpr const char *kNoSecret = "jwt_no_secret";         // admin JWT auth not configured
    static constexpr const char *kMalformed = "jwt_malformed";        // segments, base64url, JSON, claim types
    static constexpr const char *kBadAlgorithm = "jwt_bad_algorithm"; // alg is not exactly "HS256", or crit
    static constexpr const char *kBadSignature = "jwt_bad_signature";
    static constexpr const char *kExpired = "jwt_expired";           // exp <= now - leeway
    static constexpr const char *kNotYetValid = "jwt_not_yet_valid"; // nbf > now + leeway
    static constexpr const char *kNotAdmin = "jwt_not_admin";        // neither scope nor realm says admin

    // Signs `claims` with {"alg":"HS256","typ":"JWT"}. Fails only for an empty secret.
    static Result<QByteArray> mint(QByteArrayView secret, const QJsonObject &claims);

    // Claims of a valid admin token. `nowSecs` comes from the clock seam. `leewaySecs` (default 0)
    // tolerates clock skew between the minting host and this one: exp is accepted until
    // exp + leeway, nbf from nbf - leeway. Keep it small (seconds); 0 means the exact rule
    // "expired when exp <= now".
    static Result<QJsonObject> verify(QByteArrayView token, QByteArrayView secret, qint64 nowSecs,
                                      qint64 leewaySecs = 0);

    // `llmpool admin create-jwt-token`: sub (if non-empty), iat = now, exp = now + expireSecs
    // (omitted when expireSecs == 0: a token that never expires), scope "admin", and a random jti
    // (128 bits, base64url) so individual tokens can be told apart in the audit log.
    static Result<QByteArray> mintAdminToken(QByteArrayView secret, const QString &subject, qint64 expireSecs,
                                             qint64 nowSecs);

    // True when the claims grant admin (the scope/realm rule above); exposed for the static-key path
    // and tests.
    static bool hasAdminScope(const QJsonObject &claims);
};

} // namespace llmpool
