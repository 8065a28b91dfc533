// Failover and health decisions for one upstream attempt (SPEC §3).

#include "routing/AttemptOutcome.h"

#include <QTest>

using namespace llmpool;
using namespace llmpool::gateway;

using Kind = AttemptOutcome::Kind;
Q_DECLARE_METATYPE(AttemptOutcome)

class TestAttemptOutcome : public QObject
{
    Q_OBJECT

private slots:
    void decisions_data();
    void decisions();
    void neverAfterBytesOrBeyondPlan();
    void exhausted_data();
    void exhausted();
};

void TestAttemptOutcome::decisions_data()
{
    QTest::addColumn<AttemptOutcome>("outcome");
    QTest::addColumn<bool>("retryable");
    QTest::addColumn<int>("verdict");
    QTest::addColumn<bool>("probeOk");
    QTest::addColumn<QString>("label");

    const int ok = int(HealthVerdict::Success);
    const int bad = int(HealthVerdict::Failure);
    const int neutral = int(HealthVerdict::Neutral);
    QTest::newRow("200") << AttemptOutcome::response(200) << false << ok << true << "http 200";
    QTest::newRow("400") << AttemptOutcome::response(400) << false << ok << true << "http 400";
    QTest::newRow("401") << AttemptOutcome::response(401) << false << ok << true << "http 401";
    QTest::newRow("404") << AttemptOutcome::response(404) << false << ok << true << "http 404";
    QTest::newRow("429") << AttemptOutcome::response(429) << true << bad << false << "http 429";
    QTest::newRow("500") << AttemptOutcome::response(500) << true << bad << false << "http 500";
    QTest::newRow("502") << AttemptOutcome::response(502) << true << bad << false << "http 502";
    QTest::newRow("503") << AttemptOutcome::response(503) << true << bad << false << "http 503";
    QTest::newRow("599") << AttemptOutcome::response(599) << true << bad << false << "http 599";
    QTest::newRow("connect") << AttemptOutcome::of(Kind::ConnectFailed) << true << bad << false << "connect_failed";
    QTest::newRow("timeout before first byte")
        << AttemptOutcome::of(Kind::TimeoutBeforeFirstByte) << true << bad << false << "timeout_before_first_byte";
    QTest::newRow("timeout after first byte")
        << AttemptOutcome::of(Kind::TimeoutAfterFirstByte) << false << bad << false << "timeout_after_first_byte";
    QTest::newRow("broken") << AttemptOutcome::of(Kind::BrokenResponse) << false << bad << false << "broken_response";
    QTest::newRow("client gone") << AttemptOutcome::of(Kind::ClientGone) << false << neutral << false << "client_gone";
}

void TestAttemptOutcome::decisions()
{
    QFETCH(AttemptOutcome, outcome);
    QFETCH(bool, retryable);
    QFETCH(int, verdict);
    QFETCH(bool, probeOk);
    QFETCH(QString, label);
    QCOMPARE(isRetryable(outcome), retryable);
    QCOMPARE(shouldTryNext(outcome, false, 1, 3), retryable);
    QCOMPARE(int(healthVerdict(outcome)), verdict);
    QCOMPARE(probeSucceeded(outcome), probeOk);
    QCOMPARE(outcomeLabel(outcome), label);
}

void TestAttemptOutcome::neverAfterBytesOrBeyondPlan()
{
    const AttemptOutcome e503 = AttemptOutcome::response(503);
    QVERIFY(shouldTryNext(e503, false, 2, 3));
    QVERIFY(!shouldTryNext(e503, true, 1, 3));  // the client already has bytes: never
    QVERIFY(!shouldTryNext(e503, false, 3, 3)); // plan exhausted
    QVERIFY(!shouldTryNext(AttemptOutcome::of(Kind::ConnectFailed), true, 1, 3));
}

void TestAttemptOutcome::exhausted_data()
{
    QTest::addColumn<AttemptOutcome>("last");
    QTest::addColumn<int>("attempts");
    QTest::addColumn<int>("status");
    QTest::addColumn<QString>("code");
    QTest::addColumn<QString>("message");

    QTest::newRow("503 x3") << AttemptOutcome::response(503) << 3 << 502 << "upstream_error"
                            << "Tried 3 upstreams; the last answered with HTTP 503.";
    QTest::newRow("429 x1") << AttemptOutcome::response(429) << 1 << 502 << "upstream_error"
                            << "The upstream answered with HTTP 429.";
    QTest::newRow("connect") << AttemptOutcome::of(Kind::ConnectFailed) << 2 << 502 << "upstream_error"
                             << "Tried 2 upstreams; the last failed (connect_failed).";
    QTest::newRow("timeout") << AttemptOutcome::of(Kind::TimeoutBeforeFirstByte) << 1 << 504 << "upstream_timeout"
                             << "The upstream timed out.";
}

void TestAttemptOutcome::exhausted()
{
    QFETCH(AttemptOutcome, last);
    QFETCH(int, attempts);
    QFETCH(int, status);
    QFETCH(QString, code);
    QFETCH(QString, message);
    const Error e = exhaustedError(last, attempts);
    QCOMPARE(e.httpStatus, status);
    QCOMPARE(e.code, code);
    QCOMPARE(e.type, QStringLiteral("upstream_error"));
    QCOMPARE(e.message, message);
}

QTEST_APPLESS_MAIN(TestAttemptOutcome)
#include "TestAttemptOutcome.moc"
