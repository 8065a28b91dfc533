// DeadlineQueue: fixed-length deadlines in one FIFO with one timer. Runs what expires, in order,
// never what was cancelled or whose context is gone, and holds nothing once all are answered.

#include "billing/DeadlineQueue.h"

#include <QElapsedTimer>
#include <QTest>

#include <memory>

using namespace llmpool::gateway::billing;

class TestDeadlineQueue : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void expiresInOrderAfterItsLength()
    {
        DeadlineQueue queue(50);
        QList<int> fired;
        QElapsedTimer clock;
        clock.start();
        qint64 firstAt = -1;
        queue.arm(nullptr, [&] {
            fired << 1;
            firstAt = clock.elapsed();
        });
        queue.arm(nullptr, [&] { fired << 2; });
        QTRY_COMPARE_WITH_TIMEOUT(fired.size(), 2, 5000);
        QCOMPARE(fired, (QList<int>{1, 2}));
        QVERIFY2(firstAt >= 45, qPrintable(QString::number(firstAt))); // coarse timers: 5% early at most
        QCOMPARE(queue.held(), std::size_t(0));
    }

    void cancelledNeverRuns()
    {
        DeadlineQueue queue(30);
        int fired = 0;
        const auto a = queue.arm(nullptr, [&] { fired += 1; });
        const auto b = queue.arm(nullptr, [&] { fired += 10; });
        const auto c = queue.arm(nullptr, [&] { fired += 100; });
        QVERIFY(a != 0 && a < b && b < c);
        queue.cancel(b); // in the middle: cleared in place
        QCOMPARE(queue.held(), std::size_t(3));
        queue.cancel(a); // the front: a and the cleared b are dropped
        QCOMPARE(queue.held(), std::size_t(1));
        queue.cancel(a); // twice: nothing
        queue.cancel(999); // unknown: nothing
        QTRY_COMPARE_WITH_TIMEOUT(fired, 100, 5000);
        queue.cancel(c); // already expired: nothing
        QCOMPARE(queue.held(), std::size_t(0));
        // All answered in time: nothing runs, nothing is held.
        for (int i = 0; i < 1000; ++i) {
            queue.cancel(queue.arm(nullptr, [&] { fired = -1; }));
        }
        QCOMPARE(queue.held(), std::size_t(0));
        const auto last = queue.arm(nullptr, [&] { fired = 7; });
        QTRY_COMPARE_WITH_TIMEOUT(fired, 7, 5000);
        QVERIFY(last > c);
    }

    void contextGoneMeansNoCall()
    {
        DeadlineQueue queue(20);
        int fired = 0;
        auto context = std::make_unique<QObject>();
        queue.arm(context.get(), [&] { fired += 1; });
        QObject alive;
        queue.arm(&alive, [&] { fired += 10; });
        context.reset();
        QTRY_COMPARE_WITH_TIMEOUT(fired, 10, 5000);
    }

    void callbacksMayArmAndCancel()
    {
        DeadlineQueue queue(20);
        QList<int> fired;
        DeadlineQueue::Id second = 0;
        queue.arm(nullptr, [&] {
            fired << 1;
            queue.cancel(second);                          // one armed earlier, due now too
            queue.arm(nullptr, [&] { fired << 3; });       // a new one from inside a callback
        });
        second = queue.arm(nullptr, [&] { fired << 2; });
        QTRY_COMPARE_WITH_TIMEOUT(fired.size(), 2, 5000);
        QCOMPARE(fired, (QList<int>{1, 3}));
        QCOMPARE(queue.held(), std::size_t(0));
    }

    void onePerThread()
    {
        DeadlineQueue &a = DeadlineQueue::forThread(2000);
        QCOMPARE(&DeadlineQueue::forThread(2000), &a);
        QVERIFY(&DeadlineQueue::forThread(1000) != &a);
        QCOMPARE(a.lengthMs(), 2000);
        DeadlineQueue *other = nullptr;
        std::unique_ptr<QThread> thread(QThread::create([&] { other = &DeadlineQueue::forThread(2000); }));
        thread->start();
        QVERIFY(thread->wait(5000));
        QVERIFY(other != nullptr && other != &a);
    }
};

QTEST_GUILESS_MAIN(TestDeadlineQueue)
#include "TestDeadlineQueue.moc"
