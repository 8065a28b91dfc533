// The admin REST API (SPEC §4, §6, §9): authentication, users, keys and the audit log, through
// real HTTP against an in-process Gateway on a fresh, migrated database and the shared Redis.

#include "ApiKeys.h"
#include "Clock.h"
#include "Config.h"
#include "Crypto.h"
#include "Gateway.h"
#include "Jwt.h"
#include "MockUpstream.h"
#include "SharedServices.h"
#include "storage/Database.h"
#include "storage/Migrator.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QSignalSpy>
#include <QSqlQuery>
#include <QTest>
#include <QUrlQuery>

using namespace llmpool;
using namespace llmpool::gateway;

namespace {

const QByteArray kJwtSecret = QByteArrayLiteral("admin-api-test-secret-0123456789abcdef");
const QByteArray kStaticKey = QByteArrayLiteral("static-admin-key-0123456789abcdef0123");

struct Reply
{
    int status = 0;
    QByteArray raw;
    QJsonObject body;
    QJsonObject error() const { return body.value(QStringLiteral("error")).toObject(); }
    QString param() const { return error().value(QStringLiteral("param")).toString(); }
};

QByteArray unsignedToken(const QJsonObject &header, const QJsonObject &claims)
{
    return base64UrlEncode(QJsonDocument(header).toJson(QJsonDocument::Compact)) + '.' +
           base64UrlEncode(QJsonDocument(claims).toJson(QJsonDocument::Compact)) + '.';
}

} // namespace

