#pragma once

// UserAdminRepository: what the admin API needs of the users table beyond UserRepository (list
// with search, locked read, update). Pure functions over a connection: call them inside a
// Database job, on that job's database thread.

#include "Result.h"
#include "storage/UserRepository.h"

#include <QList>
#include <QString>

#include <optional>

class QSqlDatabase;

namespace llmpool::gateway {

struct UserPage
{
    QList<UserRecord> users;
    qint64 total = 0;
};

class UserAdminRepository
{
public:
    // Users whose name or email contains `search` (case-insensitive, literal: no wildcards),
    // ordered by id.
    static Result<UserPage> list(QSqlDatabase &db, const QString &search, qint64 offset, int limit);
    // The user, row-locked until the end of the caller's transaction.
    static Result<std::optional<UserRecord>> lockById(QSqlDatabase &db, qint64 id);
    // Writes name, email and enabled of `user` (validated like create). Errors: "invalid_name",
    // "invalid_email" (400), "user_exists" (409), "not_found" (404).
    static Result<UserRecord> update(QSqlDatabase &db, const UserRecord &user);
};

} // namespace llmpool::gateway
