#include "storage/CatalogRepository.h"

#include "storage/SqlErrors.h"
#include "storage/SqlValues.h"

#include <QJsonDocument>
#include <QSqlDatabase>
#include <QSqlQuery>
#include <QVariant>

namespace llmpool::gateway {

namespace {

Result<Money> moneyColumn(const QSqlQuery &q, int column)
{
    return Money::parse(q.value(column).toString());
}

} // namespace

QString CatalogRepository::upstreamColumns()
{
    return QStringLiteral("u.id, u.name, u.kind, u.api_base, u.api_key_encrypted, u.api_key_format, u.api_key_preview, "
                          "u.weight, u.enabled, to_json(u.tags)::text, coalesce(u.proxy_url, ''), u.extra::text");
}

QString CatalogRepository::modelColumns()
{
    return QStringLiteral("m.id, m.name, m.upstream_id, m.upstream_model, to_json(m.capabilities)::text, m.weight, "
                          "m.enabled, m.input_price_per_1m::text, m.cached_input_price_per_1m::text, "
                          "m.output_price_per_1m::text, m.image_price::text, m.speech_price_per_1m_chars::text, "
                          "m.transcription_price_per_minute::text");
}

UpstreamRow CatalogRepository::readUpstream(const QSqlQuery &q)
{
    UpstreamRow u;
    u.id = q.value(0).toLongLong();
    u.name = q.value(1).toString();
    u.kind = q.value(2).toString();
    u.apiBase = q.value(3).toString();
    u.apiKeyStored = q.value(4).toString().toUtf8();
    u.apiKeyFormat = q.value(5).toString();
    u.apiKeyPreview = q.value(6).toString();
    u.weight = q.value(7).toInt();
    u.enabled = q.value(8).toBool();
    u.tags = SqlValues::stringListFromJson(q.value(9)).value_or(QStringList());
    u.proxyUrl = q.value(10).toString();
    u.extra = QJsonDocument::fromJson(q.value(11).toString().toUtf8()).object();
    return u;
}

Result<ModelRow> CatalogRepository::readModel(const QSqlQuery &q)
{
    ModelRow m;
    m.id = q.value(0).toLongLong();
    m.name = q.value(1).toString();
    m.upstreamId = q.value(2).toLongLong();
    m.upstreamModel = q.value(3).toString();
    m.capabilities = SqlValues::stringListFromJson(q.value(4)).value_or(QStringList());
    m.weight = q.value(5).toInt();
    m.enabled = q.value(6).toBool();
    Money *prices[] = {&m.inputPricePer1M, &m.cachedInputPricePer1M, &m.outputPricePer1M,
                       &m.imagePrice,      &m.speechPricePer1MChars, &m.transcriptionPricePerMinute};
    for (int i = 0; i < 6; ++i) {
        auto price = moneyColumn(q, 7 + i);
        if (!price) {
            return Error::internal(QStringLiteral("database_error"),
                                   QStringLiteral("model %1 has an unreadable price").arg(m.id));
        }
        *prices[i] = *price;
    }
    return m;
}

Result<CatalogRows> CatalogRepository::loadAll(QSqlDatabase &db)
{
    if (!db.transaction()) {
        return Error::unavailable(QStringLiteral("database_unavailable"), QStringLiteral("cannot start a transaction"));
    }
    QSqlQuery q(db);
    q.setForwardOnly(true);
    auto rollback = [&db](Error e) -> Result<CatalogRows> {
        db.rollback();
        return e;
    };
    if (!q.exec(QStringLiteral("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))) {
        return rollback(SqlErrors::fromQuery(q, db, u"load catalog"));
    }

    CatalogRows rows;
    if (!q.exec(QStringLiteral("SELECT ") + upstreamColumns() + QStringLiteral(" FROM upstreams u ORDER BY u.id"))) {
        return rollback(SqlErrors::fromQuery(q, db, u"load upstreams"));
    }
    while (q.next()) {
        rows.upstreams.push_back(readUpstream(q));
    }
    if (!q.exec(QStringLiteral("SELECT ") + modelColumns() + QStringLiteral(" FROM models m ORDER BY m.name, m.id"))) {
        return rollback(SqlErrors::fromQuery(q, db, u"load models"));
    }
    while (q.next()) {
        auto model = readModel(q);
        if (!model) {
            return rollback(model.takeError());
        }
        rows.models.push_back(std::move(*model));
    }
    db.commit();
    return rows;
}

} // namespace llmpool::gateway
