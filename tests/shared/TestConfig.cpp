#include "Config.h"

#include <QDir>
#include <QFile>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>

using namespace llmpool;

namespace {

const char kSecretPassword[] = "hunter2-db-pass";
const char kJwtSecret[] = "jwt-secret-value-that-must-never-leak-0123";

QProcessEnvironment envWith(std::initializer_list<std::pair<const char *, QString>> vars)
{
    QProcessEnvironment env;
    for (const auto &[k, v] : vars)
        env.insert(QString::fromLatin1(k), v);
    return env;
}

bool writeFile(const QString &path, const QByteArray &content)
{
    QFile f(path);
    return f.open(QIODevice::WriteOnly | QIODevice::Truncate) && f.write(content) == content.size();
}

QByteArray bindFile(int port)
{
    return QStringLiteral("[server]\nbind = \"127.0.0.1:%1\"\n").arg(port).toUtf8();
}

QString sourceDir()
{
    const QString fromEnv = qEnvironmentVariable("LLMPOOL_SOURCE_DIR");
    return fromEnv.isEmpty() ? QStringLiteral(LLMPOOL_SOURCE_DIR_FALLBACK) : fromEnv;
}

} // namespace

class TestConfig : public QObject
{
    Q_OBJECT

private slots:
    void init();

    void defaultsWithoutFile();
    void precedence();
    void missingRequestedFile();
    void invalidLocalFileIsAnError();
    void environmentOverrides();
    void environmentOverrideInvalid();
    void fullFile();
    void errors_data();
    void errors();
    void syntaxErrorHasLineAndColumn();
    void exampleEqualsDefaults();
    void exampleDocumentsEveryKey();
    void bind_data();
    void bind();
    void databaseUrl_data();
    void databaseUrl();
    void databaseUrlComponents_data();
    void databaseUrlComponents();
    void redisUrl_data();
    void redisUrl();
    void redisUrlUserInfo();
    void redaction_data();
    void redaction();
    void weakSecretsWarn();

private:
    std::unique_ptr<QTemporaryDir> m_dir;
    QString path(const QString &name) const { return m_dir->filePath(name); }
};

void TestConfig::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
}

void TestConfig::defaultsWithoutFile()
{
    const auto config = ConfigLoader::load(QString(), QProcessEnvironment(), m_dir->path());
    QVERIFY(config.ok());
    QCOMPARE(*config, Config{});
    QVERIFY(config->sourcePath.isEmpty());
    QCOMPARE(config->server.bind.toString(), QStringLiteral("127.0.0.1:19324"));
    QCOMPARE(config->server.maxBodyBytes, 16 * 1024 * 1024);
    QCOMPARE(config->server.maxHeaderBytes, 64 * 1024);
    QCOMPARE(config->upstream.maxAttempts, 3);
    QCOMPARE(config->billing.currency, QStringLiteral("USD"));
    QVERIFY(config->billing.reservation);
    QCOMPARE(config->billing.defaultMaxOutputTokens, 4096);
    QVERIFY(config->worker.inProcess);
    QCOMPARE(config->usage.retentionDays, 90);
    QCOMPARE(config->database.parsedUrl, DatabaseUrl::parse(config->database.url).value());
    QCOMPARE(config->redis.parsedUrl, RedisUrl::parse(config->redis.url).value());
    QVERIFY(config->server.effectiveThreads() >= 1);
}

void TestConfig::precedence()
{
    QVERIFY(writeFile(path("explicit.toml"), bindFile(1001)));
    QVERIFY(writeFile(path("env.toml"), bindFile(1002)));
    QVERIFY(writeFile(path("llmpool.toml"), bindFile(1003)));
    const auto env = envWith({{"LLMPOOL_CONFIG", path("env.toml")}});

    auto c = ConfigLoader::load(path("explicit.toml"), env, m_dir->path());
    QVERIFY(c.ok());
    QCOMPARE(c->server.bind.port, 1001);
    QCOMPARE(c->sourcePath, path("explicit.toml"));

    // A relative --config resolves against the working directory.
    c = ConfigLoader::load(QStringLiteral("explicit.toml"), env, m_dir->path());
    QVERIFY(c.ok());
    QCOMPARE(c->server.bind.port, 1001);

    c = ConfigLoader::load(QString(), env, m_dir->path());
    QVERIFY(c.ok());
    QCOMPARE(c->server.bind.port, 1002);
    QCOMPARE(c->sourcePath, path("env.toml"));

    c = ConfigLoader::load(QString(), QProcessEnvironment(), m_dir->path());
    QVERIFY(c.ok());
    QCOMPARE(c->server.bind.port, 1003);
    QCOMPARE(c->sourcePath, QStringLiteral("llmpool.toml"));

    // An empty LLMPOOL_CONFIG counts as unset.
    c = ConfigLoader::load(QString(), envWith({{"LLMPOOL_CONFIG", QString()}}), m_dir->path());
    QVERIFY(c.ok());
    QCOMPARE(c->server.bind.port, 1003);
}

