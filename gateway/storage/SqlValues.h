#pragma once

// SqlValues: conversions between our C++ types and what the repositories send to and read from
// PostgreSQL through QPSQL. Stateless, any thread.
//
// Timestamps travel as integer milliseconds since the epoch (epochMs() in SQL, msToTimestamp()
// back): QPSQL's own QDateTime handling depends on the Qt version and the session time zone,
// an integer does not. Text arrays travel as JSON text, so no hand-written array quoting exists.

#include <QDateTime>
#include <QString>
#include <QStringList>
#include <QVariant>

#include <optional>

namespace llmpool::gateway {

class SqlValues
{
public:
    // SQL expression: the column as bigint milliseconds since the epoch (NULL stays NULL).
    static QString epochMs(QStringView column);
    // SQL expression turning a bigint-milliseconds placeholder back into a timestamptz.
    static QString msToTimestamp(QStringView placeholder);

    static QDateTime dateTime(const QVariant &ms); // invalid QDateTime for NULL
    static std::optional<QDateTime> optionalDateTime(const QVariant &ms);
    static QVariant toMs(const std::optional<QDateTime> &value); // NULL for nullopt / invalid

    static std::optional<QString> optionalString(const QVariant &value);
    static QVariant toVariant(const std::optional<QString> &value);
    template <class T> static QVariant toVariant(const std::optional<T> &value)
    {
        return value ? QVariant::fromValue(*value) : QVariant(QMetaType::fromType<T>());
    }

    // JSON array text (from `to_json(col)::text`) -> list; NULL/"null" -> nullopt.
    static std::optional<QStringList> stringListFromJson(const QVariant &json);
    // list -> JSON array text for `ARRAY(SELECT jsonb_array_elements_text(CAST(:x AS jsonb)))`.
    static QVariant stringListToJson(const std::optional<QStringList> &list);
};

} // namespace llmpool::gateway
