// GET /api/v1/usage/events and /api/v1/usage/summary (SPEC §6, §9) against an in-process Gateway:
// cursor paging (ties on created_at included), every filter, validation and hostile input, and the
// summary's numbers — read from the hourly rollup maintained by the trigger of migration 0003 —
// against a direct aggregate over usage_events, on 200,000 events inserted in one statement
// (LLMPOOL_USAGE_BENCH_EVENTS=1000000 for the bench figure), plus redelivery (ON CONFLICT DO
// NOTHING) counted once.

#include "AdminTestSupport.h"
#include "storage/UsageAdminRepository.h"

#include <QElapsedTimer>
#include <QTimeZone>

#include <QSet>
#include <QUrlQuery>
#include <cmath>
#include <limits>

using namespace llmpool;
using namespace llmpool::gateway;
using llmpool::test::AdminReply;

namespace {

const QStringList kEventFields{"request_id",     "user_id",           "key_id",       "model",  "upstream_id",
                               "upstream_model", "endpoint",          "status",       "stream", "prompt_tokens",
                               "cached_tokens",  "completion_tokens", "total_tokens", "cost",   "usage_estimated",
                               "latency_ms",     "ttfb_ms",           "created_at"};

// Bulk events: spread over ~2.3 days from 2026-03-01, five models, seven users, three upstreams,
// errors (500 / 429), some without latency, a skewed latency distribution.
QString bulkInsert(qint64 from, qint64 to, const QString &prefix, bool onConflict = false)
{
    return QStringLiteral(
               "INSERT INTO usage_events (created_at, request_id, user_id, key_id, model, upstream_id, upstream_model, "
               "endpoint, status, stream, prompt_tokens, cached_tokens, completion_tokens, total_tokens, cost, "
               "latency_ms, ttfb_ms) "
               "SELECT timestamptz '2026-03-01T00:00:00Z' + i * interval '1 second', '%3' || i, 1 + i %% 7, "
               "100 + i %% 13, 'model-' || (i %% 5), CASE WHEN i %% 41 = 0 THEN NULL ELSE 1 + i %% 3 END, 'up-m', "
               "'chat/completions', CASE WHEN i %% 17 = 0 THEN 500 WHEN i %% 23 = 0 THEN 429 ELSE 200 END, "
               "i %% 2 = 0, i %% 1000, i %% 50, i %% 300, i %% 1000 + i %% 300, (i %% 1000) * 0.000001234, "
               "CASE WHEN i %% 101 = 0 THEN NULL ELSE (i * 7919) %% 900 + CASE WHEN i %% 10 = 0 THEN (i * 31) %% 20000 "
               "ELSE 0 END END, (i * 13) %% 200 "
               "FROM generate_series(%1, %2) AS i%4")
        .arg(from)
        .arg(to)
        .arg(prefix, onConflict ? QStringLiteral(" ON CONFLICT DO NOTHING") : QString())
        .replace(QStringLiteral("%%"), QStringLiteral("%"));
}

} // namespace

class TestUsageApi : public QObject
{
    Q_OBJECT

private:
    llmpool::test::AdminHarness h;
    qint64 m_bulkEvents = 200'000;

