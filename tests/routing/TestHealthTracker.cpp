// HealthTracker: ejection after N consecutive failures, growing cooldowns, probe-back, snapshots.
// Time is passed in, so every step is exact.

#include "routing/HealthTracker.h"

#include <QTest>

#include <thread>

using namespace llmpool;
using namespace llmpool::gateway;

namespace {
HealthPolicy policy(int threshold = 3, qint64 base = 1'000, qint64 max = 10'000)
{
    HealthPolicy p;
    p.failureThreshold = threshold;
    p.ejectBaseMs = base;
    p.ejectMaxMs = max;
    p.probeTimeoutMs = 2'000;
    return p;
}
} // namespace

class TestHealthTracker : public QObject
{
    Q_OBJECT

private slots:
    void cooldown_data();
    void cooldown();
    void fromConfig();
    void ejectsAfterThreshold_data();
    void ejectsAfterThreshold();
    void successResetsStreak();
    void probeBackAndGrowth();
    void probeLostIsDueAgain();
    void liveResultsWhileEjected();
    void probeResultIgnoredUnlessProbing();
    void snapshotAndRetain();
    void concurrentFailures();
};

void TestHealthTracker::cooldown_data()
{
    QTest::addColumn<qint64>("base");
    QTest::addColumn<qint64>("max");
    QTest::addColumn<int>("ejections");
    QTest::addColumn<qint64>("expected");

    QTest::newRow("first") << qint64(5'000) << qint64(300'000) << 1 << qint64(5'000);
    QTest::newRow("second") << qint64(5'000) << qint64(300'000) << 2 << qint64(10'000);
    QTest::newRow("third") << qint64(5'000) << qint64(300'000) << 3 << qint64(20'000);
    QTest::newRow("sixth") << qint64(5'000) << qint64(300'000) << 6 << qint64(160'000);
    QTest::newRow("capped") << qint64(5'000) << qint64(300'000) << 7 << qint64(300'000);
    QTest::newRow("huge count, no overflow") << qint64(5'000) << qint64(300'000) << 10'000 << qint64(300'000);
    QTest::newRow("max below base") << qint64(5'000) << qint64(1'000) << 3 << qint64(5'000);
}

void TestHealthTracker::cooldown()
{
    QFETCH(qint64, base);
    QFETCH(qint64, max);
    QFETCH(int, ejections);
    QFETCH(qint64, expected);
    HealthPolicy p;
    p.ejectBaseMs = base;
    p.ejectMaxMs = max;
    QCOMPARE(p.cooldownMs(ejections), expected);
}

void TestHealthTracker::fromConfig()
{
    UpstreamConfig config;
    config.ejectBaseMs = 1'234;
    config.ejectMaxMs = 56'789;
    const HealthPolicy p = HealthPolicy::fromConfig(config);
    QCOMPARE(p.ejectBaseMs, qint64(1'234));
    QCOMPARE(p.ejectMaxMs, qint64(56'789));
    QCOMPARE(p.failureThreshold, 3);
    QVERIFY(p.probeTimeoutMs >= 5'000);
}

void TestHealthTracker::ejectsAfterThreshold_data()
{
    QTest::addColumn<int>("threshold");
    QTest::newRow("1") << 1;
    QTest::newRow("3 (default)") << 3;
    QTest::newRow("5") << 5;
    QTest::newRow("0 acts as 1") << 0;
}

void TestHealthTracker::ejectsAfterThreshold()
{
    QFETCH(int, threshold);
    HealthTracker t(policy(threshold));
    const int needed = std::max(threshold, 1);
    for (int i = 1; i < needed; ++i) {
        QVERIFY(!t.recordFailure(1, 100 * i, QStringLiteral("http 503")));
        QVERIFY(t.isAvailable(1));
        QCOMPARE(t.health(1).consecutiveFailures, i);
    }
    QVERIFY(t.recordFailure(1, 1'000, QStringLiteral("connect_failed")));
    QVERIFY(!t.isAvailable(1));
    QVERIFY(t.isAvailable(2)); // others unaffected, unknown ones healthy
    const UpstreamHealth h = t.health(1);
    QCOMPARE(h.state, HealthState::Ejected);
    QCOMPARE(h.ejections, 1);
    QCOMPARE(h.ejectedUntilMs, qint64(2'000));
    QCOMPARE(h.lastError, QStringLiteral("connect_failed"));
    QCOMPARE(h.lastFailureMs, qint64(1'000));
}

void TestHealthTracker::successResetsStreak()
{
    HealthTracker t(policy(3));
    t.recordFailure(1, 1, {});
    t.recordFailure(1, 2, {});
    t.recordSuccess(1, 3);
    QCOMPARE(t.health(1).consecutiveFailures, 0);
    QCOMPARE(t.health(1).lastSuccessMs, qint64(3));
    t.recordFailure(1, 4, {});
    t.recordFailure(1, 5, {});
    QVERIFY(t.isAvailable(1)); // 2 in a row again, not 4
}

void TestHealthTracker::probeBackAndGrowth()
{
    HealthTracker t(policy(1, 1'000, 5'000));
    QVERIFY(t.recordFailure(7, 0, QStringLiteral("http 500")));
    QVERIFY(t.takeDueProbes(999).empty()); // cooling down
    // Cooldown over: still no live traffic, a probe is due once.
    QVERIFY(!t.isAvailable(7));
    QCOMPARE(t.takeDueProbes(1'000), std::vector<qint64>{7});
    QCOMPARE(t.health(7).state, HealthState::Probing);
    QVERIFY(t.takeDueProbes(1'001).empty()); // already being probed
    QVERIFY(!t.isAvailable(7));

    // Failed probes: ejected again for 2 s, then 4 s, then the 5 s cap.
    const qint64 expectedCooldowns[] = {2'000, 4'000, 5'000, 5'000};
    qint64 now = 1'000;
    int ejections = 1;
    for (qint64 cooldown : expectedCooldowns) {
        t.recordProbeResult(7, now, false, QStringLiteral("connect_failed"));
        ++ejections;
        const UpstreamHealth h = t.health(7);
        QCOMPARE(h.state, HealthState::Ejected);
        QCOMPARE(h.ejections, ejections);
        QCOMPARE(h.ejectedUntilMs, now + cooldown);
        QVERIFY(t.takeDueProbes(now + cooldown - 1).empty());
        now += cooldown;
        QCOMPARE(t.takeDueProbes(now), std::vector<qint64>{7});
    }

    // A probe success brings it back with clean streaks; the next ejection starts at the base again.
    t.recordProbeResult(7, now, true);
    QVERIFY(t.isAvailable(7));
    UpstreamHealth h = t.health(7);
    QCOMPARE(h.state, HealthState::Healthy);
    QCOMPARE(h.ejections, 0);
    QCOMPARE(h.consecutiveFailures, 0);
    QCOMPARE(h.ejectedUntilMs, qint64(0));
    QVERIFY(t.recordFailure(7, now + 10, {}));
    QCOMPARE(t.health(7).ejectedUntilMs, now + 10 + 1'000);
}

void TestHealthTracker::probeLostIsDueAgain()
{
    HealthTracker t(policy(1, 1'000, 5'000));
    t.recordFailure(3, 0, {});
    QCOMPARE(t.takeDueProbes(1'000), std::vector<qint64>{3});
    QCOMPARE(t.health(3).probeDeadlineMs, qint64(3'000));
    QVERIFY(t.takeDueProbes(2'999).empty());
    QCOMPARE(t.takeDueProbes(3'000), std::vector<qint64>{3}); // the first probe never reported
    t.recordProbeResult(3, 3'100, true);
    QVERIFY(t.isAvailable(3));
}

void TestHealthTracker::liveResultsWhileEjected()
{
    HealthTracker t(policy(2, 1'000, 5'000));
    t.recordFailure(1, 0, {});
    t.recordFailure(1, 1, {});
    QVERIFY(!t.isAvailable(1));
    // Requests that started before the ejection end now: neither ends nor extends the ejection.
    QVERIFY(!t.recordFailure(1, 10, QStringLiteral("late failure")));
    t.recordSuccess(1, 20);
    const UpstreamHealth h = t.health(1);
    QCOMPARE(h.state, HealthState::Ejected);
    QCOMPARE(h.ejections, 1);
    QCOMPARE(h.ejectedUntilMs, qint64(1'001));
    QCOMPARE(h.lastError, QStringLiteral("late failure"));
    QCOMPARE(h.consecutiveFailures, 0);
    QVERIFY(!t.isAvailable(1));
}

void TestHealthTracker::probeResultIgnoredUnlessProbing()
{
    HealthTracker t(policy(1));
    t.recordProbeResult(1, 0, false); // never seen: nothing happens
    QVERIFY(t.isAvailable(1));
    t.recordFailure(1, 0, {});
    t.recordProbeResult(1, 10, true); // ejected, but no probe was taken: ignored
    QVERIFY(!t.isAvailable(1));
}

void TestHealthTracker::snapshotAndRetain()
{
    HealthTracker t(policy(1));
    t.recordSuccess(5, 1);
    t.recordFailure(2, 2, QStringLiteral("http 429"));
    t.recordSuccess(9, 3);
    auto all = t.snapshot();
    QCOMPARE(all.size(), size_t(3));
    QCOMPARE(all[0].upstreamId, 2);
    QCOMPARE(healthStateName(all[0].state), QStringLiteral("ejected"));
    QCOMPARE(all[1].upstreamId, 5);
    QCOMPARE(healthStateName(all[1].state), QStringLiteral("healthy"));
    QCOMPARE(healthStateName(HealthState::Probing), QStringLiteral("probing"));

    t.retainOnly({5, 9});
    all = t.snapshot();
    QCOMPARE(all.size(), size_t(2));
    QVERIFY(t.isAvailable(2)); // forgotten = healthy
    QVERIFY(t.takeDueProbes(1'000'000).empty());
}

void TestHealthTracker::concurrentFailures()
{
    // Two threads report failures of the same upstreams at once: the counts add up exactly and the
    // lock-free fast path of isAvailable() sees the ejections.
    HealthTracker t(policy(1'000'000));
    auto work = [&t] {
        for (int i = 0; i < 20'000; ++i) {
            t.recordFailure(i % 4, i, {});
            (void)t.isAvailable(i % 4);
        }
    };
    std::thread a(work);
    std::thread b(work);
    a.join();
    b.join();
    for (qint64 id = 0; id < 4; ++id)
        QCOMPARE(t.health(id).consecutiveFailures, 10'000);
    HealthPolicy p = policy(1);
    t.setPolicy(p);
    t.recordFailure(0, 1, {}); // over the new threshold
    QVERIFY(!t.isAvailable(0));
    QVERIFY(t.isAvailable(1)); // the threshold applies from the next failure on
}

QTEST_APPLESS_MAIN(TestHealthTracker)
#include "TestHealthTracker.moc"
