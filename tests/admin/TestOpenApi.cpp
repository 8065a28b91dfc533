// GET /api/v1/openapi.json, /status and upstream health (SPEC §6) against an in-process Gateway:
//   - the document is structurally valid OpenAPI 3.0 (top-level keys, every path item and
//     operation well-formed, every $ref resolves, path parameters declared);
//   - the (method, path) pairs it lists are exactly the router's /api/v1 routes (the router's own
//     table), and the live server serves every one of them (401 without a token, not 404/405);
//   - real responses of the main resources validate against the schemas it names (members,
//     types, required, nullable, enums), so the document and the handlers cannot drift apart;
//   - /status reports version, uptime, database, Redis and the usage queue (absent stream, then a
//     stream with a consumer group);
//   - an upstream's `health` follows the proxy's live HealthTracker (healthy → ejected).

#include "AdminTestSupport.h"
#include "admin/AdminRoutes.h"
#include "admin/OpenApi.h"
#include "http/Router.h"
#include "storage/RedisSyncClient.h"

#include <QDeadlineTimer>
#include <QElapsedTimer>
#include <QSet>

using namespace llmpool;
using namespace llmpool::gateway;
using llmpool::test::AdminReply;

namespace {

const QSet<QString> kMethods{"get", "put", "post", "delete", "options", "head", "patch", "trace"};

// A small validator for the OpenAPI 3.0 subset the generator uses: $ref, allOf, type, nullable,
// enum, properties / required / additionalProperties, items.
class SchemaCheck
{
public:
    explicit SchemaCheck(QJsonObject document) : m_doc(std::move(document)) {}

    QStringList errors;

    QJsonObject resolve(const QString &ref)
    {
        const QString prefix = QStringLiteral("#/components/schemas/");
        if (!ref.startsWith(prefix))
            return {};
        return m_doc.value("components")
            .toObject()
            .value("schemas")
            .toObject()
            .value(ref.mid(prefix.size()))
            .toObject();
    }

    void validate(const QJsonValue &value, QJsonObject schema, const QString &where)
    {
        if (schema.contains("$ref")) {
            schema = resolve(schema.value("$ref").toString());
            if (schema.isEmpty())
                return fail(where, QStringLiteral("unresolvable $ref"));
        }
        if (value.isNull()) {
            if (!schema.value("nullable").toBool())
                fail(where, QStringLiteral("null but not nullable"));
            return;
        }
        if (schema.contains("allOf")) {
            for (const QJsonValue s : schema.value("allOf").toArray())
                validate(value, s.toObject(), where);
        }
        if (schema.contains("enum") && !schema.value("enum").toArray().contains(value))
            fail(where, QStringLiteral("%1 not in enum").arg(value.toVariant().toString()));
        const QString type = schema.value("type").toString();
        if (type == "string" && !value.isString())
            fail(where, QStringLiteral("not a string"));
        if (type == "integer" && (!value.isDouble() || value.toDouble() != double(value.toInteger())))
            fail(where, QStringLiteral("not an integer"));
        if (type == "boolean" && !value.isBool())
            fail(where, QStringLiteral("not a boolean"));
        if (type == "array") {
            if (!value.isArray())
                return fail(where, QStringLiteral("not an array"));
            int i = 0;
            for (const QJsonValue item : value.toArray())
                validate(item, schema.value("items").toObject(), where + QStringLiteral("[%1]").arg(i++));
        }
        if (type == "object") {
            if (!value.isObject())
                return fail(where, QStringLiteral("not an object"));
            const QJsonObject object = value.toObject();
            const QJsonObject properties = schema.value("properties").toObject();
            for (const QJsonValue r : schema.value("required").toArray()) {
                if (!object.contains(r.toString()))
                    fail(where, QStringLiteral("missing required %1").arg(r.toString()));
            }
            const bool open = schema.value("additionalProperties").toBool();
            for (auto it = object.begin(); it != object.end(); ++it) {
                if (properties.contains(it.key()))
                    validate(it.value(), properties.value(it.key()).toObject(), where + QLatin1Char('.') + it.key());
                else if (!open)
                    fail(where, QStringLiteral("member %1 is not in the schema").arg(it.key()));
            }
        }
    }