    QStringList pageAll(const QString &query, int limit, int *pages = nullptr)
    {
        QStringList ids;
        QString after;
        for (int page = 0; page < 1000; ++page) {
            QString path = QStringLiteral("/api/v1/usage/events?limit=%1").arg(limit);
            if (!query.isEmpty())
                path += QLatin1Char('&') + query;
            if (!after.isEmpty())
                path += QStringLiteral("&after=") + QString::fromLatin1(QUrl::toPercentEncoding(after));
            const AdminReply r = h.get(path);
            if (r.status != 200) {
                qWarning("page %d: %d %s", page, r.status, r.raw.constData());
                return {};
            }
            const QJsonArray data = r.body.value("data").toArray();
            for (const QJsonValue v : data)
                ids.append(v.toObject().value("request_id").toString());
            if (pages)
                *pages = page + 1;
            if (!r.body.value("has_more").toBool()) {
                if (!r.body.value("next_cursor").isNull())
                    qWarning("last page has a next_cursor");
                return ids;
            }
            after = r.body.value("next_cursor").toString();
            if (after.isEmpty() || data.size() != limit) {
                qWarning("has_more without a full page and a cursor");
                return {};
            }
        }
        return ids;
    }

private Q_SLOTS:
    void initTestCase()
    {
        const QString error = h.start();
        QVERIFY2(error.isEmpty(), qPrintable(error));
        bool ok = false;
        const qint64 bench = qEnvironmentVariableIntValue("LLMPOOL_USAGE_BENCH_EVENTS", &ok);
        if (ok && bench > 0)
            m_bulkEvents = bench;

        // 30 hand-made events on 2026-02-10: three share one timestamp (order then by request_id).
        const QString small = QStringLiteral(
            "INSERT INTO usage_events (created_at, request_id, user_id, key_id, model, upstream_id, upstream_model, "
            "endpoint, status, stream, prompt_tokens, cached_tokens, completion_tokens, total_tokens, cost, "
            "usage_estimated, latency_ms, ttfb_ms) "
            "SELECT timestamptz '2026-02-10T12:00:00.123456Z' + (CASE WHEN i <= 3 THEN 0 ELSE i END) * interval "
            "'1 minute', 'ev-' || lpad(i::text, 3, '0'), 1 + i % 2, 10 + i % 3, CASE WHEN i % 2 = 0 THEN 'gpt-a' "
            "ELSE 'gpt-b' END, 5 + i % 2, 'upstream-model', 'chat/completions', CASE WHEN i = 7 THEN 502 ELSE 200 "
            "END, i % 2 = 0, 10 * i, i, 2 * i, 12 * i, 0.000000001 * i, i = 9, 100 + i, 10 + i "
            "FROM generate_series(1, 30) AS i");
        QCOMPARE(h.exec(small), QString());
    }

    void cleanupTestCase() { h.stop(); }

    void eventsFields()
    {
        const AdminReply r = h.get(QStringLiteral("/api/v1/usage/events?limit=1&until=2026-03-01T00:00:00Z"));
        QCOMPARE(r.status, 200);
        const QJsonArray data = r.body.value("data").toArray();
        QCOMPARE(data.size(), 1);
        const QJsonObject e = data.first().toObject();
        QStringList keys = e.keys();
        QStringList expected = kEventFields;
        keys.sort();
        expected.sort();
        QCOMPARE(keys, expected);
        // The newest of the hand-made events: i = 30.
        QCOMPARE(e.value("request_id").toString(), QStringLiteral("ev-030"));
        QCOMPARE(e.value("user_id").toInteger(), 1);
        QCOMPARE(e.value("key_id").toInteger(), 10);
        QCOMPARE(e.value("model").toString(), QStringLiteral("gpt-a"));
        QCOMPARE(e.value("upstream_id").toInteger(), 5);
        QCOMPARE(e.value("upstream_model").toString(), QStringLiteral("upstream-model"));
        QCOMPARE(e.value("endpoint").toString(), QStringLiteral("chat/completions"));
        QCOMPARE(e.value("status").toInt(), 200);
        QCOMPARE(e.value("stream").toBool(), true);
        QCOMPARE(e.value("prompt_tokens").toInteger(), 300);
        QCOMPARE(e.value("cached_tokens").toInteger(), 30);
        QCOMPARE(e.value("completion_tokens").toInteger(), 60);
        QCOMPARE(e.value("total_tokens").toInteger(), 360);
        QCOMPARE(e.value("cost").toString(), QStringLiteral("0.000000030"));
        QCOMPARE(e.value("usage_estimated").toBool(), false);
        QCOMPARE(e.value("latency_ms").toInteger(), 130);
        QCOMPARE(e.value("ttfb_ms").toInteger(), 40);
        QCOMPARE(e.value("created_at").toString(), QStringLiteral("2026-02-10T12:30:00.123Z"));
        QVERIFY(r.body.value("has_more").toBool());
        QVERIFY(r.body.value("next_cursor").isString());
    }

