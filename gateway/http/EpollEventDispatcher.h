#pragma once

// EpollEventDispatcher: a Qt event dispatcher on Linux epoll, for the HTTP worker threads.
//
// Qt's own UNIX dispatcher builds a pollfd array of every registered socket and calls ppoll on all
// of them on each pass of the loop: with a thousand open streams that is a thousand sockets polled
// for every few that are ready (bench/proxy: do_sys_poll was 28% of the worker thread's time with
// 1,000 SSE streams). epoll keeps the interest set in the kernel and returns only what is ready.
//
// Same contract as QEventDispatcherUNIX: level-triggered socket notifiers (read on
// EPOLLIN/HUP/ERR, write on EPOLLOUT/ERR, exception on EPOLLPRI), posted events delivered at the
// start of each pass, timers with QTimer's semantics (a periodic timer that fell behind is
// rescheduled from now; each timer fires at most once per pass, so 0 ms timers cannot starve
// sockets), aboutToBlock/awake, wakeUp from any thread (an eventfd), interrupt.
// File descriptors epoll cannot watch (regular files) are reported ready on every pass, as poll
// would. Everything but wakeUp and interrupt runs on the dispatcher's own thread. A wakeUp from
// the loop's own thread while it dispatches what epoll returned (Qt calls it for every posted
// event: a deleteLater, a queued call) writes nothing: the next pass starts by sending posted
// events, before it could block.

#include <QAbstractEventDispatcher>
#include <QElapsedTimer>
#include <QHash>
#include <QPointer>

#include <atomic>
#include <cstdint>
#include <map>

class QSocketNotifier;
struct epoll_event;

namespace llmpool::gateway {

class EpollEventDispatcher : public QAbstractEventDispatcher
{
    Q_OBJECT
public:
    explicit EpollEventDispatcher(QObject *parent = nullptr);
    ~EpollEventDispatcher() override;

    // False when epoll could not be set up (the caller keeps Qt's dispatcher).
    bool isValid() const { return m_epoll >= 0 && m_wake >= 0; }

    bool processEvents(QEventLoop::ProcessEventsFlags flags) override;

    void registerSocketNotifier(QSocketNotifier *notifier) override;
    void unregisterSocketNotifier(QSocketNotifier *notifier) override;

    void registerTimer(int timerId, qint64 interval, Qt::TimerType timerType, QObject *object) override;
    bool unregisterTimer(int timerId) override;
    bool unregisterTimers(QObject *object) override;
    QList<TimerInfo> registeredTimers(QObject *object) const override;
    int remainingTime(int timerId) override;

    void wakeUp() override;
    void interrupt() override;

private:
    struct Watched
    {
        QSocketNotifier *read = nullptr;
        QSocketNotifier *write = nullptr;
        QSocketNotifier *exception = nullptr;
        bool inEpoll = false;
        bool alwaysReady = false; // epoll refused the fd (a regular file): reported ready every pass
        bool idle = false;        // no notifier left, still in epoll until it reports or returns
        uint32_t armed = 0;       // the events epoll watches for it
    };
    struct Timer
    {
        qint64 intervalMs;
        Qt::TimerType type;
        QObject *object;
        qint64 dueNs;
    };

    void updateInterest(int fd, Watched &w);
    int activateSockets(const ::epoll_event *events, int count);
    int activateTimers();
    int waitTimeoutMs(qint64 nowNs) const;
    void drainWake();
    qint64 nowNs() const { return m_clock.nsecsElapsed(); }

    int m_epoll = -1;
    int m_wake = -1; // eventfd
    void signalWake();

    std::atomic<bool> m_wakePending{false};
    std::atomic<bool> m_interrupt{false};
    std::atomic<Qt::HANDLE> m_owner{nullptr}; // the thread that runs the loop
    bool m_dispatching = false; // owner only: between epoll_wait's return and the end of the pass
    QHash<int, Watched> m_watched;
    int m_alwaysReady = 0; // entries of m_watched epoll refused
    QElapsedTimer m_clock;
    QHash<int, Timer> m_timers;
    std::multimap<qint64, int> m_due; // due time (ns) -> timer id
};

} // namespace llmpool::gateway
