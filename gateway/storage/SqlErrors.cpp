#include "storage/SqlErrors.h"

#include "storage/PgConnection.h"

#include <QSqlError>
#include <QSqlQuery>

namespace llmpool::gateway {

namespace {

bool matches(const QSqlError &error, QStringView state, QStringView constraint)
{
    if (SqlErrors::sqlState(error) != state)
        return false;
    // QPSQL does not expose PG_DIAG_CONSTRAINT_NAME; the server names the constraint in quotes.
    return constraint.isEmpty() ||
           error.databaseText().contains(QLatin1Char('"') + constraint.toString() + QLatin1Char('"'));
}

} // namespace

Error SqlErrors::unavailable(const QString &message)
{
    return Error::unavailable(QStringLiteral("database_unavailable"), message);
}

Error SqlErrors::failed(const QString &message)
{
    return Error::internal(QStringLiteral("database_error"), message);
}

QString SqlErrors::sqlState(const QSqlError &error)
{
    return error.nativeErrorCode();
}

QString SqlErrors::primaryMessage(const QSqlError &error)
{
    QString text = error.databaseText().trimmed();
    if (text.isEmpty())
        text = error.driverText().trimmed();
    text = text.section(QLatin1Char('\n'), 0, 0).trimmed();
    for (const char *prefix : {"ERROR:", "FATAL:", "PANIC:"}) {
        if (text.startsWith(QLatin1String(prefix))) {
            text = text.mid(qstrlen(prefix)).trimmed();
            break;
        }
    }
    // qMakeError appends "(SQLSTATE)" to the last line, which is the first line for one-liners.
    const QString state = error.nativeErrorCode();
    if (!state.isEmpty() && text.endsWith(QLatin1Char('(') + state + QLatin1Char(')')))
        text.chop(state.size() + 2);
    return text.trimmed();
}

bool SqlErrors::isConnectionState(QStringView state)
{
    return state.startsWith(u"08") || state == u"57P01" || state == u"57P02" || state == u"57P03" || state == u"53300";
}

Error SqlErrors::toError(const QSqlError &error, const QSqlDatabase &db, QStringView action)
{
    const QString state = sqlState(error);
    QString message = primaryMessage(error);
    if (message.isEmpty())
        message = QStringLiteral("no error text (connection closed?)");
    QString full = action.isEmpty() ? message : action.toString() + QStringLiteral(": ") + message;
    if (!state.isEmpty())
        full += QStringLiteral(" (SQLSTATE ") + state + QLatin1Char(')');
    // A broken connection explains any error text better than the text does (QPSQL even fails a
    // query on a dead connection without setting an error).
    if (isConnectionState(state) || error.type() == QSqlError::ConnectionError || PgConnection::isBroken(db))
        return unavailable(full);
    return failed(full);
}

Error SqlErrors::fromQuery(const QSqlQuery &query, const QSqlDatabase &db, QStringView action)
{
    return toError(query.lastError(), db, action);
}

bool SqlErrors::isUniqueViolation(const QSqlError &error, QStringView constraint)
{
    return matches(error, u"23505", constraint);
}

bool SqlErrors::isForeignKeyViolation(const QSqlError &error, QStringView constraint)
{
    return matches(error, u"23503", constraint);
}

bool SqlErrors::isCheckViolation(const QSqlError &error, QStringView constraint)
{
    return matches(error, u"23514", constraint);
}

} // namespace llmpool::gateway
