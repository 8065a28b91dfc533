#include "storage/UpstreamKeyRepository.h"

#include "storage/SqlErrors.h"

#include <QSqlQuery>

namespace llmpool::gateway {

Result<QList<StoredUpstreamKey>> UpstreamKeyRepository::lockAll(QSqlDatabase &db)
{
    QSqlQuery q(db);
    q.setForwardOnly(true);
    if (!q.exec(QStringLiteral("SELECT id, name, api_key_encrypted, api_key_format FROM upstreams ORDER BY id "
                               "FOR UPDATE")))
        return SqlErrors::fromQuery(q, db, u"read upstream keys");
    QList<StoredUpstreamKey> keys;
    while (q.next())
        keys.append(StoredUpstreamKey{q.value(0).toLongLong(), q.value(1).toString(), q.value(2).toString().toUtf8(),
                                      q.value(3).toString()});
    return keys;
}

Status UpstreamKeyRepository::store(QSqlDatabase &db, qint64 id, const QByteArray &stored, const QString &format)
{
    QSqlQuery q(db);
    q.prepare(QStringLiteral("UPDATE upstreams SET api_key_encrypted = :stored, api_key_format = :format "
                             "WHERE id = :id"));
    q.bindValue(QStringLiteral(":stored"), QString::fromUtf8(stored));
    q.bindValue(QStringLiteral(":format"), format);
    q.bindValue(QStringLiteral(":id"), QVariant::fromValue(id));
    if (!q.exec())
        return SqlErrors::fromQuery(q, db, u"store upstream key");
    if (q.numRowsAffected() != 1)
        return SqlErrors::failed(QStringLiteral("store upstream key: upstream %1 disappeared").arg(id));
    return Ok{};
}

} // namespace llmpool::gateway