void TestConfig::missingRequestedFile()
{
    QVERIFY(writeFile(path("llmpool.toml"), bindFile(1003)));
    const QString missing = path("nope.toml");

    auto c = ConfigLoader::load(missing, QProcessEnvironment(), m_dir->path());
    QVERIFY(!c.ok());
    QCOMPARE(c.error().code, QStringLiteral("config_invalid"));
    QVERIFY(c.error().message.startsWith(missing + u':'));
    QVERIFY(c.error().message.contains(QLatin1StringView("--config")));
    QVERIFY(!c.error().message.contains(u'\n'));

    c = ConfigLoader::load(QString(), envWith({{"LLMPOOL_CONFIG", missing}}), m_dir->path());
    QVERIFY(!c.ok());
    QVERIFY(c.error().message.startsWith(missing + u':'));
    QVERIFY(c.error().message.contains(QLatin1StringView("$LLMPOOL_CONFIG")));

    QVERIFY(QDir(m_dir->path()).mkdir(QStringLiteral("adir")));
    c = ConfigLoader::load(path("adir"), QProcessEnvironment(), m_dir->path());
    QVERIFY(!c.ok());
    QVERIFY(c.error().message.contains(QLatin1StringView("directory")));
}

void TestConfig::invalidLocalFileIsAnError()
{
    QVERIFY(writeFile(path("llmpool.toml"), "[server]\nthreads = \"two\"\n"));
    const auto c = ConfigLoader::load(QString(), QProcessEnvironment(), m_dir->path());
    QVERIFY(!c.ok());
    QCOMPARE(c.error().message, QStringLiteral("llmpool.toml: server.threads: expected an integer, got a string"));
}

void TestConfig::environmentOverrides()
{
    QVERIFY(writeFile(path("c.toml"), "[database]\nurl = \"postgres://file@filehost/filedb\"\n"
                                      "[redis]\nurl = \"redis://filehost:6000/1\"\n"));
    const QString dbUrl = QStringLiteral("postgresql://app:%1@db.internal:6543/prod?sslmode=require")
                              .arg(QLatin1StringView(kSecretPassword));
    const auto c = ConfigLoader::load(
        path("c.toml"),
        envWith({{"DATABASE_URL", dbUrl}, {"REDIS_URL", QStringLiteral("redis://:pw@cache.internal:6380/2")}}),
        m_dir->path());
    QVERIFY(c.ok());
    QCOMPARE(c->database.url, dbUrl);
    QCOMPARE(c->database.parsedUrl.host, QStringLiteral("db.internal"));
    QCOMPARE(c->database.parsedUrl.port, 6543);
    QCOMPARE(c->database.parsedUrl.user, QStringLiteral("app"));
    QCOMPARE(c->database.parsedUrl.password, QString::fromLatin1(kSecretPassword));
    QCOMPARE(c->database.parsedUrl.database, QStringLiteral("prod"));
    QCOMPARE(c->database.parsedUrl.connectOptions(), QStringLiteral("sslmode='require'"));
    QCOMPARE(c->redis.parsedUrl.host, QStringLiteral("cache.internal"));
    QCOMPARE(c->redis.parsedUrl.port, 6380);
    QCOMPARE(c->redis.parsedUrl.db, 2);
    QCOMPARE(c->redis.parsedUrl.password, QStringLiteral("pw"));

    // Without the variables the file's values stand; empty variables count as unset.
    const auto f = ConfigLoader::load(path("c.toml"), envWith({{"DATABASE_URL", QString()}}), m_dir->path());
    QVERIFY(f.ok());
    QCOMPARE(f->database.parsedUrl.host, QStringLiteral("filehost"));
    QCOMPARE(f->redis.parsedUrl.port, 6000);
}

void TestConfig::environmentOverrideInvalid()
{
    auto c = ConfigLoader::load(
        QString(),
        envWith({{"DATABASE_URL", QStringLiteral("mysql://root:%1@h/db").arg(QLatin1StringView(kSecretPassword))}}),
        m_dir->path());
    QVERIFY(!c.ok());
    QVERIFY2(c.error().message.startsWith(QLatin1StringView("$DATABASE_URL: database.url: ")),
             qPrintable(c.error().message));
    QVERIFY(c.error().message.contains(QLatin1StringView("mysql")));
    QVERIFY(!c.error().message.contains(QLatin1StringView(kSecretPassword)));

    c = ConfigLoader::load(QString(), envWith({{"REDIS_URL", QStringLiteral("redis://:%1@/0").arg(kSecretPassword)}}),
                           m_dir->path());
    QVERIFY(!c.ok());
    QVERIFY2(c.error().message.startsWith(QLatin1StringView("$REDIS_URL: redis.url: ")), qPrintable(c.error().message));
    QVERIFY(!c.error().message.contains(QLatin1StringView(kSecretPassword)));
}

