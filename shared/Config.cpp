#include "Config.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QSet>
#include <QThread>
#include <QUrl>
#include <QUrlQuery>

#include <arpa/inet.h>

#include <toml++/toml.h>

#include <limits>
#include <optional>
#include <utility>

namespace llmpool {

namespace {

// A config file is a few kilobytes; refusing huge inputs keeps a wrong path (a log, a device)
// from being read into memory.
constexpr qint64 kMaxConfigFileBytes = 1024 * 1024;

// Every config failure has the same classification; the CLI maps the code to exit status 2.
Error configError(const QString &message, const QString &key = QString())
{
    return Error{QStringLiteral("server_error"), QStringLiteral("config_invalid"), 500, message, key};
}

// Problems found by the URL/bind parsers carry no file or key; the loader adds both.
Error plainError(const QString &message)
{
    return configError(message);
}

QString quoted(QStringView s)
{
    return u'"' + s.toString() + u'"';
}

// ---------------------------------------------------------------------------------------------
// URL helpers

bool isValidIp(const QString &host, int family)
{
    unsigned char buf[sizeof(struct in6_addr)];
    const QByteArray latin = host.toLatin1();
    return inet_pton(family, latin.constData(), buf) == 1;
}

std::optional<int> parsePort(QStringView text, int min)
{
    if (text.isEmpty() || text.size() > 5)
        return std::nullopt;
    int value = 0;
    for (const QChar c : text) {
        if (c < u'0' || c > u'9')
            return std::nullopt;
        value = value * 10 + (c.unicode() - u'0');
    }
    if (value < min || value > 65535)
        return std::nullopt;
    return value;
}

// libpq connection keywords accepted as URI query parameters (PostgreSQL 15 docs, §34.1.2).
const QSet<QString> &libpqKeywords()
{
    static const QSet<QString> keywords{
        QStringLiteral("host"),
        QStringLiteral("hostaddr"),
        QStringLiteral("port"),
        QStringLiteral("dbname"),
        QStringLiteral("user"),
        QStringLiteral("password"),
        QStringLiteral("passfile"),
        QStringLiteral("channel_binding"),
        QStringLiteral("connect_timeout"),
        QStringLiteral("client_encoding"),
        QStringLiteral("options"),
        QStringLiteral("application_name"),
        QStringLiteral("fallback_application_name"),
        QStringLiteral("keepalives"),
        QStringLiteral("keepalives_idle"),
        QStringLiteral("keepalives_interval"),
        QStringLiteral("keepalives_count"),
        QStringLiteral("tcp_user_timeout"),
        QStringLiteral("sslmode"),
        QStringLiteral("sslcompression"),
        QStringLiteral("sslcert"),
        QStringLiteral("sslkey"),
        QStringLiteral("sslpassword"),
        QStringLiteral("sslrootcert"),
        QStringLiteral("sslcrl"),
        QStringLiteral("sslcrldir"),
        QStringLiteral("sslsni"),
        QStringLiteral("requirepeer"),
        QStringLiteral("ssl_min_protocol_version"),
        QStringLiteral("ssl_max_protocol_version"),
        QStringLiteral("krbsrvname"),
        QStringLiteral("gsslib"),
        QStringLiteral("gssencmode"),
        QStringLiteral("target_session_attrs"),
        QStringLiteral("service"),
    };
    return keywords;
}

// Host part for a rebuilt URL: IPv6 literals need brackets again.
QString urlHost(const QString &host)
{
    return host.contains(u':') ? u'[' + host + u']' : host;
}

QString enc(const QString &s)
{
    return QString::fromLatin1(QUrl::toPercentEncoding(s));
}

} // namespace

// -------------------------------------------------------------------------------------------------
// BindAddress

Result<BindAddress> BindAddress::parse(QStringView text)
{
    const QString shown = quoted(text);
    const Error shape = plainError(QStringLiteral("expected \"HOST:PORT\", got ") + shown);
    QString host;
    QStringView portText;
    if (text.startsWith(u'[')) {
        const qsizetype close = text.indexOf(u']');
        if (close < 0 || close + 1 >= text.size() || text.at(close + 1) != u':')
            return shape;
        host = text.mid(1, close - 1).toString();
        portText = text.mid(close + 2);
        if (!isValidIp(host, AF_INET6))
            return plainError(QStringLiteral("invalid IPv6 address in ") + shown);
    } else {
        const qsizetype colon = text.lastIndexOf(u':');
        if (colon <= 0)
            return shape;
        host = text.left(colon).toString();
        portText = text.mid(colon + 1);
        if (host.contains(u':'))
            return plainError(QStringLiteral("IPv6 addresses need brackets, e.g. \"[::1]:19324\", got ") + shown);
        if (host != QLatin1StringView("localhost") && !isValidIp(host, AF_INET))
            return plainError(QStringLiteral("host must be an IP address or localhost, got ") + shown);
    }
    const auto port = parsePort(portText, 0);
    if (!port)
        return plainError(QStringLiteral("port must be a number from 0 to 65535, got ") + shown);
    BindAddress out;
    out.host = host;
    out.port = static_cast<quint16>(*port);
    return out;
}

QString BindAddress::toString() const
{
    return urlHost(host) + u':' + QString::number(port);
}

// -------------------------------------------------------------------------------------------------
// DatabaseUrl

Result<DatabaseUrl> DatabaseUrl::parse(const QString &untrimmed)
{
    static const QString expected =
        QStringLiteral("expected postgres://USER:PASSWORD@HOST:PORT/DBNAME (percent-encode special characters)");
    // Blanks around a URL (a pasted value, a quoted env var) cannot be meant; QUrl would reject them.
    const QString text = untrimmed.trimmed();
    if (text.isEmpty())
        return plainError(QStringLiteral("must not be empty; ") + expected);
    // libpq also takes a Unix socket directory as a percent-encoded host
    // (postgres://%2Frun%2Fpostgresql/db), which QUrl rejects as a host name: parse the URL with a
    // placeholder host and put the decoded directory back afterwards.
    QString socketHost;
    QString forQUrl = text;
    if (const qsizetype schemeEnd = text.indexOf(QLatin1StringView("://")); schemeEnd >= 0) {
        const qsizetype authStart = schemeEnd + 3;
        qsizetype authEnd = text.size();
        for (const QChar stop : {u'/', u'?', u'#'}) {
            const qsizetype p = text.indexOf(stop, authStart);
            if (p >= 0 && p < authEnd)
                authEnd = p;
        }
        const qsizetype at = text.lastIndexOf(u'@', authEnd - 1);
        const qsizetype hostStart = at >= authStart ? at + 1 : authStart;
        // libpq's "h1,h2:p1,p2" multi-host form: QUrl would only say "not a valid URL".
        if (const qsizetype comma = text.indexOf(u',', hostStart); comma >= 0 && comma < authEnd)
            return plainError(QStringLiteral("several hosts are not supported; ") + expected);
        if (text.mid(hostStart, 3).compare(QLatin1StringView("%2F"), Qt::CaseInsensitive) == 0) {
            const qsizetype colon = text.indexOf(u':', hostStart);
            const qsizetype hostEnd = colon >= 0 && colon < authEnd ? colon : authEnd;
            socketHost = QUrl::fromPercentEncoding(text.mid(hostStart, hostEnd - hostStart).toLatin1());
            forQUrl.replace(hostStart, hostEnd - hostStart, QStringLiteral("localhost"));
        }
    }
    const QUrl url(forQUrl, QUrl::StrictMode);
    const QString scheme = url.scheme();
    if (scheme.isEmpty() || !text.contains(QLatin1StringView("://")))
        return plainError(QStringLiteral("not a URL; ") + expected);
    if (scheme != QLatin1StringView("postgres") && scheme != QLatin1StringView("postgresql"))
        return plainError(
            QStringLiteral("unsupported scheme \"%1\" (expected postgres:// or postgresql://)").arg(scheme.left(32)));
    // QUrl's own error strings quote the URL, password included, so they are never passed on.
    if (!url.isValid())
        return plainError(QStringLiteral("not a valid URL; ") + expected);
    if (url.hasFragment())
        return plainError(QStringLiteral("unexpected \"#\" fragment; ") + expected);

    DatabaseUrl out;
    out.host = socketHost.isEmpty() ? url.host(QUrl::FullyDecoded) : socketHost;
    if (url.port() == 0)
        return plainError(QStringLiteral("port must be 1-65535"));
    out.port = static_cast<quint16>(url.port(5432));
    out.user = url.userName(QUrl::FullyDecoded);
    out.password = url.password(QUrl::FullyDecoded);
    out.database = url.path(QUrl::FullyDecoded);
    if (out.database.startsWith(u'/'))
        out.database.remove(0, 1);

    // libpq refuses "?sslmode" without '=' ("missing key/value separator"); QUrlQuery would turn it
    // into an empty value, which libpq then reads as "use the default" - not what was written.
    for (const QStringView item : QStringView(url.query(QUrl::FullyEncoded)).split(u'&')) {
        if (!item.isEmpty() && !item.contains(u'='))
            return plainError(QStringLiteral("connection parameters must be KEY=VALUE"));
    }
    const QUrlQuery query(url);
    QSet<QString> seen;
    for (const auto &[rawKey, rawValue] : query.queryItems(QUrl::FullyDecoded)) {
        const QString key = rawKey;
        const QString value = rawValue;
        if (!libpqKeywords().contains(key))
            return plainError(QStringLiteral("unknown connection parameter \"%1\"").arg(key.left(64)));
        if (seen.contains(key))
            return plainError(QStringLiteral("connection parameter \"%1\" given twice").arg(key));
        seen.insert(key);
        if (key == QLatin1StringView("host")) {
            out.host = value;
        } else if (key == QLatin1StringView("port")) {
            const auto port = parsePort(value, 1);
            if (!port)
                return plainError(QStringLiteral("port must be 1-65535"));
            out.port = static_cast<quint16>(*port);
        } else if (key == QLatin1StringView("user")) {
            out.user = value;
        } else if (key == QLatin1StringView("password")) {
            out.password = value;
        } else if (key == QLatin1StringView("dbname")) {
            out.database = value;
        } else {
            // QPSQL turns ';' into the separator of its connect options; such a value cannot be passed.
            if (value.contains(u';'))
                return plainError(QStringLiteral("connection parameter \"%1\" must not contain ';'").arg(key));
            out.options.append({key, value});
        }
    }
    if (out.host.isEmpty())
        return plainError(QStringLiteral("missing host; ") + expected);
    if (out.host.contains(u','))
        return plainError(QStringLiteral("several hosts are not supported; ") + expected);
    if (out.database.isEmpty())
        return plainError(QStringLiteral("missing database name; ") + expected);
    if (out.database.contains(u'/'))
        return plainError(QStringLiteral("database name must not contain '/'"));
    return out;
}

QString DatabaseUrl::connectOptions() const
{
    // libpq conninfo quoting: single quotes, with backslash and quote escaped.
    QStringList parts;
    for (const auto &[key, value] : options) {
        QString v = value;
        v.replace(u'\\', QLatin1StringView("\\\\"));
        v.replace(u'\'', QLatin1StringView("\\'"));
        parts.append(key + QLatin1StringView("='") + v + u'\'');
    }
    return parts.join(u';');
}

QString DatabaseUrl::redacted() const
{
    QString s = QStringLiteral("postgres://");
    if (!user.isEmpty() || !password.isEmpty()) {
        s += enc(user);
        if (!password.isEmpty())
            s += QLatin1StringView(":***");
        s += u'@';
    }
    QStringList query;
    if (host.startsWith(u'/'))
        query.append(QLatin1StringView("host=") + enc(host));
    else
        s += urlHost(host) + u':' + QString::number(port);
    s += u'/' + enc(database);
    if (host.startsWith(u'/') && port != 5432)
        query.append(QLatin1StringView("port=") + QString::number(port));
    for (const auto &[key, value] : options)
        query.append(key + u'=' + (key == QLatin1StringView("sslpassword") ? QStringLiteral("***") : enc(value)));
    if (!query.isEmpty())
        s += u'?' + query.join(u'&');
    return s;
}

// -------------------------------------------------------------------------------------------------
// RedisUrl

Result<RedisUrl> RedisUrl::parse(const QString &untrimmed)
{
    static const QString expected = QStringLiteral(
        "expected redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] or unix://[[USER]:PASSWORD@]/path/to/redis.sock[?db=N]");
    const QString text = untrimmed.trimmed();
    if (text.isEmpty())
        return plainError(QStringLiteral("must not be empty; ") + expected);
    const QUrl url(text, QUrl::StrictMode);
    const QString scheme = url.scheme();
    if (scheme.isEmpty() || !text.contains(QLatin1StringView("://")))
        return plainError(QStringLiteral("not a URL; ") + expected);
    if (scheme == QLatin1StringView("rediss"))
        return plainError(QStringLiteral("rediss:// (TLS) is not supported; use redis:// on a trusted network or a "
                                         "unix socket"));
    if (scheme != QLatin1StringView("redis") && scheme != QLatin1StringView("unix"))
        return plainError(QStringLiteral("unsupported scheme \"%1\"; ").arg(scheme.left(32)) + expected);
    if (!url.isValid())
        return plainError(QStringLiteral("not a valid URL; ") + expected);
    if (url.hasFragment())
        return plainError(QStringLiteral("unexpected \"#\" fragment; ") + expected);

    RedisUrl out;
    out.username = url.userName(QUrl::FullyDecoded);
    out.password = url.password(QUrl::FullyDecoded);
    // redis://SECRET@host: a userinfo without ':' is the password, as redis-cli reads it. Taken as
    // an ACL user name it would skip AUTH and show the secret in redacted().
    if (out.password.isEmpty() && !url.userInfo(QUrl::FullyEncoded).contains(u':'))
        out.password = std::exchange(out.username, QString());
    const auto parseDb = [](const QString &s) -> std::optional<int> {
        if (s.isEmpty() || s.size() > 9)
            return std::nullopt;
        for (const QChar c : s) {
            if (c < u'0' || c > u'9')
                return std::nullopt;
        }
        return s.toInt();
    };

    // Query parameters as redis-py reads them: db=N, and password=… (handy with a unix socket).
    std::optional<int> queryDb;
    for (const auto &[key, value] : QUrlQuery(url).queryItems(QUrl::FullyDecoded)) {
        if (key == QLatin1StringView("db")) {
            const auto db = parseDb(value);
            if (!db)
                return plainError(QStringLiteral("database number must be a non-negative integer"));
            if (queryDb)
                return plainError(QStringLiteral("the database number is given twice"));
            queryDb = *db;
        } else if (key == QLatin1StringView("password")) {
            if (!out.password.isEmpty())
                return plainError(QStringLiteral("the password is given twice"));
            out.password = value;
        } else {
            return plainError(QStringLiteral("unknown parameter \"%1\"; ").arg(key.left(64)) + expected);
        }
    }

    if (scheme == QLatin1StringView("unix")) {
        out.transport = Transport::Unix;
        out.host.clear();
        out.port = 0;
        if (!url.host().isEmpty() || url.port() != -1)
            return plainError(QStringLiteral("a unix:// URL takes no host or port; ") + expected);
        out.socketPath = url.path(QUrl::FullyDecoded);
        if (!out.socketPath.startsWith(u'/') || out.socketPath.size() < 2)
            return plainError(QStringLiteral("missing socket path; ") + expected);
        out.db = queryDb.value_or(0);
        return out;
    }

    out.host = url.host(QUrl::FullyDecoded);
    if (out.host.isEmpty())
        return plainError(QStringLiteral("missing host; ") + expected);
    if (url.port() == 0)
        return plainError(QStringLiteral("port must be 1-65535"));
    out.port = static_cast<quint16>(url.port(6379));
    QString path = url.path(QUrl::FullyDecoded);
    if (path.startsWith(u'/'))
        path.remove(0, 1);
    if (!path.isEmpty()) {
        const auto db = parseDb(path);
        if (!db)
            return plainError(QStringLiteral("database must be a non-negative integer, as in redis://HOST:PORT/0"));
        if (queryDb)
            return plainError(QStringLiteral("the database number is given twice"));
        out.db = *db;
    } else {
        out.db = queryDb.value_or(0);
    }
    return out;
}

QString RedisUrl::redacted() const
{
    QString auth;
    if (!username.isEmpty() || !password.isEmpty())
        auth = enc(username) + (password.isEmpty() ? QString() : QStringLiteral(":***")) + u'@';
    if (transport == Transport::Unix)
        return QLatin1StringView("unix://") + auth + socketPath + QLatin1StringView("?db=") + QString::number(db);
    return QLatin1StringView("redis://") + auth + urlHost(host) + u':' + QString::number(port) + u'/' +
           QString::number(db);
}

QString redactUrlSecrets(const QString &url)
{
    QString out = url;
    const qsizetype schemeEnd = out.indexOf(QLatin1StringView("://"));
    if (schemeEnd >= 0) {
        const qsizetype authStart = schemeEnd + 3;
        qsizetype authEnd = out.size();
        for (const QChar stop : {u'/', u'?', u'#'}) {
            const qsizetype p = out.indexOf(stop, authStart);
            if (p >= 0 && p < authEnd)
                authEnd = p;
        }
        // The last '@' ends the userinfo: an unencoded '@' inside a password must not leak its tail.
        const qsizetype at = out.lastIndexOf(u'@', authEnd - 1);
        if (at >= authStart) {
            const qsizetype colon = out.indexOf(u':', authStart);
            if (colon >= 0 && colon < at)
                out.replace(colon + 1, at - colon - 1, QStringLiteral("***"));
        }
    }
    // password=... and sslpassword=... in a query string.
    for (const QLatin1StringView key : {QLatin1StringView("password="), QLatin1StringView("sslpassword=")}) {
        qsizetype from = 0;
        while (true) {
            const qsizetype p = out.indexOf(key, from, Qt::CaseInsensitive);
            if (p < 0)
                break;
            const bool atParamStart = p > 0 && (out.at(p - 1) == u'?' || out.at(p - 1) == u'&');
            const qsizetype valueStart = p + key.size();
            if (!atParamStart) {
                from = valueStart;
                continue;
            }
            qsizetype valueEnd = out.indexOf(u'&', valueStart);
            const qsizetype hash = out.indexOf(u'#', valueStart);
            if (valueEnd < 0 || (hash >= 0 && hash < valueEnd))
                valueEnd = hash;
            if (valueEnd < 0)
                valueEnd = out.size();
            out.replace(valueStart, valueEnd - valueStart, QStringLiteral("***"));
            from = valueStart + 3;
        }
    }
    return out;
}

// -------------------------------------------------------------------------------------------------
// Defaults

int ServerConfig::effectiveThreads() const
{
    return threads > 0 ? threads : qMax(1, QThread::idealThreadCount());
}

DatabaseUrl DatabaseConfig::defaultParsedUrl()
{
    DatabaseUrl u;
    u.host = QStringLiteral("127.0.0.1");
    u.port = 5432;
    u.user = QStringLiteral("llmpool");
    u.database = QStringLiteral("llmpool");
    return u;
}

// -------------------------------------------------------------------------------------------------
// The TOML reader. Each section function reads its keys through a SectionReader, which records the
// key (so knownKeys() and the unknown-key check come from the same code as the parsing) and turns
// every problem into the first, and only, error.

namespace {

QString tomlTypeName(toml::node_type type)
{
    switch (type) {
    case toml::node_type::string:
        return QStringLiteral("a string");
    case toml::node_type::integer:
        return QStringLiteral("an integer");
    case toml::node_type::floating_point:
        return QStringLiteral("a float");
    case toml::node_type::boolean:
        return QStringLiteral("a boolean");
    case toml::node_type::date:
        return QStringLiteral("a date");
    case toml::node_type::time:
        return QStringLiteral("a time");
    case toml::node_type::date_time:
        return QStringLiteral("a date-time");
    case toml::node_type::table:
        return QStringLiteral("a table");
    case toml::node_type::array:
        return QStringLiteral("an array");
    case toml::node_type::none:
        break;
    }
    return QStringLiteral("nothing");
}

QString fromStd(std::string_view s)
{
    return QString::fromUtf8(s.data(), static_cast<qsizetype>(s.size()));
}

class Parser
{
public:
    explicit Parser(QString file) : m_file(std::move(file)) {}