    // Every "$ref" anywhere in `value` resolves.
    void checkRefs(const QJsonValue &value, const QString &where)
    {
        if (value.isObject()) {
            const QJsonObject o = value.toObject();
            for (auto it = o.begin(); it != o.end(); ++it) {
                if (it.key() == "$ref") {
                    if (resolve(it.value().toString()).isEmpty())
                        fail(where, QStringLiteral("$ref %1 does not resolve").arg(it.value().toString()));
                } else {
                    checkRefs(it.value(), where + QLatin1Char('/') + it.key());
                }
            }
        } else if (value.isArray()) {
            int i = 0;
            for (const QJsonValue v : value.toArray())
                checkRefs(v, where + QStringLiteral("[%1]").arg(i++));
        }
    }

    void fail(const QString &where, const QString &what) { errors.append(where + QStringLiteral(": ") + what); }

private:
    QJsonObject m_doc;
};

} // namespace

class TestOpenApi : public QObject
{
    Q_OBJECT

private:
    llmpool::test::AdminHarness h;
    QJsonObject m_doc;

    // The schema of the success response of `method path` in the document.
    QJsonObject responseSchema(const QString &method, const QString &path, int status = 200)
    {
        return m_doc.value("paths")
            .toObject()
            .value(path)
            .toObject()
            .value(method)
            .toObject()
            .value("responses")
            .toObject()
            .value(QString::number(status))
            .toObject()
            .value("content")
            .toObject()
            .value("application/json")
            .toObject()
            .value("schema")
            .toObject();
    }

    void conforms(const AdminReply &r, const QString &method, const QString &path, int status = 200)
    {
        QVERIFY2(r.status == status, qPrintable(QStringLiteral("%1 %2: %3 %4")
                                                    .arg(method, path)
                                                    .arg(r.status)
                                                    .arg(QString::fromUtf8(r.raw.left(300)))));
        const QJsonObject schema = responseSchema(method, path, status);
        QVERIFY2(!schema.isEmpty(), qPrintable(method + QLatin1Char(' ') + path));
        SchemaCheck check(m_doc);
        check.validate(QJsonDocument::fromJson(r.raw).object(), schema, method + QLatin1Char(' ') + path);
        QVERIFY2(check.errors.isEmpty(), qPrintable(check.errors.join(QLatin1Char('\n'))));
    }

private Q_SLOTS:
    void initTestCase()
    {
        // A Redis database of its own: the status test creates and deletes the usage stream.
        // No usage worker in this process: it would consume (and delete) the entries the status test
        // puts on the stream.
        const QString error = h.start("[worker]\nin_process = false\n", 11);
        QVERIFY2(error.isEmpty(), qPrintable(error));
        const AdminReply r = h.get(QStringLiteral("/api/v1/openapi.json"));
        QCOMPARE(r.status, 200);
        m_doc = r.body;
        QVERIFY(!m_doc.isEmpty());
    }

    void cleanupTestCase() { h.stop(); }

    void requiresAuth()
    {
        QCOMPARE(h.call("GET", QStringLiteral("/api/v1/openapi.json"), {}, QByteArray()).status, 401);
        QCOMPARE(h.call("GET", QStringLiteral("/api/v1/status"), {}, QByteArray()).status, 401);
    }

