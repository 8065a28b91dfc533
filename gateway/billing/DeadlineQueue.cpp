#include "billing/DeadlineQueue.h"

#include <QHash>
#include <QThread>
#include <QThreadStorage>
#include <QTimerEvent>

#include <memory>

namespace llmpool::gateway::billing {

DeadlineQueue::DeadlineQueue(int lengthMs, QObject *parent)
    : QObject(parent), m_lengthMs(lengthMs)
{
    m_clock.start();
}

DeadlineQueue &DeadlineQueue::forThread(int lengthMs)
{
    // QThreadStorage, not thread_local: Qt destroys it while the thread's data (and event
    // dispatcher, which the timer unregisters from) still exist.
    static QThreadStorage<QHash<int, std::shared_ptr<DeadlineQueue>>> queues;
    auto &queue = queues.localData()[lengthMs];
    if (!queue) {
        queue = std::make_shared<DeadlineQueue>(lengthMs);
    }
    return *queue;
}

DeadlineQueue::Id DeadlineQueue::arm(QObject *context, std::function<void()> onTimeout)
{
    Q_ASSERT(QThread::currentThread() == thread());
    const qint64 now = m_clock.elapsed();
    m_entries.push_back(Entry{now + m_lengthMs, context != nullptr, QPointer<QObject>(context), std::move(onTimeout)});
    const Id id = m_frontId + m_entries.size() - 1;
    if (!m_timer.isActive()) {
        schedule(now);
    }
    return id;
}

void DeadlineQueue::cancel(Id id)
{
    Q_ASSERT(QThread::currentThread() == thread()); // ids are per queue: cancel where armed
    if (id < m_frontId || id >= m_frontId + m_entries.size()) {
        return;
    }
    m_entries[id - m_frontId].onTimeout = nullptr;
    dropCancelledFront();
}

void DeadlineQueue::dropCancelledFront()
{
    while (!m_entries.empty() && !m_entries.front().onTimeout) {
        m_entries.pop_front();
        ++m_frontId;
    }
    if (m_entries.empty()) {
        m_timer.stop();
    }
}

void DeadlineQueue::schedule(qint64 nowMs)
{
    if (m_entries.empty()) {
        m_timer.stop();
        return;
    }
    // Coarse is fine (a 2 s deadline may fire a few ms late); the front is the earliest due.
    m_timer.start(int(std::max<qint64>(0, m_entries.front().dueMs - nowMs)), Qt::CoarseTimer, this);
}

void DeadlineQueue::timerEvent(QTimerEvent *event)
{
    if (event->timerId() != m_timer.timerId()) {
        QObject::timerEvent(event);
        return;
    }
    m_timer.stop();
    qint64 now = m_clock.elapsed();
    while (!m_entries.empty() && (!m_entries.front().onTimeout || m_entries.front().dueMs <= now)) {
        // Off the queue before it runs: a callback may arm or cancel others.
        Entry entry = std::move(m_entries.front());
        m_entries.pop_front();
        ++m_frontId;
        if (entry.onTimeout && (!entry.guarded || entry.context)) {
            entry.onTimeout();
            now = m_clock.elapsed();
        }
    }
    if (!m_timer.isActive()) {
        schedule(now);
    }
}

} // namespace llmpool::gateway::billing