    bool failed() const { return m_error.has_value(); }
    const Error &error() const { return *m_error; }
    QStringList &keys() { return m_keys; }

    // "<file>: <key>: <problem>"
    void fail(const QString &key, const QString &problem)
    {
        if (!m_error)
            m_error = configError(m_file + QLatin1StringView(": ") + key + QLatin1StringView(": ") + problem, key);
    }
    void failUnknown(const QString &what, const QString &key, const toml::node &node)
    {
        if (!m_error) {
            const auto line = node.source().begin.line;
            QString msg = m_file + QLatin1StringView(": unknown ") + what + u' ' + quoted(key);
            if (line > 0)
                msg += QStringLiteral(" (line %1)").arg(line);
            m_error = configError(msg, key);
        }
    }

    void parse(const toml::table &root, Config &config);

private:
    QString m_file;
    std::optional<Error> m_error;
    QStringList m_keys;
};

class SectionReader
{
public:
    SectionReader(Parser &parser, const toml::table *table, const char *section)
        : m_parser(parser), m_table(table), m_section(QString::fromLatin1(section))
    {
    }

    void string(const char *key, QString &out)
    {
        if (const auto *node = take(key, toml::node_type::string))
            out = fromStd(node->as_string()->get());
    }
    void secret(const char *key, QByteArray &out)
    {
        if (const auto *node = take(key, toml::node_type::string)) {
            const std::string &s = node->as_string()->get();
            out = QByteArray(s.data(), static_cast<qsizetype>(s.size()));
        }
    }
    void boolean(const char *key, bool &out)
    {
        if (const auto *node = take(key, toml::node_type::boolean))
            out = node->as_boolean()->get();
    }
    template <typename Int> void integer(const char *key, Int &out, qint64 min, qint64 max)
    {
        static_assert(std::is_integral_v<Int>);
        if (const auto *node = take(key, toml::node_type::integer)) {
            const qint64 v = node->as_integer()->get();
            if (v < min || v > max) {
                fail(key, max == std::numeric_limits<qint64>::max()
                              ? QStringLiteral("must be at least %1, got %2").arg(min).arg(v)
                              : QStringLiteral("must be between %1 and %2, got %3").arg(min).arg(max).arg(v));
                return;
            }
            out = static_cast<Int>(v);
        }
    }

