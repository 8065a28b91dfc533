#pragma once

// SqlErrors: maps QtSql (QPSQL) failures to our Error, and classifies them by SQLSTATE. Stateless,
// usable on any thread.
//
// Codes: "database_unavailable" (503) when the server cannot be reached or the connection broke
// (SQLSTATE class 08, 57P01–57P03, 53300, or libpq reports the connection bad); "database_error"
// (500) for everything else that the caller did not map itself (a unique violation becomes a 409
// in the repository that knows what was duplicated). Messages carry the first line of the
// server's message only: the DETAIL line can quote row values, and a password never appears in
// libpq's messages.

#include "Result.h"

#include <QString>
#include <QStringView>

class QSqlDatabase;
class QSqlError;
class QSqlQuery;

namespace llmpool::gateway {

class SqlErrors
{
public:
    static Error unavailable(const QString &message);
    static Error failed(const QString &message);

    // `action` says what was attempted ("create user"); it prefixes the message.
    static Error toError(const QSqlError &error, const QSqlDatabase &db, QStringView action);
    static Error fromQuery(const QSqlQuery &query, const QSqlDatabase &db, QStringView action);

    static QString sqlState(const QSqlError &error);
    // The first line of the server's message without "ERROR:  ", without the appended SQLSTATE.
    static QString primaryMessage(const QSqlError &error);

    static bool isConnectionState(QStringView sqlState);
    static bool isUniqueViolation(const QSqlError &error, QStringView constraint = {});
    static bool isForeignKeyViolation(const QSqlError &error, QStringView constraint = {});
    static bool isCheckViolation(const QSqlError &error, QStringView constraint = {});
};

} // namespace llmpool::gateway
