#include "storage/ApiKeyRepository.h"

#include "storage/SqlErrors.h"
#include "storage/SqlValues.h"

#include <QRegularExpression>
#include <QSqlError>
#include <QSqlQuery>

namespace llmpool::gateway {

namespace {

QString keyColumns()
{
    return QStringLiteral("k.id, k.user_id, k.name, k.prefix, k.key_hash, k.enabled, ") +
           SqlValues::epochMs(u"k.revoked_at") + QStringLiteral(", ") + SqlValues::epochMs(u"k.expires_at") +
           QStringLiteral(", to_json(k.allowed_models)::text, k.rpm_limit, k.tpm_limit, k.spend_limit::text, ") +
           SqlValues::epochMs(u"k.last_used_at") + QStringLiteral(", ") + SqlValues::epochMs(u"k.created_at") +
           QStringLiteral(", ") + SqlValues::epochMs(u"k.updated_at");
}
constexpr int kKeyColumnCount = 15;

Result<ApiKeyRecord> readKey(const QSqlQuery &q)
{
    ApiKeyRecord k;
    k.id = q.value(0).toLongLong();
    k.userId = q.value(1).toLongLong();
    k.name = q.value(2).toString();
    k.prefix = q.value(3).toString();
    k.keyHash = q.value(4).toString().toLatin1();
    k.enabled = q.value(5).toBool();
    k.revokedAt = SqlValues::optionalDateTime(q.value(6));
    k.expiresAt = SqlValues::optionalDateTime(q.value(7));
    k.allowedModels = SqlValues::stringListFromJson(q.value(8));
    if (!q.value(9).isNull())
        k.rpmLimit = q.value(9).toInt();
    if (!q.value(10).isNull())
        k.tpmLimit = q.value(10).toLongLong();
    if (!q.value(11).isNull()) {
        Result<Money> limit = Money::parse(q.value(11).toString());
        if (!limit)
            return SqlErrors::failed(QStringLiteral("api key %1: unreadable spend_limit").arg(k.id));
        k.spendLimit = *limit;
    }
    k.lastUsedAt = SqlValues::optionalDateTime(q.value(12));
    k.createdAt = SqlValues::dateTime(q.value(13));
    k.updatedAt = SqlValues::dateTime(q.value(14));
    return k;
}

Error invalidKey(const QString &message, const QString &param)
{
    return Error::invalidRequest(QStringLiteral("invalid_api_key"), message, param);
}

} // namespace

Result<ApiKeyRecord> ApiKeyRepository::insert(QSqlDatabase &db, const NewApiKey &key)
{
    static const QRegularExpression hexHash(QStringLiteral("^[0-9a-f]{64}$"));
    if (!hexHash.match(QString::fromLatin1(key.keyHash)).hasMatch())
        return invalidKey(QStringLiteral("the key hash must be 64 lowercase hex characters"), QStringLiteral("key"));
    if (key.prefix.isEmpty() || key.prefix.size() > 32)
        return invalidKey(QStringLiteral("the key prefix must have 1 to 32 characters"), QStringLiteral("prefix"));
    if (Status valid = validateSettings(key.name, key.allowedModels, key.rpmLimit, key.tpmLimit, key.spendLimit);
        !valid)
        return valid.takeError();

    QSqlQuery q(db);
    q.prepare(QStringLiteral("INSERT INTO api_keys AS k (user_id, name, prefix, key_hash, expires_at, allowed_models, "
                             "rpm_limit, tpm_limit, spend_limit) VALUES (:user_id, :name, :prefix, :key_hash, ") +
              SqlValues::msToTimestamp(u":expires_ms") +
              QStringLiteral(", (SELECT array_agg(m) FROM jsonb_array_elements_text(CAST(:models AS jsonb)) AS m), "
                             ":rpm, :tpm, CAST(:spend AS numeric)) RETURNING ") +
              keyColumns());
    q.bindValue(QStringLiteral(":user_id"), QVariant::fromValue(key.userId));
    q.bindValue(QStringLiteral(":name"), key.name.isNull() ? QStringLiteral("") : key.name);
    q.bindValue(QStringLiteral(":prefix"), key.prefix);
    q.bindValue(QStringLiteral(":key_hash"), QString::fromLatin1(key.keyHash));
    q.bindValue(QStringLiteral(":expires_ms"), SqlValues::toMs(key.expiresAt));
    q.bindValue(QStringLiteral(":models"), SqlValues::stringListToJson(key.allowedModels));
    q.bindValue(QStringLiteral(":rpm"), SqlValues::toVariant(key.rpmLimit));
    q.bindValue(QStringLiteral(":tpm"), SqlValues::toVariant(key.tpmLimit));
    q.bindValue(
        QStringLiteral(":spend"),
        SqlValues::toVariant(key.spendLimit ? std::optional<QString>(key.spendLimit->toString()) : std::nullopt));
    if (!q.exec()) {
        const QSqlError error = q.lastError();
        if (SqlErrors::isUniqueViolation(error, u"api_keys_key_hash_unique"))
            return Error::conflict(QStringLiteral("api_key_exists"), QStringLiteral("this API key already exists"));
        if (SqlErrors::isForeignKeyViolation(error))
            return Error{QStringLiteral("invalid_request_error"), QStringLiteral("user_not_found"), 404,
                         QStringLiteral("user %1 does not exist").arg(key.userId), QStringLiteral("user_id")};
        return SqlErrors::fromQuery(q, db, u"create API key");
    }
    if (!q.next())
        return SqlErrors::failed(QStringLiteral("create API key: no row returned"));
    return readKey(q);
}

Result<std::optional<ApiKeyLookup>> ApiKeyRepository::findByHash(QSqlDatabase &db, const QByteArray &keyHash,
                                                                 const QDateTime &now)
{
    QSqlQuery q(db);
    q.prepare(QStringLiteral("SELECT ") + keyColumns() +
              QStringLiteral(", u.name, u.enabled FROM api_keys k JOIN users u ON u.id = k.user_id "
                             "WHERE k.key_hash = :key_hash"));
    q.bindValue(QStringLiteral(":key_hash"), QString::fromLatin1(keyHash));
    if (!q.exec())
        return SqlErrors::fromQuery(q, db, u"find API key");
    if (!q.next())
        return std::optional<ApiKeyLookup>{};
    Result<ApiKeyRecord> key = readKey(q);
    if (!key)
        return key.takeError();
    ApiKeyLookup lookup;
    lookup.key = std::move(key.value());
    lookup.userName = q.value(kKeyColumnCount).toString();
    lookup.userEnabled = q.value(kKeyColumnCount + 1).toBool();
    lookup.state = stateAt(lookup.key, lookup.userEnabled, now);
    return std::optional<ApiKeyLookup>(std::move(lookup));
}

ApiKeyState ApiKeyRepository::stateAt(const ApiKeyRecord &key, bool userEnabled, const QDateTime &now)
{
    if (key.revokedAt)
        return ApiKeyState::Revoked;
    if (!key.enabled)
        return ApiKeyState::Disabled;
    if (key.expiresAt && key.expiresAt->isValid() && *key.expiresAt <= now)
        return ApiKeyState::Expired;
    if (!userEnabled)
        return ApiKeyState::UserDisabled;
    return ApiKeyState::Active;
}

Status ApiKeyRepository::validateSettings(const QString &name, const std::optional<QStringList> &allowedModels,
                                          const std::optional<int> &rpmLimit, const std::optional<qint64> &tpmLimit,
                                          const std::optional<Money> &spendLimit)
{
    if (name.size() > 200)
        return invalidKey(QStringLiteral("the key name must have at most 200 characters"), QStringLiteral("name"));
    if (allowedModels && (allowedModels->isEmpty() || std::any_of(allowedModels->cbegin(), allowedModels->cend(),
                                                                  [](const QString &m) { return m.isEmpty(); })))
        return invalidKey(QStringLiteral("allowed_models must list at least one model name (omit it or send null "
                                         "to allow all)"),
                          QStringLiteral("allowed_models"));
    if (rpmLimit && *rpmLimit <= 0)
        return invalidKey(QStringLiteral("rpm_limit must be positive"), QStringLiteral("rpm_limit"));
    if (tpmLimit && *tpmLimit <= 0)
        return invalidKey(QStringLiteral("tpm_limit must be positive"), QStringLiteral("tpm_limit"));
    if (spendLimit && spendLimit->isNegative())
        return invalidKey(QStringLiteral("spend_limit must not be negative"), QStringLiteral("spend_limit"));
    return Ok{};
}

QString ApiKeyRepository::selectColumns()
{
    return keyColumns();
}

Result<ApiKeyRecord> ApiKeyRepository::readRow(const QSqlQuery &query)
{
    return readKey(query);
}

} // namespace llmpool::gateway
