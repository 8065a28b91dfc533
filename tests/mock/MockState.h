#pragma once

// MockState: the process-wide state of the mock upstream, shared by its event-loop threads —
// the current settings (an immutable MockSnapshot swapped under a mutex, with a generation
// counter so each thread re-reads it only after a change), the accepted API keys and the
// statistics GET /mock/stats reports.
//
// Thread: any. Counters are atomics; the settings pointer and the last-request capture are behind
// one small mutex each, held for a pointer copy or a few assignments.

#include "MockSettings.h"
#include "http/HttpRequest.h"

#include <QByteArray>
#include <QHash>
#include <QJsonObject>
#include <QSet>

#include <array>
#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>

namespace llmpool::test {

// Settings plus the bytes derived from them once, so the hot path only appends.
struct MockSnapshot
{
    MockSettings settings;
    QSet<QString> modelSet;
    QByteArray modelsBody;     // GET /v1/models
    QByteArray chatTail;       // MockWire::chatTail(settings.faults)
    QByteArray completionTail; // MockWire::completionTail(settings.faults)
    QByteArray audioFirstChunk;
    QByteArray audioChunk;

    static std::shared_ptr<const MockSnapshot> make(MockSettings settings);
};

class MockState
{
public:
    MockState(MockSettings initial, QList<QByteArray> apiKeys, QByteArray instanceName);

    std::shared_ptr<const MockSnapshot> snapshot() const;
    quint64 generation() const { return m_generation.load(std::memory_order_acquire); }
    const QByteArray &instanceName() const { return m_name; }

    // POST /mock/config: a partial update of the current settings.
    Status configure(const QJsonObject &object);
    // POST /mock/reset: the settings given at start, and zeroed statistics.
    void reset();

    // No keys configured accepts every request; otherwise `authorization: Bearer K` or `api-key: K`.
    bool authorized(const gateway::HttpRequest &request) const;
    // Whether a status fault from the settings applies to this request (fail_requests accounting).
    bool consumeConfiguredFailure();

    // Statistics.
    void recordRequest(const gateway::HttpRequest &request, QByteArrayView rawModel);
    void recordStatus(int status);
    std::atomic<int> activeStreams{0};
    std::atomic<int> hanging{0};
    std::atomic<qint64> completedStreams{0};
    std::atomic<qint64> abortedStreams{0}; // the client went before the end
    std::atomic<qint64> droppedStreams{0}; // we cut them (drop_after)
    std::atomic<qint64> authFailures{0};
    QJsonObject statsJson() const;

private:
    struct Recent
    {
        QByteArray method;
        QByteArray path;
        QByteArray model; // raw
    };

    void resetStats();

    const MockSettings m_initial;
    const QList<QByteArray> m_apiKeys;
    const QByteArray m_name;

    mutable std::mutex m_settingsMutex;
    std::shared_ptr<const MockSnapshot> m_snapshot;
    std::atomic<quint64> m_generation{1};
    std::atomic<int> m_failRemaining{-1};

    mutable std::mutex m_statsMutex;
    qint64 m_requestsTotal = 0;
    QHash<QByteArray, qint64> m_byPath;
    std::optional<gateway::HttpRequest> m_last;
    QByteArray m_lastModel;
    std::deque<Recent> m_recent;
    std::array<std::atomic<qint64>, 600> m_statuses{};
};

} // namespace llmpool::test