void TestConfig::fullFile()
{
    const QByteArray toml = R"(
[server]
bind = "[::1]:8080"
threads = 3
max_body_bytes = 1048576
[database]
url = "postgres://u:p%40ss@/llm?host=%2Fvar%2Frun%2Fpostgresql&application_name=gw"
pool_size = 8
[redis]
url = "unix://:pw@/run/redis/redis.sock?db=3"
[admin]
jwt_secret = "0123456789abcdef0123456789abcdef"
static_key = "static-admin-key-1234"
[security]
encryption_key = "00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff"
[upstream]
max_attempts = 5
eject_base_ms = 1000
eject_max_ms = 1000
[billing]
currency = "CNY"
reservation = false
[worker]
in_process = false
concurrency = 4
[rate_limit]
enabled = false
default_rpm = 60
default_tpm = 100000
[telemetry]
log_format = "json"
otlp_endpoint = "http://127.0.0.1:4318"
service_name = "gw-1"
[usage]
retention_days = 0
)";
    const auto c = ConfigLoader::parse(toml, QStringLiteral("full.toml"));
    QVERIFY2(c.ok(), qPrintable(c.ok() ? QString() : c.error().message));
    QCOMPARE(c->server.bind.host, QStringLiteral("::1"));
    QCOMPARE(c->server.bind.port, 8080);
    QCOMPARE(c->server.threads, 3);
    QCOMPARE(c->server.effectiveThreads(), 3);
    QCOMPARE(c->server.maxBodyBytes, 1048576);
    QCOMPARE(c->database.parsedUrl.host, QStringLiteral("/var/run/postgresql"));
    QCOMPARE(c->database.parsedUrl.password, QStringLiteral("p@ss"));
    QCOMPARE(c->database.parsedUrl.database, QStringLiteral("llm"));
    QCOMPARE(c->database.parsedUrl.connectOptions(), QStringLiteral("application_name='gw'"));
    QCOMPARE(c->database.poolSize, 8);
    QCOMPARE(c->redis.parsedUrl.transport, RedisUrl::Transport::Unix);
    QCOMPARE(c->redis.parsedUrl.socketPath, QStringLiteral("/run/redis/redis.sock"));
    QCOMPARE(c->redis.parsedUrl.db, 3);
    QCOMPARE(c->redis.parsedUrl.password, QStringLiteral("pw"));
    QCOMPARE(c->admin.jwtSecret, QByteArray("0123456789abcdef0123456789abcdef"));
    QCOMPARE(c->admin.staticKey, QByteArray("static-admin-key-1234"));
    QCOMPARE(c->security.encryptionKey.size(), 32);
    QCOMPARE(c->security.encryptionKey.toHex(),
             QByteArray("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"));
    QCOMPARE(c->upstream.maxAttempts, 5);
    QCOMPARE(c->billing.currency, QStringLiteral("CNY"));
    QVERIFY(!c->billing.reservation);
    QVERIFY(!c->worker.inProcess);
    QCOMPARE(c->worker.concurrency, 4);
    QVERIFY(!c->rateLimit.enabled);
    QCOMPARE(c->rateLimit.defaultRpm, 60);
    QCOMPARE(c->rateLimit.defaultTpm, 100000);
    QCOMPARE(c->telemetry.logFormat, TelemetryConfig::LogFormat::Json);
    QCOMPARE(c->telemetry.otlpEndpoint, QStringLiteral("http://127.0.0.1:4318"));
    QCOMPARE(c->telemetry.serviceName, QStringLiteral("gw-1"));
    QCOMPARE(c->usage.retentionDays, 0);
    QVERIFY(c->warnings.isEmpty());
}

