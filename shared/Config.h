#pragma once

// Typed configuration (SPEC §2), validated once at load. Every other module receives these plain
// structs and never sees TOML: toml++ is an implementation detail of Config.cpp.
//
// Field defaults below ARE the product defaults; llmpool.toml.example repeats them and a unit test
// (TestConfig::exampleEqualsDefaults) keeps the two in sync. Durations are milliseconds, sizes bytes.
//
// Loading (ConfigLoader::load): the file is the first of `--config PATH`, `$LLMPOOL_CONFIG`,
// `./llmpool.toml`; with none of them present the defaults are used. A path that was asked for
// explicitly (flag or variable) and is missing is an error. Then `DATABASE_URL` replaces
// database.url and `REDIS_URL` replaces redis.url, validated like the file's values. Errors are one
// line, "<file>: <key>: <problem>" (or "<file>:<line>:<column>: <syntax problem>"), with
// Error.code "config_invalid", and never contain a secret (jwt_secret, static_key, encryption_key,
// URL passwords).

#include "Result.h"

#include <QByteArray>
#include <QList>
#include <QProcessEnvironment>
#include <QString>
#include <QStringList>

#include <utility>

namespace llmpool {

// "HOST:PORT" for listening: an IPv4 literal, a bracketed IPv6 literal ("[::1]:19324") or
// "localhost". Port 0 asks the OS for a free port (tests). Shared with `llmpool serve --bind`.
struct BindAddress
{
    QString host = QStringLiteral("127.0.0.1"); // without brackets for IPv6
    quint16 port = 19324;

    // Error message (without file or key prefix): `expected "HOST:PORT", got "abc"`.
    static Result<BindAddress> parse(QStringView text);
    QString toString() const; // brackets IPv6 hosts again
    bool operator==(const BindAddress &) const = default;
};

// postgres://[USER[:PASSWORD]@][HOST][:PORT]/DBNAME[?PARAM=VALUE&...] (libpq URI form, one host).
// The one parser of database URLs: the config validates with it at load, and storage connects
// with the result (storage/ConnectionUrls.h applies it to a QSqlDatabase).
// Components are percent-decoded (a '@' or ':' inside a password must be encoded, as libpq wants);
// HOST may be a bracketed IPv6 literal, a percent-encoded Unix socket directory
// (postgres://%2Frun%2Fpostgresql/db), or omitted when a `host=/socket/dir` parameter names one.
// Query parameters must be libpq keywords written KEY=VALUE, each once; `host`, `port`, `user`,
// `password`, `dbname` given there override the URI parts (as in libpq), the rest are kept in
// `options`. Several hosts (libpq's "h1,h2") are refused.
struct DatabaseUrl
{
    QString host; // host name, IP address, or a Unix socket directory (starts with '/')
    quint16 port = 5432;
    QString user;     // empty: libpq's default (the OS user)
    QString password; // secret: never log it, use redacted()
    QString database;
    QList<std::pair<QString, QString>> options; // e.g. {"sslmode","require"}, in URL order

    // Error message names the problem and never the URL or its password.
    static Result<DatabaseUrl> parse(const QString &url);
    // For QSqlDatabase::setConnectOptions(): "sslmode=require;connect_timeout=5".
    QString connectOptions() const;
    // The URL rebuilt with the password replaced by "***", for logs and status pages.
    QString redacted() const;
    bool operator==(const DatabaseUrl &) const = default;
};

// redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] or unix://[[USER]:PASSWORD@]/path/to/redis.sock[?db=N].
// The one parser of Redis URLs: the config validates with it, storage's clients connect with it.
// Components are percent-decoded; HOST may be a bracketed IPv6 literal. A userinfo without ':'
// (redis://SECRET@host) is the password, as redis-cli reads it. Query parameters `db` and
// `password` are accepted (redis-py's form), each given once. TLS (rediss://) is refused rather
// than silently ignored: hiredis is built without it here.
struct RedisUrl
{
    enum class Transport { Tcp, Unix };

    Transport transport = Transport::Tcp;
    QString host = QStringLiteral("127.0.0.1");
    quint16 port = 6379;
    QString socketPath; // Transport::Unix only
    QString username;   // Redis 6 ACL user; empty = "default"
    QString password;   // secret: never log it, use redacted()
    int db = 0;

    static Result<RedisUrl> parse(const QString &url);
    QString redacted() const;
    bool operator==(const RedisUrl &) const = default;
};

// Replaces the password of any URL-looking string (and any `password=` query value) with "***".
// Works on strings that do not parse, so it is safe for logging whatever an operator typed.
QString redactUrlSecrets(const QString &url);

struct ServerConfig
{
    BindAddress bind;                       // server.bind = "127.0.0.1:19324"
    int threads = 0;                        // event-loop threads; 0 = one per core
    qint64 maxBodyBytes = 16 * 1024 * 1024; // larger request bodies get 413 before buffering
    qint64 maxHeaderBytes = 64 * 1024;      // larger request heads get 431
    int idleTimeoutMs = 60'000;             // keep-alive connection with no request in flight
    int headerTimeoutMs = 10'000;           // from a request's first byte to the end of its head
    int bodyTimeoutMs = 30'000;             // longest silence while a request body is arriving
    int maxConnections = 10'000;            // open client connections per instance, all threads