    void structure()
    {
        QVERIFY(m_doc.value("openapi").toString().startsWith(QStringLiteral("3.0.")));
        const QJsonObject info = m_doc.value("info").toObject();
        QVERIFY(!info.value("title").toString().isEmpty());
        QVERIFY(!info.value("version").toString().isEmpty());
        QVERIFY(m_doc.value("paths").isObject());
        QVERIFY(!m_doc.value("paths").toObject().isEmpty());
        const QJsonObject components = m_doc.value("components").toObject();
        QVERIFY(components.value("schemas").isObject());
        QVERIFY(components.value("securitySchemes").toObject().contains("bearerAuth"));
        for (const QString &key : m_doc.keys())
            QVERIFY2(
                QSet<QString>({"openapi", "info", "servers", "paths", "components", "security", "tags", "externalDocs"})
                    .contains(key),
                qPrintable(key));

        SchemaCheck refs(m_doc);
        refs.checkRefs(m_doc, QString());
        QVERIFY2(refs.errors.isEmpty(), qPrintable(refs.errors.join(QLatin1Char('\n'))));

        QSet<QString> operationIds;
        static const QRegularExpression param(QStringLiteral("\\{([^}]+)\\}"));
        const QJsonObject paths = m_doc.value("paths").toObject();
        for (auto p = paths.begin(); p != paths.end(); ++p) {
            QVERIFY2(p.key().startsWith(QLatin1Char('/')), qPrintable(p.key()));
            QSet<QString> pathParams;
            for (const QRegularExpressionMatch &m : param.globalMatch(p.key()))
                pathParams.insert(m.captured(1));
            const QJsonObject item = p.value().toObject();
            QVERIFY(!item.isEmpty());
            for (auto o = item.begin(); o != item.end(); ++o) {
                const QString where = o.key() + QLatin1Char(' ') + p.key();
                QVERIFY2(kMethods.contains(o.key()), qPrintable(where));
                const QJsonObject op = o.value().toObject();
                QVERIFY2(!op.value("summary").toString().isEmpty(), qPrintable(where));
                const QString id = op.value("operationId").toString();
                QVERIFY2(!id.isEmpty() && !operationIds.contains(id), qPrintable(where));
                operationIds.insert(id);
                const QJsonObject responses = op.value("responses").toObject();
                QVERIFY2(!responses.isEmpty(), qPrintable(where));
                bool success = false;
                for (auto r = responses.begin(); r != responses.end(); ++r) {
                    QVERIFY2(r.key() == "default" || (r.key().toInt() >= 100 && r.key().toInt() < 600),
                             qPrintable(where + r.key()));
                    QVERIFY2(!r.value().toObject().value("description").toString().isEmpty(),
                             qPrintable(where + r.key()));
                    success = success || r.key().startsWith(QLatin1Char('2'));
                }
                QVERIFY2(success, qPrintable(where));
                QSet<QString> declared;
                QSet<QString> seen;
                for (const QJsonValue v : op.value("parameters").toArray()) {
                    const QJsonObject pr = v.toObject();
                    const QString in = pr.value("in").toString();
                    QVERIFY2(QSet<QString>({"path", "query", "header", "cookie"}).contains(in), qPrintable(where));
                    QVERIFY2(!pr.value("name").toString().isEmpty(), qPrintable(where));
                    QVERIFY2(pr.value("schema").isObject(), qPrintable(where));
                    const QString key = in + QLatin1Char(':') + pr.value("name").toString();
                    QVERIFY2(!seen.contains(key), qPrintable(where + QLatin1Char(' ') + key));
                    seen.insert(key);
                    if (in == "path") {
                        QVERIFY2(pr.value("required").toBool(), qPrintable(where));
                        declared.insert(pr.value("name").toString());
                    }
                }
                QCOMPARE(declared, pathParams);
                if (op.contains("requestBody"))
                    QVERIFY2(
                        op.value("requestBody").toObject().value("content").toObject().contains("application/json"),
                        qPrintable(where));
            }
        }
        const QJsonObject schemas = components.value("schemas").toObject();
        for (auto s = schemas.begin(); s != schemas.end(); ++s) {
            const QJsonObject schema = s.value().toObject();
            QCOMPARE(schema.value("type").toString(), QStringLiteral("object"));
            const QJsonObject properties = schema.value("properties").toObject();
            for (const QJsonValue r : schema.value("required").toArray())
                QVERIFY2(properties.contains(r.toString()), qPrintable(s.key() + QLatin1Char('.') + r.toString()));
        }
    }

