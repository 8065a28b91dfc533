#include "storage/UserAdminRepository.h"

#include "storage/SqlErrors.h"
#include "storage/SqlValues.h"
#include "storage/UserRepository.h"

#include <QSqlError>
#include <QSqlQuery>

namespace llmpool::gateway {

Result<UserPage> UserAdminRepository::list(QSqlDatabase &db, const QString &search, qint64 offset, int limit)
{
    // strpos() rather than LIKE: the search text is literal, '%' and '_' included.
    const QString where = search.isEmpty() ? QString()
                                           : QStringLiteral(" WHERE strpos(lower(u.name), lower(:q)) > 0 OR "
                                                            "strpos(lower(coalesce(u.email, '')), lower(:q2)) > 0");
    UserPage page;
    QSqlQuery count(db);
    count.prepare(QStringLiteral("SELECT count(*) FROM users u") + where);
    if (!search.isEmpty()) {
        count.bindValue(QStringLiteral(":q"), search);
        count.bindValue(QStringLiteral(":q2"), search);
    }
    if (!count.exec() || !count.next())
        return SqlErrors::fromQuery(count, db, u"count users");
    page.total = count.value(0).toLongLong();

    QSqlQuery q(db);
    q.prepare(QStringLiteral("SELECT ") + UserRepository::selectColumns(u"u") + QStringLiteral(" FROM users u") +
              where + QStringLiteral(" ORDER BY u.id LIMIT :limit OFFSET :offset"));
    if (!search.isEmpty()) {
        q.bindValue(QStringLiteral(":q"), search);
        q.bindValue(QStringLiteral(":q2"), search);
    }
    q.bindValue(QStringLiteral(":limit"), limit);
    q.bindValue(QStringLiteral(":offset"), QVariant::fromValue(offset));
    if (!q.exec())
        return SqlErrors::fromQuery(q, db, u"list users");
    while (q.next())
        page.users.append(UserRepository::readRow(q));
    return page;
}

Result<std::optional<UserRecord>> UserAdminRepository::lockById(QSqlDatabase &db, qint64 id)
{
    QSqlQuery q(db);
    q.prepare(QStringLiteral("SELECT ") + UserRepository::selectColumns(u"u") +
              QStringLiteral(" FROM users u WHERE u.id = :id FOR UPDATE"));
    q.bindValue(QStringLiteral(":id"), QVariant::fromValue(id));
    if (!q.exec())
        return SqlErrors::fromQuery(q, db, u"find user");
    if (!q.next())
        return std::optional<UserRecord>{};
    return std::optional<UserRecord>(UserRepository::readRow(q));
}

Result<UserRecord> UserAdminRepository::update(QSqlDatabase &db, const UserRecord &user)
{
    QString name = user.name;
    std::optional<QString> email = user.email;
    if (Status valid = UserRepository::normalize(name, email); !valid)
        return valid.takeError();
    QSqlQuery q(db);
    q.prepare(QStringLiteral("UPDATE users u SET name = :name, email = :email, enabled = :enabled WHERE u.id = :id "
                             "RETURNING ") +
              UserRepository::selectColumns(u"u"));
    q.bindValue(QStringLiteral(":name"), name);
    q.bindValue(QStringLiteral(":email"), SqlValues::toVariant(email));
    q.bindValue(QStringLiteral(":enabled"), user.enabled);
    q.bindValue(QStringLiteral(":id"), QVariant::fromValue(user.id));
    if (!q.exec()) {
        if (SqlErrors::isUniqueViolation(q.lastError(), u"users_name_unique"))
            return Error::conflict(QStringLiteral("user_exists"),
                                   QStringLiteral("a user named \"%1\" already exists").arg(name.left(200)));
        return SqlErrors::fromQuery(q, db, u"update user");
    }
    if (!q.next())
        return Error::notFound(QStringLiteral("user %1 does not exist").arg(user.id));
    return UserRepository::readRow(q);
}

} // namespace llmpool::gateway
