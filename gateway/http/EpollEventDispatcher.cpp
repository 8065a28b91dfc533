#include "http/EpollEventDispatcher.h"

#include <QCoreApplication>
#include <QSocketNotifier>
#include <QThread>
#include <QTimerEvent>
#include <QVarLengthArray>

#include <cerrno>
#include <climits>
#include <cstring>

#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace llmpool::gateway {

namespace {

constexpr int kMaxEvents = 256;
constexpr qint64 kNsPerMs = 1'000'000;

// The notifier types an epoll event wakes, as QEventDispatcherUNIX maps poll's bits.
constexpr uint32_t kReadBits = EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR;
constexpr uint32_t kWriteBits = EPOLLOUT | EPOLLHUP | EPOLLERR;
constexpr uint32_t kExceptionBits = EPOLLPRI | EPOLLHUP | EPOLLERR;

} // namespace

EpollEventDispatcher::EpollEventDispatcher(QObject *parent) : QAbstractEventDispatcher(parent)
{
    m_clock.start();
    m_epoll = epoll_create1(EPOLL_CLOEXEC);
    m_wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (m_epoll < 0 || m_wake < 0) {
        qWarning("EpollEventDispatcher: cannot create epoll/eventfd: %s", strerror(errno));
        return;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = m_wake;
    if (epoll_ctl(m_epoll, EPOLL_CTL_ADD, m_wake, &ev) != 0) {
        qWarning("EpollEventDispatcher: cannot watch its eventfd: %s", strerror(errno));
        ::close(m_wake);
        m_wake = -1;
    }
}

EpollEventDispatcher::~EpollEventDispatcher()
{
    if (m_wake >= 0)
        ::close(m_wake);
    if (m_epoll >= 0)
        ::close(m_epoll);
}

void EpollEventDispatcher::registerSocketNotifier(QSocketNotifier *notifier)
{
    Q_ASSERT(notifier);
    const int fd = int(notifier->socket());
    Watched &w = m_watched[fd];
    switch (notifier->type()) {
    case QSocketNotifier::Read:
        w.read = notifier;
        break;
    case QSocketNotifier::Write:
        w.write = notifier;
        break;
    case QSocketNotifier::Exception:
        w.exception = notifier;
        break;
    }
    updateInterest(fd, w);
}

void EpollEventDispatcher::unregisterSocketNotifier(QSocketNotifier *notifier)
{
    Q_ASSERT(notifier);
    const int fd = int(notifier->socket());
    auto it = m_watched.find(fd);
    if (it == m_watched.end())
        return;
    Watched &w = *it;
    // Only if it is this notifier: the fd may have been closed and reused by another one since.
    if (w.read == notifier)
        w.read = nullptr;
    if (w.write == notifier)
        w.write = nullptr;
    if (w.exception == notifier)
        w.exception = nullptr;
    updateInterest(fd, w);
}

void EpollEventDispatcher::updateInterest(int fd, Watched &w)
{
    if (!w.read && !w.write && !w.exception) {
        if (w.alwaysReady)
            --m_alwaysReady;
        if (!w.inEpoll || w.alwaysReady) {
            m_watched.remove(fd);
            return;
        }
        // Lazy: the fd stays in epoll until it reports an event (removed then) or is registered
        // again. curl drops and re-adds a kept-alive connection's socket around every transfer:
        // this saves one epoll_ctl of the two.
        w.idle = true;
        return;
    }
    if (w.alwaysReady)
        return; // a regular file: nothing to tell epoll
    const uint32_t events = (w.read ? uint32_t(EPOLLIN | EPOLLRDHUP) : 0u) | (w.write ? uint32_t(EPOLLOUT) : 0u) |
                            (w.exception ? uint32_t(EPOLLPRI) : 0u);
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    if (w.inEpoll) {
        if (!w.idle && events == w.armed)
            return;
        // After an idle spell the fd may have been closed (epoll forgot it) and its number reused:
        // MOD then fails with ENOENT and it is added afresh.
        if (epoll_ctl(m_epoll, EPOLL_CTL_MOD, fd, &ev) == 0) {
            w.armed = events;
            w.idle = false;
            return;
        }
        if (errno != ENOENT) {
            qWarning("EpollEventDispatcher: cannot change the events of fd %d: %s", fd, strerror(errno));
            return;
        }
    }
    w.idle = false;
    if (epoll_ctl(m_epoll, EPOLL_CTL_ADD, fd, &ev) == 0 ||
        (errno == EEXIST && epoll_ctl(m_epoll, EPOLL_CTL_MOD, fd, &ev) == 0)) {
        w.inEpoll = true;
        w.armed = events;
        return;
    }
    w.inEpoll = false;
    if (errno == EPERM) {
        // epoll does not watch regular files; poll would report them ready at once.
        w.alwaysReady = true;
        ++m_alwaysReady;
        return;
    }
    qWarning("EpollEventDispatcher: cannot watch fd %d: %s", fd, strerror(errno));
}

void EpollEventDispatcher::registerTimer(int timerId, qint64 interval, Qt::TimerType timerType, QObject *object)
{
    Q_ASSERT(timerId > 0 && interval >= 0 && object);
    // All types fire on time: coarse timers may, they need not be late.
    const qint64 due = nowNs() + interval * kNsPerMs;
    m_timers.insert(timerId, Timer{interval, timerType, object, due});
    m_due.emplace(due, timerId);
}

bool EpollEventDispatcher::unregisterTimer(int timerId)
{
    auto it = m_timers.find(timerId);
    if (it == m_timers.end())
        return false;
    auto [first, last] = m_due.equal_range(it->dueNs);
    for (auto d = first; d != last; ++d) {
        if (d->second == timerId) {
            m_due.erase(d);
            break;
        }
    }
    m_timers.erase(it);
    return true;
}

bool EpollEventDispatcher::unregisterTimers(QObject *object)
{
    QVarLengthArray<int, 16> ids;
    for (auto it = m_timers.cbegin(); it != m_timers.cend(); ++it) {
        if (it->object == object)
            ids.append(it.key());
    }
    for (int id : ids)
        unregisterTimer(id);
    return !ids.isEmpty();
}

QList<QAbstractEventDispatcher::TimerInfo> EpollEventDispatcher::registeredTimers(QObject *object) const
{
    QList<TimerInfo> list;
    for (auto it = m_timers.cbegin(); it != m_timers.cend(); ++it) {
        if (it->object == object)
            list.append(TimerInfo(it.key(), int(it->intervalMs), it->type));
    }
    return list;
}

int EpollEventDispatcher::remainingTime(int timerId)
{
    auto it = m_timers.constFind(timerId);
    if (it == m_timers.cend())
        return -1;
    const qint64 left = it->dueNs - nowNs();
    return left <= 0 ? 0 : int(qMin<qint64>((left + kNsPerMs - 1) / kNsPerMs, INT_MAX));
}

void EpollEventDispatcher::wakeUp()
{
    // Any thread. The loop's own thread, while it dispatches: the pass ends without blocking and
    // the next one sends the posted events first (events posted while those are sent, or from an
    // aboutToBlock slot, come before or after this window and still write).
    // (m_dispatching is read on the owner's thread only.)
    if (m_owner.load(std::memory_order_relaxed) == QThread::currentThreadId() && m_dispatching)
        return;
    signalWake();
}

void EpollEventDispatcher::signalWake()
{
    // One write until the loop has drained it: a burst of posts costs one syscall.
    if (m_wakePending.exchange(true, std::memory_order_acq_rel))
        return;
    const quint64 one = 1;
    while (::write(m_wake, &one, sizeof one) < 0 && errno == EINTR) {
    }
}

void EpollEventDispatcher::interrupt()
{
    m_interrupt.store(true, std::memory_order_release);
    signalWake();
}

void EpollEventDispatcher::drainWake()
{
    // Cleared before the read: a wakeUp in between writes again, so none is lost.
    m_wakePending.store(false, std::memory_order_release);
    quint64 count = 0;
    while (::read(m_wake, &count, sizeof count) < 0 && errno == EINTR) {
    }
}

int EpollEventDispatcher::waitTimeoutMs(qint64 now) const
{
    if (m_due.empty())
        return -1;
    const qint64 left = m_due.begin()->first - now;
    if (left <= 0)
        return 0;
    return int(qMin<qint64>((left + kNsPerMs - 1) / kNsPerMs, INT_MAX)); // never early: round up
}

bool EpollEventDispatcher::processEvents(QEventLoop::ProcessEventsFlags flags)
{
    const Qt::HANDLE self = QThread::currentThreadId();
    if (m_owner.load(std::memory_order_relaxed) != self)
        m_owner.store(self, std::memory_order_relaxed);
    m_dispatching = false;
    m_interrupt.store(false, std::memory_order_relaxed);
    emit awake();
    QCoreApplication::sendPostedEvents();

    const bool includeTimers = !(flags & QEventLoop::X11ExcludeTimers);
    const bool includeSockets = !(flags & QEventLoop::ExcludeSocketNotifiers);
    const bool canWait = (flags & QEventLoop::WaitForMoreEvents) && !m_interrupt.load(std::memory_order_acquire);
    if (canWait)
        emit aboutToBlock();
    if (m_interrupt.load(std::memory_order_acquire))
        return false;

    int timeout = 0;
    if (canWait)
        timeout = includeTimers ? waitTimeoutMs(nowNs()) : -1;
    if (includeSockets && m_alwaysReady > 0)
        timeout = 0;

    epoll_event events[kMaxEvents];
    int ready = 0;
    if (includeSockets) {
        ready = epoll_wait(m_epoll, events, kMaxEvents, timeout);
    } else {
        // Sockets excluded: wait for a wake-up (posted event, interrupt) or a timer only.
        pollfd pfd{m_wake, POLLIN, 0};
        ready = ::poll(&pfd, 1, timeout);
        if (ready > 0) {
            events[0].events = EPOLLIN;
            events[0].data.fd = m_wake;
            ready = 1;
        }
    }
    if (ready < 0) {
        if (errno != EINTR)
            qWarning("EpollEventDispatcher: epoll_wait: %s", strerror(errno));
        ready = 0;
    }

    m_dispatching = true;
    int handled = activateSockets(events, ready);
    if (includeTimers)
        handled += activateTimers();
    return handled > 0;
}

int EpollEventDispatcher::activateSockets(const epoll_event *events, int count)
{
    struct Pending
    {
        QPointer<QSocketNotifier> notifier;
        int fd;
    };
    QVarLengthArray<Pending, 64> pending;
    int handled = 0;
    const auto collect = [&pending](int fd, const Watched &w, uint32_t bits) {
        if (w.read && (bits & kReadBits))
            pending.append({w.read, fd});
        if (w.write && (bits & kWriteBits))
            pending.append({w.write, fd});
        if (w.exception && (bits & kExceptionBits))
            pending.append({w.exception, fd});
    };
    for (int i = 0; i < count; ++i) {
        const int fd = events[i].data.fd;
        if (fd == m_wake) {
            drainWake();
            ++handled;
            continue;
        }
        auto it = m_watched.find(fd);
        if (it == m_watched.end())
            continue;
        if (it->idle) {
            // Nobody wants it any more (see updateInterest): now it leaves epoll.
            epoll_ctl(m_epoll, EPOLL_CTL_DEL, fd, nullptr);
            m_watched.erase(it);
            continue;
        }
        collect(fd, *it, events[i].events);
    }
    if (m_alwaysReady > 0) {
        for (auto it = m_watched.cbegin(); it != m_watched.cend(); ++it) {
            if (it->alwaysReady)
                collect(it.key(), *it, EPOLLIN | EPOLLOUT);
        }
    }
    // Delivered one by one; each handler may unregister or delete others (or itself), so every
    // notifier is checked to be alive and still registered for its fd right before its event.
    for (const Pending &p : pending) {
        QSocketNotifier *notifier = p.notifier.data();
        if (!notifier)
            continue;
        auto it = m_watched.constFind(p.fd);
        if (it == m_watched.cend() || (it->read != notifier && it->write != notifier && it->exception != notifier))
            continue;
        QEvent event(QEvent::SockAct);
        QCoreApplication::sendEvent(notifier, &event);
        ++handled;
    }
    return handled;
}

int EpollEventDispatcher::activateTimers()
{
    const qint64 now = nowNs();
    // The ids due now, taken first: a timer fires at most once per pass (a 0 ms timer again on
    // the next pass), and timers started by the handlers wait for the next pass.
    QVarLengthArray<int, 32> due;
    for (auto it = m_due.cbegin(); it != m_due.cend() && it->first <= now; ++it)
        due.append(it->second);
    int fired = 0;
    for (int id : due) {
        auto it = m_timers.find(id);
        if (it == m_timers.end() || it->dueNs > now)
            continue; // killed, or killed and started again, by an earlier handler
        // Rescheduled before delivery, so the handler may kill or restart it. Behind schedule
        // (or 0 ms): the next one is an interval from now, as QTimer does.
        Timer timer = *it;
        unregisterTimer(id);
        qint64 next = timer.dueNs + timer.intervalMs * kNsPerMs;
        if (next <= now)
            next = now + timer.intervalMs * kNsPerMs;
        timer.dueNs = next;
        m_timers.insert(id, timer);
        m_due.emplace(next, id);
        QTimerEvent event(id);
        QCoreApplication::sendEvent(timer.object, &event);
        ++fired;
    }
    return fired;
}

} // namespace llmpool::gateway