    void generatorDetails()
    {
        // A route's descriptor decides what the document says: replay status, optional body, paging
        // parameters, path parameters, tags.
        std::vector<AdminRoute> routes{
            {"POST",
             "/things/{id}/moves",
             [](AdminCall &) {},
             {.summary = "Move",
              .tag = "things",
              .requestSchema = "MoneyMovement",
              .responseSchema = "LedgerEntry",
              .status = 201,
              .optionalBody = true,
              .replayStatus = 200}},
            {"GET",
             "/things",
             [](AdminCall &) {},
             {.summary = "List", .responseSchema = "User", .shape = api::Shape::Page}},
        };
        const QJsonObject doc = buildOpenApi(routes, api::adminSchemas());
        const QJsonObject move =
            doc.value("paths").toObject().value("/things/{id}/moves").toObject().value("post").toObject();
        const QJsonObject responses = move.value("responses").toObject();
        QVERIFY(responses.contains("201"));
        QVERIFY(responses.contains("200"));
        QCOMPARE(responses.value("200").toObject().value("content"),
                 responses.value("201").toObject().value("content"));
        QVERIFY(responses.contains("404") && responses.contains("409") && responses.contains("401"));
        QCOMPARE(move.value("requestBody").toObject().value("required").toBool(), false);
        QCOMPARE(move.value("tags").toArray().first().toString(), QStringLiteral("things"));
        QCOMPARE(move.value("parameters").toArray().size(), 1);
        const QJsonObject list = doc.value("paths").toObject().value("/things").toObject().value("get").toObject();
        QStringList params;
        for (const QJsonValue p : list.value("parameters").toArray())
            params.append(p.toObject().value("name").toString());
        QCOMPARE(params, QStringList({"page", "page_size"}));
        QVERIFY(!list.value("responses").toObject().contains("404"));
    }

    void listsExactlyTheRoutes()
    {
        // The router's own table, built as the Gateway builds it.
        Router router;
        addAdminRoutes(router, h.m_config, nullptr, nullptr);
        QSet<QString> served;
        for (const Router::RouteEntry &route : router.routes()) {
            if (route.pattern.startsWith("/api/v1/"))
                served.insert(QString::fromLatin1(route.method).toLower() + QLatin1Char(' ') +
                              QString::fromLatin1(route.pattern.mid(7)));
        }
        QSet<QString> documented;
        const QJsonObject paths = m_doc.value("paths").toObject();
        for (auto p = paths.begin(); p != paths.end(); ++p) {
            for (const QString &method : p.value().toObject().keys())
                documented.insert(method + QLatin1Char(' ') + p.key());
        }
        QCOMPARE(documented, served);

        // SPEC §9's paths are all there (wallet routes once they are served).
        for (const char *route : {"get /users",
                                  "post /users",
                                  "get /users/{id}",
                                  "put /users/{id}",
                                  "delete /users/{id}",
                                  "get /users/{id}/keys",
                                  "post /users/{id}/keys",
                                  "get /keys/{id}",
                                  "put /keys/{id}",
                                  "delete /keys/{id}",
                                  "post /keys/{id}/rotate",
                                  "get /upstreams",
                                  "post /upstreams",
                                  "get /upstreams/{id}",
                                  "put /upstreams/{id}",
                                  "delete /upstreams/{id}",
                                  "post /upstreams/{id}/detect",
                                  "post /upstreams/{id}/test",
                                  "get /models",
                                  "post /models",
                                  "get /models/{id}",
                                  "put /models/{id}",
                                  "delete /models/{id}",
                                  "get /usage/events",
                                  "get /usage/summary",
                                  "get /audit",
                                  "get /status",
                                  "get /openapi.json"})
            QVERIFY2(documented.contains(QString::fromLatin1(route)), route);

        // The live server serves each: without credentials every one is a 401, not a 404 or 405.
        for (const QString &entry : std::as_const(documented)) {
            const QString method = entry.section(QLatin1Char(' '), 0, 0).toUpper();
            QString path = entry.section(QLatin1Char(' '), 1);
            path.replace(QRegularExpression(QStringLiteral("\\{[^}]+\\}")), QStringLiteral("1"));
            const AdminReply r = h.call(method.toLatin1(), QStringLiteral("/api/v1") + path, {}, QByteArray());
            QVERIFY2(r.status == 401, qPrintable(entry + QStringLiteral(": %1").arg(r.status)));
        }
    }

