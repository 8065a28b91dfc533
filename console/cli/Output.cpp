#include "cli/Output.h"

#include <QJsonDocument>

#include <algorithm>

namespace llmpool::console {

namespace {

// Cells are one line each; a newline in server text would break the table.
QString oneLine(QString text)
{
    for (QChar &c : text) {
        if (c == QLatin1Char('\n') || c == QLatin1Char('\r') || c == QLatin1Char('\t'))
            c = QLatin1Char(' ');
    }
    return text;
}

// A member, or a nested one by dotted path ("latency_ms.p95").
QJsonValue member(const QJsonObject &row, const QString &key)
{
    const auto it = row.constFind(key);
    if (it != row.constEnd() || !key.contains(QLatin1Char('.')))
        return it == row.constEnd() ? QJsonValue(QJsonValue::Undefined) : it.value();
    const qsizetype dot = key.indexOf(QLatin1Char('.'));
    return member(row.value(key.left(dot)).toObject(), key.mid(dot + 1));
}

QString cellOf(const QJsonObject &row, const Column &column)
{
    return oneLine(column.text ? column.text(row) : Output::cell(member(row, column.key)));
}

void collectKeys(const QString &prefix, const QJsonObject &object, QStringList &keys)
{
    for (auto it = object.constBegin(); it != object.constEnd(); ++it) {
        const QString name = prefix.isEmpty() ? it.key() : QString(prefix + QLatin1Char('.') + it.key());
        if (it.value().isObject())
            collectKeys(name, it.value().toObject(), keys);
        else if (!keys.contains(name))
            keys.append(name);
    }
}

void flatten(const QString &prefix, const QJsonObject &object, QList<std::pair<QString, QString>> &out)
{
    for (auto it = object.constBegin(); it != object.constEnd(); ++it) {
        const QString name = prefix.isEmpty() ? it.key() : QString(prefix + QLatin1Char('.') + it.key());
        if (it.value().isObject())
            flatten(name, it.value().toObject(), out);
        else
            out.append({name, oneLine(Output::cell(it.value()))});
    }
}

QString upperHeader(const QString &key)
{
    QString out = key.toUpper();
    out.replace(QLatin1Char('_'), QLatin1Char(' '));
    out.replace(QLatin1Char('.'), QLatin1Char(' '));
    return out;
}

} // namespace

QString Output::cell(const QJsonValue &value)
{
    switch (value.type()) {
    case QJsonValue::Null:
    case QJsonValue::Undefined:
        return QStringLiteral("-");
    case QJsonValue::Bool:
        return value.toBool() ? QStringLiteral("yes") : QStringLiteral("no");
    case QJsonValue::Double: {
        const double d = value.toDouble();
        if (d == double(qint64(d)))
            return QString::number(qint64(d));
        return QString::number(d, 'g', 15);
    }
    case QJsonValue::String:
        return value.toString();
    case QJsonValue::Array: {
        QStringList parts;
        for (const QJsonValue &item : value.toArray())
            parts.append(item.isString() ? item.toString() : cell(item));
        return parts.isEmpty() ? QStringLiteral("-") : parts.join(QLatin1Char(','));
    }
    case QJsonValue::Object:
        return QString::fromUtf8(QJsonDocument(value.toObject()).toJson(QJsonDocument::Compact));
    }
    return {};
}

void Output::json(QTextStream &out, const QJsonValue &value)
{
    QJsonDocument document;
    if (value.isArray())
        document = QJsonDocument(value.toArray());
    else
        document = QJsonDocument(value.toObject());
    out << QString::fromUtf8(document.toJson(QJsonDocument::Indented));
}

void Output::table(QTextStream &out, const QList<Column> &columns, const QJsonArray &rows)
{
    QList<QStringList> cells;
    QList<qsizetype> widths;
    for (const Column &c : columns)
        widths.append(c.header.size());
    for (const QJsonValue &value : rows) {
        const QJsonObject row = value.toObject();
        QStringList line;
        for (qsizetype i = 0; i < columns.size(); ++i) {
            line.append(cellOf(row, columns.at(i)));
            widths[i] = std::max(widths[i], line.last().size());
        }
        cells.append(line);
    }
    auto print = [&](const QStringList &line) {
        QString text;
        for (qsizetype i = 0; i < line.size(); ++i) {
            if (i + 1 == line.size())
                text += line.at(i);
            else
                text += line.at(i).leftJustified(widths.at(i)) + QStringLiteral("  ");
        }
        out << text << '\n';
    };
    QStringList header;
    for (const Column &c : columns)
        header.append(c.header);
    print(header);
    for (const QStringList &line : cells)
        print(line);
}

void Output::record(QTextStream &out, const QJsonObject &object, const QList<Column> &columns)
{
    QList<std::pair<QString, QString>> lines;
    if (columns.isEmpty()) {
        flatten(QString(), object, lines);
    } else {
        for (const Column &c : columns)
            lines.append({c.key.isEmpty() ? c.header.toLower() : c.key, cellOf(object, c)});
    }
    qsizetype width = 0;
    for (const auto &line : lines)
        width = std::max(width, line.first.size());
    for (const auto &line : lines)
        out << QString(line.first + QLatin1Char(':')).leftJustified(width + 2) << line.second << '\n';
}

QList<Column> Output::columnsOf(const QJsonArray &rows, const QStringList &first)
{
    QStringList keys;
    for (const QJsonValue &value : rows)
        collectKeys(QString(), value.toObject(), keys);
    QStringList ordered;
    for (const QString &key : first) {
        if (keys.contains(key))
            ordered.append(key);
    }
    for (const QString &key : keys) {
        if (!ordered.contains(key))
            ordered.append(key);
    }
    QList<Column> columns;
    for (const QString &key : ordered)
        columns.append(Column{upperHeader(key), key});
    return columns;
}

} // namespace llmpool::console