void TestConfig::errors_data()
{
    QTest::addColumn<QByteArray>("toml");
    QTest::addColumn<QString>("expected"); // the whole message, or a prefix ending in "…"
    QTest::addColumn<QString>("key");

    QTest::newRow("wrong type") << QByteArray("[server]\nthreads = \"two\"\n")
                                << "x.toml: server.threads: expected an integer, got a string"
                                << "server.threads";
    QTest::newRow("float for integer") << QByteArray("[server]\nthreads = 2.0\n")
                                       << "x.toml: server.threads: expected an integer, got a float"
                                       << "server.threads";
    QTest::newRow("string for bool") << QByteArray("[billing]\nreservation = \"yes\"\n")
                                     << "x.toml: billing.reservation: expected a boolean, got a string"
                                     << "billing.reservation";
    QTest::newRow("unknown key") << QByteArray("[server]\nbnid = \"127.0.0.1:1\"\n")
                                 << "x.toml: unknown key \"server.bnid\" (line 2)"
                                 << "server.bnid";
    QTest::newRow("unknown nested table")
        << QByteArray("[server.tls]\ncert = \"x\"\n") << "x.toml: unknown key \"server.tls\" (line 1)"
        << "server.tls";
    QTest::newRow("unknown section") << QByteArray("[serverr]\nbind = \"x\"\n")
                                     << "x.toml: unknown section \"serverr\" (line 1)"
                                     << "serverr";
    QTest::newRow("unknown top-level key")
        << QByteArray("bind = \"127.0.0.1:1\"\n") << "x.toml: unknown key \"bind\" (line 1)"
        << "bind";
    QTest::newRow("section not a table") << QByteArray("server = 1\n")
                                         << "x.toml: server: expected a table ([server]), got an integer"
                                         << "server";
    QTest::newRow("bad bind") << QByteArray("[server]\nbind = \"abc\"\n")
                              << "x.toml: server.bind: expected \"HOST:PORT\", got \"abc\""
                              << "server.bind";
    QTest::newRow("bad bind port") << QByteArray("[server]\nbind = \"127.0.0.1:70000\"\n")
                                   << "x.toml: server.bind: port must be a number from 0 to 65535, got "
                                      "\"127.0.0.1:70000\""
                                   << "server.bind";
    QTest::newRow("out of range") << QByteArray("[upstream]\nmax_attempts = 0\n")
                                  << "x.toml: upstream.max_attempts: must be between 1 and 10, got 0"
                                  << "upstream.max_attempts";
    QTest::newRow("negative size") << QByteArray("[server]\nmax_body_bytes = -1\n")
                                   << "x.toml: server.max_body_bytes: must be between 1 and 1099511627776, got -1"
                                   << "server.max_body_bytes";
    QTest::newRow("eject base > max") << QByteArray("[upstream]\neject_base_ms = 10\neject_max_ms = 5\n")
                                      << "x.toml: upstream.eject_base_ms: must not exceed upstream.eject_max_ms (5)"
                                      << "upstream.eject_base_ms";
    QTest::newRow("bad db scheme")
        << QByteArray("[database]\nurl = \"mysql://root:hunter2-db-pass@localhost/db\"\n")
        << "x.toml: database.url: unsupported scheme \"mysql\" (expected postgres:// or postgresql://)"
        << "database.url";
    QTest::newRow("db url no host") << QByteArray("[database]\nurl = \"postgres://u:hunter2-db-pass@/db\"\n")
                                    << "x.toml: database.url: missing host…"
                                    << "database.url";
    QTest::newRow("db url no dbname") << QByteArray("[database]\nurl = \"postgres://u:hunter2-db-pass@h:5432\"\n")
                                      << "x.toml: database.url: missing database name…"
                                      << "database.url";
    QTest::newRow("db url bad port") << QByteArray("[database]\nurl = \"postgres://u:hunter2-db-pass@h:99999/d\"\n")
                                     << "x.toml: database.url: not a valid URL…"
                                     << "database.url";
    QTest::newRow("db url unencoded @") << QByteArray("[database]\nurl = \"postgres://u:hunter2@db-pass@h/d\"\n")
                                        << "x.toml: database.url: not a valid URL…"
                                        << "database.url";
    QTest::newRow("db url unknown param")
        << QByteArray("[database]\nurl = \"postgres://u:hunter2-db-pass@h/d?sslmod=require\"\n")
        << "x.toml: database.url: unknown connection parameter \"sslmod\""
        << "database.url";
    QTest::newRow("db url not a url") << QByteArray("[database]\nurl = \"hunter2-db-pass\"\n")
                                      << "x.toml: database.url: not a URL…"
                                      << "database.url";
    QTest::newRow("redis url bad scheme") << QByteArray("[redis]\nurl = \"http://:hunter2-db-pass@h:6379\"\n")
                                          << "x.toml: redis.url: unsupported scheme \"http\"…"
                                          << "redis.url";
    QTest::newRow("redis tls") << QByteArray("[redis]\nurl = \"rediss://:hunter2-db-pass@h:6379\"\n")
                               << "x.toml: redis.url: rediss:// (TLS) is not supported…"
                               << "redis.url";
    QTest::newRow("redis bad db") << QByteArray("[redis]\nurl = \"redis://:hunter2-db-pass@h:6379/x\"\n")
                                  << "x.toml: redis.url: database must be a non-negative integer…"
                                  << "redis.url";
    QTest::newRow("encryption key short") << QByteArray("[security]\nencryption_key = \"hunter2-db-pass\"\n")
                                          << "x.toml: security.encryption_key: must be empty or exactly 64 "
                                             "hexadecimal characters…"
                                          << "security.encryption_key";
    QTest::newRow("encryption key 63") << QByteArray("[security]\nencryption_key = \"" + QByteArray(63, 'a') + "\"\n")
                                       << "x.toml: security.encryption_key: must be empty or exactly 64…"
                                       << "security.encryption_key";
    QTest::newRow("encryption key non-hex")
        << QByteArray("[security]\nencryption_key = \"" + QByteArray(63, 'a') + "g\"\n")
        << "x.toml: security.encryption_key: must be empty or exactly 64…"
        << "security.encryption_key";
    QTest::newRow("jwt secret wrong type")
        << QByteArray("[admin]\njwt_secret = 12345\n") << "x.toml: admin.jwt_secret: expected a string, got an integer"
        << "admin.jwt_secret";
    QTest::newRow("log format") << QByteArray("[telemetry]\nlog_format = \"xml\"\n")
                                << "x.toml: telemetry.log_format: expected \"text\" or \"json\", got \"xml\""
                                << "telemetry.log_format";
    QTest::newRow("otlp endpoint") << QByteArray("[telemetry]\notlp_endpoint = \"grpc://u:hunter2-db-pass@h:4317\"\n")
                                   << "x.toml: telemetry.otlp_endpoint: expected an http:// or https:// URL…"
                                   << "telemetry.otlp_endpoint";
    QTest::newRow("currency") << QByteArray("[billing]\ncurrency = \"\"\n")
                              << "x.toml: billing.currency: must be 1-16 printable characters without spaces, got \"\""
                              << "billing.currency";
}

