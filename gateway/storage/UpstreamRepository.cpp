#include "storage/UpstreamRepository.h"

#include "storage/SqlErrors.h"
#include "storage/SqlValues.h"

#include <QJsonDocument>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QVariant>

namespace llmpool::gateway {

Result<qint64> UpstreamRepository::insertWithModels(QSqlDatabase &db, const NewUpstream &upstream,
                                                    const std::vector<NewModel> &models)
{
    if (!db.transaction()) {
        return Error::unavailable(QStringLiteral("database_unavailable"), QStringLiteral("cannot start a transaction"));
    }
    auto rollback = [&db](Error e) -> Result<qint64> {
        db.rollback();
        return e;
    };
    QSqlQuery q(db);
    q.prepare(QStringLiteral("INSERT INTO upstreams (name, kind, api_base, api_key_encrypted, api_key_format, "
                             "api_key_preview, weight, enabled, extra) VALUES (:name, :kind, :base, :key, :format, "
                             ":preview, :weight, :enabled, CAST(:extra AS jsonb)) RETURNING id"));
    q.bindValue(QStringLiteral(":name"), upstream.name);
    q.bindValue(QStringLiteral(":kind"), upstream.kind);
    q.bindValue(QStringLiteral(":base"), upstream.apiBase);
    q.bindValue(QStringLiteral(":key"), QString::fromLatin1(upstream.apiKeySealed));
    q.bindValue(QStringLiteral(":format"), upstream.apiKeyFormat);
    q.bindValue(QStringLiteral(":preview"), upstream.apiKeyPreview);
    q.bindValue(QStringLiteral(":weight"), upstream.weight);
    q.bindValue(QStringLiteral(":enabled"), upstream.enabled);
    q.bindValue(QStringLiteral(":extra"),
                QString::fromUtf8(QJsonDocument(upstream.extra).toJson(QJsonDocument::Compact)));
    if (!q.exec() || !q.next()) {
        if (SqlErrors::isUniqueViolation(q.lastError(), u"upstreams_name_unique")) {
            return rollback(
                Error::conflict(QStringLiteral("upstream_exists"),
                                QStringLiteral("an upstream named '%1' already exists").arg(upstream.name)));
        }
        return rollback(SqlErrors::fromQuery(q, db, u"insert upstream"));
    }
    const qint64 id = q.value(0).toLongLong();

    QSqlQuery m(db);
    m.prepare(QStringLiteral("INSERT INTO models (name, upstream_id, upstream_model, capabilities, enabled) "
                             "VALUES (:name, :upstream, :model, "
                             "ARRAY(SELECT jsonb_array_elements_text(CAST(:caps AS jsonb))), :enabled) "
                             "ON CONFLICT (name, upstream_id) DO NOTHING"));
    for (const NewModel &model : models) {
        m.bindValue(QStringLiteral(":name"), model.name);
        m.bindValue(QStringLiteral(":upstream"), id);
        m.bindValue(QStringLiteral(":model"), model.upstreamModel);
        m.bindValue(QStringLiteral(":caps"), SqlValues::stringListToJson(model.capabilities));
        m.bindValue(QStringLiteral(":enabled"), model.enabled);
        if (!m.exec()) {
            return rollback(SqlErrors::fromQuery(m, db, u"insert model"));
        }
    }
    if (!db.commit()) {
        return rollback(Error::unavailable(QStringLiteral("database_unavailable"), QStringLiteral("commit failed")));
    }
    return id;
}

} // namespace llmpool::gateway