    // Whether the key was present (valid or not); lets a section skip derived checks.
    bool present(const char *key) const { return m_table && m_table->contains(key); }

    void fail(const char *key, const QString &problem) { m_parser.fail(path(key), problem); }

    // Unknown keys: anything in the table that no read above asked for.
    void finish()
    {
        if (!m_table || m_parser.failed())
            return;
        for (const auto &[k, node] : *m_table) {
            const QString key = fromStd(k.str());
            if (!m_taken.contains(key)) {
                m_parser.failUnknown(QStringLiteral("key"), m_section + u'.' + key, node);
                return;
            }
        }
    }

    QString path(const char *key) const { return m_section + u'.' + QLatin1StringView(key); }

private:
    const toml::node *take(const char *key, toml::node_type type)
    {
        m_parser.keys().append(path(key));
        m_taken.insert(QLatin1StringView(key));
        if (!m_table || m_parser.failed())
            return nullptr;
        const toml::node *node = m_table->get(key);
        if (!node)
            return nullptr;
        if (node->type() != type) {
            fail(key, QStringLiteral("expected %1, got %2").arg(tomlTypeName(type), tomlTypeName(node->type())));
            return nullptr;
        }
        return node;
    }

    Parser &m_parser;
    const toml::table *m_table;
    QString m_section;
    QSet<QString> m_taken;
};

constexpr qint64 kIntMax = std::numeric_limits<int>::max();
constexpr qint64 kDayMs = 24LL * 3600 * 1000;

void readServer(SectionReader &r, Config &c)
{
    ServerConfig &s = c.server;
    QString bind;
    r.string("bind", bind);
    if (r.present("bind")) {
        auto parsed = BindAddress::parse(bind);
        if (!parsed)
            r.fail("bind", parsed.error().message);
        else
            s.bind = *parsed;
    }
    r.integer("threads", s.threads, 0, 1024);
    r.integer("max_body_bytes", s.maxBodyBytes, 1, qint64(1) << 40);
    r.integer("max_header_bytes", s.maxHeaderBytes, 1024, 16 * 1024 * 1024);
    r.integer("idle_timeout_ms", s.idleTimeoutMs, 1, kDayMs);
    r.integer("header_timeout_ms", s.headerTimeoutMs, 1, kDayMs);
    r.integer("body_timeout_ms", s.bodyTimeoutMs, 1, kDayMs);
    r.integer("max_connections", s.maxConnections, 1, 10'000'000);
}

void readDatabase(SectionReader &r, Config &c)
{
    DatabaseConfig &d = c.database;
    QString url;
    r.string("url", url);
    if (r.present("url")) {
        auto parsed = DatabaseUrl::parse(url);
        if (!parsed) {
            r.fail("url", parsed.error().message);
        } else {
            d.url = url;
            d.parsedUrl = *parsed;
        }
    }
    r.integer("pool_size", d.poolSize, 1, 256);
}

void readRedis(SectionReader &r, Config &c)
{
    QString url;
    r.string("url", url);
    if (r.present("url")) {
        auto parsed = RedisUrl::parse(url);
        if (!parsed) {
            r.fail("url", parsed.error().message);
        } else {
            c.redis.url = url;
            c.redis.parsedUrl = *parsed;
        }
    }
}

// RFC 7518 §3.2: an HS256 key must have at least 256 bits. Shorter secrets still work (operators
// upgrading from looser tools) but are reported as warnings; the secret itself is never echoed.
constexpr qsizetype kMinJwtSecretBytes = 32;
constexpr qsizetype kMinStaticKeyBytes = 16;

void readAdmin(SectionReader &r, Config &c)
{
    r.secret("jwt_secret", c.admin.jwtSecret);
    r.secret("static_key", c.admin.staticKey);
    if (!c.admin.jwtSecret.isEmpty() && c.admin.jwtSecret.size() < kMinJwtSecretBytes)
        c.warnings.append(QStringLiteral("admin.jwt_secret is shorter than %1 bytes; use a long random secret "
                                         "(e.g. `openssl rand -hex 32`)")
                              .arg(kMinJwtSecretBytes));
    if (!c.admin.staticKey.isEmpty() && c.admin.staticKey.size() < kMinStaticKeyBytes)
        c.warnings.append(
            QStringLiteral("admin.static_key is shorter than %1 bytes; use a long random key").arg(kMinStaticKeyBytes));
}

void readSecurity(SectionReader &r, Config &c)
{
    QString hex;
    r.string("encryption_key", hex);
    if (hex.isEmpty())
        return;
    bool allHex = hex.size() == 64;
    for (const QChar ch : hex) {
        const bool isHex = (ch >= u'0' && ch <= u'9') || (ch >= u'a' && ch <= u'f') || (ch >= u'A' && ch <= u'F');
        allHex = allHex && isHex;
    }
    // Neither the value nor its length is echoed: both would tell an onlooker about the key.
    if (!allHex) {
        r.fail("encryption_key", QStringLiteral("must be empty or exactly 64 hexadecimal characters (a 32-byte "
                                                "AES-256 key, e.g. from `openssl rand -hex 32`)"));
        return;
    }
    c.security.encryptionKey = QByteArray::fromHex(hex.toLatin1());
}

void readUpstream(SectionReader &r, Config &c)
{
    UpstreamConfig &u = c.upstream;
    r.integer("connect_timeout_ms", u.connectTimeoutMs, 1, kDayMs);
    r.integer("first_byte_timeout_ms", u.firstByteTimeoutMs, 1, kDayMs);
    r.integer("idle_timeout_ms", u.idleTimeoutMs, 1, kDayMs);
    r.integer("total_timeout_ms", u.totalTimeoutMs, 1, kDayMs);
    r.integer("max_attempts", u.maxAttempts, 1, 10);
    r.integer("health_check_interval_ms", u.healthCheckIntervalMs, 100, kDayMs);
    r.integer("eject_base_ms", u.ejectBaseMs, 1, kDayMs);
    r.integer("eject_max_ms", u.ejectMaxMs, 1, kDayMs);
    if (u.ejectBaseMs > u.ejectMaxMs)
        r.fail("eject_base_ms", QStringLiteral("must not exceed upstream.eject_max_ms (%1)").arg(u.ejectMaxMs));
    if (u.totalTimeoutMs < u.connectTimeoutMs)
        r.fail("total_timeout_ms",
               QStringLiteral("must be at least upstream.connect_timeout_ms (%1)").arg(u.connectTimeoutMs));
}

void readBilling(SectionReader &r, Config &c)
{
    BillingConfig &b = c.billing;
    QString currency = b.currency;
    r.string("currency", currency);
    bool printable = !currency.isEmpty() && currency.size() <= 16;
    for (const QChar ch : currency)
        printable = printable && ch.isPrint() && !ch.isSpace();
    if (!printable)
        r.fail("currency", QStringLiteral("must be 1-16 printable characters without spaces, got ") + quoted(currency));
    else
        b.currency = currency;
    r.boolean("reservation", b.reservation);
    r.boolean("reservation_lease", b.reservationLease);
    r.integer("default_max_output_tokens", b.defaultMaxOutputTokens, 1, 10'000'000);
    r.string("spool_dir", b.spoolDir);
    if (b.spoolDir.trimmed().isEmpty())
        r.fail("spool_dir", QStringLiteral("must not be empty"));
}

void readWorker(SectionReader &r, Config &c)
{
    r.boolean("in_process", c.worker.inProcess);
    r.integer("concurrency", c.worker.concurrency, 1, 256);
    r.integer("batch_size", c.worker.batchSize, 1, 10'000);
    r.integer("claim_idle_ms", c.worker.claimIdleMs, 1'000, 86'400'000);
    r.integer("linger_ms", c.worker.lingerMs, 0, 10'000);
}

void readRateLimit(SectionReader &r, Config &c)
{
    r.boolean("enabled", c.rateLimit.enabled);
    r.integer("default_rpm", c.rateLimit.defaultRpm, 0, kIntMax);
    r.integer("default_tpm", c.rateLimit.defaultTpm, 0, std::numeric_limits<qint64>::max());
}

void readTelemetry(SectionReader &r, Config &c)
{
    TelemetryConfig &t = c.telemetry;
    QString format;
    r.string("log_format", format);
    if (format == QLatin1StringView("text"))
        t.logFormat = TelemetryConfig::LogFormat::Text;
    else if (format == QLatin1StringView("json"))
        t.logFormat = TelemetryConfig::LogFormat::Json;
    else if (r.present("log_format"))
        r.fail("log_format", QStringLiteral("expected \"text\" or \"json\", got ") + quoted(format.left(64)));

    QString endpoint;
    r.string("otlp_endpoint", endpoint);
    if (!endpoint.isEmpty()) {
        const QUrl url(endpoint, QUrl::StrictMode);
        const bool ok = url.isValid() &&
                        (url.scheme() == QLatin1StringView("http") || url.scheme() == QLatin1StringView("https")) &&
                        !url.host().isEmpty() && !url.hasQuery() && !url.hasFragment();
        // The endpoint may embed credentials, so it is not echoed.
        if (!ok)
            r.fail("otlp_endpoint", QStringLiteral("expected an http:// or https:// URL such as "
                                                   "\"http://127.0.0.1:4318\", or \"\" to disable tracing"));
        else
            t.otlpEndpoint = endpoint;
    }

    QString service = t.serviceName;
    r.string("service_name", service);
    bool ok = !service.isEmpty() && service.size() <= 128;
    for (const QChar ch : service)
        ok = ok && ch.isPrint();
    if (!ok)
        r.fail("service_name", QStringLiteral("must be 1-128 printable characters"));
    else
        t.serviceName = service;
}

void readUsage(SectionReader &r, Config &c)
{
    r.integer("retention_days", c.usage.retentionDays, 0, 100 * 366);
}

struct SectionDef
{
    const char *name;
    void (*read)(SectionReader &, Config &);
};

// File order of llmpool.toml.example.
constexpr SectionDef kSections[] = {
    {"server", readServer},        {"database", readDatabase},   {"redis", readRedis},     {"admin", readAdmin},
    {"security", readSecurity},    {"upstream", readUpstream},   {"billing", readBilling}, {"worker", readWorker},
    {"rate_limit", readRateLimit}, {"telemetry", readTelemetry}, {"usage", readUsage},
};

void Parser::parse(const toml::table &root, Config &config)
{
    // Unknown top-level entries first: a misspelt section would otherwise be silently ignored.
    for (const auto &[k, node] : root) {
        const std::string_view key = k.str();
        bool known = false;
        for (const SectionDef &s : kSections)
            known = known || key == s.name;
        if (!known) {
            failUnknown(node.is_table() ? QStringLiteral("section") : QStringLiteral("key"), fromStd(key), node);
            return;
        }
        if (!node.is_table()) {
            fail(fromStd(key),
                 QStringLiteral("expected a table ([%1]), got %2").arg(fromStd(key), tomlTypeName(node.type())));
            return;
        }
    }
    for (const SectionDef &s : kSections) {
        SectionReader reader(*this, root.get_as<toml::table>(s.name), s.name);
        s.read(reader, config);
        reader.finish();
    }
}

Error syntaxError(const QString &file, const toml::parse_error &e)
{
    // toml++ quotes at most a key name or a character of the input; the description is still kept to
    // one bounded line so a malformed file cannot turn the error into a multi-line dump.
    QString description = fromStd(e.description()).left(200);
    for (QChar &ch : description) {
        if (ch.unicode() < 0x20 || ch.unicode() == 0x7f)
            ch = u' ';
    }
    const auto &pos = e.source().begin;
    return configError(
        QStringLiteral("%1:%2:%3: TOML syntax error: %4").arg(file).arg(pos.line).arg(pos.column).arg(description));
}

QString resolve(const QString &path, const QString &workingDir)
{
    if (workingDir.isEmpty() || QDir::isAbsolutePath(path))
        return path;
    return QDir(workingDir).filePath(path);
}

} // namespace

// -------------------------------------------------------------------------------------------------
// ConfigLoader

Result<Config> ConfigLoader::parse(QByteArrayView toml, const QString &sourceName)
{
    const std::string_view text(toml.data(), static_cast<size_t>(toml.size()));
    toml::table root;
    // toml++ is built with exceptions (Debian's shared library has only the throwing API); they are
    // caught here and never leave this file.
    try {
        root = toml::parse(text, sourceName.toStdString());
    } catch (const toml::parse_error &e) {
        return syntaxError(sourceName, e);
    }

    Config config;
    config.sourcePath = sourceName;
    Parser parser(sourceName);
    parser.parse(root, config);
    if (parser.failed())
        return parser.error();
    return config;
}

Result<Config> ConfigLoader::loadFile(const QString &path, const QString &displayName)
{
    const QString name = displayName.isEmpty() ? path : displayName;
    const QFileInfo info(path);
    if (!info.exists())
        return configError(name + QLatin1StringView(": cannot read config file: No such file or directory"));
    if (info.isDir())
        return configError(name + QLatin1StringView(": cannot read config file: is a directory"));
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return configError(name + QLatin1StringView(": cannot read config file: ") + file.errorString());
    const QByteArray data = file.read(kMaxConfigFileBytes + 1);
    if (file.error() != QFileDevice::NoError)
        return configError(name + QLatin1StringView(": cannot read config file: ") + file.errorString());
    if (data.size() > kMaxConfigFileBytes)
        return configError(name + QStringLiteral(": config file is larger than %1 bytes").arg(kMaxConfigFileBytes));
    return parse(data, name);
}

Status ConfigLoader::applyEnvironment(Config &config, const QProcessEnvironment &env)
{
    const QString dbUrl = env.value(QStringLiteral("DATABASE_URL"));
    if (!dbUrl.isEmpty()) {
        auto parsed = DatabaseUrl::parse(dbUrl);
        if (!parsed)
            return configError(QLatin1StringView("$DATABASE_URL: database.url: ") + parsed.error().message,
                               QStringLiteral("database.url"));
        config.database.url = dbUrl;
        config.database.parsedUrl = *parsed;
    }
    const QString redisUrl = env.value(QStringLiteral("REDIS_URL"));
    if (!redisUrl.isEmpty()) {
        auto parsed = RedisUrl::parse(redisUrl);
        if (!parsed)
            return configError(QLatin1StringView("$REDIS_URL: redis.url: ") + parsed.error().message,
                               QStringLiteral("redis.url"));
        config.redis.url = redisUrl;
        config.redis.parsedUrl = *parsed;
    }
    return Ok{};
}

Result<Config> ConfigLoader::load(const QString &explicitPath, const QProcessEnvironment &env,
                                  const QString &workingDir)
{
    Result<Config> loaded = Config{};
    const QString fromEnv = env.value(QStringLiteral("LLMPOOL_CONFIG"));
    const auto loadNamed = [&](const QString &path, const char *origin) -> Result<Config> {
        const QString resolved = resolve(path, workingDir);
        if (!QFileInfo::exists(resolved))
            return configError(
                path + QStringLiteral(": config file (given by %1) does not exist").arg(QLatin1StringView(origin)));
        return loadFile(resolved, path);
    };
    if (!explicitPath.isEmpty()) {
        loaded = loadNamed(explicitPath, "--config");
    } else if (!fromEnv.isEmpty()) {
        loaded = loadNamed(fromEnv, "$LLMPOOL_CONFIG");
    } else {
        const QString local = QStringLiteral("llmpool.toml");
        // Only absence means "use defaults"; an unreadable or invalid ./llmpool.toml is an error.
        if (QFileInfo(resolve(local, workingDir)).exists() || QFileInfo(resolve(local, workingDir)).isSymLink())
            loaded = loadFile(resolve(local, workingDir), local);
    }
    if (!loaded)
        return loaded;
    Config config = std::move(loaded).value();
    if (const Status s = applyEnvironment(config, env); !s)
        return s.error();
    return config;
}

QStringList ConfigLoader::knownKeys()
{
    Parser parser(QStringLiteral("(keys)"));
    Config scratch;
    parser.parse(toml::table{}, scratch);
    return parser.keys();
}

} // namespace llmpool
