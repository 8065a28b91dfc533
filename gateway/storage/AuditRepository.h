#pragma once

// AuditRepository: the audit_log table (append-only, hash-chained by its trigger). Callers pass
// before/after objects with every secret already removed (no key plaintext, hash or upstream
// key). Pure functions over a connection: call them inside a Database job, in the same
// transaction as the write being recorded.

#include "Result.h"

#include <QDateTime>
#include <QJsonObject>
#include <QList>
#include <QString>

#include <optional>

class QSqlDatabase;

namespace llmpool::gateway {

struct AuditEntry
{
    qint64 id = 0;
    QDateTime at;
    QString actor;
    QString action;
    QString resource;
    QString resourceId;
    std::optional<QJsonObject> before;
    std::optional<QJsonObject> after;
    QString hash;
};

struct AuditPage
{
    QList<AuditEntry> entries;
    qint64 total = 0;
};

class AuditRepository
{
public:
    static Status insert(QSqlDatabase &db, const QString &actor, const QString &action, const QString &resource,
                         const QString &resourceId, const std::optional<QJsonObject> &before,
                         const std::optional<QJsonObject> &after);
    // Newest first.
    static Result<AuditPage> list(QSqlDatabase &db, qint64 offset, int limit);
};

} // namespace llmpool::gateway
