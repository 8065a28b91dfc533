#pragma once

// ConnectionUrls: what storage adds to the shared URL types (Config.h: DatabaseUrl and RedisUrl,
// the one parser of each): the error codes storage's callers depend on, and turning a DatabaseUrl
// into QSqlDatabase (QPSQL) settings. Free functions, any thread.

#include "Config.h"
#include "Result.h"

#include <QList>
#include <QString>

#include <utility>

class QSqlDatabase;

namespace llmpool::gateway {

// DatabaseUrl::parse, failing with "database_url_invalid" (500) as Database::start() reports it.
// The message names the problem, never the URL or its password.
Result<DatabaseUrl> parseDatabaseUrl(const QString &url);

// RedisUrl::parse, failing with "redis_url_invalid" (500) as RedisClient / RedisSyncClient report
// it. The message never contains the URL or its password.
Result<RedisUrl> parseRedisUrl(const QString &url);

// Applies host, port, user, password, database and the URL's options to a QPSQL connection.
// `extra` options (the pool's own: timeouts, keepalives, server settings) come after the URL's;
// on a duplicate key the URL wins (the operator's explicit choice), except `options` (server
// settings "-c name=value …"), whose values are combined with the URL's last so they win too.
void applyDatabaseUrl(QSqlDatabase &db, const DatabaseUrl &url, const QList<std::pair<QString, QString>> &extra = {});

} // namespace llmpool::gateway
