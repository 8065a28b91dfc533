#pragma once

// UserRepository: the users table (and the wallet every user has). Pure functions over a
// connection: call them inside a Database job, on that job's database thread. Each function is
// one statement, hence one transaction of its own when the caller has none open.

#include "Result.h"

#include <QDateTime>
#include <QString>

#include <optional>

class QSqlDatabase;
class QSqlQuery;

namespace llmpool::gateway {

struct UserRecord
{
    qint64 id = 0;
    QString name;
    std::optional<QString> email;
    bool enabled = true;
    QDateTime createdAt;
    QDateTime updatedAt;
};

struct NewUser
{
    QString name; // trimmed; 1..200 characters
    std::optional<QString> email;
    QString currency = QStringLiteral("USD"); // the wallet's label ([billing] currency)
};

class UserRepository
{
public:
    // Creates the user and its empty wallet atomically. Errors: "invalid_name" / "invalid_email"
    // (400), "user_exists" (409) when the name is taken, database errors (see SqlErrors).
    static Result<UserRecord> create(QSqlDatabase &db, const NewUser &user);
    static Result<std::optional<UserRecord>> findByName(QSqlDatabase &db, const QString &name);
    static Result<std::optional<UserRecord>> findById(QSqlDatabase &db, qint64 id);

    // Shared with the admin repository, so a user row is read and validated in one place.
    // The select list for a users table aliased `table`, in the order readRow() expects.
    static QString selectColumns(QStringView table);
    static UserRecord readRow(const QSqlQuery &query);
    // Trims and checks a name (1..200 characters) and an optional email (empty = none); errors
    // "invalid_name" / "invalid_email" (400) naming the field.
    static Status normalize(QString &name, std::optional<QString> &email);
};

} // namespace llmpool::gateway