void TestConfig::errors()
{
    QFETCH(QByteArray, toml);
    QFETCH(QString, expected);
    QFETCH(QString, key);
    const auto c = ConfigLoader::parse(toml, QStringLiteral("x.toml"));
    QVERIFY(!c.ok());
    const Error &e = c.error();
    QCOMPARE(e.code, QStringLiteral("config_invalid"));
    QCOMPARE(e.param, key);
    if (expected.endsWith(u'…'))
        QVERIFY2(e.message.startsWith(expected.chopped(1)), qPrintable(e.message));
    else
        QCOMPARE(e.message, expected);
    QVERIFY(!e.message.contains(u'\n'));
    QVERIFY2(!e.message.contains(QLatin1StringView("hunter2")), qPrintable(e.message));
    QVERIFY(!e.message.contains(QLatin1StringView(kJwtSecret)));
}

void TestConfig::syntaxErrorHasLineAndColumn()
{
    QVERIFY(writeFile(path("bad.toml"), "[server]\nthreads = 2\nbind = \"127.0.0.1:1\n"));
    const auto c = ConfigLoader::load(path("bad.toml"), QProcessEnvironment(), m_dir->path());
    QVERIFY(!c.ok());
    const QRegularExpression re(QRegularExpression::anchoredPattern(QRegularExpression::escape(path("bad.toml")) +
                                                                    QStringLiteral(":3:\\d+: TOML syntax error: .+")));
    QVERIFY2(re.match(c.error().message).hasMatch(), qPrintable(c.error().message));
    QVERIFY(!c.error().message.contains(u'\n'));

    const auto dup = ConfigLoader::parse("[server]\nthreads = 1\nthreads = 2\n", QStringLiteral("d.toml"));
    QVERIFY(!dup.ok());
    QVERIFY2(dup.error().message.startsWith(QLatin1StringView("d.toml:3:")), qPrintable(dup.error().message));
}

void TestConfig::exampleEqualsDefaults()
{
    const QString example = sourceDir() + QStringLiteral("/llmpool.toml.example");
    const auto c = ConfigLoader::loadFile(example);
    QVERIFY2(c.ok(), qPrintable(c.ok() ? QString() : c.error().message));
    Config parsed = *c;
    QCOMPARE(parsed.sourcePath, example);
    parsed.sourcePath.clear();
    QCOMPARE(parsed.server, ServerConfig{});
    QCOMPARE(parsed.database, DatabaseConfig{});
    QCOMPARE(parsed.redis, RedisConfig{});
    QCOMPARE(parsed.admin, AdminConfig{});
    QCOMPARE(parsed.security, SecurityConfig{});
    QCOMPARE(parsed.upstream, UpstreamConfig{});
    QCOMPARE(parsed.billing, BillingConfig{});
    QCOMPARE(parsed.worker, WorkerConfig{});
    QCOMPARE(parsed.rateLimit, RateLimitConfig{});
    QCOMPARE(parsed.telemetry, TelemetryConfig{});
    QCOMPARE(parsed.usage, UsageConfig{});
    QCOMPARE(parsed, Config{});
}

void TestConfig::exampleDocumentsEveryKey()
{
    // Every key the parser knows appears, uncommented, in the example under its section, with a
    // comment line right above it; and the example has nothing else (parse() already rejects
    // unknown keys).
    QFile f(sourceDir() + QStringLiteral("/llmpool.toml.example"));
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QStringList lines = QString::fromUtf8(f.readAll()).split(u'\n');
    QStringList documented;
    QString section;
    static const QRegularExpression sectionRe(QStringLiteral("^\\[([a-z_]+)\\]$"));
    static const QRegularExpression keyRe(QStringLiteral("^([a-z_0-9]+) = "));
    for (int i = 0; i < lines.size(); ++i) {
        if (const auto m = sectionRe.match(lines[i]); m.hasMatch()) {
            section = m.captured(1);
        } else if (const auto k = keyRe.match(lines[i]); k.hasMatch()) {
            const QString key = section + u'.' + k.captured(1);
            documented.append(key);
            QVERIFY2(i > 0 && lines[i - 1].startsWith(QLatin1StringView("# ")),
                     qPrintable(QStringLiteral("no comment above ") + key));
        }
    }
    QCOMPARE(documented, ConfigLoader::knownKeys());
    QCOMPARE(ConfigLoader::knownKeys().size(), 39);
}

void TestConfig::bind_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<bool>("ok");
    QTest::addColumn<QString>("host");
    QTest::addColumn<int>("port");
    QTest::newRow("default") << "127.0.0.1:19324" << true << "127.0.0.1" << 19324;
    QTest::newRow("any") << "0.0.0.0:80" << true << "0.0.0.0" << 80;
    QTest::newRow("port 0") << "127.0.0.1:0" << true << "127.0.0.1" << 0;
    QTest::newRow("localhost") << "localhost:8080" << true << "localhost" << 8080;
    QTest::newRow("ipv6") << "[::]:19324" << true << "::" << 19324;
    QTest::newRow("ipv6 loopback") << "[::1]:1" << true << "::1" << 1;
    QTest::newRow("no port") << "127.0.0.1" << false << "" << 0;
    QTest::newRow("empty port") << "127.0.0.1:" << false << "" << 0;
    QTest::newRow("no host") << ":8080" << false << "" << 0;
    QTest::newRow("port too big") << "127.0.0.1:65536" << false << "" << 0;
    QTest::newRow("port sign") << "127.0.0.1:+80" << false << "" << 0;
    QTest::newRow("bad ipv4") << "256.0.0.1:80" << false << "" << 0;
    QTest::newRow("hostname") << "example.com:80" << false << "" << 0;
    QTest::newRow("unbracketed ipv6") << "::1:80" << false << "" << 0;
    QTest::newRow("bad ipv6") << "[::g]:80" << false << "" << 0;
    QTest::newRow("space") << "127.0.0.1: 80" << false << "" << 0;
}

