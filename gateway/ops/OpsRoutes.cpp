#include "ops/OpsRoutes.h"

#include "http/Router.h"
#include "storage/Database.h"
#include "storage/RedisPool.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QTimer>

#include <memory>

namespace llmpool::gateway {

namespace {

constexpr int kReadyDeadlineMs = 2'000;

// Collects the two checks of one /readyz request, which answer on this thread in any order, and
// responds once both are in or the deadline passed. Lives on the request's thread.
struct ReadinessProbe
{
    HttpResponder responder;
    QString database; // empty while pending
    QString redis;
    bool answered = false;

    void finishIfDone(bool deadlinePassed)
    {
        if (answered || (!deadlinePassed && (database.isEmpty() || redis.isEmpty()))) {
            return;
        }
        answered = true;
        const QString pending = QStringLiteral("no answer within %1 ms").arg(kReadyDeadlineMs);
        const QString db = database.isEmpty() ? pending : database;
        const QString rd = redis.isEmpty() ? pending : redis;
        const bool ready = db == QLatin1String("ok") && rd == QLatin1String("ok");
        const QJsonObject body{
            {QStringLiteral("status"), ready ? QStringLiteral("ready") : QStringLiteral("not_ready")},
            {QStringLiteral("checks"), QJsonObject{{QStringLiteral("database"), db}, {QStringLiteral("redis"), rd}}}};
        responder.respond(ready ? 200 : 503, "application/json", QJsonDocument(body).toJson(QJsonDocument::Compact));
    }
};

} // namespace

void addOpsRoutes(Router &router, Database *database, RedisPool *redis)
{
    router.get("/healthz", [](HttpRequest &, HttpResponder &responder) {
        static const QByteArray body = QByteArrayLiteral("{\"status\":\"ok\"}");
        responder.respond(200, "application/json", body);
    });

    router.get("/readyz", [database, redis](HttpRequest &, HttpResponder &responder) {
        QObject *context = responder.threadContext();
        if (!context) {
            return;
        }
        auto probe = std::make_shared<ReadinessProbe>();
        probe->responder = responder;
        database->ping(context, [probe](Status status) {
            probe->database = status ? QStringLiteral("ok") : status.error().message;
            probe->finishIfDone(false);
        });
        // A thread's Redis connection is made on first use and may still be connecting: wait for
        // it within the deadline rather than report a fresh connection as a failure.
        RedisClient *client = redis->local();
        auto pingRedis = [probe, client, context] {
            client->ping(context, [probe](Status status) {
                probe->redis = status ? QStringLiteral("ok") : status.error().message;
                probe->finishIfDone(false);
            });
        };
        auto waiting = std::make_shared<QMetaObject::Connection>();
        if (client->isConnected()) {
            pingRedis();
        } else {
            *waiting = QObject::connect(client, &RedisClient::connected, context, [waiting, pingRedis] {
                QObject::disconnect(*waiting);
                pingRedis();
            });
        }
        QTimer::singleShot(kReadyDeadlineMs, context, [probe, client, waiting] {
            QObject::disconnect(*waiting);
            if (probe->redis.isEmpty() && !client->isConnected()) {
                probe->redis = QStringLiteral("Redis is not connected");
            }
            probe->finishIfDone(true);
        });
    });
}

} // namespace llmpool::gateway
