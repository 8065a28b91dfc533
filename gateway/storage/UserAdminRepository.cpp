#include "storage/UserAdminRepository.h"

#include "storage/SqlErrors.h"
#include "storage/SqlValues.h"

#include <QSqlError>
#include <QSqlQuery>

namespace llmpool::gateway {

namespace {

QString userColumns()
{
    return QStringLiteral("u.id, u.name, u.email, u.enabled, ") + SqlValues::epochMs(u"u.created_at") +
           QStringLiteral(", ") + SqlValues::epochMs(u"u.updated_at");
}

UserRecord readUser(const QSqlQuery &q)
{
    UserRecord u;
    u.id = q.value(0).toLongLong();
    u.name = q.value(1).toString();
    u.email = SqlValues::optionalString(q.value(2));
    u.enabled = q.value(3).toBool();
    u.createdAt = SqlValues::dateTime(q.value(4));
    u.updatedAt = SqlValues::dateTime(q.value(5));
    return u;
}

} // namespace

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
    q.prepare(QStringLiteral("SELECT ") + userColumns() + QStringLiteral(" FROM users u") + where +
              QStringLiteral(" ORDER BY u.id LIMIT :limit OFFSET :offset"));
    if (!search.isEmpty()) {
        q.bindValue(QStringLiteral(":q"), search);
        q.bindValue(QStringLiteral(":q2"), search);
    }
    q.bindValue(QStringLiteral(":limit"), limit);
    q.bindValue(QStringLiteral(":offset"), QVariant::fromValue(offset));
    if (!q.exec())
        return SqlErrors::fromQuery(q, db, u"list users");
    while (q.next())
        page.users.append(readUser(q));
    return page;
}

Result<std::optional<UserRecord>> UserAdminRepository::lockById(QSqlDatabase &db, qint64 id)
{
    QSqlQuery q(db);
    q.prepare(QStringLiteral("SELECT ") + userColumns() + QStringLiteral(" FROM users u WHERE u.id = :id FOR UPDATE"));
    q.bindValue(QStringLiteral(":id"), QVariant::fromValue(id));
    if (!q.exec())
        return SqlErrors::fromQuery(q, db, u"find user");
    if (!q.next())
        return std::optional<UserRecord>{};
    return std::optional<UserRecord>(readUser(q));
}

Result<UserRecord> UserAdminRepository::update(QSqlDatabase &db, const UserRecord &user)
{
    const QString name = user.name.trimmed();
    if (name.isEmpty() || name.size() > 200)
        return Error::invalidRequest(QStringLiteral("invalid_name"),
                                     QStringLiteral("the user name must have 1 to 200 characters"),
                                     QStringLiteral("name"));
    std::optional<QString> email = user.email;
    if (email) {
        *email = email->trimmed();
        if (email->isEmpty())
            email.reset();
        else if (email->size() > 320 || !email->contains(QLatin1Char('@')))
            return Error::invalidRequest(QStringLiteral("invalid_email"),
                                         QStringLiteral("the email address is not valid"), QStringLiteral("email"));
    }
    QSqlQuery q(db);
    q.prepare(QStringLiteral("UPDATE users u SET name = :name, email = :email, enabled = :enabled WHERE u.id = :id "
                             "RETURNING ") +
              userColumns());
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
    return readUser(q);
}

} // namespace llmpool::gateway