void TestConfig::bind()
{
    QFETCH(QString, text);
    QFETCH(bool, ok);
    QFETCH(QString, host);
    QFETCH(int, port);
    const auto b = BindAddress::parse(text);
    QCOMPARE(b.ok(), ok);
    if (ok) {
        QCOMPARE(b->host, host);
        QCOMPARE(int(b->port), port);
        QCOMPARE(b->toString(), text);
    } else {
        QVERIFY(b.error().message.contains(QStringLiteral("\"%1\"").arg(text)));
    }
}

void TestConfig::databaseUrl_data()
{
    QTest::addColumn<QString>("url");
    QTest::addColumn<bool>("ok");
    QTest::addColumn<QString>("host");
    QTest::addColumn<int>("port");
    QTest::addColumn<QString>("user");
    QTest::addColumn<QString>("database");

    QTest::newRow("full") << "postgres://u:p@h:6000/db" << true << "h" << 6000 << "u"
                          << "db";
    QTest::newRow("postgresql scheme") << "postgresql://u@h/db" << true << "h" << 5432 << "u"
                                       << "db";
    QTest::newRow("no user") << "postgres://h/db" << true << "h" << 5432 << ""
                             << "db";
    QTest::newRow("ipv6") << "postgres://u@[::1]:5433/db" << true << "::1" << 5433 << "u"
                          << "db";
    QTest::newRow("socket dir") << "postgres:///db?host=/tmp" << true << "/tmp" << 5432 << ""
                                << "db";
    QTest::newRow("encoded socket dir") << "postgres://u:p@%2Fvar%2Frun%2Fpostgresql:5433/db" << true
                                        << "/var/run/postgresql" << 5433 << "u"
                                        << "db";
    QTest::newRow("encoded socket dir lowercase") << "postgres://%2ftmp/db" << true << "/tmp" << 5432 << ""
                                                  << "db";
    QTest::newRow("params override") << "postgres://u@h/db?port=7000&dbname=other&user=v" << true << "h" << 7000 << "v"
                                     << "other";
    QTest::newRow("encoded db") << "postgres://u@h/my%20db" << true << "h" << 5432 << "u"
                                << "my db";
    QTest::newRow("empty") << "" << false << "" << 0 << ""
                           << "";
    QTest::newRow("port 0") << "postgres://u@h:0/db" << false << "" << 0 << ""
                            << "";
    QTest::newRow("dup param") << "postgres://u@h/db?sslmode=a&sslmode=b" << false << "" << 0 << ""
                               << "";
    QTest::newRow("semicolon param") << "postgres://u@h/db?application_name=a;b" << false << "" << 0 << ""
                                     << "";
    QTest::newRow("slash in db") << "postgres://u@h/db/x" << false << "" << 0 << ""
                                 << "";
    QTest::newRow("fragment") << "postgres://u@h/db#x" << false << "" << 0 << ""
                              << "";
    QTest::newRow("socket dir with user")
        << "postgres://u@/d?host=/run/postgresql" << true << "/run/postgresql" << 5432 << "u"
        << "d";
    QTest::newRow("surrounding blanks") << "  postgres://u@h/db \n"
                                        << true << "h" << 5432 << "u"
                                        << "db";
    QTest::newRow("port text") << "postgres://h:abc/d" << false << "" << 0 << ""
                               << "";
    QTest::newRow("broken escape") << "postgres://u:p%zz@h/d" << false << "" << 0 << ""
                                   << "";
    QTest::newRow("unencoded @") << "postgres://u:p@ss@h/d" << false << "" << 0 << ""
                                 << "";
    QTest::newRow("several hosts") << "postgres://h1,h2/d" << false << "" << 0 << ""
                                   << "";
    QTest::newRow("several hosts in query") << "postgres://u@h/db?host=a,b" << false << "" << 0 << ""
                                            << "";
    QTest::newRow("param without value") << "postgres://h/d?sslmode" << false << "" << 0 << ""
                                         << "";
    QTest::newRow("unterminated ipv6") << "postgres://[::1/d" << false << "" << 0 << ""
                                       << "";
}

void TestConfig::databaseUrl()
{
    QFETCH(QString, url);
    QFETCH(bool, ok);
    const auto d = DatabaseUrl::parse(url);
    QCOMPARE(d.ok(), ok);
    if (!ok) {
        QCOMPARE(d.error().code, QStringLiteral("config_invalid"));
        return;
    }
    QFETCH(QString, host);
    QFETCH(int, port);
    QFETCH(QString, user);
    QFETCH(QString, database);
    QCOMPARE(d->host, host);
    QCOMPARE(int(d->port), port);
    QCOMPARE(d->user, user);
    QCOMPARE(d->database, database);
    // The redacted form parses back to the same connection (minus the password).
    DatabaseUrl withoutPassword = *d;
    withoutPassword.password.clear();
    auto back = DatabaseUrl::parse(d->redacted());
    QVERIFY2(back.ok(), qPrintable(d->redacted()));
    if (!d->password.isEmpty())
        back->password.clear();
    QCOMPARE(*back, withoutPassword);
}