    void responsesMatchSchemas()
    {
        AdminReply user = h.post(QStringLiteral("/api/v1/users"), {{"name", "openapi-user"}, {"email", "a@b.c"}});
        conforms(user, "post", "/users", 201);
        const qint64 userId = user.body.value("id").toInteger();
        conforms(h.get(QStringLiteral("/api/v1/users/%1").arg(userId)), "get", "/users/{id}");
        conforms(h.get(QStringLiteral("/api/v1/users?page_size=5")), "get", "/users");
        const AdminReply key = h.post(QStringLiteral("/api/v1/users/%1/keys").arg(userId),
                                      {{"name", "k"}, {"rpm_limit", 10}, {"spend_limit", "1.5"}});
        conforms(key, "post", "/users/{id}/keys", 201);
        const qint64 keyId = key.body.value("id").toInteger();
        conforms(h.get(QStringLiteral("/api/v1/keys/%1").arg(keyId)), "get", "/keys/{id}");
        conforms(h.get(QStringLiteral("/api/v1/users/%1/keys").arg(userId)), "get", "/users/{id}/keys");
        conforms(h.call("POST", QStringLiteral("/api/v1/keys/%1/rotate").arg(keyId)), "post", "/keys/{id}/rotate");
        const AdminReply upstream =
            h.post(QStringLiteral("/api/v1/upstreams"),
                   {{"name", "openapi-up"}, {"api_base", "http://127.0.0.1:1/v1"}, {"api_key", "sk-test-0123456789"}});
        conforms(upstream, "post", "/upstreams", 201);
        const qint64 upstreamId = upstream.body.value("id").toInteger();
        conforms(h.get(QStringLiteral("/api/v1/upstreams/%1").arg(upstreamId)), "get", "/upstreams/{id}");
        conforms(h.get(QStringLiteral("/api/v1/upstreams")), "get", "/upstreams");
        const AdminReply model = h.post(QStringLiteral("/api/v1/models"), {{"name", "openapi-model"},
                                                                           {"upstream_id", upstreamId},
                                                                           {"capabilities", QJsonArray{"chat"}},
                                                                           {"input_price_per_1m", "0.5"}});
        conforms(model, "post", "/models", 201);
        conforms(h.get(QStringLiteral("/api/v1/models/%1").arg(model.body.value("id").toInteger())), "get",
                 "/models/{id}");
        conforms(h.get(QStringLiteral("/api/v1/models")), "get", "/models");
        conforms(h.get(QStringLiteral("/api/v1/audit")), "get", "/audit");
        conforms(h.post(QStringLiteral("/api/v1/users/%1/deposits").arg(userId),
                        {{"amount", "10.5"}, {"unique_request_id", "openapi-deposit"}, {"note", "n"}}),
                 "post", "/users/{id}/deposits", 201);
        conforms(h.post(QStringLiteral("/api/v1/users/%1/withdrawals").arg(userId),
                        {{"amount", "0.5"}, {"unique_request_id", "openapi-withdrawal"}}),
                 "post", "/users/{id}/withdrawals", 201);
        conforms(h.post(QStringLiteral("/api/v1/users/%1/credits").arg(userId),
                        {{"amount", "3"}, {"unique_request_id", "openapi-credit"}}),
                 "post", "/users/{id}/credits", 201);
        conforms(h.get(QStringLiteral("/api/v1/users/%1/wallet").arg(userId)), "get", "/users/{id}/wallet");
        conforms(h.get(QStringLiteral("/api/v1/users/%1/ledger").arg(userId)), "get", "/users/{id}/ledger");

        QCOMPARE(
            h.exec(
                QStringLiteral(
                    "INSERT INTO usage_events (created_at, request_id, user_id, model, endpoint, status, latency_ms) "
                    "VALUES (now(), 'openapi-1', %1, 'openapi-model', 'chat/completions', 200, 42), "
                    "(now(), 'openapi-2', NULL, 'openapi-model', 'embeddings', 401, NULL)")
                    .arg(userId)),
            QString());
        conforms(h.get(QStringLiteral("/api/v1/usage/events?limit=1")), "get", "/usage/events");
        conforms(h.get(QStringLiteral("/api/v1/usage/events")), "get", "/usage/events");
        for (const char *group : {"none", "model", "user", "upstream"})
            conforms(h.get(QStringLiteral("/api/v1/usage/summary?by=hour&group=") + QLatin1String(group)), "get",
                     "/usage/summary");
        conforms(h.get(QStringLiteral("/api/v1/status")), "get", "/status");

        // An error answer has the Error shape.
        const AdminReply bad = h.get(QStringLiteral("/api/v1/usage/events?limit=0"));
        QCOMPARE(bad.status, 400);
        SchemaCheck check(m_doc);
        check.validate(bad.body, QJsonObject{{"$ref", "#/components/schemas/Error"}}, QStringLiteral("error"));
        QVERIFY2(check.errors.isEmpty(), qPrintable(check.errors.join(QLatin1Char('\n'))));
    }

