// The `llmpool` command line (SPEC §9): help and usage errors, configuration errors, every admin
// command against a real database, migrations run twice and concurrently, and `serve` answering
// /healthz and /readyz and stopping on SIGTERM.

#include "ApiKeys.h"
#include "Clock.h"
#include "Jwt.h"
#include "MockUpstream.h"
#include "SharedServices.h"
#include "cli/Command.h"
#include "storage/Database.h"

#include <QEventLoop>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QProcess>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QSqlQuery>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QTest>

#include <csignal>
#include <tuple>

using namespace llmpool;
using namespace llmpool::gateway;

namespace {

struct CliRun
{
    int exitCode = -1;
    QString out;
    QString err;
};

const QByteArray kJwtSecret = QByteArrayLiteral("test-secret-test-secret-test-secret-0123");

} // namespace

class TestCli : public QObject
{
    Q_OBJECT

private:
    // Runs the CLI in-process with injected stdio, as main() would.
    CliRun run(QStringList args, const QString &stdinText = {}, QProcessEnvironment env = {})
    {
        if (env.isEmpty()) {
            env = QProcessEnvironment();
            env.insert(QStringLiteral("LLMPOOL_MIGRATIONS_DIR"), QStringLiteral(LLMPOOL_TEST_MIGRATIONS_DIR));
        }
        QString outText, errText, inText = stdinText;
        QTextStream out(&outText), err(&errText), in(&inText);
        CliContext ctx{out, err, in, env, {}};
        Cli cli;
        args.prepend(QStringLiteral("llmpool"));
        CliRun r;
        r.exitCode = cli.run(args, ctx);
        out.flush();
        err.flush();
        r.out = outText;
        r.err = errText;
        return r;
    }

    // A config file for a fresh, unmigrated database.
    QString writeConfig(const QString &databaseUrl, const QString &redisUrl, const QByteArray &extra = {})
    {
        const QString path = m_dir.filePath(QStringLiteral("cfg-%1.toml").arg(++m_configs));
        QFile f(path);
        if (!f.open(QIODevice::WriteOnly)) {
            qFatal("cannot write %s", qPrintable(path));
        }
        f.write("[database]\nurl = \"" + databaseUrl.toUtf8() + "\"\n[redis]\nurl = \"" + redisUrl.toUtf8() +
                "\"\n[admin]\njwt_secret = \"" + kJwtSecret + "\"\n" + extra);
        return path;
    }

    QString freshConfig(QString *urlOut = nullptr)
    {
        auto url = m_services->createDatabase();
        if (!url) {
            qFatal("createDatabase: %s", qPrintable(url.error().message));
        }
        if (urlOut) {
            *urlOut = *url;
        }
        return writeConfig(*url, m_services->redisUrl());
    }

    QVariant queryOne(const QString &url, const QString &sql)
    {
        DatabaseOptions o;
        o.url = url;
        o.poolSize = 1;
        Database db(o);
        if (!db.start()) {
            return {};
        }
        auto r = db.runSync([sql](QSqlDatabase &conn) -> Result<QVariant> {
            QSqlQuery q(conn);
            if (!q.exec(sql) || !q.next()) {
                return Error::internal(QStringLiteral("test"), QStringLiteral("query failed"));
            }
            return q.value(0);
        });
        return r ? *r : QVariant();
    }