    // threads resolved against the machine (0 -> QThread::idealThreadCount(), at least 1).
    int effectiveThreads() const;
    bool operator==(const ServerConfig &) const = default;
};

struct DatabaseConfig
{
    QString url = QStringLiteral("postgres://llmpool@127.0.0.1:5432/llmpool"); // as written (secret inside)
    DatabaseUrl parsedUrl = defaultParsedUrl();
    int poolSize = 4; // database threads, one connection each

    static DatabaseUrl defaultParsedUrl();
    bool operator==(const DatabaseConfig &) const = default;
};

struct RedisConfig
{
    QString url = QStringLiteral("redis://127.0.0.1:6379/0"); // as written (secret inside)
    RedisUrl parsedUrl;                                       // defaults match `url`
    bool operator==(const RedisConfig &) const = default;
};

struct AdminConfig
{
    QByteArray jwtSecret; // HS256 key for admin JWTs; empty = JWT admin auth disabled
    QByteArray staticKey; // optional static admin bearer key; empty = disabled
    bool operator==(const AdminConfig &) const = default;
};

struct SecurityConfig
{
    QByteArray encryptionKey; // 32 raw bytes (from 64 hex chars) for AES-256-GCM; empty = plaintext
    bool operator==(const SecurityConfig &) const = default;
};

struct UpstreamConfig
{
    int connectTimeoutMs = 10'000;
    int firstByteTimeoutMs = 300'000; // non-streaming answers arrive whole, so this is generous
    int idleTimeoutMs = 120'000;      // longest silence in a streaming body
    int totalTimeoutMs = 600'000;
    int maxAttempts = 3; // distinct upstreams tried per request
    int healthCheckIntervalMs = 15'000;
    int ejectBaseMs = 5'000;  // first ejection cooldown; doubles per consecutive ejection
    int ejectMaxMs = 300'000; // cooldown cap
    bool operator==(const UpstreamConfig &) const = default;
};

struct BillingConfig
{
    QString currency = QStringLiteral("USD"); // a label only; no conversion happens
    bool reservation = true;
    // Busy keys reserve a slice of the balance in Redis at a time (a lease) and admit their
    // requests against it in process: no Redis round trip before the upstream call.
    bool reservationLease = true;
    int defaultMaxOutputTokens = 4096; // reservation size when a request sets no max_tokens
    // Where usage events wait while Redis is unreachable (relative paths: to the working directory).
    QString spoolDir = QStringLiteral("llmpool-spool");
    bool operator==(const BillingConfig &) const = default;
};

struct WorkerConfig
{
    bool inProcess = true; // run the usage worker inside `llmpool serve`
    int concurrency = 2;   // parallel batch writers
    int batchSize = 200;   // stream entries read and written per transaction
    int claimIdleMs = 30'000; // a dead worker's unacknowledged entries are taken over after this
    int lingerMs = 50;        // after a short batch, wait this long so the next one is fuller
    bool operator==(const WorkerConfig &) const = default;
};

struct RateLimitConfig
{
    bool enabled = true;
    int defaultRpm = 0;    // per key when the key sets none; 0 = unlimited
    qint64 defaultTpm = 0; // per key when the key sets none; 0 = unlimited
    bool operator==(const RateLimitConfig &) const = default;
};

struct TelemetryConfig
{
    enum class LogFormat { Text, Json };

    LogFormat logFormat = LogFormat::Text;
    QString otlpEndpoint; // OTLP/HTTP base URL; empty = no traces
    QString serviceName = QStringLiteral("llmpool");
    bool operator==(const TelemetryConfig &) const = default;
};

struct UsageConfig
{
    int retentionDays = 90; // usage events older than this are deleted; 0 = keep forever
    bool operator==(const UsageConfig &) const = default;
};

struct Config
{
    ServerConfig server;
    DatabaseConfig database;
    RedisConfig redis;
    AdminConfig admin;
    SecurityConfig security;
    UpstreamConfig upstream;
    BillingConfig billing;
    WorkerConfig worker;
    RateLimitConfig rateLimit;
    TelemetryConfig telemetry;
    UsageConfig usage;

    QString sourcePath;   // the file read, as named by the user; empty = built-in defaults
    QStringList warnings; // non-fatal findings (weak secrets) for the caller to log; no secrets inside

    bool operator==(const Config &) const = default;
};

class ConfigLoader
{
public:
    // Finds, reads, parses and validates the configuration, then applies DATABASE_URL / REDIS_URL.
    // `explicitPath` is `--config` (empty if not given). `env` is the process environment (tests pass
    // their own). Relative paths resolve against `workingDir` (empty = the current directory).
    static Result<Config> load(const QString &explicitPath, const QProcessEnvironment &env,
                               const QString &workingDir = QString());

    // Reads and validates one file; no environment overrides. `displayName` prefixes errors
    // (defaults to `path`).
    static Result<Config> loadFile(const QString &path, const QString &displayName = QString());

    // Parses TOML text; `sourceName` prefixes errors and becomes Config::sourcePath.
    static Result<Config> parse(QByteArrayView toml, const QString &sourceName);

    // DATABASE_URL / REDIS_URL overrides (empty values are ignored, as if unset).
    static Status applyEnvironment(Config &config, const QProcessEnvironment &env);

    // Every "section.key" the parser understands, in file order (for docs and the example test).
    static QStringList knownKeys();
};

} // namespace llmpool
