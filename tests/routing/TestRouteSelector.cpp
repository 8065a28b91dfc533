// RouteSelector: candidate filtering, errors, distinct failover order, and the weighted draw
// (statistically, with a seeded generator so the test is deterministic).

#include "routing/HealthTracker.h"
#include "routing/RouteSelector.h"

#include <QRandomGenerator>
#include <QTest>

#include <map>
#include <set>

using namespace llmpool;
using namespace llmpool::gateway;

namespace {

CatalogUpstream upstream(qint64 id, int weight = 1, bool enabled = true)
{
    CatalogUpstream u;
    u.id = id;
    u.name = QStringLiteral("up%1").arg(id);
    u.weight = weight;
    u.enabled = enabled;
    return u;
}

CatalogModel row(qint64 id, const QString &name, qint64 upstreamId, int weight = 1,
                 Capabilities caps = Capability::Chat | Capability::Responses, bool enabled = true)
{
    CatalogModel m;
    m.id = id;
    m.publicName = name;
    m.upstreamId = upstreamId;
    m.upstreamModel = QStringLiteral("%1@%2").arg(name).arg(upstreamId);
    m.capabilities = caps;
    m.weight = weight;
    m.enabled = enabled;
    return m;
}

// Upstream ids chosen by a plan, in order.
std::vector<qint64> order(const FailoverPlan &plan)
{
    std::vector<qint64> ids;
    for (const RouteAttempt &a : plan.attempts)
        ids.push_back(a.upstream->id);
    return ids;
}

} // namespace

class TestRouteSelector : public QObject
{
    Q_OBJECT

private slots:
    void errors_data();
    void errors();
    void distinctUpstreams_data();
    void distinctUpstreams();
    void weightZeroNeverChosen();
    void weightedOneToThree();
    void weightedWithoutReplacement();
    void upstreamWeightMultiplies();
    void badRandomSourceIsClamped();
    void randomSourceFromGenerator();
    void planKeepsCatalogAlive();
};

void TestRouteSelector::errors_data()
{
    QTest::addColumn<QString>("model");
    QTest::addColumn<int>("capability");
    QTest::addColumn<QList<qint64>>("ejected");
    QTest::addColumn<int>("status"); // 200 = a plan
    QTest::addColumn<QString>("code");

    const int chat = int(Capability::Chat);
    const int embeddings = int(Capability::Embeddings);
    QTest::newRow("ok") << "gpt" << chat << QList<qint64>() << 200 << QString();
    QTest::newRow("unknown model") << "nope" << chat << QList<qint64>() << 404 << "model_not_found";
    QTest::newRow("only disabled rows") << "disabled-row" << chat << QList<qint64>() << 404 << "model_not_found";
    QTest::newRow("only disabled upstream")
        << "disabled-upstream" << chat << QList<qint64>() << 404 << "model_not_found";
    QTest::newRow("wrong capability") << "gpt" << embeddings << QList<qint64>() << 400 << "model_not_supported";
    QTest::newRow("capability only on a disabled row")
        << "mixed" << embeddings << QList<qint64>() << 400 << "model_not_supported";
    QTest::newRow("one ejected, one left") << "gpt" << chat << QList<qint64>{1} << 200 << QString();
    QTest::newRow("all ejected") << "gpt" << chat << QList<qint64>{1, 2} << 503 << "no_healthy_upstream";
    QTest::newRow("only weight 0") << "zero" << chat << QList<qint64>() << 503 << "no_healthy_upstream";
}

