// The upstreams and models resources (SPEC §6, §9): GET/POST /upstreams, GET/PUT/DELETE
// /upstreams/{id}, GET/POST /models, GET/PUT/DELETE /models/{id}. An upstream's api_key is sealed
// with SecretBox ([security] encryption_key) on the request's thread before any database work; only
// api_key_preview is ever returned or audited. Every write is audited in its transaction and
// announces "catalog", so every gateway reloads its routing snapshot.

#include "admin/AdminResource.h"
#include "proxy/Invalidation.h"
#include "routing/HealthTracker.h"
#include "storage/AuditRepository.h"
#include "storage/CatalogAdminRepository.h"
#include "storage/Transaction.h"

#include <QTimeZone>
#include <QUrl>

#include <limits>

namespace llmpool::gateway {

namespace {

using namespace admin;

constexpr qsizetype kMaxNameLength = 200;
constexpr qsizetype kMaxUrlLength = 2048;
constexpr qsizetype kMaxApiKeyLength = 4096;
constexpr qint64 kMaxWeight = 1'000'000;

const QStringList kKinds{QStringLiteral("openai"), QStringLiteral("azure"), QStringLiteral("openrouter"),
                         QStringLiteral("dashscope"), QStringLiteral("ark")};
const QStringList kCapabilities{
    QStringLiteral("chat"),   QStringLiteral("completions"),    QStringLiteral("embeddings"), QStringLiteral("images"),
    QStringLiteral("speech"), QStringLiteral("transcriptions"), QStringLiteral("responses")};

// What the audit log keeps of an upstream: its stored state, not the instance's passing health.
QJsonObject upstreamAuditJson(const UpstreamRecord &record)
{
    const UpstreamRow &u = record.row;
    return QJsonObject{{QStringLiteral("id"), u.id},
                       {QStringLiteral("name"), u.name},
                       {QStringLiteral("kind"), u.kind},
                       {QStringLiteral("api_base"), u.apiBase},
                       {QStringLiteral("api_key_preview"), u.apiKeyPreview},
                       {QStringLiteral("weight"), u.weight},
                       {QStringLiteral("enabled"), u.enabled},
                       {QStringLiteral("tags"), QJsonArray::fromStringList(u.tags)},
                       {QStringLiteral("created_at"), timeJson(record.createdAt)},
                       {QStringLiteral("updated_at"), timeJson(record.updatedAt)}};
}

std::optional<QDateTime> msTime(qint64 ms)
{
    if (ms <= 0)
        return std::nullopt;
    return QDateTime::fromMSecsSinceEpoch(ms, QTimeZone::utc());
}

// The upstream as the API shows it, with its live health in this gateway instance (the proxy's
// HealthTracker; upstreams it has not seen yet are healthy).
QJsonObject upstreamJson(const UpstreamRecord &record, const AdminContext &context)
{
    QJsonObject json = upstreamAuditJson(record);
    if (!context.health) {
        json.insert(QStringLiteral("health"), QStringLiteral("unknown"));
        json.insert(QStringLiteral("health_detail"),
                    QJsonObject{{QStringLiteral("consecutive_failures"), 0},
                                {QStringLiteral("ejections"), 0},
                                {QStringLiteral("ejected_until"), QJsonValue::Null},
                                {QStringLiteral("last_error"), QJsonValue::Null},
                                {QStringLiteral("last_failure_at"), QJsonValue::Null},
                                {QStringLiteral("last_success_at"), QJsonValue::Null}});
        return json;
    }
    const UpstreamHealth h = context.health->health(record.row.id);
    json.insert(QStringLiteral("health"), healthStateName(h.state));
    json.insert(
        QStringLiteral("health_detail"),
        QJsonObject{{QStringLiteral("consecutive_failures"), h.consecutiveFailures},
                    {QStringLiteral("ejections"), h.ejections},
                    {QStringLiteral("ejected_until"), timeJson(msTime(h.ejectedUntilMs))},
                    {QStringLiteral("last_error"), h.lastError.isEmpty() ? QJsonValue::Null : QJsonValue(h.lastError)},
                    {QStringLiteral("last_failure_at"), timeJson(msTime(h.lastFailureMs))},
                    {QStringLiteral("last_success_at"), timeJson(msTime(h.lastSuccessMs))}});
    return json;
}

QJsonObject modelJson(const ModelRecord &record)
{
    const ModelRow &m = record.row;
    return QJsonObject{{QStringLiteral("id"), m.id},
                       {QStringLiteral("name"), m.name},
                       {QStringLiteral("upstream_id"), m.upstreamId},
                       {QStringLiteral("upstream_model"), m.upstreamModel},
                       {QStringLiteral("capabilities"), QJsonArray::fromStringList(m.capabilities)},
                       {QStringLiteral("weight"), m.weight},
                       {QStringLiteral("enabled"), m.enabled},
                       {QStringLiteral("input_price_per_1m"), m.inputPricePer1M.toString()},
                       {QStringLiteral("cached_input_price_per_1m"), m.cachedInputPricePer1M.toString()},
                       {QStringLiteral("output_price_per_1m"), m.outputPricePer1M.toString()},
                       {QStringLiteral("image_price"), m.imagePrice.toString()},
                       {QStringLiteral("speech_price_per_1m_chars"), m.speechPricePer1MChars.toString()},
                       {QStringLiteral("transcription_price_per_minute"), m.transcriptionPricePerMinute.toString()},
                       {QStringLiteral("created_at"), timeJson(record.createdAt)},
                       {QStringLiteral("updated_at"), timeJson(record.updatedAt)}};
}

std::optional<qint64> pathId(AdminCall &call, const QString &what)
{
    const QByteArray rawId = call.request.pathParam("id");
    const std::optional<qint64> id = parseId(rawId);
    if (!id)
        replyError(call.responder, notFound(what, rawId));
    return id;
}

// ---- upstreams ----

struct UpstreamPatch
{
    std::optional<QString> name;
    std::optional<QString> kind;
    std::optional<QString> apiBase;
    std::optional<SealedSecret> apiKey;
    QString apiKeyPreview;
    std::optional<std::optional<qint64>> weight;
    std::optional<bool> enabled;
    std::optional<std::optional<QStringList>> tags;

