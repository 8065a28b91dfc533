#include "admin/AdminAuth.h"

#include "Clock.h"
#include "Crypto.h"
#include "Jwt.h"
#include "http/HttpRequest.h"

#include <QJsonObject>

namespace llmpool::gateway {

namespace {

constexpr qsizetype kMaxActorLength = 200;

QByteArrayView bearerToken(const HttpRequest &request)
{
    const QByteArrayView authorization = request.header("authorization");
    if (!authorization.isNull()) {
        constexpr QByteArrayView scheme("bearer ");
        if (authorization.size() > scheme.size() && asciiEqualsIgnoreCase(authorization.first(scheme.size()), scheme))
            return authorization.sliced(scheme.size()).trimmed();
        return {};
    }
    return request.header("x-admin-token");
}

} // namespace

AdminAuth::AdminAuth(QByteArray jwtSecret, QByteArray staticKey)
    : m_jwtSecret(std::move(jwtSecret)), m_staticKey(std::move(staticKey))
{
}

Error AdminAuth::unauthorized()
{
    return Error{QStringLiteral("authentication_error"),
                 QStringLiteral("unauthorized"),
                 401,
                 QStringLiteral("missing or invalid admin credentials"),
                 {}};
}

Result<QString> AdminAuth::authenticate(const HttpRequest &request) const
{
    const QByteArrayView token = bearerToken(request);
    if (token.isEmpty())
        return unauthorized();
    if (!m_staticKey.isEmpty() && constantTimeEquals(token, m_staticKey))
        return QStringLiteral("static-key");
    if (m_jwtSecret.isEmpty())
        return unauthorized();
    Result<QJsonObject> claims = Jwt::verify(token, m_jwtSecret, Clock::instance().nowSecs());
    if (!claims)
        return unauthorized();
    const QString subject = claims->value(QStringLiteral("sub")).toString().trimmed();
    return subject.isEmpty() ? QStringLiteral("admin") : subject.left(kMaxActorLength);
}

} // namespace llmpool::gateway
