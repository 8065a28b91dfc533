#include "MockThread.h"

#include <QPointer>
#include <QRandomGenerator>

#include <chrono>

namespace llmpool::test {

namespace {
thread_local QPointer<MockThread> t_thread;
}

MockThread *MockThread::of(const gateway::HttpResponder &responder, MockState &state)
{
    if (!t_thread) {
        QObject *context = responder.threadContext();
        if (!context)
            return nullptr;
        t_thread = new MockThread(state, context);
    }
    return t_thread;
}

MockThread::MockThread(MockState &state, QObject *parent)
    : QObject(parent), m_state(state), m_idPrefix(QRandomGenerator::global()->generate64())
{
    m_timer.setSingleShot(true);
    m_timer.setTimerType(Qt::PreciseTimer);
    connect(&m_timer, &QTimer::timeout, this, &MockThread::onTimer);
}

const MockSnapshot &MockThread::snapshot()
{
    const quint64 generation = m_state.generation();
    if (generation != m_generation || !m_snapshot) {
        m_snapshot = m_state.snapshot();
        m_generation = generation;
    }
    return *m_snapshot;
}

QByteArray MockThread::nextId()
{
    // 8 hex digits of a per-thread random prefix, then 16 of a counter: unique across threads and
    // restarts without a shared counter.
    static const char hex[] = "0123456789abcdef";
    QByteArray id(24, Qt::Uninitialized);
    const quint64 prefix = m_idPrefix >> 32;
    for (int i = 0; i < 8; ++i)
        id[i] = hex[(prefix >> (28 - 4 * i)) & 0xf];
    const quint64 n = ++m_counter;
    for (int i = 0; i < 16; ++i)
        id[8 + i] = hex[(n >> (60 - 4 * i)) & 0xf];
    return id;
}

qint64 MockThread::nowMs()
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

void MockThread::startStream(std::unique_ptr<MockStream> stream)
{
    const quint64 id = ++m_counter;
    stream->id = id;
    stream->responder.onDisconnected(this, [this, id] { onStreamDisconnected(id); });
    m_state.activeStreams.fetch_add(1, std::memory_order_relaxed);
    m_streams.emplace(id, std::move(stream));
    pump(id);
}

void MockThread::hang(const gateway::HttpResponder &responder)
{
    const quint64 id = ++m_counter;
    m_hung.emplace(id, responder);
    m_state.hanging.fetch_add(1, std::memory_order_relaxed);
    gateway::HttpResponder(responder).onDisconnected(this, [this, id] {
        const auto it = m_hung.find(id);
        if (it == m_hung.end())
            return;
        bury(std::move(it->second));
        m_hung.erase(it);
        m_state.hanging.fetch_sub(1, std::memory_order_relaxed);
    });
}

void MockThread::pump(quint64 id)
{
    const auto it = m_streams.find(id);
    if (it == m_streams.end())
        return;
    MockStream &s = *it->second;
    const qint64 now = nowMs();
    m_pumping = id;
    m_lostWhilePumping = false;
    bool below = true;
    while (!s.finished() && s.dueMs(s.next) <= now) {
        if (s.dropAfter >= 0 && s.next >= s.dropAfter) {
            m_pumping = 0;
            if (s.responder.pendingBytes() > 0) {
                // abort() discards unsent bytes; the events before the cut must reach the client
                // (inside a handler the server sends only once the handler returns).
                m_due.push({now + 1, id});
                arm();
                return;
            }
            s.responder.abort();
            endStream(id, End::Dropped);
            return;
        }
        below = s.responder.write(s.events[s.next++]);
        if (m_lostWhilePumping)
            break;
        if (!below && !s.finished() && s.dueMs(s.next) <= now)
            break; // the client's buffer is full: continue when it drains
    }
    m_pumping = 0;
    if (m_lostWhilePumping) {
        endStream(id, End::Aborted);
        return;
    }
    if (s.finished()) {
        s.responder.end();
        endStream(id, End::Completed);
        return;
    }
    if (!below && s.dueMs(s.next) <= now) {
        s.responder.onDrained(this, [this, id] { pump(id); });
        return;
    }
    m_due.push({s.dueMs(s.next), id});
    arm();
}

void MockThread::arm()
{
    if (m_due.empty()) {
        m_timer.stop();
        return;
    }
    const qint64 wait = std::max<qint64>(0, m_due.top().atMs - nowMs());
    if (!m_timer.isActive() || m_timer.remainingTime() > wait)
        m_timer.start(int(wait));
}

void MockThread::onTimer()
{
    const qint64 now = nowMs();
    while (!m_due.empty() && m_due.top().atMs <= now) {
        const quint64 id = m_due.top().id;
        m_due.pop();
        pump(id); // pushes the stream's next due time, which is later than now
    }
    arm();
}

void MockThread::onStreamDisconnected(quint64 id)
{
    if (id == m_pumping) {
        m_lostWhilePumping = true; // pump() is on the stack and ends the stream itself
        return;
    }
    endStream(id, End::Aborted);
}

void MockThread::endStream(quint64 id, End how)
{
    const auto it = m_streams.find(id);
    if (it == m_streams.end())
        return;
    bury(std::move(it->second));
    m_streams.erase(it);
    m_state.activeStreams.fetch_sub(1, std::memory_order_relaxed);
    switch (how) {
    case End::Completed:
        m_state.completedStreams.fetch_add(1, std::memory_order_relaxed);
        break;
    case End::Aborted:
        m_state.abortedStreams.fetch_add(1, std::memory_order_relaxed);
        break;
    case End::Dropped:
        m_state.droppedStreams.fetch_add(1, std::memory_order_relaxed);
        break;
    }
}

void MockThread::bury(std::unique_ptr<MockStream> stream)
{
    m_buriedStreams.push_back(std::move(stream));
    if (!m_burialScheduled) {
        m_burialScheduled = true;
        QTimer::singleShot(0, this, [this] {
            m_burialScheduled = false;
            m_buriedStreams.clear();
            m_buriedResponders.clear();
        });
    }
}

void MockThread::bury(gateway::HttpResponder responder)
{
    m_buriedResponders.push_back(std::move(responder));
    if (!m_burialScheduled) {
        m_burialScheduled = true;
        QTimer::singleShot(0, this, [this] {
            m_burialScheduled = false;
            m_buriedStreams.clear();
            m_buriedResponders.clear();
        });
    }
}

} // namespace llmpool::test
