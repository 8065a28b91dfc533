#pragma once

// DeadlineQueue: many deadlines of one fixed length on one event-loop thread, armed and cancelled
// per request without a timer each. Every billed request waits on Redis twice (admission, usage
// event) with a deadline that nearly always is cancelled within a millisecond; a QTimer per wait
// cost an object, a timer registration, a deferred delete and two heap allocations (bench/proxy).
//
// Deadlines of one length expire in the order they were armed, so a FIFO is already sorted: arm
// appends, cancel clears the entry in place (and drops cleared entries from the front), and a
// single timer is set for the front. A callback runs on the queue's thread, only while its context
// object (if one was given) is alive. Not thread-safe: one queue per event-loop thread (forThread).

#include <QBasicTimer>
#include <QElapsedTimer>
#include <QObject>
#include <QPointer>

#include <deque>
#include <functional>

namespace llmpool::gateway::billing {

class DeadlineQueue : public QObject
{
public:
    using Id = quint64; // 0 is never an armed deadline

    explicit DeadlineQueue(int lengthMs, QObject *parent = nullptr);

    // This thread's queue of deadlines `lengthMs` long (one per thread and length; created on
    // first use, destroyed when the thread ends).
    static DeadlineQueue &forThread(int lengthMs);

    Id arm(QObject *context, std::function<void()> onTimeout);
    // Cancelling an expired, cancelled or unknown id does nothing.
    void cancel(Id id);

    int lengthMs() const { return m_lengthMs; }
    // Entries still held (armed, or cancelled but not yet dropped): for tests.
    std::size_t held() const { return m_entries.size(); }

protected:
    void timerEvent(QTimerEvent *event) override;

private:
    struct Entry
    {
        qint64 dueMs;
        bool guarded; // has a context: run only while it lives
        QPointer<QObject> context;
        std::function<void()> onTimeout; // empty once cancelled
    };
    void dropCancelledFront();
    void schedule(qint64 nowMs);

    const int m_lengthMs;
    QElapsedTimer m_clock;
    QBasicTimer m_timer;
    std::deque<Entry> m_entries;
    Id m_frontId = 1; // the id of m_entries.front()
};

} // namespace llmpool::gateway::billing