// Secrets and libpq options: decoded exactly, never in redacted(), quoted for QPSQL.
void TestConfig::databaseUrlComponents_data()
{
    QTest::addColumn<QString>("url");
    QTest::addColumn<int>("port");
    QTest::addColumn<QString>("user");
    QTest::addColumn<QString>("password");
    QTest::addColumn<QString>("database");
    QTest::addColumn<QString>("options");

    QTest::newRow("percent-decoding") << "postgres://us%40er:p%40ss%3Aw%2Frd%25@h/d%20b" << 5432 << "us@er"
                                      << "p@ss:w/rd%"
                                      << "d b"
                                      << "";
    QTest::newRow("options") << "postgres://u@h/d?sslmode=require&connect_timeout=5" << 5432 << "u"
                             << ""
                             << "d"
                             << "sslmode='require';connect_timeout='5'";
    QTest::newRow("query overrides") << "postgres://u@h:1/d?port=2&user=v&password=s3cr3t&dbname=e" << 2 << "v"
                                     << "s3cr3t"
                                     << "e"
                                     << "";
    QTest::newRow("quoted option value") << "postgres://h/d?application_name=it%27s%20me" << 5432 << ""
                                         << ""
                                         << "d"
                                         << "application_name='it\\'s me'";
}

void TestConfig::databaseUrlComponents()
{
    QFETCH(QString, url);
    QFETCH(int, port);
    QFETCH(QString, user);
    QFETCH(QString, password);
    QFETCH(QString, database);
    QFETCH(QString, options);
    const auto d = DatabaseUrl::parse(url);
    QVERIFY2(d.ok(), d.ok() ? "" : qPrintable(d.error().message));
    QCOMPARE(int(d->port), port);
    QCOMPARE(d->user, user);
    QCOMPARE(d->password, password);
    QCOMPARE(d->database, database);
    QCOMPARE(d->connectOptions(), options);
    if (!password.isEmpty())
        QVERIFY(!d->redacted().contains(password));
    auto back = DatabaseUrl::parse(d->redacted());
    QVERIFY2(back.ok(), qPrintable(d->redacted()));
    QCOMPARE(back->user, user);
    QCOMPARE(back->database, database);
    QCOMPARE(back->connectOptions(), options);
}

void TestConfig::redisUrl_data()
{
    QTest::addColumn<QString>("url");
    QTest::addColumn<bool>("ok");
    QTest::addColumn<bool>("unix");
    QTest::addColumn<QString>("hostOrPath");
    QTest::addColumn<int>("port");
    QTest::addColumn<int>("db");
    QTest::addColumn<QString>("password");

    QTest::newRow("default") << "redis://127.0.0.1:6379/0" << true << false << "127.0.0.1" << 6379 << 0 << "";
    QTest::newRow("no port no db") << "redis://cache" << true << false << "cache" << 6379 << 0 << "";
    QTest::newRow("password") << "redis://:s3cret@cache:7000/5" << true << false << "cache" << 7000 << 5 << "s3cret";
    QTest::newRow("acl user") << "redis://app:s3cret@cache/1" << true << false << "cache" << 6379 << 1 << "s3cret";
    QTest::newRow("ipv6") << "redis://[::1]:6380" << true << false << "::1" << 6380 << 0 << "";
    QTest::newRow("unix") << "unix:///run/redis.sock" << true << true << "/run/redis.sock" << 0 << 0 << "";
    QTest::newRow("unix db pass") << "unix://:pw@/run/redis.sock?db=4" << true << true << "/run/redis.sock" << 0 << 4
                                  << "pw";
    QTest::newRow("no host") << "redis://:pw@/0" << false << false << "" << 0 << 0 << "";
    QTest::newRow("tls") << "rediss://h:6379" << false << false << "" << 0 << 0 << "";
    QTest::newRow("query") << "redis://h:6379/0?timeout=1" << false << false << "" << 0 << 0 << "";
    QTest::newRow("negative db") << "redis://h/-1" << false << false << "" << 0 << 0 << "";
    QTest::newRow("unix no path") << "unix://" << false << false << "" << 0 << 0 << "";
    QTest::newRow("unix with host") << "unix://h/run/redis.sock" << false << false << "" << 0 << 0 << "";
    QTest::newRow("unix bad param") << "unix:///run/redis.sock?x=1" << false << false << "" << 0 << 0 << "";
    QTest::newRow("no scheme") << "localhost:6379" << false << false << "" << 0 << 0 << "";
    QTest::newRow("encoded password") << "redis://:s%40cret@h:7000/2" << true << false << "h" << 7000 << 2 << "s@cret";
    QTest::newRow("lone userinfo is the password") << "redis://pw@h" << true << false << "h" << 6379 << 0 << "pw";
    QTest::newRow("ipv6 with db") << "redis://[::1]:6380/3" << true << false << "::1" << 6380 << 3 << "";
    QTest::newRow("unix acl user") << "unix://u:s3cr3t@/tmp/r.sock" << true << true << "/tmp/r.sock" << 0 << 0
                                   << "s3cr3t";
    QTest::newRow("db as query") << "redis://h?db=4" << true << false << "h" << 6379 << 4 << "";
    QTest::newRow("unix password as query")
        << "unix:///run/redis.sock?db=1&password=p%26w" << true << true << "/run/redis.sock" << 0 << 1 << "p&w";
    QTest::newRow("surrounding blanks") << " redis://h:1/0 " << true << false << "h" << 1 << 0 << "";
    QTest::newRow("http scheme") << "http://h" << false << false << "" << 0 << 0 << "";
    QTest::newRow("db text") << "redis://h/abc" << false << false << "" << 0 << 0 << "";
    QTest::newRow("port 0") << "redis://h:0" << false << false << "" << 0 << 0 << "";
    QTest::newRow("relative socket") << "unix://redis.sock" << false << false << "" << 0 << 0 << "";
    QTest::newRow("db twice") << "redis://h/1?db=2" << false << false << "" << 0 << 0 << "";
    QTest::newRow("password twice") << "redis://:a@h?password=b" << false << false << "" << 0 << 0 << "";
    QTest::newRow("unencoded @") << "redis://:p@ss@h" << false << false << "" << 0 << 0 << "";
}

