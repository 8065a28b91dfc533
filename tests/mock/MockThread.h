#pragma once

// MockThread: the mock upstream's per-event-loop-thread helper. One per HttpServer worker thread,
// created on first use and parented to the worker's thread context object, so it dies with the
// thread. It owns
//   - every stream in progress on the thread, paced by ONE timer (armed for the earliest due
//     event) instead of a timer per chunk, so a thousand streams at 50 ms cost a thousand writes
//     per tick and nothing more;
//   - the requests told to hang, until their clients go;
//   - a cached copy of the settings snapshot, refreshed when MockState's generation moves.
//
// Callbacks registered with a responder capture only a stream id and this object as context:
// the responder's exchange must never own what owns the responder (a cycle would leak it).
//
// Thread: the event-loop thread it was created on; every method is called there.

#include "MockState.h"
#include "MockStream.h"

#include <QObject>
#include <QTimer>

#include <memory>
#include <queue>
#include <unordered_map>
#include <vector>

namespace llmpool::test {

class MockThread : public QObject
{
    Q_OBJECT
public:
    // The helper of the calling thread (created if needed, on the responder's thread context).
    static MockThread *of(const gateway::HttpResponder &responder, MockState &state);

    MockState &state() { return m_state; }
    const MockSnapshot &snapshot();
    // A unique id ("a1b2…", 24 hex digits) for x-request-id and object ids.
    QByteArray nextId();
    static qint64 nowMs(); // monotonic

    // Takes the stream (responder already streaming) and sends its events on schedule.
    void startStream(std::unique_ptr<MockStream> stream);
    // Keeps the responder unanswered until the client disconnects.
    void hang(const gateway::HttpResponder &responder);

private:
    MockThread(MockState &state, QObject *parent);
    enum class End { Completed, Aborted, Dropped };
    void pump(quint64 id);
    void arm();
    void onTimer();
    void onStreamDisconnected(quint64 id);
    void endStream(quint64 id, End how);
    // Objects that hold a responder are destroyed on a later turn of the loop, never inside one of
    // that responder's own callbacks.
    void bury(std::unique_ptr<MockStream> stream);
    void bury(gateway::HttpResponder responder);

    struct Due
    {
        qint64 atMs;
        quint64 id;
        bool operator>(const Due &o) const { return atMs != o.atMs ? atMs > o.atMs : id > o.id; }
    };

    MockState &m_state;
    std::shared_ptr<const MockSnapshot> m_snapshot;
    quint64 m_generation = 0;
    quint64 m_idPrefix;
    quint64 m_counter = 0;
    QTimer m_timer;
    std::priority_queue<Due, std::vector<Due>, std::greater<>> m_due;
    std::unordered_map<quint64, std::unique_ptr<MockStream>> m_streams;
    std::unordered_map<quint64, gateway::HttpResponder> m_hung;
    quint64 m_pumping = 0; // the stream pump() is writing to (a disconnect may fire inside write())
    bool m_lostWhilePumping = false;
    std::vector<std::unique_ptr<MockStream>> m_buriedStreams;
    std::vector<gateway::HttpResponder> m_buriedResponders;
    bool m_burialScheduled = false;
};

} // namespace llmpool::test
