#include "storage/PgConnection.h"

#include "Log.h"
#include "storage/SqlErrors.h"

#include <QSqlDatabase>
#include <QSqlDriver>
#include <QVariant>

#include <libpq-fe.h>

namespace llmpool::gateway {

namespace {

PGconn *handle(const QSqlDatabase &db)
{
    const QSqlDriver *driver = db.driver();
    if (!driver)
        return nullptr;
    const QVariant v = driver->handle();
    // Qt 6.4 registers the type under libpq's struct tag ("pg_conn*"), older Qts as "PGconn*".
    if (!v.isValid() || (qstrcmp(v.typeName(), "pg_conn*") != 0 && qstrcmp(v.typeName(), "PGconn*") != 0))
        return nullptr;
    return *static_cast<PGconn *const *>(v.constData());
}

// Pieces of a libpq error result, first line only (DETAIL may quote row values).
QString resultMessage(const PGresult *result, PGconn *conn)
{
    const char *primary = result ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
    QString text = QString::fromUtf8(primary ? primary : PQerrorMessage(conn));
    return text.section(QLatin1Char('\n'), 0, 0).trimmed();
}

} // namespace

void PgConnection::routeNoticesToLog(const QSqlDatabase &db)
{
    PGconn *conn = handle(db);
    if (!conn)
        return;
    PQsetNoticeProcessor(
        conn,
        [](void *, const char *message) {
            qCDebug(lcStorage).noquote() << "server notice:" << QString::fromUtf8(message).trimmed();
        },
        nullptr);
}

bool PgConnection::isBroken(const QSqlDatabase &db)
{
    PGconn *conn = handle(db);
    return !conn || PQstatus(conn) != CONNECTION_OK;
}

bool PgConnection::inTransaction(const QSqlDatabase &db)
{
    PGconn *conn = handle(db);
    if (!conn)
        return false;
    const PGTransactionStatusType status = PQtransactionStatus(conn);
    return status == PQTRANS_INTRANS || status == PQTRANS_INERROR;
}

bool PgConnection::rollbackIfInTransaction(const QSqlDatabase &db)
{
    PGconn *conn = handle(db);
    if (!conn)
        return false;
    if (inTransaction(db)) {
        PGresult *result = PQexec(conn, "ROLLBACK");
        PQclear(result);
    }
    return PQstatus(conn) == CONNECTION_OK && PQtransactionStatus(conn) == PQTRANS_IDLE;
}

int PgConnection::backendPid(const QSqlDatabase &db)
{
    PGconn *conn = handle(db);
    return conn ? PQbackendPID(conn) : 0;
}

Status PgConnection::execScript(const QSqlDatabase &db, const QByteArray &script, const QString &label)
{
    PGconn *conn = handle(db);
    if (!conn || PQstatus(conn) != CONNECTION_OK)
        return SqlErrors::unavailable(label + QStringLiteral(": the database connection is not open"));

    PGresult *result = PQexec(conn, script.constData());
    const ExecStatusType status = result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY) {
        PQclear(result);
        return Ok{};
    }

    QString where = label;
    if (const char *position = result ? PQresultErrorField(result, PG_DIAG_STATEMENT_POSITION) : nullptr) {
        // The position counts characters (not bytes) from 1 in the whole script.
        const qsizetype chars = QByteArray(position).toLongLong();
        const QString text = QString::fromUtf8(script);
        const qsizetype line = text.left(qMax<qsizetype>(chars - 1, 0)).count(QLatin1Char('\n')) + 1;
        where += QLatin1Char(':') + QString::number(line);
    }
    QString message = where + QStringLiteral(": ") + resultMessage(result, conn);
    if (const char *context = result ? PQresultErrorField(result, PG_DIAG_CONTEXT) : nullptr)
        message +=
            QStringLiteral(" [") + QString::fromUtf8(context).section(QLatin1Char('\n'), 0, 0) + QLatin1Char(']');
    const QString state = QString::fromLatin1(result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr);
    if (!state.isEmpty())
        message += QStringLiteral(" (SQLSTATE ") + state + QLatin1Char(')');
    PQclear(result);

    if (PQstatus(conn) != CONNECTION_OK || SqlErrors::isConnectionState(state))
        return SqlErrors::unavailable(message);
    return SqlErrors::failed(message);
}

} // namespace llmpool::gateway
