// The API keys resource (SPEC §4, §6, §9): GET/POST /users/{id}/keys, GET/PUT/DELETE /keys/{id}
// (DELETE revokes), POST /keys/{id}/rotate (same id, new secret). The plaintext of a key exists
// only on the request's thread between generation and the response: it is never stored, logged,
// audited, nor handed to the database job (which gets the hash and the display prefix).

#include "ApiKeys.h"
#include "Clock.h"
#include "admin/AdminResource.h"
#include "proxy/Invalidation.h"
#include "storage/ApiKeyAdminRepository.h"
#include "storage/ApiKeyRepository.h"
#include "storage/AuditRepository.h"
#include "storage/Transaction.h"
#include "storage/UserRepository.h"

#include <limits>

namespace llmpool::gateway {

namespace {

using namespace admin;

constexpr qsizetype kMaxNameLength = 200;
constexpr qsizetype kMaxModels = 1000;
constexpr qsizetype kMaxModelLength = 200;

QJsonObject keyJson(const ApiKeyRecord &key)
{
    QJsonValue models = QJsonValue::Null;
    if (key.allowedModels)
        models = QJsonArray::fromStringList(*key.allowedModels);
    auto optionalNumber = [](const auto &value) { return value ? QJsonValue(qint64(*value)) : QJsonValue::Null; };
    return QJsonObject{{QStringLiteral("id"), key.id},
                       {QStringLiteral("user_id"), key.userId},
                       {QStringLiteral("name"), key.name},
                       {QStringLiteral("prefix"), key.prefix},
                       {QStringLiteral("enabled"), key.enabled && !key.revokedAt},
                       {QStringLiteral("expires_at"), timeJson(key.expiresAt)},
                       {QStringLiteral("allowed_models"), models},
                       {QStringLiteral("rpm_limit"), optionalNumber(key.rpmLimit)},
                       {QStringLiteral("tpm_limit"), optionalNumber(key.tpmLimit)},
                       {QStringLiteral("spend_limit"), moneyJson(key.spendLimit)},
                       {QStringLiteral("last_used_at"), timeJson(key.lastUsedAt)},
                       {QStringLiteral("created_at"), timeJson(key.createdAt)}};
}

// The fields create and update share.
struct KeyPatch
{
    std::optional<QString> name;
    std::optional<bool> enabled;
    std::optional<std::optional<QDateTime>> expiresAt;
    std::optional<std::optional<QStringList>> allowedModels;
    std::optional<std::optional<qint64>> rpmLimit;
    std::optional<std::optional<qint64>> tpmLimit;
    std::optional<std::optional<Money>> spendLimit;

