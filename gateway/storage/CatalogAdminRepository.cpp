#include "storage/CatalogAdminRepository.h"

#include "storage/SqlErrors.h"
#include "storage/SqlValues.h"

#include <QJsonDocument>
#include <QSqlError>
#include <QSqlQuery>

namespace llmpool::gateway {

namespace {

QString upstreamColumns()
{
    return CatalogRepository::upstreamColumns() + QStringLiteral(", ") + SqlValues::epochMs(u"u.created_at") +
           QStringLiteral(", ") + SqlValues::epochMs(u"u.updated_at");
}

UpstreamRecord readUpstream(const QSqlQuery &q)
{
    UpstreamRecord r;
    r.row = CatalogRepository::readUpstream(q);
    r.createdAt = SqlValues::dateTime(q.value(CatalogRepository::kUpstreamColumns));
    r.updatedAt = SqlValues::dateTime(q.value(CatalogRepository::kUpstreamColumns + 1));
    return r;
}

QString modelColumns()
{
    return CatalogRepository::modelColumns() + QStringLiteral(", ") + SqlValues::epochMs(u"m.created_at") +
           QStringLiteral(", ") + SqlValues::epochMs(u"m.updated_at");
}

Result<ModelRecord> readModel(const QSqlQuery &q)
{
    ModelRecord r;
    Result<ModelRow> row = CatalogRepository::readModel(q);
    if (!row)
        return row.takeError();
    r.row = std::move(*row);
    r.createdAt = SqlValues::dateTime(q.value(CatalogRepository::kModelColumns));
    r.updatedAt = SqlValues::dateTime(q.value(CatalogRepository::kModelColumns + 1));
    return r;
}

Result<qint64> countRows(QSqlQuery &q, QSqlDatabase &db, QStringView action)
{
    if (!q.exec() || !q.next())
        return SqlErrors::fromQuery(q, db, action);
    return q.value(0).toLongLong();
}

Error upstreamError(const QSqlQuery &q, QSqlDatabase &db, const QString &name, QStringView action)
{
    const QSqlError error = q.lastError();
    if (SqlErrors::isUniqueViolation(error, u"upstreams_name_unique"))
        return Error::conflict(QStringLiteral("upstream_exists"),
                               QStringLiteral("an upstream named \"%1\" already exists").arg(name.left(200)));
    if (SqlErrors::isCheckViolation(error, u"upstreams_name_valid"))
        return Error::invalidRequest(QStringLiteral("invalid_upstream"),
                                     QStringLiteral("name must have 1 to 200 characters"), QStringLiteral("name"));
    if (SqlErrors::isCheckViolation(error, u"upstreams_api_base_valid"))
        return Error::invalidRequest(QStringLiteral("invalid_upstream"),
                                     QStringLiteral("api_base must be an http(s) URL"), QStringLiteral("api_base"));
    if (SqlErrors::isCheckViolation(error, u"upstreams_kind_valid"))
        return Error::invalidRequest(QStringLiteral("invalid_upstream"), QStringLiteral("unknown kind"),
                                     QStringLiteral("kind"));
    if (SqlErrors::isCheckViolation(error, u"upstreams_weight_nonnegative"))
        return Error::invalidRequest(QStringLiteral("invalid_upstream"), QStringLiteral("weight must be >= 0"),
                                     QStringLiteral("weight"));
    return SqlErrors::fromQuery(q, db, action);
}

Error modelError(const QSqlQuery &q, QSqlDatabase &db, const ModelRow &m, QStringView action)
{
    const QSqlError error = q.lastError();
    if (SqlErrors::isUniqueViolation(error, u"models_name_upstream_unique"))
        return Error::conflict(
            QStringLiteral("model_exists"),
            QStringLiteral("upstream %1 already has a model named \"%2\"").arg(m.upstreamId).arg(m.name.left(200)));
    if (SqlErrors::isForeignKeyViolation(error))
        return Error::invalidRequest(QStringLiteral("upstream_not_found"),
                                     QStringLiteral("upstream %1 does not exist").arg(m.upstreamId),
                                     QStringLiteral("upstream_id"));
    if (SqlErrors::isCheckViolation(error, u"models_name_valid"))
        return Error::invalidRequest(QStringLiteral("invalid_model"),
                                     QStringLiteral("name must have 1 to 200 characters"), QStringLiteral("name"));
    if (SqlErrors::isCheckViolation(error, u"models_upstream_model_valid"))
        return Error::invalidRequest(QStringLiteral("invalid_model"),
                                     QStringLiteral("upstream_model must have 1 to 200 characters"),
                                     QStringLiteral("upstream_model"));
    if (SqlErrors::isCheckViolation(error, u"models_capabilities_valid"))
        return Error::invalidRequest(QStringLiteral("invalid_model"), QStringLiteral("unknown capability"),
                                     QStringLiteral("capabilities"));
    if (SqlErrors::isCheckViolation(error))
        return Error::invalidRequest(QStringLiteral("invalid_model"),
                                     QStringLiteral("weight and prices must not be negative"));
    return SqlErrors::fromQuery(q, db, action);
}

void bindUpstream(QSqlQuery &q, const UpstreamRow &u)
{
    q.bindValue(QStringLiteral(":name"), u.name.trimmed());
    q.bindValue(QStringLiteral(":kind"), u.kind);
    q.bindValue(QStringLiteral(":api_base"), u.apiBase);
    // NOT NULL columns: a null QString would bind as NULL.
    q.bindValue(QStringLiteral(":key"), QString::fromUtf8(u.apiKeyStored).append(QLatin1StringView("")));
    q.bindValue(QStringLiteral(":format"), u.apiKeyFormat);
    q.bindValue(QStringLiteral(":preview"), QString(u.apiKeyPreview).append(QLatin1StringView("")));
    q.bindValue(QStringLiteral(":weight"), u.weight);
    q.bindValue(QStringLiteral(":enabled"), u.enabled);
    q.bindValue(QStringLiteral(":tags"), SqlValues::stringListToJson(u.tags));
}

const QString kTagsExpression =
    QStringLiteral("coalesce((SELECT array_agg(t) FROM jsonb_array_elements_text(CAST(:tags AS jsonb)) AS t), '{}')");
const QString kCapsExpression =
    QStringLiteral("coalesce((SELECT array_agg(c) FROM jsonb_array_elements_text(CAST(:caps AS jsonb)) AS c), '{}')");

void bindModel(QSqlQuery &q, const ModelRow &m)
{
    q.bindValue(QStringLiteral(":name"), m.name.trimmed());
    q.bindValue(QStringLiteral(":upstream_id"), QVariant::fromValue(m.upstreamId));
    q.bindValue(QStringLiteral(":upstream_model"), m.upstreamModel);
    q.bindValue(QStringLiteral(":caps"), SqlValues::stringListToJson(m.capabilities));
    q.bindValue(QStringLiteral(":weight"), m.weight);
    q.bindValue(QStringLiteral(":enabled"), m.enabled);
    q.bindValue(QStringLiteral(":p1"), m.inputPricePer1M.toString());
    q.bindValue(QStringLiteral(":p2"), m.cachedInputPricePer1M.toString());
    q.bindValue(QStringLiteral(":p3"), m.outputPricePer1M.toString());
    q.bindValue(QStringLiteral(":p4"), m.imagePrice.toString());
    q.bindValue(QStringLiteral(":p5"), m.speechPricePer1MChars.toString());
    q.bindValue(QStringLiteral(":p6"), m.transcriptionPricePerMinute.toString());
}

} // namespace

Result<UpstreamPage> CatalogAdminRepository::listUpstreams(QSqlDatabase &db, qint64 offset, int limit)
{
    UpstreamPage page;
    QSqlQuery count(db);
    count.prepare(QStringLiteral("SELECT count(*) FROM upstreams"));
    Result<qint64> total = countRows(count, db, u"count upstreams");
    if (!total)
        return total.takeError();
    page.total = *total;
    QSqlQuery q(db);
    q.prepare(QStringLiteral("SELECT ") + upstreamColumns() +
              QStringLiteral(" FROM upstreams u ORDER BY u.id LIMIT :limit OFFSET :offset"));
    q.bindValue(QStringLiteral(":limit"), limit);
    q.bindValue(QStringLiteral(":offset"), QVariant::fromValue(offset));
    if (!q.exec())
        return SqlErrors::fromQuery(q, db, u"list upstreams");
    while (q.next())
        page.upstreams.append(readUpstream(q));
    return page;
}

Result<std::optional<UpstreamRecord>> CatalogAdminRepository::findUpstream(QSqlDatabase &db, qint64 id, bool forUpdate)
{
    QSqlQuery q(db);
    q.prepare(QStringLiteral("SELECT ") + upstreamColumns() + QStringLiteral(" FROM upstreams u WHERE u.id = :id") +
              (forUpdate ? QStringLiteral(" FOR UPDATE") : QString()));
    q.bindValue(QStringLiteral(":id"), QVariant::fromValue(id));
    if (!q.exec())
        return SqlErrors::fromQuery(q, db, u"find upstream");
    if (!q.next())
        return std::optional<UpstreamRecord>{};
    return std::optional<UpstreamRecord>(readUpstream(q));
}

Result<UpstreamRecord> CatalogAdminRepository::insertUpstream(QSqlDatabase &db, const UpstreamRow &upstream)
{
    QSqlQuery q(db);
    q.prepare(QStringLiteral("INSERT INTO upstreams AS u (name, kind, api_base, api_key_encrypted, api_key_format, "
                             "api_key_preview, weight, enabled, tags) VALUES (:name, :kind, :api_base, :key, :format, "
                             ":preview, :weight, :enabled, ") +
              kTagsExpression + QStringLiteral(") RETURNING ") + upstreamColumns());
    bindUpstream(q, upstream);
    if (!q.exec())
        return upstreamError(q, db, upstream.name, u"create upstream");
    if (!q.next())
        return SqlErrors::failed(QStringLiteral("create upstream: no row returned"));
    return readUpstream(q);
}

Result<UpstreamRecord> CatalogAdminRepository::updateUpstream(QSqlDatabase &db, const UpstreamRow &upstream)
{
    QSqlQuery q(db);
    q.prepare(QStringLiteral("UPDATE upstreams AS u SET name = :name, kind = :kind, api_base = :api_base, "
                             "api_key_encrypted = :key, api_key_format = :format, api_key_preview = :preview, "
                             "weight = :weight, enabled = :enabled, tags = ") +
              kTagsExpression + QStringLiteral(" WHERE u.id = :id RETURNING ") + upstreamColumns());
    bindUpstream(q, upstream);
    q.bindValue(QStringLiteral(":id"), QVariant::fromValue(upstream.id));
    if (!q.exec())
        return upstreamError(q, db, upstream.name, u"update upstream");
    if (!q.next())
        return Error::notFound(QStringLiteral("upstream %1 does not exist").arg(upstream.id));
    return readUpstream(q);
}

Status CatalogAdminRepository::deleteUpstream(QSqlDatabase &db, qint64 id)
{
    QSqlQuery q(db);
    q.prepare(QStringLiteral("DELETE FROM upstreams WHERE id = :id"));
    q.bindValue(QStringLiteral(":id"), QVariant::fromValue(id));
    if (!q.exec())
        return SqlErrors::fromQuery(q, db, u"delete upstream");
    if (q.numRowsAffected() == 0)
        return Error::notFound(QStringLiteral("upstream %1 does not exist").arg(id));
    return Ok{};
}

Result<ModelPage> CatalogAdminRepository::listModels(QSqlDatabase &db, qint64 upstreamId, const QString &name,
                                                     qint64 offset, int limit)
{
    QString where = QStringLiteral(" WHERE true");
    if (upstreamId > 0)
        where += QStringLiteral(" AND m.upstream_id = :upstream_id");
    if (!name.isEmpty())
        where += QStringLiteral(" AND m.name = :name");
    auto bind = [&](QSqlQuery &q) {
        if (upstreamId > 0)
            q.bindValue(QStringLiteral(":upstream_id"), QVariant::fromValue(upstreamId));
        if (!name.isEmpty())
            q.bindValue(QStringLiteral(":name"), name);
    };
    ModelPage page;
    QSqlQuery count(db);
    count.prepare(QStringLiteral("SELECT count(*) FROM models m") + where);
    bind(count);
    Result<qint64> total = countRows(count, db, u"count models");
    if (!total)
        return total.takeError();
    page.total = *total;
    QSqlQuery q(db);
    q.prepare(QStringLiteral("SELECT ") + modelColumns() + QStringLiteral(" FROM models m") + where +
              QStringLiteral(" ORDER BY m.id LIMIT :limit OFFSET :offset"));
    bind(q);
    q.bindValue(QStringLiteral(":limit"), limit);
    q.bindValue(QStringLiteral(":offset"), QVariant::fromValue(offset));
    if (!q.exec())
        return SqlErrors::fromQuery(q, db, u"list models");
    while (q.next()) {
        Result<ModelRecord> model = readModel(q);
        if (!model)
            return model.takeError();
        page.models.append(std::move(*model));
    }
    return page;
}

Result<std::optional<ModelRecord>> CatalogAdminRepository::findModel(QSqlDatabase &db, qint64 id, bool forUpdate)
{
    QSqlQuery q(db);
    q.prepare(QStringLiteral("SELECT ") + modelColumns() + QStringLiteral(" FROM models m WHERE m.id = :id") +
              (forUpdate ? QStringLiteral(" FOR UPDATE") : QString()));
    q.bindValue(QStringLiteral(":id"), QVariant::fromValue(id));
    if (!q.exec())
        return SqlErrors::fromQuery(q, db, u"find model");
    if (!q.next())
        return std::optional<ModelRecord>{};
    Result<ModelRecord> model = readModel(q);
    if (!model)
        return model.takeError();
    return std::optional<ModelRecord>(std::move(*model));
}

Result<ModelRecord> CatalogAdminRepository::insertModel(QSqlDatabase &db, const ModelRow &model)
{
    QSqlQuery q(db);
    q.prepare(
        QStringLiteral("INSERT INTO models AS m (name, upstream_id, upstream_model, capabilities, weight, enabled, "
                       "input_price_per_1m, cached_input_price_per_1m, output_price_per_1m, image_price, "
                       "speech_price_per_1m_chars, transcription_price_per_minute) VALUES (:name, :upstream_id, "
                       ":upstream_model, ") +
        kCapsExpression +
        QStringLiteral(", :weight, :enabled, CAST(:p1 AS numeric), CAST(:p2 AS numeric), CAST(:p3 AS numeric), "
                       "CAST(:p4 AS numeric), CAST(:p5 AS numeric), CAST(:p6 AS numeric)) RETURNING ") +
        modelColumns());
    bindModel(q, model);
    if (!q.exec())
        return modelError(q, db, model, u"create model");
    if (!q.next())
        return SqlErrors::failed(QStringLiteral("create model: no row returned"));
    return readModel(q);
}

Result<ModelRecord> CatalogAdminRepository::updateModel(QSqlDatabase &db, const ModelRow &model)
{
    QSqlQuery q(db);
    q.prepare(QStringLiteral("UPDATE models AS m SET name = :name, upstream_id = :upstream_id, upstream_model = "
                             ":upstream_model, capabilities = ") +
              kCapsExpression +
              QStringLiteral(", weight = :weight, enabled = :enabled, input_price_per_1m = CAST(:p1 AS numeric), "
                             "cached_input_price_per_1m = CAST(:p2 AS numeric), output_price_per_1m = CAST(:p3 AS "
                             "numeric), image_price = CAST(:p4 AS numeric), speech_price_per_1m_chars = CAST(:p5 AS "
                             "numeric), transcription_price_per_minute = CAST(:p6 AS numeric) WHERE m.id = :id "
                             "RETURNING ") +
              modelColumns());
    bindModel(q, model);
    q.bindValue(QStringLiteral(":id"), QVariant::fromValue(model.id));
    if (!q.exec())
        return modelError(q, db, model, u"update model");
    if (!q.next())
        return Error::notFound(QStringLiteral("model %1 does not exist").arg(model.id));
    return readModel(q);
}

Status CatalogAdminRepository::deleteModel(QSqlDatabase &db, qint64 id)
{
    QSqlQuery q(db);
    q.prepare(QStringLiteral("DELETE FROM models WHERE id = :id"));
    q.bindValue(QStringLiteral(":id"), QVariant::fromValue(id));
    if (!q.exec())
        return SqlErrors::fromQuery(q, db, u"delete model");
    if (q.numRowsAffected() == 0)
        return Error::notFound(QStringLiteral("model %1 does not exist").arg(id));
    return Ok{};
}

} // namespace llmpool::gateway