    void eventsPaging_data()
    {
        QTest::addColumn<int>("limit");
        QTest::newRow("1") << 1;
        QTest::newRow("2 (a page boundary inside the tie)") << 2;
        QTest::newRow("7") << 7;
        QTest::newRow("30 (exactly one page)") << 30;
        QTest::newRow("1000") << 1000;
    }

    void eventsPaging()
    {
        QFETCH(int, limit);
        int pages = 0;
        const QStringList ids = pageAll(QStringLiteral("until=2026-03-01T00:00:00Z"), limit, &pages);
        QStringList expected;
        for (int i = 30; i >= 4; --i)
            expected.append(QStringLiteral("ev-%1").arg(i, 3, 10, QLatin1Char('0')));
        expected << "ev-003"
                 << "ev-002"
                 << "ev-001"; // same created_at: request_id descending
        QCOMPARE(ids, expected);
        QCOMPARE(pages, (30 + limit - 1) / limit);
    }

    void eventsFilters_data()
    {
        QTest::addColumn<QString>("query");
        QTest::addColumn<int>("count");
        const QString range = QStringLiteral("&until=2026-03-01T00:00:00Z");
        QTest::newRow("none") << range << 30;
        QTest::newRow("user_id") << "user_id=2" + range << 15;
        QTest::newRow("key_id") << "key_id=10" + range << 10;
        QTest::newRow("model") << "model=gpt-a" + range << 15;
        QTest::newRow("upstream_id") << "upstream_id=6" + range << 15;
        QTest::newRow("since inclusive") << QStringLiteral("since=2026-02-10T12:20:00.123456Z") + range << 11;
        QTest::newRow("until exclusive") << QStringLiteral("until=2026-02-10T12:04:00.123456Z") << 3;
        QTest::newRow("since with offset") << QStringLiteral("since=2026-02-10T14:20:00%2B02:00") + range << 11;
        QTest::newRow("combined") << "user_id=1&model=gpt-b&upstream_id=6&key_id=11" + range << 0;
        QTest::newRow("combined 2") << "user_id=2&model=gpt-b&upstream_id=6" + range << 15;
        QTest::newRow("unknown user") << "user_id=999999" + range << 0;
        QTest::newRow("SQL metacharacters in model")
            << "model=" +
                   QString::fromLatin1(QUrl::toPercentEncoding("gpt-a' OR '1'='1'; DROP TABLE usage_events; --")) +
                   range
            << 0;
        QTest::newRow("LIKE wildcards are literal") << "model=gpt-%25" + range << 0;
    }

    void eventsFilters()
    {
        QFETCH(QString, query);
        QFETCH(int, count);
        const AdminReply r = h.get(QStringLiteral("/api/v1/usage/events?limit=1000&") + query);
        QVERIFY2(r.status == 200, r.raw.constData());
        QCOMPARE(r.body.value("data").toArray().size(), count);
        QCOMPARE(r.body.value("has_more").toBool(), false);
        QVERIFY(r.body.value("next_cursor").isNull());
        QVERIFY(h.one(QStringLiteral("SELECT to_regclass('usage_events') IS NOT NULL")).toBool());
    }