    void apply(ApiKeyRecord &key) const
    {
        if (name)
            key.name = *name;
        if (enabled)
            key.enabled = *enabled;
        if (expiresAt)
            key.expiresAt = *expiresAt;
        if (allowedModels)
            key.allowedModels = *allowedModels;
        if (rpmLimit)
            key.rpmLimit = *rpmLimit ? std::optional<int>(int(**rpmLimit)) : std::nullopt;
        if (tpmLimit)
            key.tpmLimit = *tpmLimit;
        if (spendLimit)
            key.spendLimit = *spendLimit;
    }
};

std::optional<Error> readKeyPatch(const QByteArray &raw, bool withEnabled, KeyPatch &patch)
{
    BodyReader body(
        raw,
        withEnabled
            ? std::initializer_list<QLatin1StringView>{QLatin1StringView("name"), QLatin1StringView("enabled"),
                                                       QLatin1StringView("expires_at"),
                                                       QLatin1StringView("allowed_models"),
                                                       QLatin1StringView("rpm_limit"), QLatin1StringView("tpm_limit"),
                                                       QLatin1StringView("spend_limit")}
            : std::initializer_list<QLatin1StringView>{QLatin1StringView("name"), QLatin1StringView("expires_at"),
                                                       QLatin1StringView("allowed_models"),
                                                       QLatin1StringView("rpm_limit"), QLatin1StringView("tpm_limit"),
                                                       QLatin1StringView("spend_limit")},
        !withEnabled);
    body.string(QLatin1StringView("name"), patch.name, kMaxNameLength);
    body.boolean(QLatin1StringView("enabled"), patch.enabled);
    body.nullableTime(QLatin1StringView("expires_at"), patch.expiresAt);
    body.nullableStringList(QLatin1StringView("allowed_models"), patch.allowedModels, kMaxModels, kMaxModelLength);
    body.nullableInteger(QLatin1StringView("rpm_limit"), patch.rpmLimit, 1, std::numeric_limits<int>::max());
    body.nullableInteger(QLatin1StringView("tpm_limit"), patch.tpmLimit, 1, qint64(1) << 53);
    body.nullableMoney(QLatin1StringView("spend_limit"), patch.spendLimit);
    if (body.error())
        return body.error();
    if (patch.spendLimit && *patch.spendLimit && (*patch.spendLimit)->isNegative())
        return BodyReader::invalidField(QLatin1StringView("spend_limit"),
                                        QStringLiteral("spend_limit must not be negative"));
    if (patch.expiresAt && *patch.expiresAt && **patch.expiresAt <= Clock::instance().nowUtc())
        return BodyReader::invalidField(QLatin1StringView("expires_at"),
                                        QStringLiteral("expires_at must be in the future"));
    return std::nullopt;
}

std::optional<qint64> pathId(AdminCall &call, const QString &what)
{
    const QByteArray rawId = call.request.pathParam("id");
    const std::optional<qint64> id = parseId(rawId);
    if (!id)
        replyError(call.responder, notFound(what, rawId));
    return id;
}

Error keyNotFound(qint64 id)
{
    return Error::notFound(QStringLiteral("API key %1 does not exist").arg(id));
}

void listKeys(AdminCall &call)
{
    const std::optional<qint64> userId = pathId(call, QStringLiteral("user"));
    if (!userId)
        return;
    Result<PageRequest> page = parsePage(call.request);
    if (!page)
        return replyError(call.responder, page.error());
    const PageRequest p = *page;
    runJob(
        call,
        [userId = *userId, p](QSqlDatabase &db) -> Result<ApiKeyPage> {
            Result<std::optional<UserRecord>> user = UserRepository::findById(db, userId);
            if (!user)
                return user.takeError();
            if (!user->has_value())
                return Error::notFound(QStringLiteral("user %1 does not exist").arg(userId));
            return ApiKeyAdminRepository::listByUser(db, userId, p.offset(), p.pageSize);
        },
        [p](HttpResponder &responder, ApiKeyPage result) {
            QJsonArray data;
            for (const ApiKeyRecord &key : result.keys)
                data.append(keyJson(key));
            respondJson(responder, 200, pageJson(data, p, result.total));
        },
        JobRetry::Idempotent);
}

void createKey(AdminCall &call)
{
    const std::optional<qint64> userId = pathId(call, QStringLiteral("user"));
    if (!userId)
        return;
    KeyPatch patch;
    if (std::optional<Error> error = readKeyPatch(call.request.body(), false, patch))
        return replyError(call.responder, *error);
    const QString plaintext = ApiKeys::generate();
    NewApiKey key;
    key.userId = *userId;
    key.name = patch.name.value_or(QString());
    key.prefix = ApiKeys::prefix(plaintext);
    key.keyHash = ApiKeys::hash(plaintext);
    key.expiresAt = patch.expiresAt.value_or(std::nullopt);
    key.allowedModels = patch.allowedModels.value_or(std::nullopt);
    if (patch.rpmLimit && *patch.rpmLimit)
        key.rpmLimit = int(**patch.rpmLimit);
    key.tpmLimit = patch.tpmLimit.value_or(std::nullopt);
    key.spendLimit = patch.spendLimit.value_or(std::nullopt);
    const QString actor = call.actor;
    runJob(
        call,
        [key, actor](QSqlDatabase &db) {
            return inTransaction(db, [&]() -> Result<ApiKeyRecord> {
                Result<ApiKeyRecord> created = ApiKeyRepository::insert(db, key);
                if (!created)
                    return created;
                if (Status audited =
                        AuditRepository::insert(db, actor, QStringLiteral("key.create"), QStringLiteral("api_key"),
                                                QString::number(created->id), std::nullopt, keyJson(*created));
                    !audited)
                    return audited.takeError();
                return created;
            });
        },
        [plaintext](HttpResponder &responder, ApiKeyRecord created) {
            QJsonObject body = keyJson(created);
            body.insert(QStringLiteral("key"), plaintext);
            respondJson(responder, 201, body);
        });
}

void getKey(AdminCall &call)
{
    const std::optional<qint64> id = pathId(call, QStringLiteral("API key"));
    if (!id)
        return;
    runJob(
        call, [id = *id](QSqlDatabase &db) { return ApiKeyAdminRepository::findById(db, id, false); },
        [id = *id](HttpResponder &responder, std::optional<ApiKeyRecord> key) {
            if (!key)
                return replyError(responder, keyNotFound(id));
            respondJson(responder, 200, keyJson(*key));
        },
        JobRetry::Idempotent);
}

// Locks the key, runs `write` (the change), audits before/after, all in one transaction; then
// announces "keyid:<id>" so every gateway drops the key from its cache.
void writeKey(AdminCall &call, const QString &action,
              std::function<Result<ApiKeyRecord>(QSqlDatabase &, const ApiKeyRecord &)> write,
              std::function<void(HttpResponder &, const ApiKeyRecord &)> respond)
{
    const std::optional<qint64> id = pathId(call, QStringLiteral("API key"));
    if (!id)
        return;
    const QString actor = call.actor;
    auto context = call.context;
    runJob(
        call,
        [id = *id, actor, action, write](QSqlDatabase &db) {
            return inTransaction(db, [&]() -> Result<ApiKeyRecord> {
                Result<std::optional<ApiKeyRecord>> found = ApiKeyAdminRepository::findById(db, id, true);
                if (!found)
                    return found.takeError();
                if (!found->has_value())
                    return keyNotFound(id);
                const ApiKeyRecord before = **found;
                Result<ApiKeyRecord> after = write(db, before);
                if (!after)
                    return after;
                if (Status audited = AuditRepository::insert(db, actor, action, QStringLiteral("api_key"),
                                                             QString::number(id), keyJson(before), keyJson(*after));
                    !audited)
                    return audited.takeError();
                return after;
            });
        },
        [context, respond](HttpResponder &responder, ApiKeyRecord key) {
            publishInvalidation(*context, Invalidation::keyChanged(key.id));
            respond(responder, key);
        });
}

void respondKey(HttpResponder &responder, const ApiKeyRecord &key)
{
    respondJson(responder, 200, keyJson(key));
}

void updateKey(AdminCall &call)
{
    KeyPatch patch;
    if (std::optional<Error> error = readKeyPatch(call.request.body(), true, patch))
        return replyError(call.responder, *error);
    writeKey(
        call, QStringLiteral("key.update"),
        [patch](QSqlDatabase &db, const ApiKeyRecord &before) {
            ApiKeyRecord after = before;
            patch.apply(after);
            return ApiKeyAdminRepository::update(db, after);
        },
        respondKey);
}

void revokeKey(AdminCall &call)
{
    writeKey(
        call, QStringLiteral("key.revoke"),
        [](QSqlDatabase &db, const ApiKeyRecord &before) { return ApiKeyAdminRepository::revoke(db, before.id); },
        respondKey);
}

void rotateKey(AdminCall &call)
{
    BodyReader body(call.request.body(), {}, true);
    if (body.error())
        return replyError(call.responder, *body.error());
    const QString plaintext = ApiKeys::generate();
    const QString prefix = ApiKeys::prefix(plaintext);
    const QByteArray hash = ApiKeys::hash(plaintext);
    writeKey(
        call, QStringLiteral("key.rotate"),
        [prefix, hash](QSqlDatabase &db, const ApiKeyRecord &before) -> Result<ApiKeyRecord> {
            if (before.revokedAt)
                return Error::conflict(QStringLiteral("api_key_revoked"),
                                       QStringLiteral("API key %1 is revoked and cannot be rotated").arg(before.id));
            return ApiKeyAdminRepository::rotate(db, before.id, prefix, hash);
        },
        [plaintext](HttpResponder &responder, const ApiKeyRecord &key) {
            QJsonObject body = keyJson(key);
            body.insert(QStringLiteral("key"), plaintext);
            respondJson(responder, 200, body);
        });
}

} // namespace

std::vector<AdminRoute> keyRoutes()
{
    return {
        {"GET",
         "/users/{id}/keys",
         listKeys,
         {.summary = "List a user's API keys", .tag = "keys", .responseSchema = "Key", .shape = api::Shape::Page}},
        {"POST",
         "/users/{id}/keys",
         createKey,
         {.summary = "Create an API key; the plaintext is in this response only",
          .tag = "keys",
          .requestSchema = "KeyCreate",
          .responseSchema = "KeyWithSecret",
          .status = 201,
          .optionalBody = true}},
        {"GET", "/keys/{id}", getKey, {.summary = "Get an API key", .tag = "keys", .responseSchema = "Key"}},
        {"PUT",
         "/keys/{id}",
         updateKey,
         {.summary = "Update an API key's name and limits (partial)",
          .tag = "keys",
          .requestSchema = "KeyUpdate",
          .responseSchema = "Key"}},
        {"DELETE",
         "/keys/{id}",
         revokeKey,
         {.summary = "Revoke an API key (at once, on every instance)", .tag = "keys", .responseSchema = "Key"}},
        {"POST",
         "/keys/{id}/rotate",
         rotateKey,
         {.summary = "Replace an API key's secret (same id; the old secret stops working at once)",
          .tag = "keys",
          .responseSchema = "KeyWithSecret"}},
    };
}

} // namespace llmpool::gateway
