// GET /status (SPEC §6): version, uptime, database and Redis health, and the usage queue — the
// Redis Stream `llmpool:usage` read by the consumer group `llmpool-workers` (SPEC §5): its length,
// the group's pending (delivered, not acknowledged) count and lag (entries not delivered yet,
// XINFO GROUPS on Redis 7). A stream that does not exist yet is an empty, healthy queue.
//
// Always 200: this reports; /readyz is what a load balancer asks. Every check has a short
// deadline, so a hung store makes the answer say so instead of hanging it. Runs on the request's
// event-loop thread; nothing blocks.

#include "admin/AdminResource.h"
#include "billing/BillingScripts.h"
#include "billing/UsageSpool.h"
#include "storage/RedisPool.h"

#include <QElapsedTimer>
#include <QTimer>

namespace llmpool::gateway {

namespace {

using namespace admin;

constexpr int kCheckDeadlineMs = 1'500;
using billing::kUsageGroup;
using billing::kUsageStream;

QJsonObject failed(const QString &message)
{
    return QJsonObject{{QStringLiteral("status"), QStringLiteral("error")}, {QStringLiteral("error"), message}};
}

// A flat [name, value, name, value, …] reply as a lookup.
const RedisReply *field(const RedisReply &flat, QByteArrayView name)
{
    for (qsizetype i = 0; i + 1 < flat.elements.size(); i += 2) {
        if (flat.elements[i].string == name)
            return &flat.elements[i + 1];
    }
    return nullptr;
}

QJsonValue integerOrNull(const RedisReply *reply)
{
    if (!reply || reply->isNil())
        return QJsonValue::Null;
    if (reply->isInteger())
        return reply->integer;
    bool ok = false;
    const qint64 value = reply->string.toLongLong(&ok);
    return ok ? QJsonValue(value) : QJsonValue::Null;
}

// The usage spool (SPEC §5): files of usage events Redis did not take, waiting to be replayed (a
// segment still being journaled, or still waiting for Redis's answers, is not counted). A listing
// of a handful of files and a flock() test each: cheap enough for the event loop.
QJsonObject spoolStatus(const QString &directory)
{
    const billing::UsageSpool::Backlog backlog = billing::UsageSpool::backlog(directory);
    return QJsonObject{{QStringLiteral("directory"), directory},
                       {QStringLiteral("files"), backlog.files},
                       {QStringLiteral("bytes"), backlog.bytes}};
}

// Collects the checks of one request, which answer on its thread in any order; responds once all
// are in or the deadline passed.
struct StatusProbe
{
    HttpResponder responder;
    std::shared_ptr<const AdminContext> context;
    QElapsedTimer started;
    std::optional<QJsonObject> database;
    std::optional<QJsonObject> redis;
    std::optional<QJsonObject> queue;
    bool answered = false;

