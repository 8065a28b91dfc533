#include "Crypto.h"
#include "Jwt.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QTest>

using llmpool::Jwt;

namespace {

const QByteArray kSecret = QByteArrayLiteral("0123456789abcdef0123456789abcdef");
constexpr qint64 kNow = 1'700'000'000;

QByteArray b64(const QByteArray &raw)
{
    return llmpool::base64UrlEncode(raw);
}

QByteArray json(const QJsonObject &o)
{
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

// Builds a token by hand so tests can produce headers and signatures mint() never would.
QByteArray handMade(const QByteArray &headerJson, const QJsonObject &claims, const QByteArray &secret = kSecret)
{
    const QByteArray input = b64(headerJson) + '.' + b64(json(claims));
    return input + '.' + b64(llmpool::hmacSha256(secret, input));
}

QJsonObject adminClaims()
{
    return QJsonObject{{"sub", "ops"}, {"scope", "admin"}, {"iat", kNow}, {"exp", kNow + 3600}};
}

} // namespace

class TestJwt : public QObject
{
    Q_OBJECT

private slots:
    void good();
    void knownVector();
    void rejected_data();
    void rejected();
    void scopes_data();
    void scopes();
    void leeway();
    void mintAdminToken();
    void mintAdminTokenNoExpiry();
    void emptySecret();
    void base64Strictness();
};

void TestJwt::good()
{
    const auto token = Jwt::mint(kSecret, adminClaims());
    QVERIFY(token.ok());
    QCOMPARE(token->count('.'), 2);
    QVERIFY(!token->contains('='));
    const auto claims = Jwt::verify(*token, kSecret, kNow);
    QVERIFY2(claims.ok(), qPrintable(claims.ok() ? QString() : claims.error().code));
    QCOMPARE(claims->value("sub").toString(), QStringLiteral("ops"));
    // Valid right up to the second before exp.
    QVERIFY(Jwt::verify(*token, kSecret, kNow + 3599).ok());
}

void TestJwt::knownVector()
{
    // Interoperability: the exact token Python's hmac/hashlib produce for these claims (computed
    // outside this code base), so mint() and verify() agree with other HS256 implementations.
    const QByteArray secret = QByteArrayLiteral("secret-key-of-at-least-32-bytes!");
    const QByteArray expected = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzY29wZSI6ImFkbWluIiwic3ViIjoieCJ9."
                                "0A4iw5jsjzDjvOUlkVKONcrz72f7NzoGWybmjxCTIt4";
    QCOMPARE(Jwt::mint(secret, QJsonObject{{"sub", "x"}, {"scope", "admin"}}).value(), expected);
    QVERIFY(Jwt::verify(expected, secret, kNow).ok());
    // The standard jwt.io example token (secret "your-256-bit-secret") has a valid signature but no
    // admin scope.
    const QByteArray jwtIo = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwi"
                             "aWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
    const auto r = Jwt::verify(jwtIo, "your-256-bit-secret", kNow);
    QVERIFY(!r.ok());
    QCOMPARE(r.error().code, QString::fromLatin1(Jwt::kNotAdmin));
    QVERIFY(Jwt::verify(jwtIo, "wrong-secret", kNow).error().code == QLatin1StringView(Jwt::kBadSignature));
}

void TestJwt::rejected_data()
{
    QTest::addColumn<QByteArray>("token");
    QTest::addColumn<QByteArray>("secret");
    QTest::addColumn<QString>("code");

    const QByteArray hs256 = R"({"alg":"HS256","typ":"JWT"})";
    const QByteArray good = Jwt::mint(kSecret, adminClaims()).value();
    const QList<QByteArray> parts = good.split('.');

    QJsonObject expired = adminClaims();
    expired["exp"] = kNow - 1;
    QTest::newRow("expired") << Jwt::mint(kSecret, expired).value() << kSecret << Jwt::kExpired;
    QJsonObject expiresNow = adminClaims();
    expiresNow["exp"] = kNow;
    QTest::newRow("exp == now") << Jwt::mint(kSecret, expiresNow).value() << kSecret << Jwt::kExpired;
    QJsonObject future = adminClaims();
    future["nbf"] = kNow + 60;
    QTest::newRow("nbf in future") << Jwt::mint(kSecret, future).value() << kSecret << Jwt::kNotYetValid;
    QJsonObject badExp = adminClaims();
    badExp["exp"] = "tomorrow";
    QTest::newRow("exp not a number") << Jwt::mint(kSecret, badExp).value() << kSecret << Jwt::kMalformed;

    // Payload swapped for one granting more time, signature kept.
    QJsonObject longer = adminClaims();
    longer["exp"] = kNow + 999'999;
    QTest::newRow("tampered payload") << QByteArray(parts[0] + '.' + b64(json(longer)) + '.' + parts[2]) << kSecret
                                      << Jwt::kBadSignature;
    QByteArray sig = llmpool::base64UrlDecode(parts[2]).value();
    sig[0] = static_cast<char>(sig[0] ^ 1);
    QTest::newRow("tampered signature") << QByteArray(parts[0] + '.' + parts[1] + '.' + b64(sig)) << kSecret
                                        << Jwt::kBadSignature;
    QTest::newRow("truncated signature") << QByteArray(parts[0] + '.' + parts[1] + '.' + b64(sig.left(16))) << kSecret
                                         << Jwt::kBadSignature;
    QTest::newRow("wrong secret") << good << QByteArray("another-secret-another-secret-xx") << Jwt::kBadSignature;

    QTest::newRow("HS512") << handMade(R"({"alg":"HS512","typ":"JWT"})", adminClaims()) << kSecret
                           << Jwt::kBadAlgorithm;
    QTest::newRow("hs256 lowercase") << handMade(R"({"alg":"hs256","typ":"JWT"})", adminClaims()) << kSecret
                                     << Jwt::kBadAlgorithm;
    QTest::newRow("RS256") << handMade(R"({"alg":"RS256"})", adminClaims()) << kSecret << Jwt::kBadAlgorithm;
    QTest::newRow("alg missing") << handMade(R"({"typ":"JWT"})", adminClaims()) << kSecret << Jwt::kBadAlgorithm;
    QTest::newRow("alg not a string") << handMade(R"({"alg":256})", adminClaims()) << kSecret << Jwt::kBadAlgorithm;
    QTest::newRow("crit header") << handMade(R"({"alg":"HS256","crit":["exp"]})", adminClaims()) << kSecret
                                 << Jwt::kBadAlgorithm;
    QTest::newRow("alg none, empty signature")
        << QByteArray(b64(R"({"alg":"none","typ":"JWT"})") + '.' + b64(json(adminClaims())) + '.') << kSecret
        << Jwt::kBadAlgorithm;
    QTest::newRow("alg none with HS256 header name, empty signature")
        << QByteArray(b64(hs256) + '.' + b64(json(adminClaims())) + '.') << kSecret << Jwt::kBadSignature;

    QTest::newRow("two segments") << QByteArray(parts[0] + '.' + parts[1]) << kSecret << Jwt::kMalformed;
    QTest::newRow("four segments") << QByteArray(good + ".x") << kSecret << Jwt::kMalformed;
    QTest::newRow("empty") << QByteArray() << kSecret << Jwt::kMalformed;
    QTest::newRow("header not base64") << QByteArray("e*J." + parts[1] + '.' + parts[2]) << kSecret << Jwt::kMalformed;
    QTest::newRow("header padded") << QByteArray(parts[0] + "==." + parts[1] + '.' + parts[2]) << kSecret
                                   << Jwt::kMalformed;
    QTest::newRow("header not json") << QByteArray(b64("{alg:HS256}") + '.' + parts[1] + '.' + parts[2]) << kSecret
                                     << Jwt::kMalformed;
    QTest::newRow("header json array") << QByteArray(b64("[1]") + '.' + parts[1] + '.' + parts[2]) << kSecret
                                       << Jwt::kMalformed;
    const QByteArray badPayloadInput = b64(hs256) + '.' + b64("not json");
    QTest::newRow("payload not json (signed)")
        << QByteArray(badPayloadInput + '.' + b64(llmpool::hmacSha256(kSecret, badPayloadInput))) << kSecret
        << Jwt::kMalformed;
    QTest::newRow("no admin scope") << Jwt::mint(kSecret, QJsonObject{{"sub", "x"}, {"scope", "read write"}}).value()
                                    << kSecret << Jwt::kNotAdmin;
    QTest::newRow("scope substring") << Jwt::mint(kSecret, QJsonObject{{"scope", "administrator"}}).value() << kSecret
                                     << Jwt::kNotAdmin;
    QTest::newRow("realm user") << Jwt::mint(kSecret, QJsonObject{{"realm", "user"}}).value() << kSecret
                                << Jwt::kNotAdmin;
    QTest::newRow("realm ADMIN (case)") << Jwt::mint(kSecret, QJsonObject{{"realm", "ADMIN"}}).value() << kSecret
                                        << Jwt::kNotAdmin;
    QTest::newRow("scope array without admin")
        << Jwt::mint(kSecret, QJsonObject{{"scope", QJsonArray{"read", "write"}}}).value() << kSecret << Jwt::kNotAdmin;
    QTest::newRow("no secret configured") << good << QByteArray() << Jwt::kNoSecret;
}

void TestJwt::rejected()
{
    QFETCH(QByteArray, token);
    QFETCH(QByteArray, secret);
    QFETCH(QString, code);
    const auto r = Jwt::verify(token, secret, kNow);
    QVERIFY(!r.ok());
    QCOMPARE(r.error().code, code);
    QCOMPARE(r.error().httpStatus, 401);
    // The message is for logs: it never repeats the token or the secret.
    QVERIFY(!secret.isEmpty() ? !r.error().message.contains(QString::fromLatin1(secret)) : true);
}

void TestJwt::scopes_data()
{
    QTest::addColumn<QJsonObject>("claims");
    QTest::newRow("scope string") << QJsonObject{{"scope", "admin"}};
    QTest::newRow("scope list string") << QJsonObject{{"scope", "read admin write"}};
    QTest::newRow("scope array") << QJsonObject{{"scope", QJsonArray{"read", "admin"}}};
    QTest::newRow("realm admin") << QJsonObject{{"realm", "admin"}};
    QTest::newRow("nbf now") << QJsonObject{{"scope", "admin"}, {"nbf", kNow}};
    QTest::newRow("fractional exp") << QJsonObject{{"scope", "admin"}, {"exp", double(kNow) + 1.5}};
    QTest::newRow("unicode subject") << QJsonObject{{"scope", "admin"}, {"sub", QString::fromUtf8("Zoë")}};
}

void TestJwt::scopes()
{
    QFETCH(QJsonObject, claims);
    const auto r = Jwt::verify(Jwt::mint(kSecret, claims).value(), kSecret, kNow);
    QVERIFY2(r.ok(), qPrintable(r.ok() ? QString() : r.error().code));
    QCOMPARE(*r, claims);
}

void TestJwt::leeway()
{
    QJsonObject c = adminClaims();
    c["exp"] = kNow - 5;
    const QByteArray token = Jwt::mint(kSecret, c).value();
    QVERIFY(!Jwt::verify(token, kSecret, kNow).ok());
    QVERIFY(Jwt::verify(token, kSecret, kNow, 10).ok());
    QVERIFY(!Jwt::verify(token, kSecret, kNow, 5).ok());
    QJsonObject n = adminClaims();
    n["nbf"] = kNow + 5;
    const QByteArray early = Jwt::mint(kSecret, n).value();
    QVERIFY(!Jwt::verify(early, kSecret, kNow).ok());
    QVERIFY(Jwt::verify(early, kSecret, kNow, 5).ok());
}

void TestJwt::mintAdminToken()
{
    const auto token = Jwt::mintAdminToken(kSecret, QStringLiteral("alice"), 3600, kNow);
    QVERIFY(token.ok());
    const auto claims = Jwt::verify(*token, kSecret, kNow);
    QVERIFY(claims.ok());
    QCOMPARE(claims->value("sub").toString(), QStringLiteral("alice"));
    QCOMPARE(claims->value("scope").toString(), QStringLiteral("admin"));
    QCOMPARE(claims->value("iat").toInteger(), kNow);
    QCOMPARE(claims->value("exp").toInteger(), kNow + 3600);
    QCOMPARE(claims->value("jti").toString().size(), 22); // 16 random bytes, base64url
    QVERIFY(!Jwt::verify(*token, kSecret, kNow + 3600).ok());
    // Two tokens minted in the same second still differ (jti).
    QVERIFY(Jwt::mintAdminToken(kSecret, QStringLiteral("alice"), 3600, kNow).value() != *token);
    QCOMPARE(Jwt::mintAdminToken(kSecret, QString(), -1, kNow).error().code, QString::fromLatin1(Jwt::kMalformed));
}

void TestJwt::mintAdminTokenNoExpiry()
{
    const auto token = Jwt::mintAdminToken(kSecret, QStringLiteral("ci"), 0, kNow);
    QVERIFY(token.ok());
    const auto claims = Jwt::verify(*token, kSecret, kNow + 100LL * 365 * 86400);
    QVERIFY(claims.ok());
    QVERIFY(!claims->contains("exp"));
    QVERIFY(claims->contains("iat"));
}

void TestJwt::emptySecret()
{
    const auto r = Jwt::mint(QByteArray(), adminClaims());
    QVERIFY(!r.ok());
    QCOMPARE(r.error().code, QString::fromLatin1(Jwt::kNoSecret));
}

void TestJwt::base64Strictness()
{
    QCOMPARE(llmpool::base64UrlDecode("QQ").value(), QByteArray("A"));
    QVERIFY(!llmpool::base64UrlDecode("QR").has_value()); // unused bits set
    QVERIFY(!llmpool::base64UrlDecode("QQ==").has_value());
    QVERIFY(!llmpool::base64UrlDecode("Q").has_value());
    QVERIFY(!llmpool::base64UrlDecode("a+b/").has_value()); // standard alphabet, not url
    QCOMPARE(llmpool::base64UrlDecode("-_8").value(), QByteArray("\xfb\xff", 2));
    QCOMPARE(llmpool::base64UrlDecode("").value(), QByteArray());
}

QTEST_GUILESS_MAIN(TestJwt)
#include "TestJwt.moc"
