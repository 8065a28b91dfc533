#include "storage/ConnectionUrls.h"

#include <QSqlDatabase>

#include <algorithm>

namespace llmpool::gateway {

Result<DatabaseUrl> parseDatabaseUrl(const QString &url)
{
    Result<DatabaseUrl> parsed = DatabaseUrl::parse(url);
    if (!parsed)
        return Error::internal(QStringLiteral("database_url_invalid"),
                               QStringLiteral("invalid database URL: ") + parsed.error().message);
    return parsed;
}

Result<RedisUrl> parseRedisUrl(const QString &url)
{
    Result<RedisUrl> parsed = RedisUrl::parse(url);
    if (!parsed)
        return Error::internal(QStringLiteral("redis_url_invalid"),
                               QStringLiteral("invalid Redis URL: ") + parsed.error().message);
    return parsed;
}

void applyDatabaseUrl(QSqlDatabase &db, const DatabaseUrl &url, const QList<std::pair<QString, QString>> &extra)
{
    db.setHostName(url.host);
    db.setPort(url.port);
    db.setUserName(url.user);
    db.setPassword(url.password);
    db.setDatabaseName(url.database);
    // Merged into a copy so DatabaseUrl::connectOptions() does the libpq quoting in one place.
    DatabaseUrl merged = url;
    for (const auto &option : extra) {
        auto given = std::find_if(merged.options.begin(), merged.options.end(),
                                  [&](const auto &o) { return o.first == option.first; });
        if (given == merged.options.end())
            merged.options.append(option);
        else if (option.first == u"options")
            given->second = option.second + QLatin1Char(' ') + given->second;
    }
    db.setConnectOptions(merged.connectOptions());
}

} // namespace llmpool::gateway
