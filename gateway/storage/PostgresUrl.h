#pragma once

// PostgresUrl: a parsed `postgres://` / `postgresql://` connection URL (the libpq URI form with one
// host), turned into QSqlDatabase (QPSQL) settings. A plain value type, usable on any thread.
//
//   postgres://[USER[:PASSWORD]@][HOST][:PORT][/DBNAME][?KEY=VALUE&...]
//
// Every component is percent-decoded. HOST may be a bracketed IPv6 literal, or omitted; a Unix
// socket directory is given either as `?host=/run/postgresql` or as a percent-encoded host
// (`postgres://%2Frun%2Fpostgresql/db`). Query keys `host`, `port`, `user`, `password`, `dbname`
// override the URI parts as in libpq; every other key (sslmode, connect_timeout,
// application_name, options, …) is passed to libpq as a connection option.
//
// Kept independent of shared/Config so the storage layer takes plain strings; the password is a
// secret and only redacted() may be logged.

#include "Result.h"

#include <QList>
#include <QString>

#include <utility>

class QSqlDatabase;

namespace llmpool::gateway {

class PostgresUrl
{
public:
    QString host; // name, IP literal (no brackets) or a Unix socket directory (starts with '/')
    int port = 5432;
    QString user;                               // empty: libpq's default (the OS user)
    QString password;                           // secret
    QString database;                           // empty: libpq's default (the user name)
    QList<std::pair<QString, QString>> options; // libpq keywords, in URL order

    // Error code "database_url_invalid" (500); the message never contains the URL or its password.
    static Result<PostgresUrl> parse(const QString &url);

    // The URL again with the password replaced by "***", for logs and status pages.
    QString redacted() const;

    // Applies host, port, user, password, database and the options to a QPSQL connection. `extra`
    // options are added after the URL's own; on a duplicate key the URL wins (the operator's
    // explicit choice), except `options` (server settings), whose values are combined.
    void applyTo(QSqlDatabase &db, const QList<std::pair<QString, QString>> &extra = {}) const;

    // The connect-options string for QSqlDatabase::setConnectOptions(): `key='value';…` with values
    // quoted for libpq (QPSQL turns ';' into the blank libpq expects).
    static QString connectOptionsString(const QList<std::pair<QString, QString>> &options);

    bool operator==(const PostgresUrl &) const = default;
};

} // namespace llmpool::gateway
