// SPEC §4 / §9: rotate and revoke take effect on every gateway instance within a second. Two real
// `llmpool serve` processes share one PostgreSQL database and one Redis; keys are rotated and
// revoked through instance A's admin API while instance B — which has the key cached from a
// request it just served — is polled (no sleeps) until it answers 401, against a 1-second deadline
// counted from A's response.

#include "Clock.h"
#include "Jwt.h"
#include "SharedServices.h"

#include <QDeadlineTimer>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QProcess>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <csignal>

using namespace llmpool;

namespace {

const QByteArray kJwtSecret = QByteArrayLiteral("two-instances-test-secret-0123456789abcdef");
constexpr qint64 kPropagationMs = 1'000;

} // namespace

class TestTwoInstances : public QObject
{
    Q_OBJECT

private:
    struct Reply
    {
        int status = 0;
        QJsonObject body;
    };

    Reply send(const QByteArray &method, const QString &url, const QByteArray &credentials, const QByteArray &body = {})
    {
        QNetworkRequest request{QUrl(url)};
        request.setRawHeader("authorization", "Bearer " + credentials);
        if (!body.isEmpty())
            request.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
        QNetworkReply *reply = m_nam.sendCustomRequest(request, method, body);
        QSignalSpy done(reply, &QNetworkReply::finished);
        if (!reply->isFinished())
            done.wait(10'000);
        Reply r{reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(),
                QJsonDocument::fromJson(reply->readAll()).object()};
        reply->deleteLater();
        return r;
    }

    // Polls `key` on `base` until it answers `status` or `deadlineMs` from `since` pass; returns
    // the milliseconds it took, or -1.
    qint64 waitForStatus(const QString &base, const QByteArray &key, int status, const QElapsedTimer &since,
                         qint64 deadlineMs)
    {
        int last = 0;
        do {
            last = send("GET", base + QStringLiteral("/v1/models"), key).status;
            if (last == status)
                return since.elapsed();
        } while (since.elapsed() <= deadlineMs);
        qWarning("still %d after %lld ms (wanted %d)", last, since.elapsed(), status);
        return -1;
    }

    QString startServe(QProcess &process)
    {
        process.setProcessChannelMode(QProcess::SeparateChannels);
        process.start(QStringLiteral(LLMPOOL_TEST_BINARY), {"serve", "--config", m_config, "--bind", "127.0.0.1:0"});
        if (!process.waitForStarted())
            return {};
        QDeadlineTimer deadline(30'000);
        while (!process.canReadLine() && process.state() == QProcess::Running && !deadline.hasExpired())
            process.waitForReadyRead(int(std::max<qint64>(1, deadline.remainingTime())));
        const QString line = QString::fromUtf8(process.readLine());
        static const QRegularExpression listening(QStringLiteral("listening on http://127\\.0\\.0\\.1:(\\d+)"));
        const auto m = listening.match(line);
        if (!m.hasMatch()) {
            qWarning("serve did not start: %s %s", qPrintable(line), process.readAllStandardError().constData());
            return {};
        }
        return QStringLiteral("http://127.0.0.1:") + m.captured(1);
    }

    static void stopServe(QProcess &process)
    {
        if (process.state() == QProcess::NotRunning)
            return;
        ::kill(pid_t(process.processId()), SIGTERM);
        if (!process.waitForFinished(15'000))
            process.kill();
    }

    std::unique_ptr<test::SharedServices> m_services;
    QTemporaryDir m_dir;
    QString m_config;
    QNetworkAccessManager m_nam;
    QProcess m_a;
    QProcess m_b;
    QString m_baseA;
    QString m_baseB;
    QByteArray m_token;

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        auto services = test::SharedServices::fromEnv();
        QVERIFY2(services.ok(), qPrintable(services.ok() ? QString() : services.error().message));
        m_services = std::move(*services);
        auto url = m_services->createDatabase();
        QVERIFY(url.ok());
        m_config = m_dir.filePath(QStringLiteral("llmpool.toml"));
        QFile file(m_config);
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write("[server]\nthreads = 2\n[database]\nurl = \"" + url->toUtf8() +
                   "\"\npool_size = 2\n[redis]\nurl = \"" + m_services->redisUrl().toUtf8() +
                   "\"\n[admin]\njwt_secret = \"" + kJwtSecret + "\"\n[security]\nencryption_key = \"" +
                   QByteArray(64, 'e') + "\"\n");
        file.close();

        QProcess migrate;
        migrate.start(QStringLiteral(LLMPOOL_TEST_BINARY), {"migrate", "--config", m_config});
        QVERIFY(migrate.waitForFinished(60'000));
        QVERIFY2(migrate.exitCode() == 0, migrate.readAllStandardError().constData());

        m_baseA = startServe(m_a);
        QVERIFY(!m_baseA.isEmpty());
        m_baseB = startServe(m_b);
        QVERIFY(!m_baseB.isEmpty());
        QVERIFY(m_baseA != m_baseB);

        Result<QByteArray> token =
            Jwt::mintAdminToken(kJwtSecret, QStringLiteral("two-instances"), 3600, Clock::instance().nowSecs());
        QVERIFY(token.ok());
        m_token = *token;
    }

    void cleanupTestCase()
    {
        stopServe(m_a);
        stopServe(m_b);
        QCOMPARE(m_a.exitCode(), 0);
        QCOMPARE(m_b.exitCode(), 0);
        m_services.reset();
    }

    void rotateAndRevokeReachTheOtherInstance()
    {
        const Reply user = send("POST", m_baseA + QStringLiteral("/api/v1/users"), m_token, R"({"name":"two"})");
        QCOMPARE(user.status, 201);
        const qint64 userId = user.body.value("id").toInteger();
        const Reply created =
            send("POST", m_baseA + QStringLiteral("/api/v1/users/%1/keys").arg(userId), m_token, R"({"name":"k"})");
        QCOMPARE(created.status, 201);
        const qint64 keyId = created.body.value("id").toInteger();
        const QByteArray oldKey = created.body.value("key").toString().toLatin1();

        // B knows the key and caches it (a few answers, so every thread of B has seen it).
        QElapsedTimer timer;
        timer.start();
        QVERIFY(waitForStatus(m_baseB, oldKey, 200, timer, 5'000) >= 0);
        for (int i = 0; i < 4; ++i)
            QCOMPARE(send("GET", m_baseB + QStringLiteral("/v1/models"), oldKey).status, 200);

        // Rotate on A: the old secret is dead on B within a second, the new one works there.
        const Reply rotated = send("POST", m_baseA + QStringLiteral("/api/v1/keys/%1/rotate").arg(keyId), m_token);
        timer.restart();
        QCOMPARE(rotated.status, 200);
        const QByteArray newKey = rotated.body.value("key").toString().toLatin1();
        QVERIFY(newKey.startsWith("sk-lp-") && newKey != oldKey);
        const qint64 rotateMs = waitForStatus(m_baseB, oldKey, 401, timer, kPropagationMs);
        QVERIFY2(rotateMs >= 0, "the rotated key still works on instance B after 1 s");
        for (int i = 0; i < 4; ++i)
            QCOMPARE(send("GET", m_baseB + QStringLiteral("/v1/models"), oldKey).status, 401);
        QVERIFY(waitForStatus(m_baseB, newKey, 200, timer, rotateMs + kPropagationMs) >= 0);
        for (int i = 0; i < 4; ++i)
            QCOMPARE(send("GET", m_baseB + QStringLiteral("/v1/models"), newKey).status, 200);

        // Revoke on A: dead on B within a second.
        const Reply revoked = send("DELETE", m_baseA + QStringLiteral("/api/v1/keys/%1").arg(keyId), m_token);
        timer.restart();
        QCOMPARE(revoked.status, 200);
        const qint64 revokeMs = waitForStatus(m_baseB, newKey, 401, timer, kPropagationMs);
        QVERIFY2(revokeMs >= 0, "the revoked key still works on instance B after 1 s");
        for (int i = 0; i < 4; ++i)
            QCOMPARE(send("GET", m_baseB + QStringLiteral("/v1/models"), newKey).status, 401);
        QCOMPARE(send("GET", m_baseA + QStringLiteral("/v1/models"), newKey).status, 401);
        qInfo("instance B refused the rotated key after %lld ms and the revoked key after %lld ms", rotateMs, revokeMs);
    }
};

QTEST_GUILESS_MAIN(TestTwoInstances)
#include "TestTwoInstances.moc"
