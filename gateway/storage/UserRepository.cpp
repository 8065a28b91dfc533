#include "storage/UserRepository.h"

#include "storage/SqlErrors.h"
#include "storage/SqlValues.h"

#include <QSqlError>
#include <QSqlQuery>

namespace llmpool::gateway {

namespace {

QString columnsOf(QStringView table)
{
    const QString t = table.toString() + QLatin1Char('.');
    return t + QStringLiteral("id, ") + t + QStringLiteral("name, ") + t + QStringLiteral("email, ") + t +
           QStringLiteral("enabled, ") + SqlValues::epochMs(QString(t + QStringLiteral("created_at"))) +
           QStringLiteral(", ") + SqlValues::epochMs(QString(t + QStringLiteral("updated_at")));
}

UserRecord readUserRow(const QSqlQuery &q)
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

Result<std::optional<UserRecord>> findOne(QSqlDatabase &db, const QString &where, const QVariant &value)
{
    QSqlQuery q(db);
    q.prepare(QStringLiteral("SELECT ") + columnsOf(u"u") + QStringLiteral(" FROM users u WHERE ") + where);
    q.bindValue(0, value);
    if (!q.exec())
        return SqlErrors::fromQuery(q, db, u"find user");
    if (!q.next())
        return std::optional<UserRecord>{};
    return std::optional<UserRecord>(readUserRow(q));
}

} // namespace

Result<UserRecord> UserRepository::create(QSqlDatabase &db, const NewUser &user)
{
    QString name = user.name;
    std::optional<QString> email = user.email;
    if (Status valid = normalize(name, email); !valid)
        return valid.takeError();
    const QString currency = user.currency.trimmed().isEmpty() ? QStringLiteral("USD") : user.currency.trimmed();

    // One statement: the user and its wallet commit together or not at all.
    QSqlQuery q(db);
    q.prepare(QStringLiteral("WITH u AS (INSERT INTO users (name, email) VALUES (:name, :email) RETURNING *), "
                             "w AS (INSERT INTO wallets (user_id, currency) SELECT id, :currency FROM u) "
                             "SELECT ") +
              columnsOf(u"u") + QStringLiteral(" FROM u"));
    q.bindValue(QStringLiteral(":name"), name);
    q.bindValue(QStringLiteral(":email"), SqlValues::toVariant(email));
    q.bindValue(QStringLiteral(":currency"), currency);
    if (!q.exec()) {
        if (SqlErrors::isUniqueViolation(q.lastError(), u"users_name_unique"))
            return Error::conflict(QStringLiteral("user_exists"),
                                   QStringLiteral("a user named \"%1\" already exists").arg(name));
        return SqlErrors::fromQuery(q, db, u"create user");
    }
    if (!q.next())
        return SqlErrors::failed(QStringLiteral("create user: no row returned"));
    return readUserRow(q);
}

Result<std::optional<UserRecord>> UserRepository::findByName(QSqlDatabase &db, const QString &name)
{
    return findOne(db, QStringLiteral("u.name = ?"), name);
}

Result<std::optional<UserRecord>> UserRepository::findById(QSqlDatabase &db, qint64 id)
{
    return findOne(db, QStringLiteral("u.id = ?"), QVariant::fromValue(id));
}

QString UserRepository::selectColumns(QStringView table)
{
    return columnsOf(table);
}

UserRecord UserRepository::readRow(const QSqlQuery &query)
{
    return readUserRow(query);
}

Status UserRepository::normalize(QString &name, std::optional<QString> &email)
{
    name = name.trimmed();
    if (name.isEmpty() || name.size() > 200)
        return Error::invalidRequest(QStringLiteral("invalid_name"),
                                     QStringLiteral("the user name must have 1 to 200 characters"),
                                     QStringLiteral("name"));
    if (email) {
        *email = email->trimmed();
        if (email->isEmpty())
            email.reset();
        else if (email->size() > 320 || !email->contains(QLatin1Char('@')))
            return Error::invalidRequest(QStringLiteral("invalid_email"),
                                         QStringLiteral("the email address is not valid"), QStringLiteral("email"));
    }
    return Ok{};
}

} // namespace llmpool::gateway