void TestRouteSelector::errors()
{
    QFETCH(QString, model);
    QFETCH(int, capability);
    QFETCH(QList<qint64>, ejected);
    QFETCH(int, status);
    QFETCH(QString, code);

    const auto catalog =
        Catalog::make({upstream(1), upstream(2), upstream(3, 1, false)},
                      {row(1, "gpt", 1), row(2, "gpt", 2), row(3, "disabled-row", 1, 1, Capability::Chat, false),
                       row(4, "disabled-upstream", 3), row(5, "mixed", 1, 1, Capability::Chat),
                       row(6, "mixed", 2, 1, Capability::Embeddings, false), row(7, "zero", 1, 0)});
    HealthTracker health(HealthPolicy{1, 1'000, 1'000, 1'000});
    for (qint64 id : ejected)
        health.recordFailure(id, 0, {});
    QRandomGenerator rng(1);
    const auto plan = RouteSelector::plan(catalog, model, Capability(capability), health, randomSourceFrom(&rng), 3);
    if (status == 200) {
        QVERIFY(plan.ok());
        for (const RouteAttempt &a : plan->attempts)
            QVERIFY(!ejected.contains(a.upstream->id));
        QCOMPARE(plan->attempts.size(), size_t(2 - ejected.size()));
        return;
    }
    QVERIFY(!plan.ok());
    QCOMPARE(plan.error().httpStatus, status);
    QCOMPARE(plan.error().code, code);
    QVERIFY(plan.error().message.contains(model));
    QCOMPARE(plan.error().type,
             status == 503 ? QStringLiteral("server_error") : QStringLiteral("invalid_request_error"));
}

void TestRouteSelector::distinctUpstreams_data()
{
    QTest::addColumn<int>("maxAttempts");
    QTest::addColumn<int>("expected");
    QTest::newRow("1") << 1 << 1;
    QTest::newRow("3 (default)") << 3 << 3;
    QTest::newRow("more than upstreams") << 10 << 5;
    QTest::newRow("0 acts as 1") << 0 << 1;
}

void TestRouteSelector::distinctUpstreams()
{
    QFETCH(int, maxAttempts);
    QFETCH(int, expected);
    // Five upstreams; upstream 1 and 2 carry two rows each (e.g. two deployments of one model).
    const auto catalog = Catalog::make({upstream(1), upstream(2), upstream(3), upstream(4), upstream(5)},
                                       {row(1, "m", 1), row(2, "m", 1, 5), row(3, "m", 2), row(4, "m", 2),
                                        row(5, "m", 3), row(6, "m", 4), row(7, "m", 5)});
    const HealthTracker health;
    QRandomGenerator rng(7);
    const RandomSource random = randomSourceFrom(&rng);
    std::set<qint64> firstChoices;
    for (int i = 0; i < 2'000; ++i) {
        const auto plan = RouteSelector::plan(catalog, u"m", Capability::Chat, health, random, maxAttempts);
        QVERIFY(plan.ok());
        const std::vector<qint64> ids = order(*plan);
        QCOMPARE(int(ids.size()), expected);
        QCOMPARE(std::set<qint64>(ids.begin(), ids.end()).size(), ids.size());
        for (const RouteAttempt &a : plan->attempts)
            QCOMPARE(a.model->upstreamId, a.upstream->id);
        firstChoices.insert(ids.front());
    }
    QCOMPARE(firstChoices.size(), size_t(5)); // every upstream gets to go first sometimes
}

void TestRouteSelector::weightZeroNeverChosen()
{
    const auto catalog = Catalog::make({upstream(1), upstream(2), upstream(3, 0)},
                                       {row(1, "m", 1), row(2, "m", 2, 0), row(3, "m", 3, 100)});
    const HealthTracker health;
    QRandomGenerator rng(3);
    const RandomSource random = randomSourceFrom(&rng);
    for (int i = 0; i < 1'000; ++i) {
        const auto plan = RouteSelector::plan(catalog, u"m", Capability::Chat, health, random, 3);
        QVERIFY(plan.ok());
        QCOMPARE(order(*plan), std::vector<qint64>{1}); // not even as a fallback
    }
}

void TestRouteSelector::weightedOneToThree()
{
    const auto catalog = Catalog::make({upstream(1), upstream(2)}, {row(1, "m", 1, 1), row(2, "m", 2, 3)});
    const HealthTracker health;
    QRandomGenerator rng(20'240'601);
    const RandomSource random = randomSourceFrom(&rng);
    constexpr int kDraws = 20'000;
    int firstIsHeavy = 0;
    for (int i = 0; i < kDraws; ++i) {
        const auto plan = RouteSelector::plan(catalog, u"m", Capability::Chat, health, random, 3);
        QVERIFY(plan.ok());
        const std::vector<qint64> ids = order(*plan);
        QCOMPARE(ids.size(), size_t(2)); // the other one is always the fallback
        if (ids.front() == 2)
            ++firstIsHeavy;
    }
    // Expected 0.75; one standard deviation is 0.3 %, so ±1.5 % is five of them.
    const double share = double(firstIsHeavy) / kDraws;
    QVERIFY2(qAbs(share - 0.75) < 0.015, qPrintable(QString::number(share)));
}

void TestRouteSelector::weightedWithoutReplacement()
{
    // Weights 1:2:7. First position ∝ weight; second position of A is
    // P(B first)·1/8 + P(C first)·1/3 = 0.2·0.125 + 0.7·0.3333 = 0.2583.
    const auto catalog = Catalog::make({upstream(1), upstream(2), upstream(3)},
                                       {row(1, "m", 1, 1), row(2, "m", 2, 2), row(3, "m", 3, 7)});
    const HealthTracker health;
    QRandomGenerator rng(99);
    const RandomSource random = randomSourceFrom(&rng);
    constexpr int kDraws = 30'000;
    std::map<qint64, int> first;
    int aSecond = 0;
    for (int i = 0; i < kDraws; ++i) {
        const auto ids = order(*RouteSelector::plan(catalog, u"m", Capability::Chat, health, random, 2));
        QCOMPARE(ids.size(), size_t(2));
        ++first[ids[0]];
        if (ids[1] == 1)
            ++aSecond;
    }
    QVERIFY(qAbs(first[1] / double(kDraws) - 0.1) < 0.01);
    QVERIFY(qAbs(first[2] / double(kDraws) - 0.2) < 0.012);
    QVERIFY(qAbs(first[3] / double(kDraws) - 0.7) < 0.015);
    QVERIFY2(qAbs(aSecond / double(kDraws) - 0.2583) < 0.015, qPrintable(QString::number(aSecond / double(kDraws))));
}

void TestRouteSelector::upstreamWeightMultiplies()
{
    const auto catalog = Catalog::make({upstream(1, 3), upstream(2, 1)}, {row(1, "m", 1, 1), row(2, "m", 2, 1)});
    QCOMPARE(RouteSelector::effectiveWeight(catalog->rows(u"m")[0], *catalog->upstream(1)), quint64(3));
    CatalogModel heavy = row(9, "h", 1, std::numeric_limits<int>::max());
    CatalogUpstream heavyUp = upstream(1, std::numeric_limits<int>::max());
    QCOMPARE(RouteSelector::effectiveWeight(heavy, heavyUp), quint64(1) << 40); // capped
    const HealthTracker health;
    QRandomGenerator rng(5);
    const RandomSource random = randomSourceFrom(&rng);
    int first1 = 0;
    for (int i = 0; i < 8'000; ++i) {
        if (order(*RouteSelector::plan(catalog, u"m", Capability::Chat, health, random, 1)).front() == 1)
            ++first1;
    }
    QVERIFY2(qAbs(first1 / 8'000.0 - 0.75) < 0.02, qPrintable(QString::number(first1)));
}

void TestRouteSelector::badRandomSourceIsClamped()
{
    const auto catalog = Catalog::make({upstream(1), upstream(2)}, {row(1, "m", 1), row(2, "m", 2)});
    const HealthTracker health;
    const RandomSource broken = [](quint64 bound) { return bound + 100; };
    const auto plan = RouteSelector::plan(catalog, u"m", Capability::Chat, health, broken, 3);
    QVERIFY(plan.ok());
    QCOMPARE(order(*plan), (std::vector<qint64>{2, 1}));
    const RandomSource zero = [](quint64) { return quint64(0); };
    QCOMPARE(order(*RouteSelector::plan(catalog, u"m", Capability::Chat, health, zero, 3)),
             (std::vector<qint64>{1, 2}));
}

void TestRouteSelector::randomSourceFromGenerator()
{
    QRandomGenerator rng(11);
    const RandomSource random = randomSourceFrom(&rng);
    QCOMPARE(random(1), quint64(0));
    for (int i = 0; i < 1'000; ++i) {
        QVERIFY(random(3) < 3);
        QVERIFY(random(quint64(1) << 41) < (quint64(1) << 41));
    }
}

void TestRouteSelector::planKeepsCatalogAlive()
{
    auto catalog = Catalog::make({upstream(1)}, {row(1, "m", 1)});
    const HealthTracker health;
    const RandomSource zero = [](quint64) { return quint64(0); };
    auto plan = RouteSelector::plan(catalog, u"m", Capability::Chat, health, zero, 3);
    QVERIFY(plan.ok());
    const std::weak_ptr<const Catalog> weak = catalog;
    catalog.reset(); // the proxy swapped in a new snapshot mid-request
    QVERIFY(!weak.expired());
    QCOMPARE(plan->attempts[0].model->upstreamModel, QStringLiteral("m@1"));
    QCOMPARE(plan->attempts[0].upstream->name, QStringLiteral("up1"));
}

QTEST_APPLESS_MAIN(TestRouteSelector)
#include "TestRouteSelector.moc"