    void status()
    {
        RedisSyncClient redis(h.m_redisUrl);
        QVERIFY(redis.connect().ok());
        QVERIFY(redis.command({"DEL", "llmpool:usage"}).ok());

        AdminReply r = h.get(QStringLiteral("/api/v1/status"));
        QCOMPARE(r.status, 200);
        QCOMPARE(r.body.value("status").toString(), QStringLiteral("ok"));
        QCOMPARE(r.body.value("version").toString(), QStringLiteral(LLMPOOL_VERSION));
        QVERIFY(r.body.value("uptime_seconds").toInteger() >= 0);
        QVERIFY(r.body.value("started_at").toString().endsWith(QLatin1Char('Z')));
        QCOMPARE(r.body.value("database").toObject().value("status").toString(), QStringLiteral("ok"));
        QCOMPARE(r.body.value("redis").toObject().value("status").toString(), QStringLiteral("ok"));
        QJsonObject queue = r.body.value("queue").toObject();
        QCOMPARE(queue.value("status").toString(), QStringLiteral("ok"));
        QCOMPARE(queue.value("stream").toString(), QStringLiteral("llmpool:usage"));
        QCOMPARE(queue.value("group").toString(), QStringLiteral("llmpool-workers"));
        QCOMPARE(queue.value("length").toInteger(), 0);
        QCOMPARE(queue.value("lag").toInteger(), 0);
        const QJsonObject spool = r.body.value("spool").toObject();
        QCOMPARE(spool.value("directory").toString(), h.m_config.billing.spoolDir);
        QVERIFY(spool.value("files").toInteger() >= 0);
        QVERIFY(spool.value("bytes").toInteger() >= 0);

        // Three entries, a group that has been handed one of them and has not acknowledged it.
        for (int i = 0; i < 3; ++i)
            QVERIFY(redis.command({"XADD", "llmpool:usage", "*", "event", "{}"}).ok());
        QVERIFY(redis.command({"XGROUP", "CREATE", "llmpool:usage", "llmpool-workers", "0"}).ok());
        QVERIFY(redis
                    .command({"XREADGROUP", "GROUP", "llmpool-workers", "status-test", "COUNT", "1", "STREAMS",
                              "llmpool:usage", ">"})
                    .ok());
        r = h.get(QStringLiteral("/api/v1/status"));
        QCOMPARE(r.status, 200);
        queue = r.body.value("queue").toObject();
        QCOMPARE(queue.value("status").toString(), QStringLiteral("ok"));
        QCOMPARE(queue.value("length").toInteger(), 3);
        QCOMPARE(queue.value("pending").toInteger(), 1);
        QCOMPARE(queue.value("lag").toInteger(), 2);
        QCOMPARE(queue.value("consumers").toInteger(), 1);
        QVERIFY(!queue.value("last_delivered_id").toString().isEmpty());
        QVERIFY(redis.command({"DEL", "llmpool:usage"}).ok());
    }