class TestAdminApi : public QObject
{
    Q_OBJECT

private:
    Reply call(const QByteArray &method, const QString &path, const QByteArray &body = {},
               std::optional<QByteArray> token = std::nullopt, const QByteArray &header = "authorization")
    {
        QNetworkRequest request(QUrl(m_base + path));
        const QByteArray credentials = token.value_or(m_token);
        if (!credentials.isEmpty())
            request.setRawHeader(header, header == "authorization" ? "Bearer " + credentials : credentials);
        if (!body.isEmpty())
            request.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
        QNetworkReply *reply = m_nam.sendCustomRequest(request, method, body);
        QSignalSpy done(reply, &QNetworkReply::finished);
        if (!reply->isFinished())
            done.wait(20'000);
        Reply r;
        r.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        r.raw = reply->readAll();
        r.body = QJsonDocument::fromJson(r.raw).object();
        reply->deleteLater();
        m_bodies.append(r.raw);
        return r;
    }
    Reply get(const QString &path) { return call("GET", path); }
    Reply post(const QString &path, const QJsonObject &body)
    {
        return call("POST", path, QJsonDocument(body).toJson(QJsonDocument::Compact));
    }
    Reply put(const QString &path, const QJsonObject &body)
    {
        return call("PUT", path, QJsonDocument(body).toJson(QJsonDocument::Compact));
    }

    int dataPlaneStatus(const QString &key)
    {
        QNetworkRequest request(QUrl(m_base + QStringLiteral("/v1/models")));
        request.setRawHeader("authorization", "Bearer " + key.toLatin1());
        QNetworkReply *reply = m_nam.get(request);
        QSignalSpy done(reply, &QNetworkReply::finished);
        if (!reply->isFinished())
            done.wait(20'000);
        const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        reply->deleteLater();
        return status;
    }

    qint64 createUser(const QString &name)
    {
        const Reply r = post(QStringLiteral("/api/v1/users"), {{"name", name}});
        if (r.status != 201)
            qWarning("create user %s: %d %s", qPrintable(name), r.status, r.raw.constData());
        return r.body.value(QStringLiteral("id")).toInteger();
    }

    QVariant queryOne(const QString &sql)
    {
        auto r = m_db->runSync([sql](QSqlDatabase &conn) -> Result<QVariant> {
            QSqlQuery q(conn);
            if (!q.exec(sql) || !q.next())
                return Error::internal(QStringLiteral("test"), QStringLiteral("query failed"));
            return q.value(0);
        });
        return r ? *r : QVariant();
    }

    QByteArray mint(const QJsonObject &claims, const QByteArray &secret = kJwtSecret)
    {
        Result<QByteArray> token = Jwt::mint(secret, claims);
        return token ? *token : QByteArray();
    }

    std::unique_ptr<test::SharedServices> m_services;
    std::unique_ptr<Database> m_db;
    std::unique_ptr<Gateway> m_gateway;
    QNetworkAccessManager m_nam;
    QString m_base;
    QByteArray m_token;
    QStringList m_plaintexts; // every key the API ever showed
    QList<QByteArray> m_bodies;

private Q_SLOTS:
    void initTestCase()
    {
        auto services = test::SharedServices::fromEnv();
        QVERIFY2(services.ok(), qPrintable(services.ok() ? QString() : services.error().message));
        m_services = std::move(*services);
        auto url = m_services->createDatabase();
        QVERIFY(url.ok());

        DatabaseOptions options;
        options.url = *url;
        options.poolSize = 1;
        m_db = std::make_unique<Database>(options);
        QVERIFY(m_db->start().ok());
        auto migrated = m_db->runSync(
            [](QSqlDatabase &db) { return Migrator(QStringLiteral(LLMPOOL_TEST_MIGRATIONS_DIR)).migrate(db); });
        QVERIFY2(migrated.ok(), qPrintable(migrated.ok() ? QString() : migrated.error().message));

        const QByteArray toml = "[server]\nbind = \"127.0.0.1:0\"\nthreads = 2\n[database]\nurl = \"" + url->toUtf8() +
                                "\"\npool_size = 2\n[redis]\nurl = \"" + m_services->redisUrl().toUtf8() +
                                "\"\n[admin]\njwt_secret = \"" + kJwtSecret + "\"\nstatic_key = \"" + kStaticKey +
                                "\"\n[security]\nencryption_key = \"" + QByteArray(64, 'c') + "\"\n";
        Result<Config> config = ConfigLoader::parse(toml, QStringLiteral("test.toml"));
        QVERIFY2(config.ok(), qPrintable(config.ok() ? QString() : config.error().message));
        m_gateway = std::make_unique<Gateway>(*config);
        const Status started = m_gateway->start();
        QVERIFY2(started.ok(), qPrintable(started.ok() ? QString() : started.error().message));
        m_base = QStringLiteral("http://127.0.0.1:%1").arg(m_gateway->port());

        Result<QByteArray> token =
            Jwt::mintAdminToken(kJwtSecret, QStringLiteral("tester"), 3600, Clock::instance().nowSecs());
        QVERIFY(token.ok());
        m_token = *token;
    }

    void cleanupTestCase()
    {
        if (m_gateway)
            m_gateway->stop(0);
        m_gateway.reset();
        if (m_db)
            m_db->stop();
        m_db.reset();
        m_services.reset();
    }

    void auth_data()
    {
        QTest::addColumn<QByteArray>("token");
        QTest::addColumn<QByteArray>("header");
        QTest::addColumn<int>("status");
        const qint64 now = Clock::instance().nowSecs();
        const QJsonObject admin{{"scope", "admin"}, {"sub", "a"}};
        QJsonObject expired = admin;
        expired.insert("exp", now - 10);
        QJsonObject notYet = admin;
        notYet.insert("nbf", now + 3600);
        QJsonObject wrongScope{{"scope", "user"}, {"exp", now + 3600}};

        QTest::newRow("jwt bearer") << m_token << QByteArray("authorization") << 200;
        QTest::newRow("jwt x-admin-token") << m_token << QByteArray("x-admin-token") << 200;
        QTest::newRow("static key") << kStaticKey << QByteArray("authorization") << 200;
        QTest::newRow("static key x-admin-token") << kStaticKey << QByteArray("x-admin-token") << 200;
        QTest::newRow("no token") << QByteArray() << QByteArray("authorization") << 401;
        QTest::newRow("wrong static key")
            << QByteArray(kStaticKey).replace(0, 1, "X") << QByteArray("authorization") << 401;
        QTest::newRow("static key prefix") << kStaticKey.left(10) << QByteArray("authorization") << 401;
        QTest::newRow("expired") << mint(expired) << QByteArray("authorization") << 401;
        QTest::newRow("not yet valid") << mint(notYet) << QByteArray("authorization") << 401;
        QTest::newRow("wrong signature") << mint(admin, "another-secret-another-secret-0000")
                                         << QByteArray("authorization") << 401;
        QTest::newRow("alg none") << unsignedToken({{"alg", "none"}, {"typ", "JWT"}}, admin)
                                  << QByteArray("authorization") << 401;
        QTest::newRow("wrong scope") << mint(wrongScope) << QByteArray("authorization") << 401;
        QTest::newRow("garbage") << QByteArray("not.a.jwt") << QByteArray("authorization") << 401;
    }

    void auth()
    {
        QFETCH(QByteArray, token);
        QFETCH(QByteArray, header);
        QFETCH(int, status);
        // An empty token sends no header at all (call() adds none for an empty value).
        const Reply r = call("GET", QStringLiteral("/api/v1/users"), {},
                             token.isEmpty() ? std::optional<QByteArray>(QByteArray()) : std::optional(token), header);
        QCOMPARE(r.status, status);
        if (status == 401) {
            // One generic answer whatever failed.
            QCOMPARE(r.error().value(QStringLiteral("message")).toString(),
                     QStringLiteral("missing or invalid admin credentials"));
            QCOMPARE(r.error().value(QStringLiteral("code")).toString(), QStringLiteral("unauthorized"));
        } else {
            QVERIFY(r.body.value(QStringLiteral("data")).isArray());
        }
    }

    void authOnEveryRoute_data()
    {
        QTest::addColumn<QByteArray>("method");
        QTest::addColumn<QString>("path");
        QTest::newRow("list users") << QByteArray("GET") << "/api/v1/users";
        QTest::newRow("create user") << QByteArray("POST") << "/api/v1/users";
        QTest::newRow("update user") << QByteArray("PUT") << "/api/v1/users/1";
        QTest::newRow("disable user") << QByteArray("DELETE") << "/api/v1/users/1";
        QTest::newRow("create key") << QByteArray("POST") << "/api/v1/users/1/keys";
        QTest::newRow("rotate key") << QByteArray("POST") << "/api/v1/keys/1/rotate";
        QTest::newRow("revoke key") << QByteArray("DELETE") << "/api/v1/keys/1";
        QTest::newRow("audit") << QByteArray("GET") << "/api/v1/audit";
    }

    void authOnEveryRoute()
    {
        QFETCH(QByteArray, method);
        QFETCH(QString, path);
        const Reply r = call(method, path, "{\"name\":\"x\"}", QByteArray("wrong"));
        QCOMPARE(r.status, 401);
    }

    void users()
    {
        const Reply created =
            post(QStringLiteral("/api/v1/users"), {{"name", "alice"}, {"email", "alice@example.com"}});
        QCOMPARE(created.status, 201);
        const qint64 id = created.body.value(QStringLiteral("id")).toInteger();
        QVERIFY(id > 0);
        QCOMPARE(created.body.value(QStringLiteral("name")).toString(), QStringLiteral("alice"));
        QCOMPARE(created.body.value(QStringLiteral("enabled")).toBool(), true);
        for (const char *field : {"created_at", "updated_at"}) {
            const QString text = created.body.value(QLatin1String(field)).toString();
            QVERIFY2(text.endsWith(QLatin1Char('Z')), qPrintable(text));
            QVERIFY(QDateTime::fromString(text, Qt::ISODateWithMs).isValid());
        }
        const QString userPath = QStringLiteral("/api/v1/users/%1").arg(id);

        const Reply fetched = get(userPath);
        QCOMPARE(fetched.status, 200);
        QCOMPARE(fetched.body, created.body);

        QCOMPARE(post(QStringLiteral("/api/v1/users"), {{"name", "alice"}}).status, 409);

        // PUT is partial: the name stays.
        const Reply emailOnly = put(userPath, {{"email", "a2@example.com"}});
        QCOMPARE(emailOnly.status, 200);
        QCOMPARE(emailOnly.body.value(QStringLiteral("name")).toString(), QStringLiteral("alice"));
        QCOMPARE(emailOnly.body.value(QStringLiteral("email")).toString(), QStringLiteral("a2@example.com"));
        const Reply cleared = put(userPath, {{"email", QJsonValue::Null}});
        QCOMPARE(cleared.status, 200);
        QVERIFY(cleared.body.value(QStringLiteral("email")).isNull());

        createUser(QStringLiteral("bob"));
        QCOMPARE(put(userPath, {{"name", "bob"}}).status, 409);

        const Reply disabled = call("DELETE", userPath);
        QCOMPARE(disabled.status, 200);
        QCOMPARE(disabled.body.value(QStringLiteral("enabled")).toBool(), false);
        QCOMPARE(get(userPath).body.value(QStringLiteral("enabled")).toBool(), false);
        const Reply enabled = put(userPath, {{"enabled", true}});
        QCOMPARE(enabled.body.value(QStringLiteral("enabled")).toBool(), true);

        // Search.
        const Reply search = get(QStringLiteral("/api/v1/users?q=ALI"));
        QCOMPARE(search.status, 200);
        const QJsonArray found = search.body.value(QStringLiteral("data")).toArray();
        QCOMPARE(found.size(), 1);
        QCOMPARE(found.at(0).toObject().value(QStringLiteral("id")).toInteger(), id);
    }

    void userErrors_data()
    {
        QTest::addColumn<QByteArray>("method");
        QTest::addColumn<QString>("path");
        QTest::addColumn<QByteArray>("body");
        QTest::addColumn<int>("status");
        QTest::addColumn<QString>("param");
        const QByteArray huge = "{\"name\":\"" + QByteArray(100 * 1024, 'x') + "\"}";
        QTest::newRow("missing name") << QByteArray("POST") << "/api/v1/users" << QByteArray("{}") << 400 << "name";
        QTest::newRow("name not a string")
            << QByteArray("POST") << "/api/v1/users" << QByteArray("{\"name\":5}") << 400 << "name";
        QTest::newRow("blank name") << QByteArray("POST") << "/api/v1/users" << QByteArray("{\"name\":\"  \"}") << 400
                                    << "name";
        QTest::newRow("100 KB name") << QByteArray("POST") << "/api/v1/users" << huge << 400 << "name";
        QTest::newRow("bad email") << QByteArray("POST") << "/api/v1/users"
                                   << QByteArray("{\"name\":\"e1\",\"email\":\"nope\"}") << 400 << "email";
        QTest::newRow("unknown field") << QByteArray("POST") << "/api/v1/users"
                                       << QByteArray("{\"name\":\"e2\",\"admin\":true}") << 400 << "admin";
        QTest::newRow("not json") << QByteArray("POST") << "/api/v1/users" << QByteArray("{nope") << 400 << "";
        QTest::newRow("array body") << QByteArray("POST") << "/api/v1/users" << QByteArray("[]") << 400 << "";
        QTest::newRow("put enabled type")
            << QByteArray("PUT") << "/api/v1/users/1" << QByteArray("{\"enabled\":\"yes\"}") << 400 << "enabled";
        QTest::newRow("put unknown") << QByteArray("PUT") << "/api/v1/users/1" << QByteArray("{\"id\":7}") << 400
                                     << "id";
        QTest::newRow("put 100 KB name") << QByteArray("PUT") << "/api/v1/users/1" << huge << 400 << "name";
        QTest::newRow("get missing") << QByteArray("GET") << "/api/v1/users/987654" << QByteArray() << 404 << "";
        QTest::newRow("put missing") << QByteArray("PUT") << "/api/v1/users/987654" << QByteArray("{}") << 404 << "";
        QTest::newRow("delete missing") << QByteArray("DELETE") << "/api/v1/users/987654" << QByteArray() << 404 << "";
        QTest::newRow("non-numeric id") << QByteArray("GET") << "/api/v1/users/abc" << QByteArray() << 404 << "";
        QTest::newRow("negative id") << QByteArray("GET") << "/api/v1/users/-1" << QByteArray() << 404 << "";
        QTest::newRow("sql in id") << QByteArray("GET") << "/api/v1/users/1%20OR%201=1" << QByteArray() << 404 << "";
        QTest::newRow("huge id") << QByteArray("GET") << "/api/v1/users/99999999999999999999999" << QByteArray() << 404
                                 << "";
    }

    void userErrors()
    {
        QFETCH(QByteArray, method);
        QFETCH(QString, path);
        QFETCH(QByteArray, body);
        QFETCH(int, status);
        QFETCH(QString, param);
        const Reply r = call(method, path, body);
        QCOMPARE(r.status, status);
        QVERIFY2(r.error().contains(QStringLiteral("message")), r.raw.constData());
        if (!param.isEmpty())
            QCOMPARE(r.param(), param);
    }

    void hostileInput()
    {
        const QString nasty = QStringLiteral("Robert'); DROP TABLE users;-- %_\\\" \u00e9");
        const Reply created = post(QStringLiteral("/api/v1/users"), {{"name", nasty}});
        QCOMPARE(created.status, 201);
        QCOMPARE(created.body.value(QStringLiteral("name")).toString(), nasty);
        QCOMPARE(get(QStringLiteral("/api/v1/users/%1").arg(created.body.value("id").toInteger()))
                     .body.value(QStringLiteral("name"))
                     .toString(),
                 nasty);

        // q is literal: wildcards and quotes match only themselves.
        auto search = [&](const QString &q) {
            QUrlQuery query;
            query.addQueryItem(QStringLiteral("q"), q);
            QUrl url(QStringLiteral("/api/v1/users"));
            url.setQuery(query);
            return get(url.toString(QUrl::FullyEncoded));
        };
        const Reply byQuote = search(QStringLiteral("'); DROP"));
        QCOMPARE(byQuote.status, 200);
        QCOMPARE(byQuote.body.value(QStringLiteral("data")).toArray().size(), 1);
        const Reply percent = search(QStringLiteral("%"));
        QCOMPARE(percent.body.value(QStringLiteral("data")).toArray().size(), 1);
        const Reply none = search(QStringLiteral("' OR '1'='1"));
        QCOMPARE(none.status, 200);
        QCOMPARE(none.body.value(QStringLiteral("data")).toArray().size(), 0);

        // A long q is refused by the API (400 naming it); a 100 KB one already by the HTTP layer
        // (431, request head too large): never a 500.
        const Reply longQ = search(QString(1000, QLatin1Char('x')));
        QCOMPARE(longQ.status, 400);
        QCOMPARE(longQ.param(), QStringLiteral("q"));
        const Reply hugeQ = search(QString(100 * 1024, QLatin1Char('x')));
        QVERIFY2(hugeQ.status == 431 || hugeQ.status == 400, QByteArray::number(hugeQ.status).constData());

        // The table is still there.
        QCOMPARE(get(QStringLiteral("/api/v1/users")).status, 200);
    }

    void pagination()
    {
        for (int i = 0; i < 5; ++i)
            QVERIFY(createUser(QStringLiteral("page-user-%1").arg(i)) > 0);
        const Reply all = get(QStringLiteral("/api/v1/users?q=page-user&page_size=2"));
        QCOMPARE(all.status, 200);
        const QJsonObject pagination = all.body.value(QStringLiteral("pagination")).toObject();
        QCOMPARE(pagination.value(QStringLiteral("page")).toInt(), 1);
        QCOMPARE(pagination.value(QStringLiteral("page_size")).toInt(), 2);
        QCOMPARE(pagination.value(QStringLiteral("total")).toInt(), 5);
        QCOMPARE(pagination.value(QStringLiteral("total_pages")).toInt(), 3);
        QCOMPARE(all.body.value(QStringLiteral("data")).toArray().size(), 2);

        const Reply last = get(QStringLiteral("/api/v1/users?q=page-user&page_size=2&page=3"));
        QCOMPARE(last.status, 200);
        const QJsonArray lastData = last.body.value(QStringLiteral("data")).toArray();
        QCOMPARE(lastData.size(), 1);
        QCOMPARE(lastData.at(0).toObject().value(QStringLiteral("name")).toString(), QStringLiteral("page-user-4"));
        const Reply beyond = get(QStringLiteral("/api/v1/users?q=page-user&page_size=2&page=4"));
        QCOMPARE(beyond.status, 200);
        QCOMPARE(beyond.body.value(QStringLiteral("data")).toArray().size(), 0);

        const Reply defaults = get(QStringLiteral("/api/v1/users"));
        QCOMPARE(
            defaults.body.value(QStringLiteral("pagination")).toObject().value(QStringLiteral("page_size")).toInt(),
            20);

        for (const QString &query : {QStringLiteral("page=0"), QStringLiteral("page=-1"), QStringLiteral("page=abc"),
                                     QStringLiteral("page=1.5"), QStringLiteral("page=99999999999")}) {
            const Reply r = get(QStringLiteral("/api/v1/users?") + query);
            QVERIFY2(r.status == 400 && r.param() == QStringLiteral("page"), qPrintable(query));
        }
        for (const QString &query : {QStringLiteral("page_size=0"), QStringLiteral("page_size=101"),
                                     QStringLiteral("page_size=1000"), QStringLiteral("page_size=x")}) {
            const Reply r = get(QStringLiteral("/api/v1/users?") + query);
            QVERIFY2(r.status == 400 && r.param() == QStringLiteral("page_size"), qPrintable(query));
        }
        QCOMPARE(get(QStringLiteral("/api/v1/users?page_size=100")).status, 200);
        QCOMPARE(get(QStringLiteral("/api/v1/audit?page=0")).status, 400);
    }

    void keys()
    {
        const qint64 userId = createUser(QStringLiteral("key-owner"));
        QVERIFY(userId > 0);
        const QString keysPath = QStringLiteral("/api/v1/users/%1/keys").arg(userId);

        const Reply created = post(keysPath, {{"name", "ci"},
                                              {"allowed_models", QJsonArray{"gpt-4o-mini"}},
                                              {"rpm_limit", 60},
                                              {"spend_limit", "12.5"},
                                              {"expires_at", "2999-01-01T00:00:00Z"}});
        QCOMPARE(created.status, 201);
        const QString plaintext = created.body.value(QStringLiteral("key")).toString();
        QVERIFY(ApiKeys::looksLikeKey(plaintext));
        m_plaintexts << plaintext;
        const qint64 keyId = created.body.value(QStringLiteral("id")).toInteger();
        QCOMPARE(created.body.value(QStringLiteral("user_id")).toInteger(), userId);
        QCOMPARE(created.body.value(QStringLiteral("prefix")).toString(), ApiKeys::prefix(plaintext));
        QCOMPARE(created.body.value(QStringLiteral("spend_limit")).toString(), QStringLiteral("12.500000000"));
        QCOMPARE(created.body.value(QStringLiteral("rpm_limit")).toInt(), 60);
        QVERIFY(created.body.value(QStringLiteral("tpm_limit")).isNull());
        QCOMPARE(created.body.value(QStringLiteral("expires_at")).toString(),
                 QStringLiteral("2999-01-01T00:00:00.000Z"));
        for (const char *field : {"id", "user_id", "name", "prefix", "enabled", "expires_at", "allowed_models",
                                  "rpm_limit", "tpm_limit", "spend_limit", "last_used_at", "created_at"})
            QVERIFY2(created.body.contains(QLatin1String(field)), field);

        const QString keyPath = QStringLiteral("/api/v1/keys/%1").arg(keyId);
        const Reply fetched = get(keyPath);
        QCOMPARE(fetched.status, 200);
        QVERIFY(!fetched.body.contains(QStringLiteral("key")));
        const Reply listed = get(keysPath);
        QCOMPARE(listed.status, 200);
        QCOMPARE(listed.body.value(QStringLiteral("data")).toArray().size(), 1);
        QVERIFY(!listed.raw.contains(plaintext.toLatin1()));

        // Partial update, nulls clear.
        const Reply updated = put(keyPath, {{"tpm_limit", 1000}, {"allowed_models", QJsonValue::Null}});
        QCOMPARE(updated.status, 200);
        QCOMPARE(updated.body.value(QStringLiteral("tpm_limit")).toInt(), 1000);
        QCOMPARE(updated.body.value(QStringLiteral("rpm_limit")).toInt(), 60);
        QVERIFY(updated.body.value(QStringLiteral("allowed_models")).isNull());
        QCOMPARE(updated.body.value(QStringLiteral("name")).toString(), QStringLiteral("ci"));

        // The key works on the data plane.
        QTRY_COMPARE_WITH_TIMEOUT(dataPlaneStatus(plaintext), 200, 10'000);

        // Rotate: same id, new secret; the old one dies at once.
        const Reply rotated = call("POST", keyPath + QStringLiteral("/rotate"));
        QCOMPARE(rotated.status, 200);
        QCOMPARE(rotated.body.value(QStringLiteral("id")).toInteger(), keyId);
        const QString rotatedKey = rotated.body.value(QStringLiteral("key")).toString();
        m_plaintexts << rotatedKey;
        QVERIFY(ApiKeys::looksLikeKey(rotatedKey));
        QVERIFY(rotatedKey != plaintext);
        QCOMPARE(rotated.body.value(QStringLiteral("tpm_limit")).toInt(), 1000);
        QTRY_COMPARE_WITH_TIMEOUT(dataPlaneStatus(plaintext), 401, 5'000);
        QTRY_COMPARE_WITH_TIMEOUT(dataPlaneStatus(rotatedKey), 200, 5'000);

        // Revoke: dead at once, and stays revoked.
        const Reply revoked = call("DELETE", keyPath);
        QCOMPARE(revoked.status, 200);
        QCOMPARE(revoked.body.value(QStringLiteral("enabled")).toBool(), false);
        QTRY_COMPARE_WITH_TIMEOUT(dataPlaneStatus(rotatedKey), 401, 5'000);
        QCOMPARE(call("POST", keyPath + QStringLiteral("/rotate")).status, 409);
        QCOMPARE(put(keyPath, {{"enabled", true}}).status, 200);
        QCOMPARE(dataPlaneStatus(rotatedKey), 401);

        // A disabled user's key stops too (user:<id>).
        const Reply second = post(keysPath, {});
        QCOMPARE(second.status, 201);
        const QString secondKey = second.body.value(QStringLiteral("key")).toString();
        m_plaintexts << secondKey;
        QTRY_COMPARE_WITH_TIMEOUT(dataPlaneStatus(secondKey), 200, 10'000);
        QCOMPARE(call("DELETE", QStringLiteral("/api/v1/users/%1").arg(userId)).status, 200);
        QTRY_VERIFY_WITH_TIMEOUT(dataPlaneStatus(secondKey) != 200, 5'000);
    }

    void keyErrors_data()
    {
        QTest::addColumn<QByteArray>("method");
        QTest::addColumn<QString>("path");
        QTest::addColumn<QByteArray>("body");
        QTest::addColumn<int>("status");
        QTest::addColumn<QString>("param");
        QTest::newRow("unknown field") << QByteArray("POST") << "/api/v1/users/%1/keys"
                                       << QByteArray("{\"key_hash\":\"x\"}") << 400 << "key_hash";
        QTest::newRow("enabled on create")
            << QByteArray("POST") << "/api/v1/users/%1/keys" << QByteArray("{\"enabled\":false}") << 400 << "enabled";
        QTest::newRow("bad expires_at") << QByteArray("POST") << "/api/v1/users/%1/keys"
                                        << QByteArray("{\"expires_at\":\"tomorrow\"}") << 400 << "expires_at";
        QTest::newRow("local expires_at")
            << QByteArray("POST") << "/api/v1/users/%1/keys" << QByteArray("{\"expires_at\":\"2999-01-01T00:00:00\"}")
            << 400 << "expires_at";
        QTest::newRow("past expires_at") << QByteArray("POST") << "/api/v1/users/%1/keys"
                                         << QByteArray("{\"expires_at\":\"2001-01-01T00:00:00Z\"}") << 400
                                         << "expires_at";
        QTest::newRow("rpm zero") << QByteArray("POST") << "/api/v1/users/%1/keys" << QByteArray("{\"rpm_limit\":0}")
                                  << 400 << "rpm_limit";
        QTest::newRow("rpm fraction") << QByteArray("POST") << "/api/v1/users/%1/keys"
                                      << QByteArray("{\"rpm_limit\":1.5}") << 400 << "rpm_limit";
        QTest::newRow("tpm string") << QByteArray("POST") << "/api/v1/users/%1/keys"
                                    << QByteArray("{\"tpm_limit\":\"5\"}") << 400 << "tpm_limit";
        QTest::newRow("spend float") << QByteArray("POST") << "/api/v1/users/%1/keys"
                                     << QByteArray("{\"spend_limit\":1.5}") << 400 << "spend_limit";
        QTest::newRow("spend negative") << QByteArray("POST") << "/api/v1/users/%1/keys"
                                        << QByteArray("{\"spend_limit\":\"-1\"}") << 400 << "spend_limit";
        QTest::newRow("models empty") << QByteArray("POST") << "/api/v1/users/%1/keys"
                                      << QByteArray("{\"allowed_models\":[]}") << 400 << "allowed_models";
        QTest::newRow("models not strings") << QByteArray("POST") << "/api/v1/users/%1/keys"
                                            << QByteArray("{\"allowed_models\":[1]}") << 400 << "allowed_models";
        QTest::newRow("100 KB name") << QByteArray("POST") << "/api/v1/users/%1/keys"
                                     << QByteArray("{\"name\":\"" + QByteArray(100 * 1024, 'k') + "\"}") << 400
                                     << "name";
        QTest::newRow("keys of missing user")
            << QByteArray("GET") << "/api/v1/users/987654/keys" << QByteArray() << 404 << "";
        QTest::newRow("key for missing user")
            << QByteArray("POST") << "/api/v1/users/987654/keys" << QByteArray("{}") << 404 << "";
        QTest::newRow("missing key") << QByteArray("GET") << "/api/v1/keys/987654" << QByteArray() << 404 << "";
        QTest::newRow("update missing key")
            << QByteArray("PUT") << "/api/v1/keys/987654" << QByteArray("{}") << 404 << "";
        QTest::newRow("revoke missing key")
            << QByteArray("DELETE") << "/api/v1/keys/987654" << QByteArray() << 404 << "";
        QTest::newRow("rotate missing key")
            << QByteArray("POST") << "/api/v1/keys/987654/rotate" << QByteArray() << 404 << "";
        QTest::newRow("non-numeric key id") << QByteArray("GET") << "/api/v1/keys/abc" << QByteArray() << 404 << "";
        QTest::newRow("rotate with body") << QByteArray("POST") << "/api/v1/keys/987654/rotate"
                                          << QByteArray("{\"key\":\"sk-lp-mine\"}") << 400 << "key";
    }

    void keyErrors()
    {
        QFETCH(QByteArray, method);
        QFETCH(QString, path);
        QFETCH(QByteArray, body);
        QFETCH(int, status);
        QFETCH(QString, param);
        static qint64 userId = createUser(QStringLiteral("key-errors"));
        const Reply r = call(method, path.contains(QLatin1String("%1")) ? path.arg(userId) : path, body);
        QCOMPARE(r.status, status);
        if (!param.isEmpty())
            QCOMPARE(r.param(), param);
    }

    void catalog()
    {
        const QByteArray upstreamKey = "sk-upstream-secret-abcd1234";
        const Reply created = post(QStringLiteral("/api/v1/upstreams"), {{"name", "mock-a"},
                                                                         {"api_base", "http://127.0.0.1:9/v1"},
                                                                         {"api_key", QString::fromLatin1(upstreamKey)},
                                                                         {"tags", QJsonArray{"eu"}}});
        QCOMPARE(created.status, 201);
        const qint64 upstreamId = created.body.value(QStringLiteral("id")).toInteger();
        QCOMPARE(created.body.value(QStringLiteral("kind")).toString(), QStringLiteral("openai"));
        QCOMPARE(created.body.value(QStringLiteral("api_key_preview")).toString(), QStringLiteral("sk-u\u20261234"));
        QCOMPARE(created.body.value(QStringLiteral("weight")).toInt(), 1);
        QCOMPARE(created.body.value(QStringLiteral("tags")).toArray(), QJsonArray{"eu"});
        for (const char *field : {"id", "name", "kind", "api_base", "api_key_preview", "weight", "enabled", "health",
                                  "tags", "created_at", "updated_at"})
            QVERIFY2(created.body.contains(QLatin1String(field)), field);
        QVERIFY(!created.body.contains(QStringLiteral("api_key")));
        QVERIFY(!created.raw.contains("secret"));
        QCOMPARE(queryOne(QStringLiteral("SELECT api_key_format FROM upstreams WHERE name = 'mock-a'")).toString(),
                 QStringLiteral("aes-256-gcm"));
        QCOMPARE(
            queryOne(QStringLiteral("SELECT count(*) FROM upstreams WHERE api_key_encrypted LIKE '%secret%'")).toInt(),
            0);
        const Reply duplicate =
            post(QStringLiteral("/api/v1/upstreams"), {{"name", "mock-a"}, {"api_base", "http://x/v1"}});
        QVERIFY2(duplicate.status == 409, duplicate.raw.constData());

        const QString upstreamPath = QStringLiteral("/api/v1/upstreams/%1").arg(upstreamId);
        QCOMPARE(get(upstreamPath).body, created.body);
        const Reply reweighted = put(upstreamPath, {{"weight", 3}, {"api_key", "sk-other-key-9876"}});
        QCOMPARE(reweighted.status, 200);
        QCOMPARE(reweighted.body.value(QStringLiteral("weight")).toInt(), 3);
        QCOMPARE(reweighted.body.value(QStringLiteral("name")).toString(), QStringLiteral("mock-a"));
        QCOMPARE(reweighted.body.value(QStringLiteral("api_key_preview")).toString(), QStringLiteral("sk-o\u20269876"));
        const Reply listed = get(QStringLiteral("/api/v1/upstreams"));
        QCOMPARE(listed.status, 200);
        QCOMPARE(listed.body.value(QStringLiteral("pagination")).toObject().value(QStringLiteral("total")).toInt(), 1);

        // Models.
        const Reply model = post(QStringLiteral("/api/v1/models"), {{"name", "gpt-admin"},
                                                                    {"upstream_id", upstreamId},
                                                                    {"capabilities", QJsonArray{"chat"}},
                                                                    {"input_price_per_1m", "0.15"}});
        QCOMPARE(model.status, 201);
        const qint64 modelId = model.body.value(QStringLiteral("id")).toInteger();
        QCOMPARE(model.body.value(QStringLiteral("upstream_model")).toString(), QStringLiteral("gpt-admin"));
        QCOMPARE(model.body.value(QStringLiteral("input_price_per_1m")).toString(), QStringLiteral("0.150000000"));
        QCOMPARE(model.body.value(QStringLiteral("output_price_per_1m")).toString(), QStringLiteral("0.000000000"));
        QCOMPARE(post(QStringLiteral("/api/v1/models"), {{"name", "gpt-admin"}, {"upstream_id", upstreamId}}).status,
                 409);
        const QString modelPath = QStringLiteral("/api/v1/models/%1").arg(modelId);
        const Reply priced = put(modelPath, {{"output_price_per_1m", "0.6"}, {"weight", 0}});
        QCOMPARE(priced.status, 200);
        QCOMPARE(priced.body.value(QStringLiteral("output_price_per_1m")).toString(), QStringLiteral("0.600000000"));
        QCOMPARE(priced.body.value(QStringLiteral("input_price_per_1m")).toString(), QStringLiteral("0.150000000"));
        QCOMPARE(priced.body.value(QStringLiteral("weight")).toInt(), 0);
        const Reply filtered = get(QStringLiteral("/api/v1/models?upstream_id=%1").arg(upstreamId));
        QCOMPARE(filtered.body.value(QStringLiteral("data")).toArray().size(), 1);
        QCOMPARE(get(QStringLiteral("/api/v1/models?upstream_id=987654")).body.value("data").toArray().size(), 0);

        QCOMPARE(call("DELETE", modelPath).status, 200);
        QCOMPARE(get(modelPath).status, 404);
        QCOMPARE(call("DELETE", modelPath).status, 404);
        QCOMPARE(post(QStringLiteral("/api/v1/models"), {{"name", "gone-with-it"}, {"upstream_id", upstreamId}}).status,
                 201);
        QCOMPARE(call("DELETE", upstreamPath).status, 200);
        QCOMPARE(get(upstreamPath).status, 404);
        QCOMPARE(queryOne(QStringLiteral("SELECT count(*) FROM models")).toInt(), 0);

        // Neither key ever reached the audit log.
        const QString auditText = queryOne(QStringLiteral("SELECT string_agg(coalesce(before::text, '') || "
                                                          "coalesce(after::text, ''), '') FROM audit_log "
                                                          "WHERE resource = 'upstream'"))
                                      .toString();
        QVERIFY(auditText.contains(QStringLiteral("api_key_preview")));
        QVERIFY(!auditText.contains(QStringLiteral("secret")) && !auditText.contains(QStringLiteral("other-key")));
    }

    void upstreamProbes()
    {
        test::MockUpstream mock;
        QVERIFY(mock.start({"--api-key", "sk-upstream-probe-0001", "--models", "gpt-probe"}).ok());
        const Reply created =
            post(QStringLiteral("/api/v1/upstreams"),
                 {{"name", "probe"}, {"api_base", mock.apiBase()}, {"api_key", "sk-upstream-probe-0001"}});
        QCOMPARE(created.status, 201);
        const qint64 upstreamId = created.body.value(QStringLiteral("id")).toInteger();
        const QString base = QStringLiteral("/api/v1/upstreams/%1").arg(upstreamId);

        const Reply tested = call("POST", base + QStringLiteral("/test"));
        QVERIFY2(tested.status == 200, tested.raw.constData());
        QCOMPARE(tested.body.value(QStringLiteral("ok")).toBool(), true);
        const QJsonArray listed = tested.body.value(QStringLiteral("models")).toArray();
        QCOMPARE(listed.size(), 1);
        QCOMPARE(listed.at(0).toObject().value(QStringLiteral("id")).toString(), QStringLiteral("gpt-probe"));

        const Reply detected = call("POST", base + QStringLiteral("/detect"));
        QVERIFY2(detected.status == 200, detected.raw.constData());
        const QJsonArray caps =
            detected.body.value(QStringLiteral("models")).toArray().at(0).toObject().value("capabilities").toArray();
        QVERIFY2(caps.contains(QStringLiteral("chat")), detected.raw.constData());
        QCOMPARE(call("POST", base + QStringLiteral("/detect"), "{\"bogus\":1}").status, 400);
        QCOMPARE(call("POST", QStringLiteral("/api/v1/upstreams/987654/test")).status, 404);

        // A model added through the API reaches the data plane's catalog ("catalog" announced).
        const qint64 userId = createUser(QStringLiteral("catalog-viewer"));
        const Reply key = post(QStringLiteral("/api/v1/users/%1/keys").arg(userId), {});
        QCOMPARE(key.status, 201);
        const QString plaintext = key.body.value(QStringLiteral("key")).toString();
        m_plaintexts << plaintext;
        QCOMPARE(post(QStringLiteral("/api/v1/models"),
                      {{"name", "gpt-probe"}, {"upstream_id", upstreamId}, {"capabilities", QJsonArray{"chat"}}})
                     .status,
                 201);
        auto modelsSeen = [&] {
            QNetworkRequest request(QUrl(m_base + QStringLiteral("/v1/models")));
            request.setRawHeader("authorization", "Bearer " + plaintext.toLatin1());
            QNetworkReply *reply = m_nam.get(request);
            QSignalSpy done(reply, &QNetworkReply::finished);
            if (!reply->isFinished())
                done.wait(20'000);
            const QByteArray body = reply->readAll();
            reply->deleteLater();
            return body;
        };
        QTRY_VERIFY_WITH_TIMEOUT(modelsSeen().contains("gpt-probe"), 5'000);

        // Wrong credentials: the upstream's refusal, never the key.
        QCOMPARE(put(base, {{"api_key", "sk-wrong-probe-key-9999"}}).status, 200);
        const Reply refused = call("POST", base + QStringLiteral("/test"));
        QVERIFY2(refused.status >= 400 && refused.status != 500, refused.raw.constData());
        QVERIFY(!refused.raw.contains("sk-wrong-probe-key-9999"));
        QCOMPARE(call("DELETE", base).status, 200);
    }

    void catalogErrors_data()
    {
        QTest::addColumn<QByteArray>("method");
        QTest::addColumn<QString>("path");
        QTest::addColumn<QByteArray>("body");
        QTest::addColumn<int>("status");
        QTest::addColumn<QString>("param");
        QTest::newRow("upstream without name")
            << QByteArray("POST") << "/api/v1/upstreams" << QByteArray("{\"api_base\":\"http://x\"}") << 400 << "name";
        QTest::newRow("upstream bad kind")
            << QByteArray("POST") << "/api/v1/upstreams"
            << QByteArray("{\"name\":\"u\",\"api_base\":\"http://x\",\"kind\":\"x\"}") << 400 << "kind";
        QTest::newRow("upstream ftp base")
            << QByteArray("POST") << "/api/v1/upstreams" << QByteArray("{\"name\":\"u\",\"api_base\":\"ftp://x\"}")
            << 400 << "api_base";
        QTest::newRow("upstream negative weight")
            << QByteArray("POST") << "/api/v1/upstreams"
            << QByteArray("{\"name\":\"u\",\"api_base\":\"http://x\",\"weight\":-1}") << 400 << "weight";
        QTest::newRow("upstream unknown field")
            << QByteArray("POST") << "/api/v1/upstreams"
            << QByteArray("{\"name\":\"u\",\"api_base\":\"http://x\",\"api_key_encrypted\":\"x\"}") << 400
            << "api_key_encrypted";
        QTest::newRow("upstream 100 KB name")
            << QByteArray("POST") << "/api/v1/upstreams"
            << QByteArray("{\"name\":\"" + QByteArray(100 * 1024, 'u') + "\",\"api_base\":\"http://x\"}") << 400
            << "name";
        QTest::newRow("missing upstream")
            << QByteArray("GET") << "/api/v1/upstreams/987654" << QByteArray() << 404 << "";
        QTest::newRow("update missing upstream")
            << QByteArray("PUT") << "/api/v1/upstreams/987654" << QByteArray("{}") << 404 << "";
        QTest::newRow("non-numeric upstream")
            << QByteArray("DELETE") << "/api/v1/upstreams/x" << QByteArray() << 404 << "";
        QTest::newRow("model without upstream")
            << QByteArray("POST") << "/api/v1/models" << QByteArray("{\"name\":\"m\"}") << 400 << "upstream_id";
        QTest::newRow("model unknown upstream")
            << QByteArray("POST") << "/api/v1/models" << QByteArray("{\"name\":\"m\",\"upstream_id\":987654}") << 400
            << "upstream_id";
        QTest::newRow("model bad capability")
            << QByteArray("POST") << "/api/v1/models"
            << QByteArray("{\"name\":\"m\",\"upstream_id\":1,\"capabilities\":[\"telepathy\"]}") << 400
            << "capabilities";
        QTest::newRow("model float price")
            << QByteArray("POST") << "/api/v1/models"
            << QByteArray("{\"name\":\"m\",\"upstream_id\":1,\"image_price\":0.1}") << 400 << "image_price";
        QTest::newRow("model negative price")
            << QByteArray("POST") << "/api/v1/models"
            << QByteArray("{\"name\":\"m\",\"upstream_id\":1,\"output_price_per_1m\":\"-1\"}") << 400
            << "output_price_per_1m";
        QTest::newRow("model ten decimals")
            << QByteArray("POST") << "/api/v1/models"
            << QByteArray("{\"name\":\"m\",\"upstream_id\":1,\"input_price_per_1m\":\"0.0000000001\"}") << 400
            << "input_price_per_1m";
        QTest::newRow("missing model") << QByteArray("GET") << "/api/v1/models/987654" << QByteArray() << 404 << "";
        QTest::newRow("non-numeric model") << QByteArray("GET") << "/api/v1/models/abc" << QByteArray() << 404 << "";
        QTest::newRow("models bad filter")
            << QByteArray("GET") << "/api/v1/models?upstream_id=x" << QByteArray() << 400 << "upstream_id";
    }

    void catalogErrors()
    {
        QFETCH(QByteArray, method);
        QFETCH(QString, path);
        QFETCH(QByteArray, body);
        QFETCH(int, status);
        QFETCH(QString, param);
        const Reply r = call(method, path, body);
        QCOMPARE(r.status, status);
        if (!param.isEmpty())
            QCOMPARE(r.param(), param);
    }

    void audit()
    {
        const qint64 id = createUser(QStringLiteral("audited"));
        QVERIFY(id > 0);
        // A write by the static key is attributed to it.
        const Reply byStatic =
            call("PUT", QStringLiteral("/api/v1/users/%1").arg(id), "{\"email\":\"s@x.io\"}", kStaticKey);
        QCOMPARE(byStatic.status, 200);

        const Reply page = get(QStringLiteral("/api/v1/audit?page_size=2"));
        QCOMPARE(page.status, 200);
        const QJsonArray entries = page.body.value(QStringLiteral("data")).toArray();
        QCOMPARE(entries.size(), 2);
        const QJsonObject newest = entries.at(0).toObject();
        QCOMPARE(newest.value(QStringLiteral("actor")).toString(), QStringLiteral("static-key"));
        QCOMPARE(newest.value(QStringLiteral("action")).toString(), QStringLiteral("user.update"));
        QCOMPARE(newest.value(QStringLiteral("resource")).toString(), QStringLiteral("user"));
        QCOMPARE(newest.value(QStringLiteral("resource_id")).toString(), QString::number(id));
        QVERIFY(newest.value(QStringLiteral("before")).toObject().value(QStringLiteral("email")).isNull());
        QCOMPARE(newest.value(QStringLiteral("after")).toObject().value(QStringLiteral("email")).toString(),
                 QStringLiteral("s@x.io"));
        const QJsonObject previous = entries.at(1).toObject();
        QCOMPARE(previous.value(QStringLiteral("actor")).toString(), QStringLiteral("tester"));
        QCOMPARE(previous.value(QStringLiteral("action")).toString(), QStringLiteral("user.create"));
        QVERIFY(previous.value(QStringLiteral("before")).isNull());

        // Every write so far is there, the chain is intact, and the key writes were recorded.
        QVERIFY(queryOne(QStringLiteral("SELECT audit_log_verify() IS NULL")).toBool());
        QVERIFY(queryOne(QStringLiteral("SELECT count(*) FROM audit_log WHERE action IN "
                                        "('key.create','key.rotate','key.revoke','key.update')"))
                    .toInt() >= 5);
        // A failed write leaves no entry.
        const int before = queryOne(QStringLiteral("SELECT count(*) FROM audit_log")).toInt();
        QCOMPARE(post(QStringLiteral("/api/v1/users"), {{"name", "audited"}}).status, 409);
        QCOMPARE(queryOne(QStringLiteral("SELECT count(*) FROM audit_log")).toInt(), before);
    }

    // Runs last (alphabetical order does not matter: QtTest runs slots in declaration order).
    void noPlaintextAfterCreation()
    {
        QVERIFY(m_plaintexts.size() >= 3);
        const QByteArray auditText = queryOne(QStringLiteral("SELECT coalesce(string_agg(coalesce(before::text, '') || "
                                                             "coalesce(after::text, ''), ''), '') FROM audit_log"))
                                         .toString()
                                         .toUtf8();
        QVERIFY(!auditText.isEmpty());
        QVERIFY(!auditText.contains("key_hash"));
        const QByteArray auditPage = get(QStringLiteral("/api/v1/audit?page_size=100")).raw;
        for (const QString &key : m_plaintexts) {
            const QByteArray k = key.toLatin1();
            QVERIFY(!auditText.contains(k));
            QVERIFY(!auditText.contains(ApiKeys::hash(key)));
            QVERIFY(!auditPage.contains(k));
            // Only the response that created (or rotated to) it shows it.
            int shown = 0;
            for (const QByteArray &body : std::as_const(m_bodies))
                shown += body.contains(k) ? 1 : 0;
            QCOMPARE(shown, 1);
        }
    }
};

QTEST_GUILESS_MAIN(TestAdminApi)
#include "TestAdminApi.moc"
