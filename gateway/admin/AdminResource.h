#pragma once

// The small framework every admin REST resource is written in (SPEC §6):
//   - AdminContext: what handlers need (database pool, Redis pool, secrets); shared, read-only.
//   - AdminRoute: one row of a resource's route table (method, pattern, handler). addAdminRoutes()
//     wraps every handler with authentication, so a handler only runs for an admin.
//   - BodyReader: a JSON object body read into std::optional fields; unknown fields, wrong types
//     and bad values are a 400 naming the field.
//   - PageRequest: `page` (≥ 1, default 1) and `page_size` (1..100, default 20), and the
//     {"data", "pagination"} answer.
//   - runJob(): database work on a database thread; its answer (or the error) goes back to the
//     request's event-loop thread. Nothing here blocks an event loop.
//
// Threads: handlers run on the request's event-loop thread; job work on a database thread.

#include "Money.h"
#include "Result.h"
#include "admin/AdminAuth.h"
#include "admin/ApiDoc.h"
#include "http/ErrorReply.h"
#include "http/HttpRequest.h"
#include "http/HttpResponder.h"
#include "security/SecretBox.h"
#include "storage/Database.h"

#include <QDateTime>
#include <QJsonArray>
#include <QJsonObject>
#include <QJsonValue>
#include <QLatin1StringView>
#include <QStringList>

#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <type_traits>
#include <vector>

namespace llmpool::gateway {

class HealthTracker;
class RedisPool;

struct AdminContext
{
    Database *database = nullptr;
    RedisPool *redis = nullptr;
    AdminAuth auth;
    SecretBox secrets;
    QString currency;
    // The proxy's live upstream health (thread-safe; outlives the router). Null: "unknown".
    const HealthTracker *health = nullptr;
    qint64 startedAtMs = 0; // when the gateway started (GET /status uptime)
    QString spoolDir;       // [billing] spool_dir: where usage events wait while Redis is away
};

// One authenticated admin request.
struct AdminCall
{
    HttpRequest &request;
    HttpResponder &responder;
    QString actor;
    std::shared_ptr<const AdminContext> context;
};

using AdminHandler = std::function<void(AdminCall &)>;

// One row of a resource's route table: {"GET", "/users/{id}", getUser, {.summary = "…", …}}.
// `doc` is what GET /openapi.json says about the route (ApiDoc.h); every route has one.
struct AdminRoute
{
    QByteArray method;
    QByteArray pattern; // under /api/v1
    AdminHandler handler;
    api::Operation doc = {};
};

namespace admin {

void respondJson(HttpResponder &responder, int status, const QJsonObject &body);

// Publishes `message` on the invalidation channel through this thread's Redis client (SPEC §9:
// every instance drops what it names). Fire-and-forget: with Redis down, caches expire by
// themselves within a second.
void publishInvalidation(const AdminContext &context, const QByteArray &message);

// RFC 3339 UTC with milliseconds ("2026-01-02T03:04:05.678Z"); null for nullopt / invalid.
QJsonValue timeJson(const std::optional<QDateTime> &time);
QString timeText(const QDateTime &time);
QJsonValue moneyJson(const std::optional<Money> &money);

// A path id: digits only, > 0, fits in qint64. Anything else is "no such resource" (404).
std::optional<qint64> parseId(QByteArrayView text);
Error notFound(const QString &what, QByteArrayView id);

struct PageRequest
{
    int page = 1;
    int pageSize = 20;
    qint64 offset() const { return qint64(page - 1) * pageSize; }
};
Result<PageRequest> parsePage(const HttpRequest &request);

// Optional query parameters, validated: a 400 naming the parameter when present and bad.
// An id: digits, > 0. A time: RFC 3339 with an offset, converted to UTC. Text: UTF-8, at most
// `maxLength` characters, not blank.
Result<std::optional<qint64>> queryId(const HttpRequest &request, QByteArrayView name);
Result<std::optional<QDateTime>> queryTime(const HttpRequest &request, QByteArrayView name);
Result<std::optional<QString>> queryText(const HttpRequest &request, QByteArrayView name, qsizetype maxLength);
// RFC 3339 text with an explicit offset → UTC; invalid QDateTime otherwise.
QDateTime parseRfc3339(const QString &text);
QJsonObject pageJson(const QJsonArray &data, const PageRequest &page, qint64 total);

// Reads a JSON object body field by field. The first problem is kept (error()) and later reads
// are no-ops, so a handler reads everything and checks once.
class BodyReader
{
public:
    // An empty body is an empty object when `emptyIsObject`.
    BodyReader(const QByteArray &body, std::initializer_list<QLatin1StringView> allowed, bool emptyIsObject = false);

    const std::optional<Error> &error() const { return m_error; }

    void string(QLatin1StringView name, std::optional<QString> &out, qsizetype maxLength);
    void nullableString(QLatin1StringView name, std::optional<std::optional<QString>> &out, qsizetype maxLength);
    void boolean(QLatin1StringView name, std::optional<bool> &out);
    void nullableInteger(QLatin1StringView name, std::optional<std::optional<qint64>> &out, qint64 min, qint64 max);
    void nullableMoney(QLatin1StringView name, std::optional<std::optional<Money>> &out);
    void nullableTime(QLatin1StringView name, std::optional<std::optional<QDateTime>> &out);
    void nullableStringList(QLatin1StringView name, std::optional<std::optional<QStringList>> &out, qsizetype maxItems,
                            qsizetype maxItemLength, bool allowEmpty = false);
    void require(QLatin1StringView name);

    static Error invalidField(QLatin1StringView name, const QString &message);

private:
    // The value when present and no error yet; nullopt otherwise.
    std::optional<QJsonValue> take(QLatin1StringView name);
    void fail(QLatin1StringView name, const QString &message);

    QJsonObject m_object;
    std::optional<Error> m_error;
};

} // namespace admin

// Runs `work` (Result<T>(QSqlDatabase &)) on a database thread; on success `onOk(responder, T)`
// runs on the request's thread, on failure the error is the response.
template <class Work, class OnOk> void runJob(AdminCall &call, Work work, OnOk onOk, JobRetry retry = JobRetry::Never)
{
    using R = std::invoke_result_t<Work &, QSqlDatabase &>;
    QObject *threadContext = call.responder.threadContext();
    if (!threadContext)
        return;
    call.context->database->run(
        threadContext, std::move(work),
        [responder = call.responder, onOk = std::move(onOk)](R result) mutable {
            if (!result) {
                replyError(responder, result.error());
                return;
            }
            onOk(responder, std::move(result.value()));
        },
        retry);
}

// The route tables of each resource.
std::vector<AdminRoute> userRoutes();
std::vector<AdminRoute> keyRoutes();
std::vector<AdminRoute> auditRoutes();
std::vector<AdminRoute> catalogRoutes();
std::vector<AdminRoute> upstreamProbeRoutes();
std::vector<AdminRoute> usageRoutes();
std::vector<AdminRoute> statusRoutes();
std::vector<AdminRoute> walletRoutes();

} // namespace llmpool::gateway
