// The audit log resource (SPEC §6): GET /audit, newest first, paged. Entries are written by the
// other resources inside their own transactions.

#include "admin/AdminResource.h"
#include "storage/AuditRepository.h"

namespace llmpool::gateway {

namespace {

using namespace admin;

QJsonObject entryJson(const AuditEntry &entry)
{
    return QJsonObject{{QStringLiteral("id"), entry.id},
                       {QStringLiteral("at"), timeJson(entry.at)},
                       {QStringLiteral("actor"), entry.actor},
                       {QStringLiteral("action"), entry.action},
                       {QStringLiteral("resource"), entry.resource},
                       {QStringLiteral("resource_id"), entry.resourceId},
                       {QStringLiteral("before"), entry.before ? QJsonValue(*entry.before) : QJsonValue::Null},
                       {QStringLiteral("after"), entry.after ? QJsonValue(*entry.after) : QJsonValue::Null},
                       {QStringLiteral("hash"), entry.hash}};
}

void listAudit(AdminCall &call)
{
    Result<PageRequest> page = parsePage(call.request);
    if (!page)
        return replyError(call.responder, page.error());
    const PageRequest p = *page;
    runJob(
        call, [p](QSqlDatabase &db) { return AuditRepository::list(db, p.offset(), p.pageSize); },
        [p](HttpResponder &responder, AuditPage result) {
            QJsonArray data;
            for (const AuditEntry &entry : result.entries)
                data.append(entryJson(entry));
            respondJson(responder, 200, pageJson(data, p, result.total));
        },
        JobRetry::Idempotent);
}

} // namespace

std::vector<AdminRoute> auditRoutes()
{
    return {{"GET",
             "/audit",
             listAudit,
             {.summary = "List the audit log, newest first",
              .tag = "audit",
              .responseSchema = "AuditEntry",
              .shape = api::Shape::Page}}};
}

} // namespace llmpool::gateway
