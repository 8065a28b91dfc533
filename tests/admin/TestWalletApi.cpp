// The wallet endpoints of the admin REST API (SPEC §5, §6, §9): GET /users/{id}/wallet and
// /ledger, POST /users/{id}/deposits | withdrawals | credits, through real HTTP against an
// in-process Gateway on a fresh, migrated database and the shared Redis.

#include "Clock.h"
#include "Config.h"
#include "Gateway.h"
#include "Jwt.h"
#include "SharedServices.h"
#include "billing/BillingScripts.h"
#include "storage/Database.h"
#include "storage/Migrator.h"
#include "storage/RedisSyncClient.h"

#include <QDeadlineTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QRandomGenerator>
#include <QScopeGuard>
#include <QSignalSpy>
#include <QSqlError>
#include <QSqlQuery>
#include <QTest>

using namespace llmpool;
using namespace llmpool::gateway;

namespace {

const QByteArray kJwtSecret = QByteArrayLiteral("wallet-api-test-secret-0123456789abcdef");

struct Reply
{
    int status = 0;
    QByteArray raw;
    QJsonObject body;
    QJsonObject error() const { return body.value(QStringLiteral("error")).toObject(); }
    QString param() const { return error().value(QStringLiteral("param")).toString(); }
    QString code() const { return error().value(QStringLiteral("code")).toString(); }
    QString text(const char *field) const { return body.value(QLatin1String(field)).toString(); }
};

} // namespace