    void eventsValidation_data()
    {
        QTest::addColumn<QString>("query");
        QTest::addColumn<QString>("param");
        const QByteArray forged = QByteArray("1\n2026-02-10 12:00:00\nev-001").toBase64(QByteArray::Base64UrlEncoding);
        const QByteArray injected = QByteArray("1\n2026-02-10T12:00:00.000000Z'; DROP TABLE usage_events; --\nx")
                                        .toBase64(QByteArray::Base64UrlEncoding);
        QTest::newRow("limit 0") << "limit=0"
                                 << "limit";
        QTest::newRow("limit 1001") << "limit=1001"
                                    << "limit";
        QTest::newRow("limit negative") << "limit=-5"
                                        << "limit";
        QTest::newRow("limit text") << "limit=ten"
                                    << "limit";
        QTest::newRow("limit huge") << "limit=99999999999999999999999"
                                    << "limit";
        QTest::newRow("cursor garbage") << "after=%%%not-base64"
                                        << "after";
        QTest::newRow("cursor empty") << "after="
                                      << "after";
        QTest::newRow("cursor not ours") << "after=" + QString::fromLatin1(QByteArray("hello").toBase64()) << "after";
        QTest::newRow("cursor bad time") << "after=" + QString::fromLatin1(forged) << "after";
        QTest::newRow("cursor injection") << "after=" + QString::fromLatin1(injected) << "after";
        QTest::newRow("cursor huge") << "after=" + QString(5000, QLatin1Char('A')) << "after";
        QTest::newRow("since not a time") << "since=yesterday"
                                          << "since";
        QTest::newRow("since without zone") << "since=2026-02-10T12:00:00"
                                            << "since";
        QTest::newRow("until date only") << "until=2026-02-10"
                                         << "until";
        QTest::newRow("until before since") << "since=2026-02-11T00:00:00Z&until=2026-02-10T00:00:00Z"
                                            << "until";
        QTest::newRow("user_id text") << "user_id=abc"
                                      << "user_id";
        QTest::newRow("user_id zero") << "user_id=0"
                                      << "user_id";
        QTest::newRow("user_id SQL") << "user_id=1%20OR%201%3D1"
                                     << "user_id";
        QTest::newRow("key_id negative") << "key_id=-1"
                                         << "key_id";
        QTest::newRow("upstream_id huge") << "upstream_id=123456789012345678901234567890"
                                          << "upstream_id";
        QTest::newRow("model huge") << "model=" + QString(8'000, QLatin1Char('m')) << "model";
        QTest::newRow("model empty") << "model="
                                     << "model";
        QTest::newRow("model NUL") << "model=a%00b"
                                   << "model";
    }

    void eventsValidation()
    {
        QFETCH(QString, query);
        QFETCH(QString, param);
        const AdminReply r = h.get(QStringLiteral("/api/v1/usage/events?") + query);
        QCOMPARE(r.status, 400);
        QCOMPARE(r.param(), param);
        QCOMPARE(r.error().value("type").toString(), QStringLiteral("invalid_request_error"));
        QVERIFY(r.raw.size() < 2000); // the hostile value is not echoed back
    }

    void authRequired_data()
    {
        QTest::addColumn<QString>("path");
        QTest::addColumn<QByteArray>("token");
        const QByteArray wrong =
            Jwt::mint("another-secret-another-secret-0123456789", QJsonObject{{"scope", "admin"}, {"sub", "x"}})
                .value();
        for (const char *path : {"/api/v1/usage/events", "/api/v1/usage/summary"}) {
            QTest::newRow(QByteArray(QByteArray(path) + " no token").constData())
                << QString::fromLatin1(path) << QByteArray();
            QTest::newRow(QByteArray(QByteArray(path) + " wrong signature").constData())
                << QString::fromLatin1(path) << wrong;
            QTest::newRow(QByteArray(QByteArray(path) + " garbage").constData())
                << QString::fromLatin1(path) << QByteArray("x.y.z");
        }
    }

    void authRequired()
    {
        QFETCH(QString, path);
        QFETCH(QByteArray, token);
        const AdminReply r = h.call("GET", path, {}, token);
        QCOMPARE(r.status, 401);
        QVERIFY(!r.raw.contains("ev-0"));
    }

    void summaryValidation_data()
    {
        QTest::addColumn<QString>("query");
        QTest::addColumn<QString>("param");
        QTest::newRow("unknown by") << "by=week"
                                    << "by";
        QTest::newRow("by empty") << "by="
                                  << "by";
        QTest::newRow("unknown group") << "group=key"
                                       << "group";
        QTest::newRow("group SQL") << "group=model;DROP%20TABLE%20usage_rollup_hourly"
                                   << "group";
        QTest::newRow("bad since") << "since=2026-13-01T00:00:00Z"
                                   << "since";
        QTest::newRow("bad until") << "until=now"
                                   << "until";
        QTest::newRow("until before since") << "since=2026-02-11T00:00:00Z&until=2026-02-10T00:00:00Z"
                                            << "until";
        QTest::newRow("too many hours") << "by=hour&since=2025-01-01T00:00:00Z&until=2026-01-01T00:00:00Z"
                                        << "since";
        QTest::newRow("too many days") << "by=day&since=1990-01-01T00:00:00Z&until=2026-01-01T00:00:00Z"
                                       << "since";
        QTest::newRow("user_id text") << "user_id=me"
                                      << "user_id";
        QTest::newRow("model huge") << "model=" + QString(5000, QLatin1Char('x')) << "model";
    }

    void summaryValidation()
    {
        QFETCH(QString, query);
        QFETCH(QString, param);
        const AdminReply r = h.get(QStringLiteral("/api/v1/usage/summary?") + query);
        QCOMPARE(r.status, 400);
        QCOMPARE(r.param(), param);
    }

    void summarySmall()
    {
        // The hand-made events: 2026-02-10 12:00 .. 12:30, i.e. hour 12 only.
        const AdminReply r =
            h.get(QStringLiteral("/api/v1/usage/summary?by=hour&group=model&since=2026-02-10T11:30:00Z&until="
                                 "2026-02-10T13:10:00Z"));
        QVERIFY2(r.status == 200, r.raw.constData());
        // Rounded out to whole hours.
        QCOMPARE(r.body.value("since").toString(), QStringLiteral("2026-02-10T11:00:00.000Z"));
        QCOMPARE(r.body.value("until").toString(), QStringLiteral("2026-02-10T14:00:00.000Z"));
        QCOMPARE(r.body.value("by").toString(), QStringLiteral("hour"));
        QCOMPARE(r.body.value("group").toString(), QStringLiteral("model"));
        const QJsonArray data = r.body.value("data").toArray();
        QCOMPARE(data.size(), 2);
        const QJsonObject a = data[0].toObject();
        QCOMPARE(a.value("bucket").toString(), QStringLiteral("2026-02-10T12:00:00.000Z"));
        QCOMPARE(a.value("model").toString(), QStringLiteral("gpt-a"));
        QCOMPARE(a.value("requests").toInteger(), 15);
        QCOMPARE(a.value("errors").toInteger(), 0);
        QCOMPARE(a.value("prompt_tokens").toInteger(),
                 10 * (2 + 4 + 6 + 8 + 10 + 12 + 14 + 16 + 18 + 20 + 22 + 24 + 26 + 28 + 30));
        QCOMPARE(a.value("cost").toString(), QStringLiteral("0.000000240"));
        const QJsonObject b = data[1].toObject();
        QCOMPARE(b.value("model").toString(), QStringLiteral("gpt-b"));
        QCOMPARE(b.value("errors").toInteger(), 1); // i = 7 answered 502
        const QJsonObject totals = r.body.value("totals").toObject();
        QCOMPARE(totals.value("requests").toInteger(), 30);
        QCOMPARE(totals.value("errors").toInteger(), 1);
        QCOMPARE(totals.value("cost").toString(), QStringLiteral("0.000000465"));
        const QJsonObject latency = totals.value("latency_ms").toObject();
        QCOMPARE(latency.value("count").toInteger(), 30);
        QCOMPARE(latency.value("max").toInteger(), 130);
        QCOMPARE(latency.value("avg").toInteger(), qint64(std::llround((101 + 130) / 2.0)));
        // 101..130 all fall in the [100, 150) bucket: the estimates stay inside it.
        for (const char *p : {"p50", "p95", "p99"}) {
            const qint64 v = latency.value(QLatin1String(p)).toInteger();
            QVERIFY2(v >= 100 && v <= 130, p);
        }

        // Filters apply to the rollup too; group=user and upstream name ids.
        const AdminReply byUser = h.get(QStringLiteral(
            "/api/v1/usage/"
            "summary?by=day&group=user&since=2026-02-10T00:00:00Z&until=2026-02-11T00:00:00Z&model=gpt-b"));
        QCOMPARE(byUser.status, 200);
        const QJsonArray users = byUser.body.value("data").toArray();
        QCOMPARE(users.size(), 1);
        QCOMPARE(users[0].toObject().value("user_id").toInteger(), 2);
        QCOMPARE(users[0].toObject().value("bucket").toString(), QStringLiteral("2026-02-10T00:00:00.000Z"));
        QCOMPARE(users[0].toObject().value("requests").toInteger(), 15);

        // Every filter reaches the rollup: key, upstream, user, model, and hostile text matches nothing.
        const QString day =
            QStringLiteral("/api/v1/usage/summary?since=2026-02-10T00:00:00Z&until=2026-02-11T00:00:00Z&");
        const struct
        {
            const char *filter;
            qint64 requests;
        } filters[] = {{"key_id=10", 10},
                       {"upstream_id=6", 15},
                       {"user_id=1&model=gpt-a", 15},
                       {"user_id=1&model=gpt-b", 0},
                       {"key_id=11&upstream_id=5", 5},
                       {"model=gpt-a%27%20OR%20%271%27%3D%271", 0},
                       {"user_id=999999", 0}};
        for (const auto &f : filters) {
            const AdminReply r = h.get(day + QLatin1String(f.filter));
            QVERIFY2(r.status == 200, f.filter);
            QVERIFY2(r.body.value("totals").toObject().value("requests").toInteger() == f.requests, f.filter);
        }

        // Nothing in range: no rows, zero totals, null percentiles.
        const AdminReply empty = h.get(QStringLiteral(
            "/api/v1/usage/summary?since=2020-01-01T00:00:00Z&until=2020-01-02T00:00:00Z&group=upstream"));
        QCOMPARE(empty.status, 200);
        QCOMPARE(empty.body.value("data").toArray().size(), 0);
        QCOMPARE(empty.body.value("totals").toObject().value("requests").toInteger(), 0);
        QCOMPARE(empty.body.value("totals").toObject().value("cost").toString(), QStringLiteral("0"));
        QVERIFY(empty.body.value("totals").toObject().value("latency_ms").toObject().value("p99").isNull());

        // Defaults: the last 30 days by day, no grouping.
        const AdminReply defaults = h.get(QStringLiteral("/api/v1/usage/summary"));
        QCOMPARE(defaults.status, 200);
        QCOMPARE(defaults.body.value("by").toString(), QStringLiteral("day"));
        QCOMPARE(defaults.body.value("group").toString(), QStringLiteral("none"));
    }

    void latencyQuantile()
    {
        const std::vector<qint64> edges{10, 20, 40};
        // 10 values in [0,10), 10 in [10,20), 0, 0.
        QCOMPARE(UsageAdminRepository::latencyQuantile(edges, {10, 10, 0, 0}, 19, 0.5).value(), 10.0);
        QCOMPARE(UsageAdminRepository::latencyQuantile(edges, {10, 10, 0, 0}, std::nullopt, 0.75).value(), 15.0);
        QCOMPARE(UsageAdminRepository::latencyQuantile(edges, {10, 10, 0, 0}, 19, 0.75).value(), 14.5);
        QCOMPARE(UsageAdminRepository::latencyQuantile(edges, {10, 10, 0, 0}, 19, 1.0).value(), 19.0); // capped at max
        QCOMPARE(UsageAdminRepository::latencyQuantile(edges, {0, 0, 0, 4}, 100, 0.5).value(), 70.0);  // open bucket
        QVERIFY(!UsageAdminRepository::latencyQuantile(edges, {0, 0, 0, 0}, std::nullopt, 0.5));
        QVERIFY(!UsageAdminRepository::latencyQuantile(edges, {1, 2}, 5, 0.5)); // wrong size
    }

    void summaryMatchesRawAggregate()
    {
        QElapsedTimer timer;
        timer.start();
        QCOMPARE(h.exec(bulkInsert(1, m_bulkEvents, QStringLiteral("bulk-"))), QString());
        const qint64 insertMs = timer.elapsed();
        qInfo("inserted %lld events (one statement, rollup trigger included) in %lld ms", m_bulkEvents, insertMs);

        const QString range =
            QStringLiteral("since=2026-03-01T00:00:00Z&until=%1")
                .arg(QDateTime::fromSecsSinceEpoch(
                         QDateTime::fromString(QStringLiteral("2026-03-01T00:00:00Z"), Qt::ISODate).toSecsSinceEpoch() +
                             m_bulkEvents + 3600,
                         Qt::UTC)
                         .toString(Qt::ISODate));
        const QString sinceSql = QStringLiteral("'2026-03-01T00:00:00Z'");
        const QList<QVariantList> edgesRow = h.rows(QStringLiteral("SELECT unnest(usage_latency_edges())"));
        std::vector<qint64> edges;
        for (const QVariantList &row : edgesRow)
            edges.push_back(row.first().toLongLong());
        QVERIFY(edges.size() > 10);
        auto bucketOf = [&](qint64 v) {
            qint64 lower = 0, upper = std::numeric_limits<qint64>::max();
            for (qint64 e : edges) {
                if (e <= v)
                    lower = e;
                else {
                    upper = e;
                    break;
                }
            }
            return std::pair{lower, upper};
        };

        struct Case
        {
            const char *by;
            const char *group;
            QString bucketSql;
            QString groupSql;
            const char *groupField;
        };
        const Case cases[] = {
            {"hour", "model", QStringLiteral("date_trunc('hour', created_at, 'UTC')"), QStringLiteral("model"),
             "model"},
            {"day", "user", QStringLiteral("date_trunc('day', created_at, 'UTC')"), QStringLiteral("user_id"),
             "user_id"},
            {"day", "upstream", QStringLiteral("date_trunc('day', created_at, 'UTC')"), QStringLiteral("upstream_id"),
             "upstream_id"},
            {"hour", "none", QStringLiteral("date_trunc('hour', created_at, 'UTC')"), QStringLiteral("0"), nullptr},
        };
        for (const Case &c : cases) {
            timer.restart();
            const AdminReply r = h.get(QStringLiteral("/api/v1/usage/summary?by=%1&group=%2&")
                                           .arg(QLatin1String(c.by), QLatin1String(c.group)) +
                                       range);
            const qint64 apiMs = timer.elapsed();
            QVERIFY2(r.status == 200, r.raw.left(500).constData());

            timer.restart();
            const QList<QVariantList> expected = h.rows(
                QStringLiteral("SELECT %1, %2, count(*), count(*) FILTER (WHERE status >= 400), sum(prompt_tokens), "
                               "sum(cached_tokens), sum(completion_tokens), sum(total_tokens), sum(cost)::text, "
                               "count(latency_ms), max(latency_ms), "
                               "percentile_disc(0.5) WITHIN GROUP (ORDER BY latency_ms), "
                               "percentile_disc(0.95) WITHIN GROUP (ORDER BY latency_ms), "
                               "percentile_disc(0.99) WITHIN GROUP (ORDER BY latency_ms) "
                               "FROM usage_events WHERE created_at >= %3 AND request_id LIKE 'bulk-%' "
                               "GROUP BY 1, 2 ORDER BY 1, 2")
                    .arg(QStringLiteral("(extract(epoch FROM ") + c.bucketSql + QStringLiteral(") * 1000)::bigint"),
                         c.groupSql, sinceSql));
            const qint64 rawMs = timer.elapsed();
            qInfo("summary by=%s group=%s over %lld events: API %lld ms (rollup), direct aggregate %lld ms", c.by,
                  c.group, m_bulkEvents, apiMs, rawMs);

            const QJsonArray data = r.body.value("data").toArray();
            QCOMPARE(data.size(), expected.size());
            // The API orders by group text; compare as maps.
            QHash<QString, QJsonObject> byKey;
            for (const QJsonValue v : data) {
                const QJsonObject o = v.toObject();
                const qint64 bucket =
                    QDateTime::fromString(o.value("bucket").toString(), Qt::ISODateWithMs).toMSecsSinceEpoch();
                const QString group = c.groupField ? o.value(QLatin1String(c.groupField)).toVariant().toString() : "0";
                byKey.insert(QString::number(bucket) + QLatin1Char('|') + group, o);
            }
            qint64 requests = 0;
            for (const QVariantList &e : expected) {
                const QString key = e[0].toString() + QLatin1Char('|') + (e[1].isNull() ? QString() : e[1].toString());
                QVERIFY2(byKey.contains(key), qPrintable(key));
                const QJsonObject o = byKey.value(key);
                QCOMPARE(o.value("requests").toInteger(), e[2].toLongLong());
                QCOMPARE(o.value("errors").toInteger(), e[3].toLongLong());
                QCOMPARE(o.value("prompt_tokens").toInteger(), e[4].toLongLong());
                QCOMPARE(o.value("cached_tokens").toInteger(), e[5].toLongLong());
                QCOMPARE(o.value("completion_tokens").toInteger(), e[6].toLongLong());
                QCOMPARE(o.value("total_tokens").toInteger(), e[7].toLongLong());
                QCOMPARE(o.value("cost").toString(), e[8].toString());
                const QJsonObject latency = o.value("latency_ms").toObject();
                QCOMPARE(latency.value("count").toInteger(), e[9].toLongLong());
                QCOMPARE(latency.value("max").toInteger(), e[10].toLongLong());
                for (int i = 0; i < 3; ++i) {
                    const char *name = i == 0 ? "p50" : i == 1 ? "p95" : "p99";
                    const qint64 exact = e[11 + i].toLongLong();
                    const qint64 estimate = latency.value(QLatin1String(name)).toInteger();
                    const auto [lower, upper] = bucketOf(exact);
                    // The estimate lies in the bucket of the exact value (never above the max).
                    QVERIFY2(estimate >= lower - 1 && estimate <= std::min(upper, e[10].toLongLong()) + 1,
                             qPrintable(QStringLiteral("%1 %2: exact %3, estimate %4, bucket [%5, %6)")
                                            .arg(key, QLatin1String(name))
                                            .arg(exact)
                                            .arg(estimate)
                                            .arg(lower)
                                            .arg(upper)));
                }
                requests += e[2].toLongLong();
            }
            QCOMPARE(requests, m_bulkEvents);
            QCOMPARE(r.body.value("totals").toObject().value("requests").toInteger(), m_bulkEvents);
        }

        // Redelivery: the same events again plus 1,000 new ones, ON CONFLICT DO NOTHING (as the
        // worker inserts): only the new ones are counted.
        QCOMPARE(h.exec(bulkInsert(m_bulkEvents - 999, m_bulkEvents + 1000, QStringLiteral("bulk-"), true)), QString());
        const AdminReply after = h.get(QStringLiteral("/api/v1/usage/summary?by=day&") + range);
        QCOMPARE(after.status, 200);
        const qint64 rawCount =
            h.one(QStringLiteral("SELECT count(*) FROM usage_events WHERE request_id LIKE 'bulk-%'")).toLongLong();
        QCOMPARE(rawCount, m_bulkEvents + 1000);
        QCOMPARE(after.body.value("totals").toObject().value("requests").toInteger(), rawCount);
        QCOMPARE(after.body.value("totals").toObject().value("cost").toString(),
                 h.one(QStringLiteral("SELECT sum(cost)::text FROM usage_events WHERE request_id LIKE 'bulk-%'"))
                     .toString());
    }

    void eventsPagingOverBulk()
    {
        // A filtered walk over a big table: pages never overlap or skip.
        int pages = 0;
        const QStringList ids =
            pageAll(QStringLiteral("user_id=3&model=model-2&since=2026-03-01T00:00:00Z&until=2026-03-01T12:00:00Z"),
                    137, &pages);
        const qint64 expected = h.one(QStringLiteral("SELECT count(*) FROM usage_events WHERE user_id = 3 AND "
                                                     "model = 'model-2' AND created_at >= '2026-03-01T00:00:00Z' AND "
                                                     "created_at < '2026-03-01T12:00:00Z'"))
                                    .toLongLong();
        QVERIFY(expected > 137);
        QCOMPARE(qint64(ids.size()), expected);
        QCOMPARE(qint64(QSet<QString>(ids.begin(), ids.end()).size()), expected);
    }
};

QTEST_GUILESS_MAIN(TestUsageApi)
#include "TestUsageApi.moc"
