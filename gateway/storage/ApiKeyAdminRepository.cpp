#include "storage/ApiKeyAdminRepository.h"

#include "storage/ApiKeyRepository.h"
#include "storage/SqlErrors.h"
#include "storage/SqlValues.h"

#include <QRegularExpression>
#include <QSqlError>
#include <QSqlQuery>

namespace llmpool::gateway {

namespace {

Error invalidKey(const QString &message, const QString &param)
{
    return Error::invalidRequest(QStringLiteral("invalid_api_key"), message, param);
}

Result<ApiKeyRecord> singleRow(QSqlQuery &q, QSqlDatabase &db, qint64 id, QStringView action)
{
    if (!q.exec())
        return SqlErrors::fromQuery(q, db, action);
    if (!q.next())
        return Error::notFound(QStringLiteral("API key %1 does not exist").arg(id));
    return ApiKeyRepository::readRow(q);
}

} // namespace

Result<ApiKeyPage> ApiKeyAdminRepository::listByUser(QSqlDatabase &db, qint64 userId, qint64 offset, int limit)
{
    ApiKeyPage page;
    QSqlQuery count(db);
    count.prepare(QStringLiteral("SELECT count(*) FROM api_keys WHERE user_id = :user_id"));
    count.bindValue(QStringLiteral(":user_id"), QVariant::fromValue(userId));
    if (!count.exec() || !count.next())
        return SqlErrors::fromQuery(count, db, u"count API keys");
    page.total = count.value(0).toLongLong();

    QSqlQuery q(db);
    q.prepare(QStringLiteral("SELECT ") + ApiKeyRepository::selectColumns() +
              QStringLiteral(" FROM api_keys k WHERE k.user_id = :user_id ORDER BY k.id LIMIT :limit OFFSET :offset"));
    q.bindValue(QStringLiteral(":user_id"), QVariant::fromValue(userId));
    q.bindValue(QStringLiteral(":limit"), limit);
    q.bindValue(QStringLiteral(":offset"), QVariant::fromValue(offset));
    if (!q.exec())
        return SqlErrors::fromQuery(q, db, u"list API keys");
    while (q.next()) {
        Result<ApiKeyRecord> key = ApiKeyRepository::readRow(q);
        if (!key)
            return key.takeError();
        page.keys.append(std::move(*key));
    }
    return page;
}

Result<std::optional<ApiKeyRecord>> ApiKeyAdminRepository::findById(QSqlDatabase &db, qint64 id, bool forUpdate)
{
    QSqlQuery q(db);
    q.prepare(QStringLiteral("SELECT ") + ApiKeyRepository::selectColumns() +
              QStringLiteral(" FROM api_keys k WHERE k.id = :id") +
              (forUpdate ? QStringLiteral(" FOR UPDATE") : QString()));
    q.bindValue(QStringLiteral(":id"), QVariant::fromValue(id));
    if (!q.exec())
        return SqlErrors::fromQuery(q, db, u"find API key");
    if (!q.next())
        return std::optional<ApiKeyRecord>{};
    Result<ApiKeyRecord> key = ApiKeyRepository::readRow(q);
    if (!key)
        return key.takeError();
    return std::optional<ApiKeyRecord>(std::move(*key));
}

Result<ApiKeyRecord> ApiKeyAdminRepository::update(QSqlDatabase &db, const ApiKeyRecord &key)
{
    if (Status valid =
            ApiKeyRepository::validateSettings(key.name, key.allowedModels, key.rpmLimit, key.tpmLimit, key.spendLimit);
        !valid)
        return valid.takeError();

    QSqlQuery q(db);
    q.prepare(QStringLiteral("UPDATE api_keys AS k SET name = :name, enabled = :enabled, expires_at = ") +
              SqlValues::msToTimestamp(u":expires_ms") +
              QStringLiteral(", allowed_models = (SELECT array_agg(m) FROM "
                             "jsonb_array_elements_text(CAST(:models AS jsonb)) AS m), rpm_limit = :rpm, "
                             "tpm_limit = :tpm, spend_limit = CAST(:spend AS numeric) WHERE k.id = :id RETURNING ") +
              ApiKeyRepository::selectColumns());
    q.bindValue(QStringLiteral(":name"), key.name.isNull() ? QStringLiteral("") : key.name);
    q.bindValue(QStringLiteral(":enabled"), key.enabled);
    q.bindValue(QStringLiteral(":expires_ms"), SqlValues::toMs(key.expiresAt));
    q.bindValue(QStringLiteral(":models"), SqlValues::stringListToJson(key.allowedModels));
    q.bindValue(QStringLiteral(":rpm"), SqlValues::toVariant(key.rpmLimit));
    q.bindValue(QStringLiteral(":tpm"), SqlValues::toVariant(key.tpmLimit));
    q.bindValue(
        QStringLiteral(":spend"),
        SqlValues::toVariant(key.spendLimit ? std::optional<QString>(key.spendLimit->toString()) : std::nullopt));
    q.bindValue(QStringLiteral(":id"), QVariant::fromValue(key.id));
    return singleRow(q, db, key.id, u"update API key");
}

Result<ApiKeyRecord> ApiKeyAdminRepository::revoke(QSqlDatabase &db, qint64 id)
{
    QSqlQuery q(db);
    q.prepare(QStringLiteral("UPDATE api_keys AS k SET revoked_at = coalesce(k.revoked_at, now()), enabled = false "
                             "WHERE k.id = :id RETURNING ") +
              ApiKeyRepository::selectColumns());
    q.bindValue(QStringLiteral(":id"), QVariant::fromValue(id));
    return singleRow(q, db, id, u"revoke API key");
}

Result<ApiKeyRecord> ApiKeyAdminRepository::rotate(QSqlDatabase &db, qint64 id, const QString &prefix,
                                                   const QByteArray &keyHash)
{
    static const QRegularExpression hexHash(QStringLiteral("^[0-9a-f]{64}$"));
    if (!hexHash.match(QString::fromLatin1(keyHash)).hasMatch())
        return invalidKey(QStringLiteral("the key hash must be 64 lowercase hex characters"), QStringLiteral("key"));
    QSqlQuery q(db);
    q.prepare(QStringLiteral("UPDATE api_keys AS k SET prefix = :prefix, key_hash = :key_hash WHERE k.id = :id "
                             "RETURNING ") +
              ApiKeyRepository::selectColumns());
    q.bindValue(QStringLiteral(":prefix"), prefix);
    q.bindValue(QStringLiteral(":key_hash"), QString::fromLatin1(keyHash));
    q.bindValue(QStringLiteral(":id"), QVariant::fromValue(id));
    if (!q.exec()) {
        if (SqlErrors::isUniqueViolation(q.lastError(), u"api_keys_key_hash_unique"))
            return Error::conflict(QStringLiteral("api_key_exists"), QStringLiteral("this API key already exists"));
        return SqlErrors::fromQuery(q, db, u"rotate API key");
    }
    if (!q.next())
        return Error::notFound(QStringLiteral("API key %1 does not exist").arg(id));
    return ApiKeyRepository::readRow(q);
}

} // namespace llmpool::gateway