    QTemporaryDir m_dir;
    int m_configs = 0;
    std::unique_ptr<test::SharedServices> m_services;

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        auto services = test::SharedServices::fromEnv();
        QVERIFY2(services.ok(), qPrintable(services.ok() ? QString() : services.error().message));
        m_services = std::move(*services);
    }

    void cleanupTestCase() { m_services.reset(); }

    void help_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<int>("exitCode");
        QTest::addColumn<QString>("expected");
        QTest::newRow("root --help") << QStringList{"--help"} << 0 << "migrate";
        QTest::newRow("no command") << QStringList{} << 2 << "Commands:";
        QTest::newRow("unknown") << QStringList{"frobnicate"} << 2 << "unknown command 'frobnicate'";
        QTest::newRow("admin --help") << QStringList{"admin", "--help"} << 0 << "create-jwt-token";
        QTest::newRow("admin unknown") << QStringList{"admin", "nope"} << 2 << "unknown command 'nope'";
        QTest::newRow("migrate --help") << QStringList{"migrate", "--help"} << 0 << "--config";
        QTest::newRow("serve --help") << QStringList{"serve", "--help"} << 0 << "--bind";
        QTest::newRow("create-user --help") << QStringList{"admin", "create-user", "--help"} << 0 << "--email";
        QTest::newRow("create-api-key --help") << QStringList{"admin", "create-api-key", "--help"} << 0 << "USER_NAME";
        QTest::newRow("bad flag") << QStringList{"migrate", "--bogus"} << 2 << "bogus";
        QTest::newRow("--config without path") << QStringList{"migrate", "--config"} << 2 << "--config needs a PATH";
        QTest::newRow("version") << QStringList{"--version"} << 0 << "llmpool ";
    }

    void help()
    {
        QFETCH(QStringList, args);
        QFETCH(int, exitCode);
        QFETCH(QString, expected);
        const CliRun r = run(args);
        QCOMPARE(r.exitCode, exitCode);
        const QString all = r.out + r.err;
        QVERIFY2(all.contains(expected), qPrintable(all));
    }

    void configErrors_data()
    {
        QTest::addColumn<QByteArray>("toml");
        QTest::addColumn<QString>("key");
        QTest::newRow("wrong type") << QByteArray("[server]\nthreads = \"two\"\n") << "server.threads";
        QTest::newRow("unknown key") << QByteArray("[server]\nbnid = \"x\"\n") << "server.bnid";
        QTest::newRow("bad url") << QByteArray("[database]\nurl = \"mysql://x/y\"\n") << "database.url";
        QTest::newRow("bad bind") << QByteArray("[server]\nbind = \"nowhere\"\n") << "server.bind";
    }

    void configErrors()
    {
        QFETCH(QByteArray, toml);
        QFETCH(QString, key);
        const QString path = m_dir.filePath(QStringLiteral("bad.toml"));
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
        f.write(toml);
        f.close();
        for (const QStringList &args :
             {QStringList{"migrate", "--config", path}, QStringList{"--config", path, "serve"},
              QStringList{"admin", "create-jwt-token", "--config=" + path}}) {
            const CliRun r = run(args);
            QCOMPARE(r.exitCode, 2);
            QVERIFY2(r.err.contains(key) && r.err.contains(QStringLiteral("bad.toml")), qPrintable(r.err));
            QCOMPARE(r.err.count(QLatin1Char('\n')), 1); // one line
        }
        const CliRun missing = run({"migrate", "--config", m_dir.filePath(QStringLiteral("absent.toml"))});
        QCOMPARE(missing.exitCode, 2);
        QVERIFY(missing.err.contains(QStringLiteral("absent.toml")));
    }

    void createJwtToken()
    {
        const QString cfg =
            writeConfig(QStringLiteral("postgres://u@127.0.0.1:1/x"), QStringLiteral("redis://127.0.0.1:1"));
        // --config after and before the subcommand.
        const CliRun a = run({"admin", "create-jwt-token", "--config", cfg, "--expire", "60", "--subject", "ops"});
        QCOMPARE(a.exitCode, 0);
        const CliRun b = run({"--config", cfg, "admin", "create-jwt-token", "--expire", "0"});
        QCOMPARE(b.exitCode, 0);

        const QByteArray tokenA = a.out.trimmed().toLatin1();
        QCOMPARE(a.out.count(QLatin1Char('\n')), 1); // only the token on stdout
        auto claims = Jwt::verify(tokenA, kJwtSecret, Clock::instance().nowSecs());
        QVERIFY(claims.ok());
        QCOMPARE(claims->value(QStringLiteral("sub")).toString(), QStringLiteral("ops"));
        QCOMPARE(claims->value(QStringLiteral("exp")).toInteger() - claims->value(QStringLiteral("iat")).toInteger(),
                 60);
        QVERIFY(!Jwt::verify(tokenA, "another-secret-another-secret-another", Clock::instance().nowSecs()).ok());
        QVERIFY(!Jwt::verify(tokenA, kJwtSecret, Clock::instance().nowSecs() + 61).ok());

        auto noExpiry =
            Jwt::verify(b.out.trimmed().toLatin1(), kJwtSecret, Clock::instance().nowSecs() + 10 * 365 * 86400ll);
        QVERIFY(noExpiry.ok());
        QVERIFY(!noExpiry->contains(QStringLiteral("exp")));

        QCOMPARE(run({"admin", "create-jwt-token", "--config", cfg, "--expire", "-5"}).exitCode, 2);
        QCOMPARE(run({"admin", "create-jwt-token", "--config", cfg, "--expire", "soon"}).exitCode, 2);

        const QString noSecret = m_dir.filePath(QStringLiteral("nosecret.toml"));
        QFile f(noSecret);
        QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
        f.write("[server]\nthreads = 1\n");
        f.close();
        const CliRun c = run({"admin", "create-jwt-token", "--config", noSecret});
        QCOMPARE(c.exitCode, 2);
        QVERIFY2(c.err.contains(QStringLiteral("admin.jwt_secret")), qPrintable(c.err));
        QVERIFY(c.out.isEmpty());
    }

    void migrateTwice()
    {
        const QString cfg = freshConfig();
        const CliRun first = run({"migrate", "--config", cfg});
        QVERIFY2(first.exitCode == 0, qPrintable(first.err));
        QVERIFY2(first.out.contains(QStringLiteral("applied 0001")), qPrintable(first.out));
        const CliRun second = run({"migrate", "--config", cfg});
        QCOMPARE(second.exitCode, 0);
        QVERIFY2(second.out.contains(QStringLiteral("up to date")), qPrintable(second.out));
    }

    void migrateConcurrently()
    {
        QString url;
        const QString cfg = freshConfig(&url);
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("LLMPOOL_MIGRATIONS_DIR"), QStringLiteral(LLMPOOL_TEST_MIGRATIONS_DIR));
        QProcess a, b;
        for (QProcess *p : {&a, &b}) {
            p->setProcessEnvironment(env);
            p->start(QStringLiteral(LLMPOOL_TEST_BINARY), {"migrate", "--config", cfg});
        }
        QVERIFY(a.waitForFinished(60'000));
        QVERIFY(b.waitForFinished(60'000));
        QCOMPARE(a.exitCode(), 0);
        QCOMPARE(b.exitCode(), 0);
        const QString outA = QString::fromUtf8(a.readAllStandardOutput());
        const QString outB = QString::fromUtf8(b.readAllStandardOutput());
        // Exactly one of them applied the migrations; the other waited and found nothing to do.
        QCOMPARE(int(outA.contains(QStringLiteral("applied"))) + int(outB.contains(QStringLiteral("applied"))), 1);
        QCOMPARE(int(outA.contains(QStringLiteral("up to date"))) + int(outB.contains(QStringLiteral("up to date"))),
                 1);
        QCOMPARE(queryOne(url, QStringLiteral("SELECT count(*) FROM schema_migrations WHERE version = 1")).toInt(), 1);
    }

    void createUserAndKey()
    {
        QString url;
        const QString cfg = freshConfig(&url);
        QCOMPARE(run({"migrate", "--config", cfg}).exitCode, 0);

        const CliRun alice =
            run({"admin", "create-user", "--config", cfg, "--name", "alice", "--email", "a@example.com"});
        QVERIFY2(alice.exitCode == 0, qPrintable(alice.err));
        QVERIFY(alice.out.contains(QStringLiteral("alice")));
        const CliRun dup = run({"admin", "create-user", "--config", cfg, "--name", "alice"});
        QCOMPARE(dup.exitCode, 1);
        QVERIFY2(dup.err.contains(QStringLiteral("alice")), qPrintable(dup.err));

        // Prompted for the name when --name is absent.
        const CliRun bob = run({"admin", "create-user", "--config", cfg}, QStringLiteral("bob\n"));
        QVERIFY2(bob.exitCode == 0, qPrintable(bob.err));
        QVERIFY(bob.err.contains(QStringLiteral("User name")));
        QCOMPARE(queryOne(url, QStringLiteral("SELECT count(*) FROM users")).toInt(), 2);
        QCOMPARE(queryOne(url, QStringLiteral("SELECT count(*) FROM wallets")).toInt(), 2);
        QCOMPARE(run({"admin", "create-user", "--config", cfg}, QStringLiteral("\n")).exitCode, 2);

        const CliRun key = run({"admin", "create-api-key", "alice", "--config", cfg, "--name", "ci"});
        QVERIFY2(key.exitCode == 0, qPrintable(key.err));
        static const QRegularExpression keyLine(QStringLiteral("^sk-lp-[A-Za-z0-9]{48}\\n$"));
        QVERIFY2(keyLine.match(key.out).hasMatch(), qPrintable(key.out));
        const QString plaintext = key.out.trimmed();
        // Only the SHA-256 is stored; the plaintext appears nowhere in the table.
        QCOMPARE(queryOne(url, QStringLiteral("SELECT key_hash FROM api_keys WHERE name = 'ci'")).toByteArray(),
                 ApiKeys::hash(plaintext));
        QCOMPARE(
            queryOne(url,
                     QStringLiteral("SELECT count(*) FROM api_keys k WHERE k::text LIKE '%%1%'").arg(plaintext.mid(12)))
                .toInt(),
            0);

        const CliRun second = run({"admin", "create-api-key", "alice", "--config", cfg});
        QCOMPARE(second.exitCode, 0);
        QVERIFY(second.out.trimmed() != plaintext);

        const CliRun nobody = run({"admin", "create-api-key", "nobody", "--config", cfg});
        QCOMPARE(nobody.exitCode, 1);
        QVERIFY(nobody.out.isEmpty());
        QVERIFY2(nobody.err.contains(QStringLiteral("nobody")), qPrintable(nobody.err));
        QCOMPARE(run({"admin", "create-api-key", "--config", cfg}).exitCode, 2);
    }

    void databaseDown()
    {
        // A port nothing listens on: a clear error and exit 1, never a hang or a crash.
        QTcpServer probe;
        QVERIFY(probe.listen(QHostAddress::LocalHost, 0));
        const quint16 port = probe.serverPort();
        probe.close();
        const QString cfg =
            writeConfig(QStringLiteral("postgres://u:hunter2secret@127.0.0.1:%1/x").arg(port), m_services->redisUrl());
        const CliRun r = run({"admin", "create-user", "--config", cfg, "--name", "carol"});
        QCOMPARE(r.exitCode, 1);
        QVERIFY(!r.err.isEmpty());
        QVERIFY(!r.err.contains(QStringLiteral("hunter2secret")));
    }

    void serve()
    {
        QString url;
        const QString cfg = freshConfig(&url);
        QCOMPARE(run({"migrate", "--config", cfg}).exitCode, 0);

        QProcess gateway;
        gateway.setProcessChannelMode(QProcess::SeparateChannels);
        gateway.start(QStringLiteral(LLMPOOL_TEST_BINARY), {"serve", "--config", cfg, "--bind", "127.0.0.1:0"});
        QVERIFY(gateway.waitForStarted());
        QTRY_VERIFY_WITH_TIMEOUT(gateway.canReadLine() || gateway.state() == QProcess::NotRunning, 20'000);
        const QString line = QString::fromUtf8(gateway.readLine());
        static const QRegularExpression listening(QStringLiteral("listening on http://127\\.0\\.0\\.1:(\\d+)"));
        const auto m = listening.match(line);
        QVERIFY2(m.hasMatch(), qPrintable(line + QString::fromUtf8(gateway.readAllStandardError())));
        const QString base = QStringLiteral("http://127.0.0.1:") + m.captured(1);

        QNetworkAccessManager nam;
        auto get = [&](const QString &path) {
            QNetworkReply *reply = nam.get(QNetworkRequest(QUrl(base + path)));
            QSignalSpy done(reply, &QNetworkReply::finished);
            done.wait(10'000);
            const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
            const QJsonObject body = QJsonDocument::fromJson(reply->readAll()).object();
            reply->deleteLater();
            return std::pair{status, body};
        };
        auto [healthStatus, health] = get(QStringLiteral("/healthz"));
        QCOMPARE(healthStatus, 200);
        QCOMPARE(health.value(QStringLiteral("status")).toString(), QStringLiteral("ok"));

        // Ready at the first ask: /readyz waits (within its deadline) for connections still being made.
        auto [readyStatus, ready] = get(QStringLiteral("/readyz"));
        QCOMPARE(readyStatus, 200);
        QCOMPARE(ready.value(QStringLiteral("checks")).toObject().value(QStringLiteral("redis")).toString(),
                 QStringLiteral("ok"));

        auto [missingStatus, missing] = get(QStringLiteral("/nope"));
        QCOMPARE(missingStatus, 404);
        QVERIFY(missing.value(QStringLiteral("error")).toObject().contains(QStringLiteral("type")));

        ::kill(pid_t(gateway.processId()), SIGTERM);
        QVERIFY(gateway.waitForFinished(15'000));
        QCOMPARE(gateway.exitStatus(), QProcess::NormalExit);
        QCOMPARE(gateway.exitCode(), 0);
    }

    void openaiDetectAndAdd()
    {
        test::MockUpstream mock;
        QVERIFY(mock.start({"--api-key", "sk-upstream-secret-0001", "--models", "gpt-4o-mini,text-embed"}).ok());
        const CliRun detected =
            run({"openai", "detect", "--api-key", "sk-upstream-secret-0001", "--api-base", mock.apiBase()});
        QVERIFY2(detected.exitCode == 0, qPrintable(detected.err));
        QVERIFY2(detected.out.contains(QStringLiteral("gpt-4o-mini")) &&
                     detected.out.contains(QStringLiteral("text-embed")),
                 qPrintable(detected.out));
        QVERIFY(detected.out.contains(QStringLiteral("yes")));
        // Image generation is billable: never probed unless asked.
        const auto images = mock.stats();
        QVERIFY(images.ok());
        QVERIFY2(!QJsonDocument(*images).toJson().contains("images/generations"),
                 QJsonDocument(*images).toJson().constData());

        const CliRun wrongKey = run({"openai", "detect", "--api-key", "sk-wrong", "--api-base", mock.apiBase()});
        QCOMPARE(wrongKey.exitCode, 1);
        QVERIFY(wrongKey.err.contains(QStringLiteral("401")));
        QVERIFY(!wrongKey.err.contains(QStringLiteral("sk-wrong")));
        QCOMPARE(run({"openai", "detect", "--api-base", mock.apiBase()}).exitCode, 2);
        QCOMPARE(run({"openai", "detect", "--api-key", "k", "--api-base", "ftp://x"}).exitCode, 2);
        QCOMPARE(run({"openai", "detect", "--api-key", "k", "--kind", "nope"}).exitCode, 2);

        auto created = m_services->createDatabase();
        QVERIFY(created.ok());
        const QString url = *created;
        const QString cfg =
            writeConfig(url, m_services->redisUrl(), "[security]\nencryption_key = \"" + QByteArray(64, 'a') + "\"\n");
        QCOMPARE(run({"migrate", "--config", cfg}).exitCode, 0);
        const CliRun added = run({"openai", "add", "--config", cfg, "--name", "mock", "--api-key",
                                  "sk-upstream-secret-0001", "--api-base", mock.apiBase()});
        QVERIFY2(added.exitCode == 0, qPrintable(added.err));
        QVERIFY2(added.out.contains(QStringLiteral("2 models, 2 enabled")), qPrintable(added.out));
        // Encrypted at rest; only a masked preview is readable.
        QCOMPARE(queryOne(url, QStringLiteral("SELECT api_key_format FROM upstreams")).toString(),
                 QStringLiteral("aes-256-gcm"));
        QCOMPARE(queryOne(url, QStringLiteral("SELECT api_key_preview FROM upstreams")).toString(),
                 QStringLiteral("sk-u…0001"));
        QCOMPARE(queryOne(url, QStringLiteral("SELECT count(*) FROM upstreams WHERE api_key_encrypted LIKE '%secret%'"))
                     .toInt(),
                 0);
        QCOMPARE(
            queryOne(url, QStringLiteral("SELECT count(*) FROM models WHERE enabled AND 'chat' = ANY(capabilities)"))
                .toInt(),
            2);
        const CliRun again = run({"openai", "add", "--config", cfg, "--name", "mock", "--api-key", "k", "--api-base",
                                  mock.apiBase(), "--no-detect"});
        QCOMPARE(again.exitCode, 1);
        QVERIFY(again.err.contains(QStringLiteral("already exists")));
    }

    void serveNotReadyWithoutRedis()
    {
        QTcpServer probe;
        QVERIFY(probe.listen(QHostAddress::LocalHost, 0));
        const quint16 deadPort = probe.serverPort();
        probe.close();
        auto created = m_services->createDatabase();
        QVERIFY(created.ok());
        const QString cfg = writeConfig(*created, QStringLiteral("redis://127.0.0.1:%1/0").arg(deadPort));

        QProcess gateway;
        gateway.start(QStringLiteral(LLMPOOL_TEST_BINARY), {"serve", "--config", cfg, "--bind", "127.0.0.1:0"});
        QVERIFY(gateway.waitForStarted());
        QTRY_VERIFY_WITH_TIMEOUT(gateway.canReadLine() || gateway.state() == QProcess::NotRunning, 20'000);
        const auto m = QRegularExpression(QStringLiteral(":(\\d+)\\s*$")).match(QString::fromUtf8(gateway.readLine()));
        QVERIFY(m.hasMatch());
        QNetworkAccessManager nam;
        QNetworkReply *reply =
            nam.get(QNetworkRequest(QUrl(QStringLiteral("http://127.0.0.1:%1/readyz").arg(m.captured(1)))));
        QSignalSpy done(reply, &QNetworkReply::finished);
        QVERIFY(done.wait(10'000));
        QCOMPARE(reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), 503);
        const QJsonObject body = QJsonDocument::fromJson(reply->readAll()).object();
        QCOMPARE(body.value(QStringLiteral("status")).toString(), QStringLiteral("not_ready"));
        QVERIFY(body.value(QStringLiteral("checks")).toObject().value(QStringLiteral("redis")).toString() !=
                QStringLiteral("ok"));
        delete reply;
        ::kill(pid_t(gateway.processId()), SIGINT);
        QVERIFY(gateway.waitForFinished(15'000));
        QCOMPARE(gateway.exitCode(), 0);
    }
};

QTEST_GUILESS_MAIN(TestCli)
#include "TestCli.moc"
