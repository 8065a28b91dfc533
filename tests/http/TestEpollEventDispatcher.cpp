// EpollEventDispatcher keeps QEventDispatcherUNIX's contract: socket notifiers (level-triggered,
// HUP reported as readable), timers (single-shot, periodic, 0 ms without starving sockets, killed
// from a handler), posted events and wake-ups from other threads and from the loop's own handlers,
// notifiers deleted by an earlier handler of the same pass, and fds epoll cannot watch. Each case
// runs on a thread of its own with the dispatcher installed, and reports its first failure as text.

#include "http/EpollEventDispatcher.h"

#include <QElapsedTimer>
#include <QEventLoop>
#include <QSocketNotifier>
#include <QTemporaryFile>
#include <QTest>
#include <QThread>
#include <QTimer>

#include <atomic>
#include <functional>
#include <memory>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace llmpool::gateway;

namespace {

// Runs `body` on a new thread whose event dispatcher is an EpollEventDispatcher; "" = passed.
QString onEpollThread(const std::function<QString()> &body)
{
    QString failure = QStringLiteral("did not run");
    std::unique_ptr<QThread> thread(QThread::create([&] {
        if (!qobject_cast<EpollEventDispatcher *>(QThread::currentThread()->eventDispatcher()))
            failure = QStringLiteral("the thread's dispatcher is not the epoll one");
        else
            failure = body();
    }));
    auto *dispatcher = new EpollEventDispatcher;
    if (!dispatcher->isValid())
        return QStringLiteral("epoll unavailable");
    thread->setEventDispatcher(dispatcher);
    thread->start();
    if (!thread->wait(30'000))
        return QStringLiteral("the test thread hung");
    return failure;
}

#define EXPECT(cond)                                                                                              \
    do {                                                                                                          \
        if (!(cond))                                                                                              \
            return QStringLiteral("line %1: %2").arg(__LINE__).arg(QLatin1String(#cond));                         \
    } while (false)

void drain(int fd)
{
    char buf[64];
    while (::read(fd, buf, sizeof buf) > 0) {
    }
}

struct Pair
{
    int fds[2] = {-1, -1};
    Pair() { ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds); }
    ~Pair()
    {
        for (int fd : fds)
            if (fd >= 0)
                ::close(fd);
    }
    void closeOne(int i)
    {
        ::close(fds[i]);
        fds[i] = -1;
    }
};

} // namespace

class TestEpollEventDispatcher : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void socketNotifiers()
    {
        QCOMPARE(onEpollThread([]() -> QString {
                     Pair p;
                     EXPECT(p.fds[0] >= 0);
                     int reads = 0;
                     QSocketNotifier readable(p.fds[0], QSocketNotifier::Read);
                     QObject::connect(&readable, &QSocketNotifier::activated, [&] {
                         drain(p.fds[0]);
                         ++reads;
                     });
                     QTest::qWait(20);
                     EXPECT(reads == 0); // nothing to read: no activation
                     EXPECT(::write(p.fds[1], "x", 1) == 1);
                     EXPECT(QTest::qWaitFor([&] { return reads == 1; }, 5000));

                     // Level-triggered: a notifier that does not read is activated again.
                     int unread = 0;
                     readable.setEnabled(false);
                     QSocketNotifier lazy(p.fds[0], QSocketNotifier::Read);
                     QObject::connect(&lazy, &QSocketNotifier::activated, [&] { ++unread; });
                     EXPECT(::write(p.fds[1], "y", 1) == 1);
                     EXPECT(QTest::qWaitFor([&] { return unread >= 3; }, 5000));
                     lazy.setEnabled(false);
                     const int stopped = unread;
                     QTest::qWait(20);
                     EXPECT(unread == stopped); // disabled: no more

                     // Writable at once; read and write notifiers on one fd both work.
                     int writable = 0;
                     QSocketNotifier out(p.fds[0], QSocketNotifier::Write);
                     QObject::connect(&out, &QSocketNotifier::activated, [&] {
                         ++writable;
                         out.setEnabled(false);
                     });
                     readable.setEnabled(true);
                     EXPECT(QTest::qWaitFor([&] { return writable == 1 && reads == 2; }, 5000));

                     // The peer hangs up: reported as readable.
                     p.closeOne(1);
                     EXPECT(QTest::qWaitFor([&] { return reads >= 3; }, 5000));
                     return {};
                 }),
                 QString());
    }

    void notifiersComeAndGoOnOneFd()
    {
        QCOMPARE(onEpollThread([]() -> QString {
                     // As curl does around every transfer on a kept-alive connection: the notifier
                     // goes away and comes back (the fd idles in epoll meanwhile).
                     auto p = std::make_unique<Pair>();
                     int reads = 0;
                     auto watch = [&](int fd) {
                         auto n = std::make_unique<QSocketNotifier>(fd, QSocketNotifier::Read);
                         QObject::connect(n.get(), &QSocketNotifier::activated, [&reads, fd] {
                             drain(fd);
                             ++reads;
                         });
                         return n;
                     };
                     for (int round = 1; round <= 3; ++round) {
                         auto n = watch(p->fds[0]);
                         EXPECT(::write(p->fds[1], "r", 1) == 1);
                         EXPECT(QTest::qWaitFor([&] { return reads == round; }, 5000));
                     }
                     // Data arrives for an idle fd: nobody is told, and the loop does not spin on it.
                     EXPECT(::write(p->fds[1], "s", 1) == 1);
                     int passes = 0;
                     auto *dispatcher = QThread::currentThread()->eventDispatcher();
                     auto counting = QObject::connect(dispatcher, &QAbstractEventDispatcher::awake, [&] { ++passes; });
                     QTest::qWait(50);
                     QObject::disconnect(counting);
                     EXPECT(reads == 3);
                     EXPECT(passes < 20);
                     // Closed while idle, its number reused by a new socket: watched afresh.
                     const int number = p->fds[0];
                     p.reset();
                     auto q = std::make_unique<Pair>();
                     EXPECT(q->fds[0] == number || q->fds[1] == number);
                     const int reader = q->fds[0] == number ? 0 : 1;
                     auto n = watch(q->fds[reader]);
                     EXPECT(::write(q->fds[1 - reader], "t", 1) == 1);
                     EXPECT(QTest::qWaitFor([&] { return reads == 4; }, 5000));
                     return {};
                 }),
                 QString());
    }

    void timers()
    {
        QCOMPARE(onEpollThread([]() -> QString {
                     QElapsedTimer clock;
                     clock.start();
                     qint64 firedAt = -1;
                     int singles = 0;
                     QTimer::singleShot(30, [&] {
                         ++singles;
                         firedAt = clock.elapsed();
                     });
                     QTimer periodic;
                     int ticks = 0;
                     QObject::connect(&periodic, &QTimer::timeout, [&] {
                         if (++ticks == 5)
                             periodic.stop(); // killed from its own handler
                     });
                     periodic.start(5);
                     EXPECT(periodic.remainingTime() >= 0 && periodic.remainingTime() <= 5);
                     EXPECT(QTest::qWaitFor([&] { return singles == 1 && ticks == 5; }, 5000));
                     EXPECT(firedAt >= 30);
                     QTest::qWait(40);
                     EXPECT(singles == 1 && ticks == 5 && !periodic.isActive());

                     // A 0 ms timer runs every pass, and sockets still get their turn.
                     Pair p;
                     int zeroTicks = 0;
                     QTimer zero;
                     QObject::connect(&zero, &QTimer::timeout, [&] { ++zeroTicks; });
                     zero.start(0);
                     int reads = 0;
                     QSocketNotifier readable(p.fds[0], QSocketNotifier::Read);
                     QObject::connect(&readable, &QSocketNotifier::activated, [&] {
                         drain(p.fds[0]);
                         ++reads;
                     });
                     EXPECT(::write(p.fds[1], "z", 1) == 1);
                     EXPECT(QTest::qWaitFor([&] { return reads == 1 && zeroTicks > 10; }, 5000));
                     zero.stop();
                     return {};
                 }),
                 QString());
    }

    void postedEventsAndWakeUpsFromOtherThreads()
    {
        std::atomic<QObject *> target{nullptr};
        std::atomic<int> ran{0};
        std::atomic<bool> done{false};
        std::unique_ptr<QThread> poster(QThread::create([&] {
            while (!target.load())
                QThread::msleep(1);
            // The dispatcher thread is blocked in epoll_wait (no timers, no sockets ready): each
            // post must wake it.
            for (int i = 0; i < 100; ++i) {
                QMetaObject::invokeMethod(target.load(), [&] { ran.fetch_add(1); }, Qt::QueuedConnection);
                QThread::usleep(200);
            }
        }));
        poster->start();
        QCOMPARE(onEpollThread([&]() -> QString {
                     QObject receiver;
                     target.store(&receiver);
                     QEventLoop loop;
                     QTimer check;
                     QObject::connect(&check, &QTimer::timeout, [&] {
                         if (ran.load() == 100)
                             loop.quit();
                     });
                     check.start(1);
                     QTimer::singleShot(10'000, &loop, [&] { loop.exit(1); });
                     const int code = loop.exec();
                     target.store(nullptr);
                     done = true;
                     EXPECT(code == 0);
                     EXPECT(ran.load() == 100);
                     return {};
                 }),
                 QString());
        QVERIFY(poster->wait(5000));
        QVERIFY(done);
    }

    void postsFromTheLoopsOwnHandlers()
    {
        // A socket handler and a timer handler post to their own thread (a queued call, a
        // deleteLater; the wake-up writes nothing then), and so does a posted event while posted
        // events are being sent, and an aboutToBlock slot: every one is delivered without
        // anything else waking the loop, which otherwise blocks until the 10 s guard.
        QCOMPARE(onEpollThread([]() -> QString {
                     int fds[2];
                     EXPECT(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds) == 0);
                     QEventLoop loop;
                     QObject receiver;
                     int step = 0;
                     bool deleted = false;
                     QSocketNotifier readable(fds[0], QSocketNotifier::Read);
                     QObject::connect(&readable, &QSocketNotifier::activated, [&] {
                         drain(fds[0]);
                         readable.setEnabled(false);
                         auto *doomed = new QObject;
                         QObject::connect(doomed, &QObject::destroyed, [&] { deleted = true; });
                         doomed->deleteLater();
                         QMetaObject::invokeMethod(&receiver, [&] {
                             step = 1;
                             // Posted while posted events are being sent.
                             QMetaObject::invokeMethod(&receiver, [&] {
                                 step = 2;
                                 QTimer::singleShot(0, &receiver, [&] {
                                     // A timer handler's post.
                                     QMetaObject::invokeMethod(&receiver, [&] { step = 3; }, Qt::QueuedConnection);
                                 });
                             }, Qt::QueuedConnection);
                         }, Qt::QueuedConnection);
                     });
                     bool posted = false;
                     auto *dispatcher = QThread::currentThread()->eventDispatcher();
                     QObject::connect(dispatcher, &QAbstractEventDispatcher::aboutToBlock, &receiver, [&] {
                         if (step == 3 && !posted) {
                             posted = true;
                             QMetaObject::invokeMethod(&receiver, [&] { loop.quit(); }, Qt::QueuedConnection);
                         }
                     });
                     QTimer::singleShot(10'000, &loop, [&] { loop.exit(1); });
                     EXPECT(::write(fds[1], "x", 1) == 1);
                     const int code = loop.exec();
                     ::close(fds[0]);
                     ::close(fds[1]);
                     EXPECT(code == 0);
                     EXPECT(step == 3);
                     EXPECT(deleted);
                     return {};
                 }),
                 QString());
    }

    void quitFromAnotherThread()
    {
        // How HttpServer stops its workers: QThread::quit() from the main thread interrupts the
        // worker's loop, blocked in epoll_wait with nothing to do.
        std::atomic<bool> running{false};
        QThread thread;
        thread.setEventDispatcher(new EpollEventDispatcher);
        QObject::connect(&thread, &QThread::started, [&] { running = true; });
        thread.start();
        QVERIFY(QTest::qWaitFor([&] { return running.load(); }, 5000));
        QTest::qWait(20);
        thread.quit();
        QVERIFY(thread.wait(5000));
    }

    void notifierDeletedByAnEarlierHandler()
    {
        QCOMPARE(onEpollThread([]() -> QString {
                     Pair a;
                     Pair b;
                     auto na = std::make_unique<QSocketNotifier>(a.fds[0], QSocketNotifier::Read);
                     auto nb = std::make_unique<QSocketNotifier>(b.fds[0], QSocketNotifier::Read);
                     int fired = 0;
                     // Whichever runs first deletes the other: it must then never run.
                     QObject::connect(na.get(), &QSocketNotifier::activated, [&] {
                         ++fired;
                         nb.reset();
                         na->setEnabled(false);
                     });
                     QObject::connect(nb.get(), &QSocketNotifier::activated, [&] {
                         ++fired;
                         na.reset();
                         nb->setEnabled(false);
                     });
                     // Both ready before the loop looks: one epoll_wait returns both.
                     EXPECT(::write(a.fds[1], "a", 1) == 1);
                     EXPECT(::write(b.fds[1], "b", 1) == 1);
                     QTest::qWait(50);
                     EXPECT(fired == 1);
                     return {};
                 }),
                 QString());
    }

    void regularFilesAreAlwaysReady()
    {
        QCOMPARE(onEpollThread([]() -> QString {
                     QTemporaryFile file;
                     EXPECT(file.open());
                     EXPECT(file.write("data") == 4);
                     EXPECT(file.flush());
                     const int fd = ::open(file.fileName().toLocal8Bit().constData(), O_RDONLY | O_CLOEXEC);
                     EXPECT(fd >= 0);
                     int reads = 0;
                     {
                         QSocketNotifier readable(fd, QSocketNotifier::Read); // epoll refuses it (EPERM)
                         QObject::connect(&readable, &QSocketNotifier::activated, [&] {
                             if (++reads == 3)
                                 readable.setEnabled(false);
                         });
                         const bool ok = QTest::qWaitFor([&] { return reads == 3; }, 5000);
                         ::close(fd);
                         EXPECT(ok);
                     }
                     // With nothing always-ready left, the loop blocks again: a timer still fires on time.
                     QElapsedTimer clock;
                     clock.start();
                     bool fired = false;
                     QTimer::singleShot(20, [&] { fired = true; });
                     EXPECT(QTest::qWaitFor([&] { return fired; }, 5000));
                     EXPECT(clock.elapsed() >= 20);
                     return {};
                 }),
                 QString());
    }
};

QTEST_GUILESS_MAIN(TestEpollEventDispatcher)
#include "TestEpollEventDispatcher.moc"
