#include "storage/AuditRepository.h"

#include "storage/SqlErrors.h"
#include "storage/SqlValues.h"

#include <QJsonDocument>
#include <QSqlQuery>

namespace llmpool::gateway {

namespace {

QVariant jsonText(const std::optional<QJsonObject> &object)
{
    if (!object)
        return QVariant(QMetaType::fromType<QString>());
    return QString::fromUtf8(QJsonDocument(*object).toJson(QJsonDocument::Compact));
}

std::optional<QJsonObject> readJson(const QVariant &value)
{
    if (value.isNull())
        return std::nullopt;
    return QJsonDocument::fromJson(value.toString().toUtf8()).object();
}

} // namespace

Status AuditRepository::insert(QSqlDatabase &db, const QString &actor, const QString &action, const QString &resource,
                               const QString &resourceId, const std::optional<QJsonObject> &before,
                               const std::optional<QJsonObject> &after)
{
    QSqlQuery q(db);
    q.prepare(QStringLiteral("INSERT INTO audit_log (actor, action, resource, resource_id, before, after) "
                             "VALUES (:actor, :action, :resource, :resource_id, CAST(:before AS jsonb), "
                             "CAST(:after AS jsonb))"));
    q.bindValue(QStringLiteral(":actor"), actor);
    q.bindValue(QStringLiteral(":action"), action);
    q.bindValue(QStringLiteral(":resource"), resource);
    q.bindValue(QStringLiteral(":resource_id"), resourceId);
    q.bindValue(QStringLiteral(":before"), jsonText(before));
    q.bindValue(QStringLiteral(":after"), jsonText(after));
    if (!q.exec())
        return SqlErrors::fromQuery(q, db, u"write audit entry");
    return Ok{};
}

Result<AuditPage> AuditRepository::list(QSqlDatabase &db, qint64 offset, int limit)
{
    AuditPage page;
    QSqlQuery count(db);
    if (!count.exec(QStringLiteral("SELECT count(*) FROM audit_log")) || !count.next())
        return SqlErrors::fromQuery(count, db, u"count audit entries");
    page.total = count.value(0).toLongLong();

    QSqlQuery q(db);
    q.prepare(QStringLiteral("SELECT id, ") + SqlValues::epochMs(u"at") +
              QStringLiteral(", actor, action, resource, resource_id, before::text, after::text, hash "
                             "FROM audit_log ORDER BY id DESC LIMIT :limit OFFSET :offset"));
    q.bindValue(QStringLiteral(":limit"), limit);
    q.bindValue(QStringLiteral(":offset"), QVariant::fromValue(offset));
    if (!q.exec())
        return SqlErrors::fromQuery(q, db, u"list audit entries");
    while (q.next()) {
        AuditEntry e;
        e.id = q.value(0).toLongLong();
        e.at = SqlValues::dateTime(q.value(1));
        e.actor = q.value(2).toString();
        e.action = q.value(3).toString();
        e.resource = q.value(4).toString();
        e.resourceId = q.value(5).toString();
        e.before = readJson(q.value(6));
        e.after = readJson(q.value(7));
        e.hash = q.value(8).toString();
        page.entries.append(std::move(e));
    }
    return page;
}

} // namespace llmpool::gateway