    void finishIfDone(bool deadlinePassed)
    {
        if (answered || (!deadlinePassed && (!database || !redis || !queue)))
            return;
        answered = true;
        const QString late = QStringLiteral("no answer within %1 ms").arg(kCheckDeadlineMs);
        const QJsonObject db = database.value_or(failed(late));
        const QJsonObject rd = redis.value_or(failed(late));
        QJsonObject q = queue.value_or(failed(late));
        q.insert(QStringLiteral("stream"), QString::fromLatin1(kUsageStream));
        q.insert(QStringLiteral("group"), QString::fromLatin1(kUsageGroup));
        auto ok = [](const QJsonObject &o) {
            return o.value(QStringLiteral("status")).toString() == QLatin1String("ok");
        };
        const qint64 nowMs = QDateTime::currentMSecsSinceEpoch();
        const qint64 startedAt = context->startedAtMs > 0 ? context->startedAtMs : nowMs;
        respondJson(responder, 200,
                    QJsonObject{{QStringLiteral("status"),
                                 ok(db) && ok(rd) && ok(q) ? QStringLiteral("ok") : QStringLiteral("degraded")},
                                {QStringLiteral("version"), QStringLiteral(LLMPOOL_VERSION)},
                                {QStringLiteral("started_at"), timeText(QDateTime::fromMSecsSinceEpoch(startedAt))},
                                {QStringLiteral("uptime_seconds"), std::max<qint64>(0, (nowMs - startedAt) / 1000)},
                                {QStringLiteral("database"), db},
                                {QStringLiteral("redis"), rd},
                                {QStringLiteral("queue"), q},
                                {QStringLiteral("spool"), spoolStatus(context->spoolDir)}});
    }
};

void readQueue(const std::shared_ptr<StatusProbe> &probe, RedisClient *client, QObject *context)
{
    auto length = std::make_shared<std::optional<qint64>>();
    client->command({"XLEN", kUsageStream}, context, [probe, length](Result<RedisReply> reply) {
        if (reply && reply->isInteger())
            *length = reply->integer;
    });
    // Pipelined: XLEN's answer is in before this one's.
    client->command({"XINFO", "GROUPS", kUsageStream}, context, [probe, length](Result<RedisReply> reply) {
        if (!reply) {
            probe->queue = failed(reply.error().message);
        } else if (reply->isError()) {
            // No stream yet: nothing was ever queued, nothing waits.
            if (reply->string.contains("no such key"))
                probe->queue = QJsonObject{{QStringLiteral("status"), QStringLiteral("ok")},
                                           {QStringLiteral("length"), 0},
                                           {QStringLiteral("pending"), 0},
                                           {QStringLiteral("lag"), 0},
                                           {QStringLiteral("consumers"), 0}};
            else
                probe->queue = failed(QString::fromUtf8(reply->string.left(200)));
        } else {
            const qint64 len = length->value_or(0);
            const RedisReply *group = nullptr;
            for (const RedisReply &g : reply->elements) {
                const RedisReply *name = field(g, "name");
                if (name && name->string == QByteArrayView(kUsageGroup))
                    group = &g;
            }
            if (!group) {
                // Events queued, but no worker has ever read them: all of it is lag.
                probe->queue = QJsonObject{
                    {QStringLiteral("status"), len > 0 ? QStringLiteral("no_consumer_group") : QStringLiteral("ok")},
                    {QStringLiteral("length"), len},
                    {QStringLiteral("pending"), 0},
                    {QStringLiteral("lag"), len},
                    {QStringLiteral("consumers"), 0}};
            } else {
                probe->queue = QJsonObject{
                    {QStringLiteral("status"), QStringLiteral("ok")},
                    {QStringLiteral("length"), len},
                    {QStringLiteral("pending"), integerOrNull(field(*group, "pending"))},
                    // Redis 7 answers nil when it cannot tell (after XDEL / XTRIM).
                    {QStringLiteral("lag"), integerOrNull(field(*group, "lag"))},
                    {QStringLiteral("consumers"), integerOrNull(field(*group, "consumers"))},
                    {QStringLiteral("last_delivered_id"),
                     QString::fromLatin1(field(*group, "last-delivered-id") ? field(*group, "last-delivered-id")->string
                                                                            : QByteArray())}};
            }
        }
        probe->finishIfDone(false);
    });
}

void status(AdminCall &call)
{
    QObject *context = call.responder.threadContext();
    if (!context)
        return;
    auto probe = std::make_shared<StatusProbe>();
    probe->responder = call.responder;
    probe->context = call.context;
    probe->started.start();

    call.context->database->ping(context, [probe](Status pinged) {
        probe->database = pinged ? QJsonObject{{QStringLiteral("status"), QStringLiteral("ok")},
                                               {QStringLiteral("latency_ms"), probe->started.elapsed()}}
                                 : failed(pinged.error().message);
        probe->finishIfDone(false);
    });

    if (!call.context->redis) {
        probe->redis = failed(QStringLiteral("Redis is not configured"));
        probe->queue = failed(QStringLiteral("Redis is not configured"));
    } else {
        // A thread's Redis connection is made on first use and may still be connecting: wait for
        // it within the deadline rather than report a fresh connection as a failure.
        RedisClient *client = call.context->redis->local();
        auto check = [probe, client, context] {
            client->ping(context, [probe](Status pinged) {
                probe->redis = pinged ? QJsonObject{{QStringLiteral("status"), QStringLiteral("ok")},
                                                    {QStringLiteral("latency_ms"), probe->started.elapsed()}}
                                      : failed(pinged.error().message);
                probe->finishIfDone(false);
            });
            readQueue(probe, client, context);
        };
        auto waiting = std::make_shared<QMetaObject::Connection>();
        if (client->isConnected()) {
            check();
        } else {
            *waiting = QObject::connect(client, &RedisClient::connected, context, [waiting, check] {
                QObject::disconnect(*waiting);
                check();
            });
        }
        QTimer::singleShot(kCheckDeadlineMs, context, [probe, client, waiting] {
            QObject::disconnect(*waiting);
            if (!probe->redis && !client->isConnected())
                probe->redis = failed(QStringLiteral("Redis is not connected"));
            probe->finishIfDone(true);
        });
        return;
    }
    QTimer::singleShot(kCheckDeadlineMs, context, [probe] { probe->finishIfDone(true); });
}

} // namespace

std::vector<AdminRoute> statusRoutes()
{
    return {
        {"GET",
         "/status",
         status,
         {.summary = "Gateway status: version, uptime, database, Redis and usage queue health",
          .tag = "status",
          .responseSchema = "Status"}},
    };
}

} // namespace llmpool::gateway
