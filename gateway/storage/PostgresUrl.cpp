#include "storage/PostgresUrl.h"

#include <QRegularExpression>
#include <QSqlDatabase>
#include <QUrl>

#include <algorithm>
#include <optional>

namespace llmpool::gateway {

namespace {

Error invalid(const QString &why)
{
    return Error::internal(QStringLiteral("database_url_invalid"), QStringLiteral("invalid database URL: ") + why);
}

// Strict percent-decoding: a '%' must be followed by two hex digits (QByteArray::fromPercentEncoding
// would pass a broken escape through silently, and a typo in a password deserves a clear error).
std::optional<QString> percentDecode(QStringView text)
{
    const QByteArray utf8 = text.toUtf8();
    for (qsizetype i = 0; i < utf8.size(); ++i) {
        if (utf8.at(i) != '%')
            continue;
        if (i + 2 >= utf8.size() || !isxdigit(static_cast<unsigned char>(utf8.at(i + 1))) ||
            !isxdigit(static_cast<unsigned char>(utf8.at(i + 2))))
            return std::nullopt;
        i += 2;
    }
    return QString::fromUtf8(QByteArray::fromPercentEncoding(utf8));
}

std::optional<int> parsePort(const QString &text)
{
    bool ok = false;
    const int port = text.toInt(&ok);
    if (!ok || port < 1 || port > 65535)
        return std::nullopt;
    return port;
}

// libpq's connection-string quoting: single quotes, backslash-escaping ' and \.
QString quoteValue(const QString &value)
{
    QString out;
    out.reserve(value.size() + 2);
    out += QLatin1Char('\'');
    for (const QChar c : value) {
        if (c == QLatin1Char('\'') || c == QLatin1Char('\\'))
            out += QLatin1Char('\\');
        out += c;
    }
    out += QLatin1Char('\'');
    return out;
}

} // namespace

Result<PostgresUrl> PostgresUrl::parse(const QString &url)
{
    PostgresUrl out;
    QStringView rest(url);
    rest = rest.trimmed();
    if (rest.startsWith(u"postgres://"))
        rest = rest.mid(11);
    else if (rest.startsWith(u"postgresql://"))
        rest = rest.mid(13);
    else
        return invalid(QStringLiteral("expected a postgres:// or postgresql:// URL"));

    // Split off the query first: '?' cannot appear unencoded in the other parts.
    QStringView query;
    if (const qsizetype q = rest.indexOf(u'?'); q >= 0) {
        query = rest.mid(q + 1);
        rest = rest.left(q);
    }
    QStringView authority = rest;
    QStringView path;
    if (const qsizetype slash = rest.indexOf(u'/'); slash >= 0) {
        authority = rest.left(slash);
        path = rest.mid(slash + 1);
    }

    // userinfo: the last '@' separates it, so an unencoded '@' in a password still parses.
    if (const qsizetype at = authority.lastIndexOf(u'@'); at >= 0) {
        const QStringView userinfo = authority.left(at);
        authority = authority.mid(at + 1);
        const qsizetype colon = userinfo.indexOf(u':');
        const auto user = percentDecode(colon >= 0 ? userinfo.left(colon) : userinfo);
        if (!user)
            return invalid(QStringLiteral("bad percent-encoding in the user name"));
        out.user = *user;
        if (colon >= 0) {
            const auto password = percentDecode(userinfo.mid(colon + 1));
            if (!password)
                return invalid(QStringLiteral("bad percent-encoding in the password"));
            out.password = *password;
        }
    }

    // host[:port], with [v6]:port
    QStringView hostPart = authority;
    QStringView portPart;
    if (authority.startsWith(u'[')) {
        const qsizetype close = authority.indexOf(u']');
        if (close < 0)
            return invalid(QStringLiteral("unterminated [IPv6] host"));
        hostPart = authority.mid(1, close - 1);
        const QStringView after = authority.mid(close + 1);
        if (!after.isEmpty()) {
            if (!after.startsWith(u':'))
                return invalid(QStringLiteral("unexpected text after the [IPv6] host"));
            portPart = after.mid(1);
        }
    } else if (const qsizetype colon = authority.lastIndexOf(u':'); colon >= 0) {
        hostPart = authority.left(colon);
        portPart = authority.mid(colon + 1);
    }
    if (hostPart.contains(u',') || portPart.contains(u','))
        return invalid(QStringLiteral("several hosts are not supported"));
    const auto host = percentDecode(hostPart);
    if (!host)
        return invalid(QStringLiteral("bad percent-encoding in the host"));
    out.host = *host;
    if (!portPart.isEmpty()) {
        const auto port = parsePort(portPart.toString());
        if (!port)
            return invalid(QStringLiteral("the port must be a number from 1 to 65535"));
        out.port = *port;
    }

    if (!path.isEmpty()) {
        const auto database = percentDecode(path);
        if (!database)
            return invalid(QStringLiteral("bad percent-encoding in the database name"));
        if (database->contains(u'/'))
            return invalid(QStringLiteral("the path must be a single database name"));
        out.database = *database;
    }

    if (!query.isEmpty()) {
        for (const QStringView pair : query.split(u'&', Qt::SkipEmptyParts)) {
            const qsizetype eq = pair.indexOf(u'=');
            if (eq <= 0)
                return invalid(QStringLiteral("query parameters must be KEY=VALUE"));
            const auto key = percentDecode(pair.left(eq));
            // '+' is not a space in libpq URIs; only %20 is.
            const auto value = percentDecode(pair.mid(eq + 1));
            if (!key || !value)
                return invalid(QStringLiteral("bad percent-encoding in a query parameter"));
            static const QRegularExpression keyword(QStringLiteral("^[a-z_]+$"));
            if (!keyword.match(*key).hasMatch())
                return invalid(QStringLiteral("unknown query parameter \"%1\"").arg(key->left(40)));
            if (*key == u"host") {
                out.host = *value;
            } else if (*key == u"port") {
                const auto port = parsePort(*value);
                if (!port)
                    return invalid(QStringLiteral("the port must be a number from 1 to 65535"));
                out.port = *port;
            } else if (*key == u"user") {
                out.user = *value;
            } else if (*key == u"password") {
                out.password = *value;
            } else if (*key == u"dbname") {
                out.database = *value;
            } else {
                out.options.append({*key, *value});
            }
        }
    }
    return out;
}

QString PostgresUrl::redacted() const
{
    QString out = QStringLiteral("postgres://");
    if (!user.isEmpty() || !password.isEmpty()) {
        out += QString::fromUtf8(QUrl::toPercentEncoding(user));
        if (!password.isEmpty())
            out += QStringLiteral(":***");
        out += QLatin1Char('@');
    }
    const bool socketDir = host.startsWith(QLatin1Char('/'));
    if (!socketDir) {
        out += host.contains(QLatin1Char(':')) ? QLatin1Char('[') + host + QLatin1Char(']') : host;
        out += QLatin1Char(':') + QString::number(port);
    }
    out += QLatin1Char('/') + QString::fromUtf8(QUrl::toPercentEncoding(database));
    QStringList query;
    if (socketDir)
        query << QStringLiteral("host=") + QString::fromUtf8(QUrl::toPercentEncoding(host, "/"));
    for (const auto &[key, value] : options)
        query << key + QLatin1Char('=') + QString::fromUtf8(QUrl::toPercentEncoding(value));
    if (!query.isEmpty())
        out += QLatin1Char('?') + query.join(QLatin1Char('&'));
    return out;
}

QString PostgresUrl::connectOptionsString(const QList<std::pair<QString, QString>> &options)
{
    QStringList parts;
    parts.reserve(options.size());
    for (const auto &[key, value] : options)
        parts << key + QLatin1Char('=') + quoteValue(value);
    return parts.join(QLatin1Char(';'));
}

void PostgresUrl::applyTo(QSqlDatabase &db, const QList<std::pair<QString, QString>> &extra) const
{
    db.setHostName(host);
    db.setPort(port);
    db.setUserName(user);
    db.setPassword(password);
    db.setDatabaseName(database);
    QList<std::pair<QString, QString>> all = options;
    for (const auto &option : extra) {
        auto given = std::find_if(all.begin(), all.end(), [&](const auto &o) { return o.first == option.first; });
        if (given == all.end())
            all.append(option);
        else if (option.first == u"options")
            // Server settings ("-c name=value …") combine; the URL's come last and so win.
            given->second = option.second + QLatin1Char(' ') + given->second;
    }
    db.setConnectOptions(connectOptionsString(all));
}

} // namespace llmpool::gateway
