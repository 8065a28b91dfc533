#pragma once

// AdminAuth: who may call the admin REST API (SPEC §4). A request carries a token in
// `Authorization: Bearer …` or `x-admin-token: …`; it is accepted when it equals the optional
// [admin] static_key (constant-time comparison) or is a valid HS256 admin JWT under [admin]
// jwt_secret (Jwt::verify with the clock seam: exp/nbf enforced, admin scope required).
// Every failure is the same 401 with one generic message: a caller cannot learn which check
// failed.
//
// Immutable after construction; shared read-only by every event-loop thread.

#include "Result.h"

#include <QByteArray>
#include <QString>

namespace llmpool::gateway {

class HttpRequest;

class AdminAuth
{
public:
    AdminAuth(QByteArray jwtSecret, QByteArray staticKey);

    // The actor recorded in the audit log: the JWT's `sub` (or "admin" without one), or
    // "static-key". Otherwise unauthorized().
    Result<QString> authenticate(const HttpRequest &request) const;

    static Error unauthorized();

private:
    QByteArray m_jwtSecret;
    QByteArray m_staticKey;
};

} // namespace llmpool::gateway
