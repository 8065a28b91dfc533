#pragma once

// How the CLI prints answers: tables for people (aligned columns, one header row; records as
// "field: value" lines), JSON for scripts (the server's own objects, indented). Cells: null → "-",
// booleans → yes/no, lists → comma-joined, objects → compact JSON. Nothing here talks to a server.

#include <QJsonArray>
#include <QJsonObject>
#include <QList>
#include <QString>
#include <QTextStream>

#include <functional>

namespace llmpool::console {

struct Column
{
    QString header;
    QString key; // member of the row object; "a.b" for a nested one
    // Optional: the cell text from the whole row (overrides key).
    std::function<QString(const QJsonObject &)> text = {};
};

class Output
{
public:
    static QString cell(const QJsonValue &value);

    static void json(QTextStream &out, const QJsonValue &value);
    static void table(QTextStream &out, const QList<Column> &columns, const QJsonArray &rows);
    // One object as "label: value" lines; with no columns, every member (nested objects flattened
    // as "a.b").
    static void record(QTextStream &out, const QJsonObject &object, const QList<Column> &columns = {});
    // Columns for rows of unknown shape: every member of the rows (nested ones as "a.b"), the
    // keys in `first` leading, the rest in first-seen order.
    static QList<Column> columnsOf(const QJsonArray &rows, const QStringList &first = {});
};

} // namespace llmpool::console