void TestConfig::redisUrl()
{
    QFETCH(QString, url);
    QFETCH(bool, ok);
    const auto r = RedisUrl::parse(url);
    QVERIFY2(r.ok() == ok, qPrintable(r.ok() ? QStringLiteral("accepted") : r.error().message));
    if (!ok)
        return;
    QFETCH(bool, unix);
    QFETCH(QString, hostOrPath);
    QFETCH(int, port);
    QFETCH(int, db);
    QFETCH(QString, password);
    QCOMPARE(r->transport == RedisUrl::Transport::Unix, unix);
    QCOMPARE(unix ? r->socketPath : r->host, hostOrPath);
    QCOMPARE(int(r->port), port);
    QCOMPARE(r->db, db);
    QCOMPARE(r->password, password);
    if (!password.isEmpty())
        QVERIFY(!r->redacted().contains(password));
    auto back = RedisUrl::parse(r->redacted());
    QVERIFY2(back.ok(), qPrintable(r->redacted()));
    back->password = r->password;
    QCOMPARE(*back, *r);
}

// Which part of a userinfo is the user name: redis-cli's reading, so a lone secret is never
// mistaken for a name (no AUTH, and printed by redacted()).
void TestConfig::redisUrlUserInfo()
{
    const auto lone = RedisUrl::parse(QStringLiteral("redis://pw-secret@h"));
    QVERIFY(lone.ok());
    QCOMPARE(lone->username, QString());
    QCOMPARE(lone->password, QStringLiteral("pw-secret"));
    QCOMPARE(lone->redacted(), QStringLiteral("redis://:***@h:6379/0"));

    const auto acl = RedisUrl::parse(QStringLiteral("redis://app:pw@h/1"));
    QVERIFY(acl.ok());
    QCOMPARE(acl->username, QStringLiteral("app"));
    QCOMPARE(acl->password, QStringLiteral("pw"));

    // An explicit ':' makes it a user without a password.
    const auto userOnly = RedisUrl::parse(QStringLiteral("redis://app:@h"));
    QVERIFY(userOnly.ok());
    QCOMPARE(userOnly->username, QStringLiteral("app"));
    QCOMPARE(userOnly->password, QString());
}

void TestConfig::redaction_data()
{
    QTest::addColumn<QString>("url");
    QTest::addColumn<QString>("expected");
    QTest::newRow("postgres") << "postgres://u:secret@h:5432/db"
                              << "postgres://u:***@h:5432/db";
    QTest::newRow("no password") << "postgres://u@h/db"
                                 << "postgres://u@h/db";
    QTest::newRow("redis") << "redis://:secret@h:6379/0"
                           << "redis://:***@h:6379/0";
    QTest::newRow("unencoded @ in password") << "postgres://u:se@cret@h/db"
                                             << "postgres://u:***@h/db";
    QTest::newRow("query password") << "postgres://u@h/db?password=secret&sslmode=require"
                                    << "postgres://u@h/db?password=***&sslmode=require";
    QTest::newRow("garbage") << "not a url"
                             << "not a url";
    QTest::newRow("at in path only") << "redis://h/0@x"
                                     << "redis://h/0@x";
}

void TestConfig::redaction()
{
    QFETCH(QString, url);
    QFETCH(QString, expected);
    QCOMPARE(redactUrlSecrets(url), expected);
    QCOMPARE(DatabaseUrl::parse(QStringLiteral("postgres://u:secret@h/db"))->redacted(),
             QStringLiteral("postgres://u:***@h:5432/db"));
}

void TestConfig::weakSecretsWarn()
{
    const auto c = ConfigLoader::parse("[admin]\njwt_secret = \"zq9x\"\nstatic_key = \"pl7w\"\n", QStringLiteral("w"));
    QVERIFY(c.ok());
    QCOMPARE(c->warnings.size(), 2);
    for (const QString &w : c->warnings) {
        QVERIFY(!w.contains(QLatin1StringView("zq9x")));
        QVERIFY(!w.contains(QLatin1StringView("pl7w")));
    }
    QCOMPARE(c->admin.jwtSecret, QByteArray("zq9x"));
}

QTEST_GUILESS_MAIN(TestConfig)
#include "TestConfig.moc"
