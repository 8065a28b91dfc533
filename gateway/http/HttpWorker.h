#pragma once

// Private to the HTTP layer.
//
// HttpWorkerThread: one event-loop thread of an HttpServer. It owns its listening socket (fd) and
// the counters the server reads from other threads; its run() creates the HttpWorker on the thread's
// stack, so the worker and all its connections are created, used and destroyed on that thread.
//
// HttpWorker: lives on its HttpWorkerThread. Owns the listening socket notifier, every
// HttpConnection it accepted (QObject children) and the timeout sweep timer.

#include "http/HttpServer.h"

#include <QObject>
#include <QSemaphore>
#include <QThread>
#include <QTimer>

#include <array>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <vector>

class QSocketNotifier;

namespace llmpool::gateway {

class HttpConnection;

// State shared by all workers of one server.
struct HttpServerShared
{
    std::atomic<int> connections{0};
    std::atomic<bool> draining{false};
    // drain() waits here; a worker whose in-flight count drops to zero while draining notifies.
    std::mutex drainMutex;
    std::condition_variable drainCv;
};

// Written by one worker thread, read by any (relaxed: these are statistics and a drain predicate).
struct HttpWorkerCounters
{
    std::atomic<qint64> accepted{0};
    std::atomic<qint64> rejected{0};
    std::atomic<qint64> requests{0};
    std::atomic<qint64> bytesReceived{0};
    std::atomic<int> connections{0};
    std::atomic<int> inFlight{0};
};

class HttpWorker : public QObject
{
    Q_OBJECT
public:
    HttpWorker(const HttpServerConfig &config, const Router &router, int listenFd, HttpServerShared &shared,
               HttpWorkerCounters &counters);
    ~HttpWorker() override;

    void startAccepting();
    Q_INVOKABLE void stopAccepting();
    Q_INVOKABLE void closeIdleConnections();

    const HttpServerConfig &config() const { return m_config; }
    const Router &router() const { return m_router; }
    HttpWorkerCounters &counters() { return m_counters; }
    bool draining() const { return m_shared.draining.load(std::memory_order_relaxed); }

    // Read buffer shared by the connections of this thread (reads land here, then only the bytes
    // still needed are kept by the connection).
    static constexpr qsizetype kScratchSize = 64 * 1024;
    char *scratch() { return m_scratch.data(); }

    // Called by connections.
    void requestStarted();
    void requestFinished();
    void connectionClosed(HttpConnection *connection);
    // Queues the connection's output until this event-loop pass ends: everything written in one
    // pass goes out in one burst, one sendmsg per connection, when the next pass starts or before
    // the loop waits (fewer system calls and fewer wake-ups of the peers).
    void flushSoon(HttpConnection *connection);

private:
    void onAcceptReady();
    void onSweep();
    void flushQueued();

    const HttpServerConfig &m_config;
    const Router &m_router;
    HttpServerShared &m_shared;
    HttpWorkerCounters &m_counters;
    int m_listenFd;
    QSocketNotifier *m_acceptNotifier = nullptr; // child
    QTimer m_sweepTimer;
    QTimer m_acceptRetryTimer;                   // after EMFILE: accepting again later instead of spinning
    std::vector<HttpConnection *> m_connections; // children; index kept in each connection
    std::vector<HttpConnection *> m_toFlush;     // flushSoon(); a closed connection leaves it
    std::array<char, kScratchSize> m_scratch;
};

class HttpWorkerThread : public QThread
{
    Q_OBJECT
public:
    HttpWorkerThread(const HttpServerConfig &config, std::shared_ptr<const Router> router, int listenFd,
                     HttpServerShared &shared);
    ~HttpWorkerThread() override;

    // Blocks until run() has created the worker and it accepts.
    void waitReady() { m_ready.acquire(); }
    // The worker, valid between waitReady() and the end of run(); only for queued calls.
    HttpWorker *worker() const { return m_worker; }
    const HttpWorkerCounters &counters() const { return m_counters; }

protected:
    void run() override;

private:
    const HttpServerConfig &m_config;
    std::shared_ptr<const Router> m_router;
    int m_listenFd;
    HttpServerShared &m_shared;
    HttpWorkerCounters m_counters;
    QSemaphore m_ready;
    HttpWorker *m_worker = nullptr;
};

} // namespace llmpool::gateway