    void statusWhenRedisIsGone()
    {
        // A gateway whose Redis is not there: still 200, "degraded", within the checks' deadline.
        llmpool::test::AdminHarness broken;
        broken.m_redisOverride = QStringLiteral("redis://127.0.0.1:1/0");
        const QString error = broken.start();
        QVERIFY2(error.isEmpty(), qPrintable(error));
        QElapsedTimer timer;
        timer.start();
        const AdminReply r = broken.get(QStringLiteral("/api/v1/status"));
        QCOMPARE(r.status, 200);
        QVERIFY(timer.elapsed() < 5'000);
        QCOMPARE(r.body.value("status").toString(), QStringLiteral("degraded"));
        QCOMPARE(r.body.value("database").toObject().value("status").toString(), QStringLiteral("ok"));
        QCOMPARE(r.body.value("redis").toObject().value("status").toString(), QStringLiteral("error"));
        QVERIFY(!r.body.value("redis").toObject().value("error").toString().isEmpty());
        QCOMPARE(r.body.value("queue").toObject().value("status").toString(), QStringLiteral("error"));
        broken.stop();
    }

    void upstreamHealth()
    {
        const AdminReply upstream = h.post(
            QStringLiteral("/api/v1/upstreams"),
            {{"name", "dead-upstream"}, {"api_base", "http://127.0.0.1:1/v1"}, {"api_key", "sk-dead-0123456789"}});
        QCOMPARE(upstream.status, 201);
        const qint64 upstreamId = upstream.body.value("id").toInteger();
        QCOMPARE(upstream.body.value("health").toString(), QStringLiteral("healthy"));
        QCOMPARE(upstream.body.value("health_detail").toObject().value("consecutive_failures").toInt(), 0);
        QCOMPARE(h.post(QStringLiteral("/api/v1/models"),
                        {{"name", "dead-model"}, {"upstream_id", upstreamId}, {"capabilities", QJsonArray{"chat"}}})
                     .status,
                 201);
        const AdminReply user = h.post(QStringLiteral("/api/v1/users"), {{"name", "health-user"}});
        const qint64 userId = user.body.value("id").toInteger();
        QCOMPARE(h.exec(QStringLiteral("UPDATE wallets SET cash = 1000 WHERE user_id = %1").arg(userId)), QString());
        const AdminReply key = h.post(QStringLiteral("/api/v1/users/%1/keys").arg(userId), {{"name", "k"}});
        const QByteArray plaintext = key.body.value("key").toString().toLatin1();
        QVERIFY(plaintext.startsWith("sk-lp-"));

        // Requests to the dead upstream fail (once the catalog has reloaded) until the tracker
        // ejects it; the admin API then shows it.
        const QByteArray chat = R"({"model":"dead-model","messages":[{"role":"user","content":"hi"}]})";
        QDeadlineTimer deadline(30'000);
        QJsonObject seen;
        while (!deadline.hasExpired()) {
            h.call("POST", QStringLiteral("/v1/chat/completions"), chat, plaintext);
            seen = h.get(QStringLiteral("/api/v1/upstreams/%1").arg(upstreamId)).body;
            if (seen.value("health").toString() == QLatin1String("ejected") ||
                seen.value("health").toString() == QLatin1String("probing"))
                break;
        }
        QVERIFY2(seen.value("health").toString() == QLatin1String("ejected") ||
                     seen.value("health").toString() == QLatin1String("probing"),
                 QJsonDocument(seen).toJson().constData());
        const QJsonObject detail = seen.value("health_detail").toObject();
        QVERIFY(detail.value("ejections").toInt() >= 1);
        QVERIFY(!detail.value("last_error").toString().isEmpty());
        QVERIFY(!detail.value("last_error").toString().contains("sk-dead"));
        QVERIFY(detail.value("last_failure_at").toString().endsWith(QLatin1Char('Z')));
        QVERIFY(detail.value("ejected_until").isString());

        // The list shows the same state; the audit log does not record passing health.
        const QJsonArray list = h.get(QStringLiteral("/api/v1/upstreams?page_size=100")).body.value("data").toArray();
        bool found = false;
        for (const QJsonValue v : list) {
            if (v.toObject().value("id").toInteger() == upstreamId) {
                found = true;
                QVERIFY(v.toObject().value("health").toString() != QLatin1String("healthy"));
            }
        }
        QVERIFY(found);
        QVERIFY(!h.get(QStringLiteral("/api/v1/audit?page_size=100")).raw.contains("\"health\""));
    }
};

QTEST_GUILESS_MAIN(TestOpenApi)
#include "TestOpenApi.moc"