class TestWalletApi : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<test::SharedServices> m_services;
    std::unique_ptr<Database> m_db;
    std::unique_ptr<Gateway> m_gateway;
    std::unique_ptr<RedisSyncClient> m_redis;
    QNetworkAccessManager m_nam;
    QString m_base;
    QString m_databaseUrl;
    QByteArray m_token;
    int m_users = 0;

    QNetworkReply *send(const QByteArray &method, const QString &path, const QByteArray &body, const QByteArray &token)
    {
        QNetworkRequest request(QUrl(m_base + path));
        if (!token.isEmpty())
            request.setRawHeader("authorization", "Bearer " + token);
        if (!body.isEmpty())
            request.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
        return m_nam.sendCustomRequest(request, method, body);
    }

    static Reply finish(QNetworkReply *reply)
    {
        if (!reply->isFinished()) {
            QSignalSpy done(reply, &QNetworkReply::finished);
            done.wait(20'000);
        }
        Reply r;
        r.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        r.raw = reply->readAll();
        r.body = QJsonDocument::fromJson(r.raw).object();
        reply->deleteLater();
        return r;
    }

    Reply call(const QByteArray &method, const QString &path, const QByteArray &body = {},
               std::optional<QByteArray> token = std::nullopt)
    {
        return finish(send(method, path, body, token.value_or(m_token)));
    }
    Reply get(const QString &path) { return call("GET", path); }
    Reply post(const QString &path, const QJsonObject &body)
    {
        return call("POST", path, QJsonDocument(body).toJson(QJsonDocument::Compact));
    }

    qint64 createUser()
    {
        const Reply r =
            post(QStringLiteral("/api/v1/users"), {{"name", QStringLiteral("wallet-user-%1").arg(++m_users)}});
        if (r.status != 201)
            qWarning("create user: %d %s", r.status, r.raw.constData());
        return r.body.value(QStringLiteral("id")).toInteger();
    }

    QString usersPath(qint64 id, const char *rest) const
    {
        return QStringLiteral("/api/v1/users/%1/%2").arg(id).arg(QLatin1String(rest));
    }

    Reply move(qint64 user, const char *kind, const QString &amount, const QString &requestId,
               const QJsonValue &note = QJsonValue::Undefined)
    {
        QJsonObject body{{"amount", amount}, {"unique_request_id", requestId}};
        if (!note.isUndefined())
            body.insert(QStringLiteral("note"), note);
        return post(usersPath(user, kind), body);
    }

    QVariant queryOne(const QString &sql)
    {
        auto r = m_db->runSync([sql](QSqlDatabase &conn) -> Result<QVariant> {
            QSqlQuery q(conn);
            if (!q.exec(sql))
                return Error::internal(QStringLiteral("test"), QStringLiteral("query failed"));
            return q.next() ? q.value(0) : QVariant();
        });
        return r ? *r : QVariant();
    }

    bool execSql(const QString &sql)
    {
        auto r = m_db->runSync([sql](QSqlDatabase &conn) -> Result<bool> {
            QSqlQuery q(conn);
            if (!q.exec(sql)) {
                qWarning("%s: %s", qPrintable(sql), qPrintable(q.lastError().text()));
                return false;
            }
            return true;
        });
        return r && *r;
    }

    QByteArray redisField(const QByteArray &key, const QByteArray &field)
    {
        Result<RedisReply> r = m_redis->command({"HGET", key, field});
        return r && r->isString() ? r->string : QByteArray();
    }

private Q_SLOTS:
    void initTestCase()
    {
        auto services = test::SharedServices::fromEnv();
        QVERIFY2(services.ok(), qPrintable(services.ok() ? QString() : services.error().message));
        m_services = std::move(*services);
        auto url = m_services->createDatabase();
        QVERIFY(url.ok());
        m_databaseUrl = *url;

        DatabaseOptions options;
        options.url = *url;
        options.poolSize = 1;
        m_db = std::make_unique<Database>(options);
        QVERIFY(m_db->start().ok());
        auto migrated = m_db->runSync(
            [](QSqlDatabase &db) { return Migrator(QStringLiteral(LLMPOOL_TEST_MIGRATIONS_DIR)).migrate(db); });
        QVERIFY2(migrated.ok(), qPrintable(migrated.ok() ? QString() : migrated.error().message));
        // Redis is shared by every test of the suite and its keys are per user id: start this
        // database's ids somewhere no other test's fresh database will be.
        const qint64 firstId = 1'000'000'000'000LL + qint64(QRandomGenerator::global()->bounded(1'000'000)) * 1'000'000;
        QVERIFY(execSql(QStringLiteral("ALTER TABLE users ALTER COLUMN id RESTART WITH %1").arg(firstId)));

        m_redis = std::make_unique<RedisSyncClient>(m_services->redisUrl());
        QVERIFY(m_redis->connect().ok());

        const QByteArray toml = "[server]\nbind = \"127.0.0.1:0\"\nthreads = 2\n[database]\nurl = \"" + url->toUtf8() +
                                "\"\npool_size = 4\n[redis]\nurl = \"" + m_services->redisUrl().toUtf8() +
                                "\"\n[admin]\njwt_secret = \"" + kJwtSecret + "\"\n[security]\nencryption_key = \"" +
                                QByteArray(64, 'c') + "\"\n";
        Result<Config> config = ConfigLoader::parse(toml, QStringLiteral("test.toml"));
        QVERIFY2(config.ok(), qPrintable(config.ok() ? QString() : config.error().message));
        m_gateway = std::make_unique<Gateway>(*config);
        const Status started = m_gateway->start();
        QVERIFY2(started.ok(), qPrintable(started.ok() ? QString() : started.error().message));
        m_base = QStringLiteral("http://127.0.0.1:%1").arg(m_gateway->port());

        Result<QByteArray> token =
            Jwt::mintAdminToken(kJwtSecret, QStringLiteral("wallet-tester"), 3600, Clock::instance().nowSecs());
        QVERIFY(token.ok());
        m_token = *token;
    }

    void cleanupTestCase()
    {
        if (m_gateway)
            m_gateway->stop(0);
        m_gateway.reset();
        m_redis.reset();
        if (m_db)
            m_db->stop();
        m_db.reset();
        m_services.reset();
    }

    void authRequired_data()
    {
        QTest::addColumn<QByteArray>("method");
        QTest::addColumn<QString>("rest");
        QTest::newRow("wallet") << QByteArray("GET") << "wallet";
        QTest::newRow("ledger") << QByteArray("GET") << "ledger";
        QTest::newRow("deposit") << QByteArray("POST") << "deposits";
        QTest::newRow("withdrawal") << QByteArray("POST") << "withdrawals";
        QTest::newRow("credit") << QByteArray("POST") << "credits";
    }

    void authRequired()
    {
        QFETCH(QByteArray, method);
        QFETCH(QString, rest);
        const qint64 user = createUser();
        const Reply r = call(method, QStringLiteral("/api/v1/users/%1/%2").arg(user).arg(rest),
                             R"({"amount":"1","unique_request_id":"x"})", QByteArray("not-a-token"));
        QCOMPARE(r.status, 401);
        QCOMPARE(queryOne(QStringLiteral("SELECT count(*) FROM ledger_entries WHERE user_id = %1").arg(user)).toInt(),
                 0);
    }

    void walletOfANewUser()
    {
        const qint64 user = createUser();
        const Reply r = get(usersPath(user, "wallet"));
        QCOMPARE(r.status, 200);
        QCOMPARE(r.body.value(QStringLiteral("user_id")).toInteger(), user);
        for (const char *field : {"cash", "credit_limit", "debt", "reserved", "available"})
            QCOMPARE(r.text(field), QStringLiteral("0.000000000"));
        QCOMPARE(r.text("currency"), QStringLiteral("USD"));
        QVERIFY(!r.body.contains(QStringLiteral("reserved_unavailable")));

        QCOMPARE(get(QStringLiteral("/api/v1/users/999999999/wallet")).status, 404);
        QCOMPARE(get(QStringLiteral("/api/v1/users/abc/wallet")).status, 404);
        QCOMPARE(get(QStringLiteral("/api/v1/users/0/wallet")).status, 404);
        QCOMPARE(get(QStringLiteral("/api/v1/users/999999999/ledger")).status, 404);
        QCOMPARE(move(999999999, "deposits", QStringLiteral("1"), QStringLiteral("x")).status, 404);
    }

    void depositWithdrawCredit()
    {
        const qint64 user = createUser();
        const Reply credit =
            move(user, "credits", QStringLiteral("50"), QStringLiteral("credit-1"), QStringLiteral("line"));
        QCOMPARE(credit.status, 201);
        QCOMPARE(credit.text("kind"), QStringLiteral("credit"));
        QCOMPARE(credit.text("credit_limit_after"), QStringLiteral("50.000000000"));

        const Reply deposit =
            move(user, "deposits", QStringLiteral("12.5"), QStringLiteral("dep-1"), QStringLiteral("wire 42"));
        QCOMPARE(deposit.status, 201);
        const QStringList fields{
            "id",         "user_id",           "kind", "amount",    "cash_after", "credit_limit_after",
            "debt_after", "unique_request_id", "note", "created_at"};
        QCOMPARE(QStringList(deposit.body.keys()).size(), fields.size());
        for (const QString &field : fields)
            QVERIFY2(deposit.body.contains(field), qPrintable(field));
        QVERIFY(deposit.body.value(QStringLiteral("id")).toInteger() > 0);
        QCOMPARE(deposit.body.value(QStringLiteral("user_id")).toInteger(), user);
        QCOMPARE(deposit.text("kind"), QStringLiteral("deposit"));
        QCOMPARE(deposit.text("amount"), QStringLiteral("12.500000000"));
        QCOMPARE(deposit.text("cash_after"), QStringLiteral("12.500000000"));
        QCOMPARE(deposit.text("credit_limit_after"), QStringLiteral("50.000000000"));
        QCOMPARE(deposit.text("debt_after"), QStringLiteral("0.000000000"));
        QCOMPARE(deposit.text("unique_request_id"), QStringLiteral("dep-1"));
        QCOMPARE(deposit.text("note"), QStringLiteral("wire 42"));
        QVERIFY(deposit.text("created_at").endsWith(QLatin1Char('Z')));

        const Reply tooMuch = move(user, "withdrawals", QStringLiteral("12.500000001"), QStringLiteral("w-1"));
        QCOMPARE(tooMuch.status, 409);
        QCOMPARE(tooMuch.code(), QStringLiteral("insufficient_funds"));
        const Reply withdrawal = move(user, "withdrawals", QStringLiteral("2.5"), QStringLiteral("w-2"));
        QCOMPARE(withdrawal.status, 201);
        QCOMPARE(withdrawal.text("amount"), QStringLiteral("2.500000000"));
        QCOMPARE(withdrawal.text("cash_after"), QStringLiteral("10.000000000"));
        QVERIFY(withdrawal.body.value(QStringLiteral("note")).isNull());

        const Reply lower = move(user, "credits", QStringLiteral("-20"), QStringLiteral("credit-2"));
        QCOMPARE(lower.status, 201);
        QCOMPARE(lower.text("amount"), QStringLiteral("-20.000000000"));
        QCOMPARE(lower.text("credit_limit_after"), QStringLiteral("30.000000000"));
        const Reply negative = move(user, "credits", QStringLiteral("-30.000000001"), QStringLiteral("credit-3"));
        QCOMPARE(negative.status, 409);
        QCOMPARE(negative.code(), QStringLiteral("credit_limit_negative"));

        const Reply wallet = get(usersPath(user, "wallet"));
        QCOMPARE(wallet.status, 200);
        QCOMPARE(wallet.text("cash"), QStringLiteral("10.000000000"));
        QCOMPARE(wallet.text("credit_limit"), QStringLiteral("30.000000000"));
        QCOMPARE(wallet.text("debt"), QStringLiteral("0.000000000"));
        QCOMPARE(wallet.text("available"), QStringLiteral("40.000000000"));

        // Every accepted movement is in the audit log, with the actor.
        QCOMPARE(queryOne(QStringLiteral("SELECT count(*) FROM audit_log WHERE resource = 'wallet' AND resource_id = "
                                         "'%1' AND actor = 'wallet-tester'")
                              .arg(user))
                     .toInt(),
                 4);
        QCOMPARE(queryOne(QStringLiteral("SELECT after->'entry'->>'note' FROM audit_log WHERE action = "
                                         "'wallet.deposit' AND resource_id = '%1'")
                              .arg(user))
                     .toString(),
                 QStringLiteral("wire 42"));
    }

    void depositRepaysDebt()
    {
        const qint64 user = createUser();
        QCOMPARE(move(user, "credits", QStringLiteral("100"), QStringLiteral("c")).status, 201);
        // Spending beyond cash, as the usage worker books it.
        QVERIFY(execSql(QStringLiteral("WITH e AS (INSERT INTO ledger_entries (user_id, kind, amount, cash_after, "
                                       "credit_limit_after, debt_after, unique_request_id) VALUES (%1, 'spend', 40, "
                                       "0, 100, 40, 'req-1') RETURNING 1) UPDATE wallets SET debt = 40 WHERE "
                                       "user_id = %1")
                            .arg(user)));
        const Reply partial = move(user, "deposits", QStringLiteral("15"), QStringLiteral("d1"));
        QCOMPARE(partial.status, 201);
        QCOMPARE(partial.text("debt_after"), QStringLiteral("25.000000000"));
        QCOMPARE(partial.text("cash_after"), QStringLiteral("0.000000000"));
        const Reply rest = move(user, "deposits", QStringLiteral("30"), QStringLiteral("d2"));
        QCOMPARE(rest.status, 201);
        QCOMPARE(rest.text("debt_after"), QStringLiteral("0.000000000"));
        QCOMPARE(rest.text("cash_after"), QStringLiteral("5.000000000"));
    }

    void replay()
    {
        const qint64 user = createUser();
        const Reply first =
            move(user, "deposits", QStringLiteral("7"), QStringLiteral("replay-me"), QStringLiteral("first"));
        QCOMPARE(first.status, 201);
        const Reply again =
            move(user, "deposits", QStringLiteral("7.0"), QStringLiteral("replay-me"), QStringLiteral("second"));
        QCOMPARE(again.status, 200);
        QCOMPARE(again.body, first.body); // the original entry, note and time included
        const Reply otherAmount = move(user, "deposits", QStringLiteral("8"), QStringLiteral("replay-me"));
        QCOMPARE(otherAmount.status, 409);
        QCOMPARE(otherAmount.code(), QStringLiteral("idempotency_conflict"));
        const Reply otherKind = move(user, "withdrawals", QStringLiteral("7"), QStringLiteral("replay-me"));
        QCOMPARE(otherKind.status, 409);
        QCOMPARE(otherKind.code(), QStringLiteral("idempotency_conflict"));
        QCOMPARE(get(usersPath(user, "wallet")).text("cash"), QStringLiteral("7.000000000"));
        QCOMPARE(queryOne(QStringLiteral("SELECT count(*) FROM ledger_entries WHERE user_id = %1").arg(user)).toInt(),
                 1);
    }

    void concurrentDepositIsOneEntry()
    {
        const qint64 user = createUser();
        constexpr int kRequests = 8;
        const QByteArray body = R"({"amount":"3.25","unique_request_id":"at-once","note":"x"})";
        QList<QNetworkReply *> replies;
        for (int i = 0; i < kRequests; ++i)
            replies.append(send("POST", usersPath(user, "deposits"), body, m_token));
        int created = 0, replayed = 0;
        QSet<qint64> ids;
        for (QNetworkReply *reply : replies) {
            const Reply r = finish(reply);
            if (r.status == 201)
                ++created;
            else if (r.status == 200)
                ++replayed;
            else
                qWarning("unexpected %d %s", r.status, r.raw.constData());
            ids.insert(r.body.value(QStringLiteral("id")).toInteger());
        }
        QCOMPARE(created, 1);
        QCOMPARE(replayed, kRequests - 1);
        QCOMPARE(ids.size(), 1);
        QCOMPARE(queryOne(QStringLiteral("SELECT count(*) FROM ledger_entries WHERE user_id = %1").arg(user)).toInt(),
                 1);
        QCOMPARE(get(usersPath(user, "wallet")).text("cash"), QStringLiteral("3.250000000"));
    }

    void invalidBodies_data()
    {
        QTest::addColumn<QString>("kind");
        QTest::addColumn<QByteArray>("body");
        QTest::addColumn<QString>("param");   // empty: no field named (invalid JSON)
        QTest::addColumn<QString>("message"); // a part of the message
        QTest::newRow("negative deposit")
            << "deposits" << QByteArray(R"({"amount":"-5","unique_request_id":"k"})") << "amount"
            << "greater than zero";
        QTest::newRow("zero deposit") << "deposits" << QByteArray(R"({"amount":"0","unique_request_id":"k"})")
                                      << "amount"
                                      << "greater than zero";
        QTest::newRow("negative withdrawal")
            << "withdrawals" << QByteArray(R"({"amount":"-5","unique_request_id":"k"})") << "amount"
            << "greater than zero";
        QTest::newRow("zero credit") << "credits" << QByteArray(R"({"amount":"0.000","unique_request_id":"k"})")
                                     << "amount"
                                     << "zero";
        QTest::newRow("non-numeric") << "deposits" << QByteArray(R"({"amount":"ten","unique_request_id":"k"})")
                                     << "amount"
                                     << "amount";
        QTest::newRow("exponent") << "deposits" << QByteArray(R"({"amount":"1e3","unique_request_id":"k"})") << "amount"
                                  << "amount";
        QTest::newRow("too many decimals")
            << "deposits" << QByteArray(R"({"amount":"1.0000000001","unique_request_id":"k"})") << "amount"
            << "amount";
        QTest::newRow("number, not string")
            << "deposits" << QByteArray(R"({"amount":5,"unique_request_id":"k"})") << "amount"
            << "decimal string";
        QTest::newRow("null amount") << "deposits" << QByteArray(R"({"amount":null,"unique_request_id":"k"})")
                                     << "amount"
                                     << "decimal string";
        QTest::newRow("huge amount") << "deposits"
                                     << QByteArray(R"({"amount":")" + QByteArray(60, '9') +
                                                   R"(","unique_request_id":"k"})")
                                     << "amount"
                                     << "amount";
        QTest::newRow("SQL in amount") << "deposits"
                                       << QByteArray(R"({"amount":"1; DROP TABLE wallets","unique_request_id":"k"})")
                                       << "amount"
                                       << "amount";
        QTest::newRow("missing amount") << "deposits" << QByteArray(R"({"unique_request_id":"k"})") << "amount"
                                        << "required";
        QTest::newRow("missing request id") << "deposits" << QByteArray(R"({"amount":"1"})") << "unique_request_id"
                                            << "required";
        QTest::newRow("empty request id")
            << "deposits" << QByteArray(R"({"amount":"1","unique_request_id":""})") << "unique_request_id"
            << "1 to 200";
        QTest::newRow("huge request id") << "deposits"
                                         << QByteArray(R"({"amount":"1","unique_request_id":")" + QByteArray(201, 'r') +
                                                       R"("})")
                                         << "unique_request_id"
                                         << "200";
        QTest::newRow("numeric request id")
            << "deposits" << QByteArray(R"({"amount":"1","unique_request_id":7})") << "unique_request_id"
            << "string";
        QTest::newRow("huge note") << "deposits"
                                   << QByteArray(R"({"amount":"1","unique_request_id":"k","note":")" +
                                                 QByteArray(100'000, 'n') + R"("})")
                                   << "note"
                                   << "1000";
        QTest::newRow("NUL in note") << "deposits"
                                     << QByteArray(R"({"amount":"1","unique_request_id":"k","note":"a\u0000b"})")
                                     << "note"
                                     << "NUL";
        QTest::newRow("unknown field") << "credits"
                                       << QByteArray(R"({"amount":"1","unique_request_id":"k","user_id":2})")
                                       << "user_id"
                                       << "unknown field";
        QTest::newRow("not JSON") << "deposits" << QByteArray("amount=1") << ""
                                  << "JSON object";
        QTest::newRow("JSON array") << "withdrawals" << QByteArray(R"(["1"])") << ""
                                    << "JSON object";
    }

    void invalidBodies()
    {
        QFETCH(QString, kind);
        QFETCH(QByteArray, body);
        QFETCH(QString, param);
        QFETCH(QString, message);
        const qint64 user = createUser();
        const Reply r = call("POST", QStringLiteral("/api/v1/users/%1/%2").arg(user).arg(kind), body);
        QCOMPARE(r.status, 400);
        QCOMPARE(r.param(), param);
        QVERIFY2(r.error().value(QStringLiteral("message")).toString().contains(message), r.raw.constData());
        QVERIFY(r.raw.size() < 2'000); // a huge input is not echoed back
        QCOMPARE(queryOne(QStringLiteral("SELECT count(*) FROM ledger_entries WHERE user_id = %1").arg(user)).toInt(),
                 0);
    }

    void hostileTextRoundTrips()
    {
        const qint64 user = createUser();
        const QString requestId = QStringLiteral("x' OR '1'='1'; DROP TABLE ledger_entries; --");
        const QString note = QStringLiteral("\"); DELETE FROM wallets; -- %_\\ <script>\u00e9\U0001F600");
        const Reply r = move(user, "deposits", QStringLiteral("1"), requestId, note);
        QCOMPARE(r.status, 201);
        QCOMPARE(r.text("unique_request_id"), requestId);
        QCOMPARE(r.text("note"), note);
        const Reply again = move(user, "deposits", QStringLiteral("1"), requestId);
        QCOMPARE(again.status, 200);
        const Reply ledger = get(usersPath(user, "ledger"));
        QCOMPARE(ledger.status, 200);
        QCOMPARE(ledger.body.value(QStringLiteral("data"))
                     .toArray()
                     .first()
                     .toObject()
                     .value(QStringLiteral("note"))
                     .toString(),
                 note);
        QVERIFY(queryOne(QStringLiteral("SELECT count(*) FROM wallets")).toInt() > 0);
    }

    void ledgerPages()
    {
        const qint64 user = createUser();
        for (int i = 1; i <= 5; ++i)
            QCOMPARE(move(user, "deposits", QString::number(i), QStringLiteral("L%1").arg(i)).status, 201);
        const Reply first = get(usersPath(user, "ledger") + QStringLiteral("?page=1&page_size=2"));
        QCOMPARE(first.status, 200);
        const QJsonArray data = first.body.value(QStringLiteral("data")).toArray();
        QCOMPARE(data.size(), 2);
        QCOMPARE(data[0].toObject().value(QStringLiteral("unique_request_id")).toString(), QStringLiteral("L5"));
        QCOMPARE(data[0].toObject().value(QStringLiteral("cash_after")).toString(), QStringLiteral("15.000000000"));
        QCOMPARE(data[1].toObject().value(QStringLiteral("unique_request_id")).toString(), QStringLiteral("L4"));
        const QJsonObject pagination = first.body.value(QStringLiteral("pagination")).toObject();
        QCOMPARE(pagination.value(QStringLiteral("total")).toInteger(), 5);
        QCOMPARE(pagination.value(QStringLiteral("total_pages")).toInteger(), 3);
        const Reply last = get(usersPath(user, "ledger") + QStringLiteral("?page=3&page_size=2"));
        QCOMPARE(last.body.value(QStringLiteral("data")).toArray().size(), 1);
        QCOMPARE(last.body.value(QStringLiteral("data"))
                     .toArray()[0]
                     .toObject()
                     .value(QStringLiteral("unique_request_id"))
                     .toString(),
                 QStringLiteral("L1"));
        QCOMPARE(get(usersPath(user, "ledger") + QStringLiteral("?page=9"))
                     .body.value(QStringLiteral("data"))
                     .toArray()
                     .size(),
                 0);
        QCOMPARE(get(usersPath(user, "ledger") + QStringLiteral("?page=0")).status, 400);
        QCOMPARE(get(usersPath(user, "ledger") + QStringLiteral("?page_size=1000")).status, 400);
        QCOMPARE(get(usersPath(user, "ledger") + QStringLiteral("?page_size=-1")).status, 400);
    }

    void reservedComesFromRedis()
    {
        const qint64 user = createUser();
        QCOMPARE(move(user, "deposits", QStringLiteral("10"), QStringLiteral("d")).status, 201);
        QCOMPARE(move(user, "credits", QStringLiteral("5"), QStringLiteral("c")).status, 201);
        const billing::UserKeys keys = billing::UserKeys::of(user);
        // What in-flight (res) and finished but unsettled (pend) requests hold, in nanos.
        Result<RedisReply> set = m_redis->command({"HSET", keys.totals, "res", "1500000000", "pend", "250000001"});
        QVERIFY(set.ok() && !set->isError());
        const Reply wallet = get(usersPath(user, "wallet"));
        QCOMPARE(wallet.status, 200);
        QCOMPARE(wallet.text("reserved"), QStringLiteral("1.750000001"));
        QCOMPARE(wallet.text("available"), QStringLiteral("13.249999999"));
        QVERIFY(!wallet.body.contains(QStringLiteral("reserved_unavailable")));

        // More held than the wallet covers: available goes negative rather than hiding it.
        QVERIFY(m_redis->command({"HSET", keys.totals, "res", "20000000000"}).ok());
        QCOMPARE(get(usersPath(user, "wallet")).text("available"), QStringLiteral("-5.250000001"));

        // Garbage in Redis: the database numbers, and the flag.
        QVERIFY(m_redis->command({"HSET", keys.totals, "res", "lots"}).ok());
        const Reply broken = get(usersPath(user, "wallet"));
        QCOMPARE(broken.status, 200);
        QCOMPARE(broken.text("reserved"), QStringLiteral("0.000000000"));
        QCOMPARE(broken.text("available"), QStringLiteral("15.000000000"));
        QCOMPARE(broken.body.value(QStringLiteral("reserved_unavailable")).toBool(), true);
        QVERIFY(m_redis->command({"DEL", keys.totals}).ok());
    }

    void movementsReachAdmission()
    {
        const qint64 user = createUser();
        const Reply deposit = move(user, "deposits", QStringLiteral("4.5"), QStringLiteral("sync-1"));
        QCOMPARE(deposit.status, 201);
        const billing::UserKeys keys = billing::UserKeys::of(user);
        const QByteArray version = QByteArray::number(deposit.body.value(QStringLiteral("id")).toInteger());
        // Announced after the commit, fire-and-forget: poll with a deadline.
        QDeadlineTimer deadline(10'000);
        while (redisField(keys.wallet, "ver") != version && !deadline.hasExpired())
            QTest::qWait(20);
        QCOMPARE(redisField(keys.wallet, "ver"), version);
        QCOMPARE(redisField(keys.wallet, "bal"), QByteArray("4500000000"));

        const Reply credit = move(user, "credits", QStringLiteral("1"), QStringLiteral("sync-2"));
        QCOMPARE(credit.status, 201);
        const QByteArray version2 = QByteArray::number(credit.body.value(QStringLiteral("id")).toInteger());
        while (redisField(keys.wallet, "ver") != version2 && !deadline.hasExpired())
            QTest::qWait(20);
        QCOMPARE(redisField(keys.wallet, "bal"), QByteArray("5500000000"));
        QVERIFY(m_redis->command({"DEL", keys.wallet}).ok());
    }

    void redisDown()
    {
        // A second instance on the same database whose Redis is unreachable: money still moves
        // (PostgreSQL is the truth; admission's cached balance heals by expiry), and the wallet
        // says it could not count reservations.
        const qint64 user = createUser();
        QVERIFY(m_gateway);
        const QByteArray toml =
            "[server]\nbind = \"127.0.0.1:0\"\nthreads = 1\n[database]\nurl = \"" + m_databaseUrl.toUtf8() +
            "\"\npool_size = 1\n[redis]\nurl = \"redis://127.0.0.1:1/0\"\n[admin]\njwt_secret = \"" + kJwtSecret +
            "\"\n[security]\nencryption_key = \"" + QByteArray(64, 'c') + "\"\n";
        Result<Config> config = ConfigLoader::parse(toml, QStringLiteral("down.toml"));
        QVERIFY2(config.ok(), qPrintable(config.ok() ? QString() : config.error().message));
        Gateway other(*config);
        const Status started = other.start();
        QVERIFY2(started.ok(), qPrintable(started.ok() ? QString() : started.error().message));
        const QString base = m_base;
        m_base = QStringLiteral("http://127.0.0.1:%1").arg(other.port());
        auto restore = qScopeGuard([&] {
            m_base = base;
            other.stop(0);
        });
        const Reply deposit = move(user, "deposits", QStringLiteral("2"), QStringLiteral("no-redis"));
        QCOMPARE(deposit.status, 201);
        const Reply wallet = get(usersPath(user, "wallet"));
        QCOMPARE(wallet.status, 200);
        QCOMPARE(wallet.text("cash"), QStringLiteral("2.000000000"));
        QCOMPARE(wallet.text("reserved"), QStringLiteral("0.000000000"));
        QCOMPARE(wallet.text("available"), QStringLiteral("2.000000000"));
        QCOMPARE(wallet.body.value(QStringLiteral("reserved_unavailable")).toBool(), true);
    }
};

QTEST_GUILESS_MAIN(TestWalletApi)
#include "TestWalletApi.moc"