    void apply(UpstreamRow &u) const
    {
        if (name)
            u.name = *name;
        if (kind)
            u.kind = *kind;
        if (apiBase)
            u.apiBase = *apiBase;
        if (apiKey) {
            u.apiKeyStored = apiKey->stored;
            u.apiKeyFormat = apiKey->format;
            u.apiKeyPreview = apiKeyPreview;
        }
        if (weight)
            u.weight = int(weight->value_or(1));
        if (enabled)
            u.enabled = *enabled;
        if (tags)
            u.tags = tags->value_or(QStringList());
    }
};

std::optional<Error> readUpstreamPatch(AdminCall &call, bool create, UpstreamPatch &patch)
{
    BodyReader body(call.request.body(),
                    {QLatin1StringView("name"), QLatin1StringView("kind"), QLatin1StringView("api_base"),
                     QLatin1StringView("api_key"), QLatin1StringView("weight"), QLatin1StringView("enabled"),
                     QLatin1StringView("tags")});
    if (create) {
        body.require(QLatin1StringView("name"));
        body.require(QLatin1StringView("api_base"));
    }
    std::optional<QString> apiKey;
    body.string(QLatin1StringView("name"), patch.name, kMaxNameLength);
    body.string(QLatin1StringView("kind"), patch.kind, 32);
    body.string(QLatin1StringView("api_base"), patch.apiBase, kMaxUrlLength);
    body.string(QLatin1StringView("api_key"), apiKey, kMaxApiKeyLength);
    body.nullableInteger(QLatin1StringView("weight"), patch.weight, 0, kMaxWeight);
    body.boolean(QLatin1StringView("enabled"), patch.enabled);
    body.nullableStringList(QLatin1StringView("tags"), patch.tags, 100, 100, true);
    if (body.error())
        return body.error();
    if (patch.name && patch.name->trimmed().isEmpty())
        return BodyReader::invalidField(QLatin1StringView("name"), QStringLiteral("name must not be blank"));
    if (patch.kind && !kKinds.contains(*patch.kind))
        return BodyReader::invalidField(
            QLatin1StringView("kind"), QStringLiteral("kind must be one of %1").arg(kKinds.join(QStringLiteral(", "))));
    if (patch.apiBase) {
        const QUrl url(*patch.apiBase, QUrl::StrictMode);
        if (!url.isValid() || url.host().isEmpty() ||
            (url.scheme() != QLatin1String("http") && url.scheme() != QLatin1String("https")) ||
            !patch.apiBase->startsWith(url.scheme() + QStringLiteral("://")))
            return BodyReader::invalidField(QLatin1StringView("api_base"),
                                            QStringLiteral("api_base must be an http:// or https:// URL"));
    }
    if (apiKey) {
        Result<SealedSecret> sealed = call.context->secrets.seal(apiKey->toUtf8());
        if (!sealed)
            return sealed.error();
        patch.apiKey = *sealed;
        patch.apiKeyPreview = SecretBox::preview(apiKey->toUtf8());
    }
    return std::nullopt;
}

void listUpstreams(AdminCall &call)
{
    Result<PageRequest> page = parsePage(call.request);
    if (!page)
        return replyError(call.responder, page.error());
    const PageRequest p = *page;
    runJob(
        call, [p](QSqlDatabase &db) { return CatalogAdminRepository::listUpstreams(db, p.offset(), p.pageSize); },
        [p, context = call.context](HttpResponder &responder, UpstreamPage result) {
            QJsonArray data;
            for (const UpstreamRecord &u : result.upstreams)
                data.append(upstreamJson(u, *context));
            respondJson(responder, 200, pageJson(data, p, result.total));
        },
        JobRetry::Idempotent);
}

void getUpstream(AdminCall &call)
{
    const std::optional<qint64> id = pathId(call, QStringLiteral("upstream"));
    if (!id)
        return;
    runJob(
        call, [id = *id](QSqlDatabase &db) { return CatalogAdminRepository::findUpstream(db, id, false); },
        [id = *id, context = call.context](HttpResponder &responder, std::optional<UpstreamRecord> u) {
            if (!u)
                return replyError(responder, Error::notFound(QStringLiteral("upstream %1 does not exist").arg(id)));
            respondJson(responder, 200, upstreamJson(*u, *context));
        },
        JobRetry::Idempotent);
}

void createUpstream(AdminCall &call)
{
    UpstreamPatch patch;
    if (std::optional<Error> error = readUpstreamPatch(call, true, patch))
        return replyError(call.responder, *error);
    UpstreamRow row;
    row.kind = QStringLiteral("openai");
    row.apiKeyFormat = SecretBox::kPlain;
    patch.apply(row);
    const QString actor = call.actor;
    auto context = call.context;
    runJob(
        call,
        [row, actor](QSqlDatabase &db) {
            return inTransaction(db, [&]() -> Result<UpstreamRecord> {
                Result<UpstreamRecord> created = CatalogAdminRepository::insertUpstream(db, row);
                if (!created)
                    return created;
                if (Status audited = AuditRepository::insert(
                        db, actor, QStringLiteral("upstream.create"), QStringLiteral("upstream"),
                        QString::number(created->row.id), std::nullopt, upstreamAuditJson(*created));
                    !audited)
                    return audited.takeError();
                return created;
            });
        },
        [context](HttpResponder &responder, UpstreamRecord created) {
            publishInvalidation(*context, Invalidation::catalogChanged());
            respondJson(responder, 201, upstreamJson(created, *context));
        });
}

void updateUpstream(AdminCall &call)
{
    const std::optional<qint64> id = pathId(call, QStringLiteral("upstream"));
    if (!id)
        return;
    UpstreamPatch patch;
    if (std::optional<Error> error = readUpstreamPatch(call, false, patch))
        return replyError(call.responder, *error);
    const QString actor = call.actor;
    auto context = call.context;
    runJob(
        call,
        [id = *id, patch, actor](QSqlDatabase &db) {
            return inTransaction(db, [&]() -> Result<UpstreamRecord> {
                Result<std::optional<UpstreamRecord>> found = CatalogAdminRepository::findUpstream(db, id, true);
                if (!found)
                    return found.takeError();
                if (!found->has_value())
                    return Error::notFound(QStringLiteral("upstream %1 does not exist").arg(id));
                UpstreamRow row = (*found)->row;
                patch.apply(row);
                Result<UpstreamRecord> updated = CatalogAdminRepository::updateUpstream(db, row);
                if (!updated)
                    return updated;
                if (Status audited = AuditRepository::insert(db, actor, QStringLiteral("upstream.update"),
                                                             QStringLiteral("upstream"), QString::number(id),
                                                             upstreamAuditJson(**found), upstreamAuditJson(*updated));
                    !audited)
                    return audited.takeError();
                return updated;
            });
        },
        [context](HttpResponder &responder, UpstreamRecord updated) {
            publishInvalidation(*context, Invalidation::catalogChanged());
            respondJson(responder, 200, upstreamJson(updated, *context));
        });
}

void deleteUpstream(AdminCall &call)
{
    const std::optional<qint64> id = pathId(call, QStringLiteral("upstream"));
    if (!id)
        return;
    const QString actor = call.actor;
    auto context = call.context;
    runJob(
        call,
        [id = *id, actor](QSqlDatabase &db) {
            return inTransaction(db, [&]() -> Result<UpstreamRecord> {
                Result<std::optional<UpstreamRecord>> found = CatalogAdminRepository::findUpstream(db, id, true);
                if (!found)
                    return found.takeError();
                if (!found->has_value())
                    return Error::notFound(QStringLiteral("upstream %1 does not exist").arg(id));
                if (Status deleted = CatalogAdminRepository::deleteUpstream(db, id); !deleted)
                    return deleted.takeError();
                if (Status audited = AuditRepository::insert(db, actor, QStringLiteral("upstream.delete"),
                                                             QStringLiteral("upstream"), QString::number(id),
                                                             upstreamAuditJson(**found), std::nullopt);
                    !audited)
                    return audited.takeError();
                return **found;
            });
        },
        [context](HttpResponder &responder, UpstreamRecord deleted) {
            publishInvalidation(*context, Invalidation::catalogChanged());
            respondJson(responder, 200, upstreamJson(deleted, *context));
        });
}

// ---- models ----

struct ModelPatch
{
    std::optional<QString> name;
    std::optional<std::optional<qint64>> upstreamId;
    std::optional<QString> upstreamModel;
    std::optional<std::optional<QStringList>> capabilities;
    std::optional<std::optional<qint64>> weight;
    std::optional<bool> enabled;
    std::optional<std::optional<Money>> prices[6];

