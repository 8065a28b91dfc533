#include "storage/RedisEndpoint.h"

#include <QUrl>

#include <optional>

namespace llmpool::gateway {

namespace {

Error invalid(const QString &why)
{
    return Error::internal(QStringLiteral("redis_url_invalid"), QStringLiteral("invalid Redis URL: ") + why);
}

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

std::optional<int> parseNumber(QStringView text, int min, int max)
{
    bool ok = false;
    const int n = text.toInt(&ok);
    if (!ok || n < min || n > max)
        return std::nullopt;
    return n;
}

} // namespace

Result<RedisEndpoint> RedisEndpoint::parse(const QString &url)
{
    RedisEndpoint out;
    QStringView rest = QStringView(url).trimmed();
    bool unixSocket = false;
    if (rest.startsWith(u"redis://")) {
        rest = rest.mid(8);
    } else if (rest.startsWith(u"unix://")) {
        rest = rest.mid(7);
        unixSocket = true;
    } else if (rest.startsWith(u"redis+unix://")) {
        rest = rest.mid(13);
        unixSocket = true;
    } else if (rest.startsWith(u"rediss://")) {
        return invalid(QStringLiteral("rediss:// (TLS) is not supported by this build; use redis:// or unix://"));
    } else {
        return invalid(QStringLiteral("expected a redis:// or unix:// URL"));
    }

    QStringView query;
    if (const qsizetype q = rest.indexOf(u'?'); q >= 0) {
        query = rest.mid(q + 1);
        rest = rest.left(q);
    }

    // userinfo ends at the last '@' before the path (a password may contain an unencoded '@').
    const qsizetype pathStart = unixSocket ? rest.indexOf(u'/') : -1;
    const QStringView beforePath = pathStart >= 0 ? rest.left(pathStart) : rest;
    if (const qsizetype at = beforePath.lastIndexOf(u'@'); at >= 0) {
        const QStringView userinfo = rest.left(at);
        rest = rest.mid(at + 1);
        const qsizetype colon = userinfo.indexOf(u':');
        const auto user = percentDecode(colon >= 0 ? userinfo.left(colon) : userinfo);
        const auto password = colon >= 0 ? percentDecode(userinfo.mid(colon + 1)) : std::optional<QString>(QString());
        if (!user || !password)
            return invalid(QStringLiteral("bad percent-encoding in the user or password"));
        out.username = *user;
        out.password = *password;
        // redis://secret@host: a lone userinfo is the password, as redis-cli reads it.
        if (colon < 0) {
            out.password = out.username;
            out.username.clear();
        }
    }

    if (unixSocket) {
        const auto path = percentDecode(rest);
        if (!path || !path->startsWith(QLatin1Char('/')))
            return invalid(QStringLiteral("a unix:// URL needs an absolute socket path"));
        out.socketPath = *path;
    } else {
        QStringView authority = rest;
        QStringView path;
        if (const qsizetype slash = rest.indexOf(u'/'); slash >= 0) {
            authority = rest.left(slash);
            path = rest.mid(slash + 1);
        }
        QStringView hostPart = authority;
        QStringView portPart;
        if (authority.startsWith(u'[')) {
            const qsizetype close = authority.indexOf(u']');
            if (close < 0)
                return invalid(QStringLiteral("unterminated [IPv6] host"));
            hostPart = authority.mid(1, close - 1);
            if (authority.mid(close + 1).startsWith(u':'))
                portPart = authority.mid(close + 2);
            else if (!authority.mid(close + 1).isEmpty())
                return invalid(QStringLiteral("unexpected text after the [IPv6] host"));
        } else if (const qsizetype colon = authority.lastIndexOf(u':'); colon >= 0) {
            hostPart = authority.left(colon);
            portPart = authority.mid(colon + 1);
        }
        const auto host = percentDecode(hostPart);
        if (!host)
            return invalid(QStringLiteral("bad percent-encoding in the host"));
        if (!host->isEmpty())
            out.host = *host;
        if (!portPart.isEmpty()) {
            const auto port = parseNumber(portPart, 1, 65535);
            if (!port)
                return invalid(QStringLiteral("the port must be a number from 1 to 65535"));
            out.port = *port;
        }
        if (!path.isEmpty()) {
            const auto db = parseNumber(path, 0, 1'000'000);
            if (!db)
                return invalid(QStringLiteral("the path must be a database number"));
            out.db = *db;
        }
    }

    for (const QStringView pair : query.split(u'&', Qt::SkipEmptyParts)) {
        const qsizetype eq = pair.indexOf(u'=');
        const QStringView key = eq >= 0 ? pair.left(eq) : pair;
        const auto value = percentDecode(eq >= 0 ? pair.mid(eq + 1) : QStringView());
        if (!value)
            return invalid(QStringLiteral("bad percent-encoding in a query parameter"));
        if (key == u"db") {
            const auto db = parseNumber(*value, 0, 1'000'000);
            if (!db)
                return invalid(QStringLiteral("db must be a database number"));
            out.db = *db;
        } else if (key == u"password") {
            out.password = *value;
        } else {
            return invalid(QStringLiteral("unknown query parameter \"%1\"").arg(key.left(40)));
        }
    }
    return out;
}

QString RedisEndpoint::redacted() const
{
    QString userinfo;
    if (!username.isEmpty() || !password.isEmpty()) {
        userinfo = QString::fromUtf8(QUrl::toPercentEncoding(username));
        if (!password.isEmpty())
            userinfo += QStringLiteral(":***");
        userinfo += QLatin1Char('@');
    }
    if (isUnix())
        return QStringLiteral("unix://") + userinfo + socketPath +
               (db ? QStringLiteral("?db=") + QString::number(db) : QString());
    const QString h = host.contains(QLatin1Char(':')) ? QLatin1Char('[') + host + QLatin1Char(']') : host;
    return QStringLiteral("redis://") + userinfo + h + QLatin1Char(':') + QString::number(port) + QLatin1Char('/') +
           QString::number(db);
}

} // namespace llmpool::gateway
