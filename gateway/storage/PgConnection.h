#pragma once

// PgConnection: what QtSql does not tell us about a QPSQL connection, read from libpq through
// QSqlDriver::handle(). Static helpers; call them on the thread that owns the connection.
//
// Why libpq directly: QPSQL reports a dead connection as an ordinary statement error (or as no
// error at all once the driver considers itself closed), cannot say whether a transaction was
// left open, and, for a multi-statement string, only checks the first statement's result.

#include "Result.h"

#include <QByteArray>
#include <QString>

class QSqlDatabase;

namespace llmpool::gateway {

class PgConnection
{
public:
    // No connection, or libpq marked it bad (server restart, network cut, backend terminated).
    static bool isBroken(const QSqlDatabase &db);
    // A transaction is open or failed-and-not-rolled-back on this connection.
    static bool inTransaction(const QSqlDatabase &db);
    // ROLLBACK if a transaction is open; true when the connection is idle afterwards.
    static bool rollbackIfInTransaction(const QSqlDatabase &db);
    // Sends the server's NOTICE/WARNING messages ("relation … already exists, skipping") to the
    // llmpool.storage log at debug level instead of libpq's default, a raw line on stderr.
    // Call after every (re)open; idempotent.
    static void routeNoticesToLog(const QSqlDatabase &db);
    // The server process id (pg_backend_pid()), 0 without a connection. For logs and tests.
    static int backendPid(const QSqlDatabase &db);

    // Runs a multi-statement script in ONE PQexec: the server runs the statements in order and
    // stops at the first error, which is reported as "<label>:<line>: <message> (SQLSTATE x)"
    // with the line computed from the error position. $$-quoted bodies and comments are the
    // server's business, so no client-side splitting can get them wrong. Error code
    // "database_unavailable" if the connection broke, otherwise "database_error".
    static Status execScript(const QSqlDatabase &db, const QByteArray &script, const QString &label);
};

} // namespace llmpool::gateway