    void apply(ModelRow &m) const
    {
        if (name)
            m.name = *name;
        if (upstreamId && *upstreamId)
            m.upstreamId = **upstreamId;
        if (upstreamModel)
            m.upstreamModel = *upstreamModel;
        if (capabilities)
            m.capabilities = capabilities->value_or(QStringList());
        if (weight)
            m.weight = int(weight->value_or(1));
        if (enabled)
            m.enabled = *enabled;
        Money *targets[] = {&m.inputPricePer1M, &m.cachedInputPricePer1M, &m.outputPricePer1M,
                            &m.imagePrice,      &m.speechPricePer1MChars, &m.transcriptionPricePerMinute};
        for (int i = 0; i < 6; ++i) {
            if (prices[i])
                *targets[i] = prices[i]->value_or(Money());
        }
    }
};

const QLatin1StringView kPriceFields[6] = {
    QLatin1StringView("input_price_per_1m"),        QLatin1StringView("cached_input_price_per_1m"),
    QLatin1StringView("output_price_per_1m"),       QLatin1StringView("image_price"),
    QLatin1StringView("speech_price_per_1m_chars"), QLatin1StringView("transcription_price_per_minute")};

std::optional<Error> readModelPatch(AdminCall &call, bool create, ModelPatch &patch)
{
    BodyReader body(call.request.body(),
                    {QLatin1StringView("name"), QLatin1StringView("upstream_id"), QLatin1StringView("upstream_model"),
                     QLatin1StringView("capabilities"), QLatin1StringView("weight"), QLatin1StringView("enabled"),
                     kPriceFields[0], kPriceFields[1], kPriceFields[2], kPriceFields[3], kPriceFields[4],
                     kPriceFields[5]});
    if (create) {
        body.require(QLatin1StringView("name"));
        body.require(QLatin1StringView("upstream_id"));
    }
    body.string(QLatin1StringView("name"), patch.name, kMaxNameLength);
    body.nullableInteger(QLatin1StringView("upstream_id"), patch.upstreamId, 1, std::numeric_limits<qint64>::max() / 2);
    body.string(QLatin1StringView("upstream_model"), patch.upstreamModel, kMaxNameLength);
    body.nullableStringList(QLatin1StringView("capabilities"), patch.capabilities, 16, 32, true);
    body.nullableInteger(QLatin1StringView("weight"), patch.weight, 0, kMaxWeight);
    body.boolean(QLatin1StringView("enabled"), patch.enabled);
    for (int i = 0; i < 6; ++i)
        body.nullableMoney(kPriceFields[i], patch.prices[i]);
    if (body.error())
        return body.error();
    if (patch.upstreamId && !*patch.upstreamId)
        return BodyReader::invalidField(QLatin1StringView("upstream_id"), QStringLiteral("upstream_id is required"));
    if (patch.name && patch.name->trimmed().isEmpty())
        return BodyReader::invalidField(QLatin1StringView("name"), QStringLiteral("name must not be blank"));
    if (patch.upstreamModel && patch.upstreamModel->trimmed().isEmpty())
        return BodyReader::invalidField(QLatin1StringView("upstream_model"),
                                        QStringLiteral("upstream_model must not be blank"));
    if (patch.capabilities && *patch.capabilities) {
        for (const QString &c : **patch.capabilities) {
            if (!kCapabilities.contains(c))
                return BodyReader::invalidField(QLatin1StringView("capabilities"),
                                                QStringLiteral("capabilities must be a subset of %1")
                                                    .arg(kCapabilities.join(QStringLiteral(", "))));
        }
    }
    for (int i = 0; i < 6; ++i) {
        if (patch.prices[i] && *patch.prices[i] && (*patch.prices[i])->isNegative())
            return BodyReader::invalidField(kPriceFields[i],
                                            QStringLiteral("%1 must not be negative").arg(kPriceFields[i]));
    }
    return std::nullopt;
}

void listModels(AdminCall &call)
{
    Result<PageRequest> page = parsePage(call.request);
    if (!page)
        return replyError(call.responder, page.error());
    qint64 upstreamId = 0;
    if (call.request.hasQueryParam("upstream_id")) {
        const std::optional<qint64> id = parseId(call.request.queryParam("upstream_id"));
        if (!id)
            return replyError(call.responder, BodyReader::invalidField(QLatin1StringView("upstream_id"),
                                                                       QStringLiteral("upstream_id must be an id")));
        upstreamId = *id;
    }
    const QString name = QString::fromUtf8(call.request.queryParam("name"));
    if (name.size() > kMaxNameLength)
        return replyError(call.responder,
                          BodyReader::invalidField(QLatin1StringView("name"), QStringLiteral("name is too long")));
    const PageRequest p = *page;
    runJob(
        call,
        [p, upstreamId, name](QSqlDatabase &db) {
            return CatalogAdminRepository::listModels(db, upstreamId, name, p.offset(), p.pageSize);
        },
        [p](HttpResponder &responder, ModelPage result) {
            QJsonArray data;
            for (const ModelRecord &m : result.models)
                data.append(modelJson(m));
            respondJson(responder, 200, pageJson(data, p, result.total));
        },
        JobRetry::Idempotent);
}

void getModel(AdminCall &call)
{
    const std::optional<qint64> id = pathId(call, QStringLiteral("model"));
    if (!id)
        return;
    runJob(
        call, [id = *id](QSqlDatabase &db) { return CatalogAdminRepository::findModel(db, id, false); },
        [id = *id](HttpResponder &responder, std::optional<ModelRecord> m) {
            if (!m)
                return replyError(responder, Error::notFound(QStringLiteral("model %1 does not exist").arg(id)));
            respondJson(responder, 200, modelJson(*m));
        },
        JobRetry::Idempotent);
}

void createModel(AdminCall &call)
{
    ModelPatch patch;
    if (std::optional<Error> error = readModelPatch(call, true, patch))
        return replyError(call.responder, *error);
    ModelRow row;
    patch.apply(row);
    if (row.upstreamModel.isEmpty())
        row.upstreamModel = row.name;
    const QString actor = call.actor;
    auto context = call.context;
    runJob(
        call,
        [row, actor](QSqlDatabase &db) {
            return inTransaction(db, [&]() -> Result<ModelRecord> {
                Result<ModelRecord> created = CatalogAdminRepository::insertModel(db, row);
                if (!created)
                    return created;
                if (Status audited =
                        AuditRepository::insert(db, actor, QStringLiteral("model.create"), QStringLiteral("model"),
                                                QString::number(created->row.id), std::nullopt, modelJson(*created));
                    !audited)
                    return audited.takeError();
                return created;
            });
        },
        [context](HttpResponder &responder, ModelRecord created) {
            publishInvalidation(*context, Invalidation::catalogChanged());
            respondJson(responder, 201, modelJson(created));
        });
}

void updateModel(AdminCall &call)
{
    const std::optional<qint64> id = pathId(call, QStringLiteral("model"));
    if (!id)
        return;
    ModelPatch patch;
    if (std::optional<Error> error = readModelPatch(call, false, patch))
        return replyError(call.responder, *error);
    const QString actor = call.actor;
    auto context = call.context;
    runJob(
        call,
        [id = *id, patch, actor](QSqlDatabase &db) {
            return inTransaction(db, [&]() -> Result<ModelRecord> {
                Result<std::optional<ModelRecord>> found = CatalogAdminRepository::findModel(db, id, true);
                if (!found)
                    return found.takeError();
                if (!found->has_value())
                    return Error::notFound(QStringLiteral("model %1 does not exist").arg(id));
                ModelRow row = (*found)->row;
                patch.apply(row);
                Result<ModelRecord> updated = CatalogAdminRepository::updateModel(db, row);
                if (!updated)
                    return updated;
                if (Status audited =
                        AuditRepository::insert(db, actor, QStringLiteral("model.update"), QStringLiteral("model"),
                                                QString::number(id), modelJson(**found), modelJson(*updated));
                    !audited)
                    return audited.takeError();
                return updated;
            });
        },
        [context](HttpResponder &responder, ModelRecord updated) {
            publishInvalidation(*context, Invalidation::catalogChanged());
            respondJson(responder, 200, modelJson(updated));
        });
}

void deleteModel(AdminCall &call)
{
    const std::optional<qint64> id = pathId(call, QStringLiteral("model"));
    if (!id)
        return;
    const QString actor = call.actor;
    auto context = call.context;
    runJob(
        call,
        [id = *id, actor](QSqlDatabase &db) {
            return inTransaction(db, [&]() -> Result<ModelRecord> {
                Result<std::optional<ModelRecord>> found = CatalogAdminRepository::findModel(db, id, true);
                if (!found)
                    return found.takeError();
                if (!found->has_value())
                    return Error::notFound(QStringLiteral("model %1 does not exist").arg(id));
                if (Status deleted = CatalogAdminRepository::deleteModel(db, id); !deleted)
                    return deleted.takeError();
                if (Status audited =
                        AuditRepository::insert(db, actor, QStringLiteral("model.delete"), QStringLiteral("model"),
                                                QString::number(id), modelJson(**found), std::nullopt);
                    !audited)
                    return audited.takeError();
                return **found;
            });
        },
        [context](HttpResponder &responder, ModelRecord deleted) {
            publishInvalidation(*context, Invalidation::catalogChanged());
            respondJson(responder, 200, modelJson(deleted));
        });
}

} // namespace

std::vector<AdminRoute> catalogRoutes()
{
    return {
        {"GET",
         "/upstreams",
         listUpstreams,
         {.summary = "List upstreams with their live health",
          .tag = "upstreams",
          .responseSchema = "Upstream",
          .shape = api::Shape::Page}},
        {"POST",
         "/upstreams",
         createUpstream,
         {.summary = "Create an upstream (its api_key is stored encrypted)",
          .tag = "upstreams",
          .requestSchema = "UpstreamInput",
          .responseSchema = "Upstream",
          .status = 201}},
        {"GET",
         "/upstreams/{id}",
         getUpstream,
         {.summary = "Get an upstream", .tag = "upstreams", .responseSchema = "Upstream"}},
        {"PUT",
         "/upstreams/{id}",
         updateUpstream,
         {.summary = "Update an upstream (partial)",
          .tag = "upstreams",
          .requestSchema = "UpstreamInput",
          .responseSchema = "Upstream"}},
        {"DELETE",
         "/upstreams/{id}",
         deleteUpstream,
         {.summary = "Delete an upstream and its models", .tag = "upstreams", .responseSchema = "Upstream"}},
        {"GET",
         "/models",
         listModels,
         {.summary = "List models",
          .tag = "models",
          .query = {{"upstream_id", api::Type::Integer, "only this upstream's models"},
                    {"name", api::Type::String, "only this public name"}},
          .responseSchema = "Model",
          .shape = api::Shape::Page}},
        {"POST",
         "/models",
         createModel,
         {.summary = "Create a model row (public name → upstream model, with prices)",
          .tag = "models",
          .requestSchema = "ModelInput",
          .responseSchema = "Model",
          .status = 201}},
        {"GET", "/models/{id}", getModel, {.summary = "Get a model", .tag = "models", .responseSchema = "Model"}},
        {"PUT",
         "/models/{id}",
         updateModel,
         {.summary = "Update a model (partial)",
          .tag = "models",
          .requestSchema = "ModelInput",
          .responseSchema = "Model"}},
        {"DELETE",
         "/models/{id}",
         deleteModel,
         {.summary = "Delete a model", .tag = "models", .responseSchema = "Model"}},
    };
}

} // namespace llmpool::gateway
