#include "storage/SqlValues.h"

#include <QJsonArray>
#include <QJsonDocument>

namespace llmpool::gateway {

QString SqlValues::epochMs(QStringView column)
{
    return QStringLiteral("floor(extract(epoch FROM %1) * 1000)::bigint").arg(column);
}

QString SqlValues::msToTimestamp(QStringView placeholder)
{
    // Exact: integer milliseconds as an interval, no floating-point seconds.
    return QStringLiteral("(timestamptz 'epoch' + CAST(%1 AS bigint) * interval '1 millisecond')").arg(placeholder);
}

QDateTime SqlValues::dateTime(const QVariant &ms)
{
    if (ms.isNull())
        return {};
    return QDateTime::fromMSecsSinceEpoch(ms.toLongLong(), Qt::UTC);
}

std::optional<QDateTime> SqlValues::optionalDateTime(const QVariant &ms)
{
    if (ms.isNull())
        return std::nullopt;
    return dateTime(ms);
}

QVariant SqlValues::toMs(const std::optional<QDateTime> &value)
{
    if (!value || !value->isValid())
        return QVariant(QMetaType::fromType<qint64>());
    return QVariant::fromValue(value->toMSecsSinceEpoch());
}

std::optional<QString> SqlValues::optionalString(const QVariant &value)
{
    if (value.isNull())
        return std::nullopt;
    return value.toString();
}

QVariant SqlValues::toVariant(const std::optional<QString> &value)
{
    return value ? QVariant(*value) : QVariant(QMetaType::fromType<QString>());
}

std::optional<QStringList> SqlValues::stringListFromJson(const QVariant &json)
{
    if (json.isNull())
        return std::nullopt;
    const QJsonDocument doc = QJsonDocument::fromJson(json.toString().toUtf8());
    if (!doc.isArray())
        return std::nullopt;
    QStringList out;
    for (const QJsonValue &v : doc.array())
        out << v.toString();
    return out;
}

QVariant SqlValues::stringListToJson(const std::optional<QStringList> &list)
{
    if (!list)
        return QVariant(QMetaType::fromType<QString>());
    return QString::fromUtf8(QJsonDocument(QJsonArray::fromStringList(*list)).toJson(QJsonDocument::Compact));
}

} // namespace llmpool::gateway
