#include "Jwt.h"

#include "Crypto.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonParseError>
#include <QJsonValue>

#include <cmath>

namespace llmpool {

namespace {

Error jwtError(const char *code, const char *message)
{
    return Error{
        QStringLiteral("invalid_request_error"), QString::fromLatin1(code), 401, QString::fromLatin1(message), {}};
}

std::optional<QJsonObject> decodeJsonSegment(QByteArrayView segment)
{
    const auto raw = base64UrlDecode(segment);
    if (!raw)
        return std::nullopt;
    QJsonParseError err{};
    const QJsonDocument doc = QJsonDocument::fromJson(*raw, &err);
    if (err.error != QJsonParseError::NoError || !doc.isObject())
        return std::nullopt;
    return doc.object();
}

// A NumericDate (RFC 7519 §2) may be fractional; compare in whole seconds, rounding toward the
// stricter side for each claim.
enum class Bound { Floor, Ceil };
std::optional<qint64> numericDate(const QJsonValue &v, Bound bound)
{
    if (!v.isDouble())
        return std::nullopt;
    const double d = v.toDouble();
    if (!std::isfinite(d) || std::fabs(d) > 9.0e15)
        return std::nullopt;
    return static_cast<qint64>(bound == Bound::Floor ? std::floor(d) : std::ceil(d));
}

} // namespace

Result<QByteArray> Jwt::mint(QByteArrayView secret, const QJsonObject &claims)
{
    if (secret.isEmpty())
        return jwtError(kNoSecret, "admin JWT secret is not configured");
    // Fixed header bytes: the same token for the same claims, and no key-order surprises.
    static const QByteArray header = base64UrlEncode(QByteArrayLiteral(R"({"alg":"HS256","typ":"JWT"})"));
    const QByteArray payload = base64UrlEncode(QJsonDocument(claims).toJson(QJsonDocument::Compact));
    const QByteArray signingInput = header + '.' + payload;
    return QByteArray(signingInput + '.' + base64UrlEncode(hmacSha256(secret, signingInput)));
}

Result<QJsonObject> Jwt::verify(QByteArrayView token, QByteArrayView secret, qint64 nowSecs, qint64 leewaySecs)
{
    if (secret.isEmpty())
        return jwtError(kNoSecret, "admin JWT secret is not configured");
    // Bounded before any work: an admin token is a few hundred bytes.
    if (token.size() > 8192)
        return jwtError(kMalformed, "token too long");

    const qsizetype dot1 = token.indexOf('.');
    const qsizetype dot2 = dot1 < 0 ? -1 : token.indexOf('.', dot1 + 1);
    if (dot1 < 0 || dot2 < 0 || token.indexOf('.', dot2 + 1) >= 0)
        return jwtError(kMalformed, "expected three dot-separated segments");
    const QByteArrayView headerPart = token.first(dot1);
    const QByteArrayView payloadPart = token.sliced(dot1 + 1, dot2 - dot1 - 1);
    const QByteArrayView signaturePart = token.sliced(dot2 + 1);

    const auto header = decodeJsonSegment(headerPart);
    if (!header)
        return jwtError(kMalformed, "header is not base64url-encoded JSON");
    // Exactly "HS256": case variants, "none" and every other algorithm are refused before the
    // signature is even looked at.
    const QJsonValue alg = header->value(QLatin1StringView("alg"));
    if (!alg.isString() || alg.toString() != QLatin1StringView("HS256"))
        return jwtError(kBadAlgorithm, "only HS256 tokens are accepted");
    if (header->contains(QLatin1StringView("crit")))
        return jwtError(kBadAlgorithm, "critical header extensions are not supported");

    const auto signature = base64UrlDecode(signaturePart);
    if (!signature || signature->isEmpty())
        return jwtError(kBadSignature, "missing or undecodable signature");
    const QByteArray expected = hmacSha256(secret, token.first(dot2));
    if (!constantTimeEquals(*signature, expected))
        return jwtError(kBadSignature, "signature mismatch");

    // Only a correctly signed payload is parsed further.
    const auto claims = decodeJsonSegment(payloadPart);
    if (!claims)
        return jwtError(kMalformed, "payload is not base64url-encoded JSON");

    if (claims->contains(QLatin1StringView("exp"))) {
        const auto exp = numericDate(claims->value(QLatin1StringView("exp")), Bound::Floor);
        if (!exp)
            return jwtError(kMalformed, "exp is not a number");
        if (*exp + leewaySecs <= nowSecs)
            return jwtError(kExpired, "token expired");
    }
    if (claims->contains(QLatin1StringView("nbf"))) {
        const auto nbf = numericDate(claims->value(QLatin1StringView("nbf")), Bound::Ceil);
        if (!nbf)
            return jwtError(kMalformed, "nbf is not a number");
        if (*nbf - leewaySecs > nowSecs)
            return jwtError(kNotYetValid, "token not valid yet");
    }
    if (!hasAdminScope(*claims))
        return jwtError(kNotAdmin, "token does not grant admin scope");
    return *claims;
}

bool Jwt::hasAdminScope(const QJsonObject &claims)
{
    const QJsonValue scope = claims.value(QLatin1StringView("scope"));
    if (scope.isString()) {
        const QStringList parts = scope.toString().split(u' ', Qt::SkipEmptyParts);
        if (parts.contains(QLatin1StringView("admin")))
            return true;
    } else if (scope.isArray()) {
        for (const QJsonValue &v : scope.toArray()) {
            if (v.isString() && v.toString() == QLatin1StringView("admin"))
                return true;
        }
    }
    const QJsonValue realm = claims.value(QLatin1StringView("realm"));
    return realm.isString() && realm.toString() == QLatin1StringView("admin");
}

Result<QByteArray> Jwt::mintAdminToken(QByteArrayView secret, const QString &subject, qint64 expireSecs, qint64 nowSecs)
{
    if (expireSecs < 0)
        return jwtError(kMalformed, "expiry must be >= 0 seconds (0 = no expiry)");
    QJsonObject claims;
    if (!subject.isEmpty())
        claims.insert(QLatin1StringView("sub"), subject);
    claims.insert(QLatin1StringView("iat"), nowSecs);
    if (expireSecs != 0)
        claims.insert(QLatin1StringView("exp"), nowSecs + expireSecs);
    claims.insert(QLatin1StringView("scope"), QStringLiteral("admin"));
    claims.insert(QLatin1StringView("jti"), QString::fromLatin1(base64UrlEncode(randomBytes(16))));
    return mint(secret, claims);
}

} // namespace llmpool
