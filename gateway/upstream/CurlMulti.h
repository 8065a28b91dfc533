#pragma once

// CurlMulti: one libcurl multi handle driven by the Qt event loop of the thread it lives on (one
// per event-loop thread, STYLE §1): curl's socket callback maps to QSocketNotifiers, its timer
// callback to one single-shot QTimer. It owns the connection cache (keep-alive reuse across every
// call of the thread), the DNS cache and a small pool of easy handles (curl_easy_reset and reuse is
// cheaper than init/cleanup per request). UpstreamCall is the only user; nothing else sees curl.
//
// Thread: create, use and destroy it on one thread. forCurrentThread() creates one lazily per
// thread and deletes it when the thread ends; a per-thread owner may also construct its own.
//
// Rules learned with the prototype (STYLE §2), all enforced here:
//   - curl's socket and timer callbacks run inside libcurl calls, and libcurl refuses to be called
//     back into from there (CURLM_RECURSIVE_API_CALL): they only toggle notifiers and arm the
//     timer (0 ms when curl asks for "now"). Adding or removing a handle asked for while inside
//     curl (a start() or abort() from an easy callback) is queued and done right after the curl
//     call returns; unpausing always waits for the next loop iteration.
//   - One notifier pair per socket number, created disabled and then only enabled/disabled: curl
//     may close a socket and open another with the same number within one call. Qt's UNIX (and
//     glib) dispatcher keys registrations by number and rebuilds its poll(2) set every iteration,
//     so nothing is attached to the closed file, and disabling a notifier drops its pending
//     activation; curl always reports CURL_POLL_REMOVE before it closes. Re-creating notifiers per
//     socket would therefore buy nothing, and would be unsafe when the notifier being replaced is
//     the one whose activation we are inside.
//   - A finished transfer's result is copied out of curl's message before the handle is removed
//     (removal frees the message).

#include <QObject>
#include <QTimer>

#include <memory>
#include <vector>

class QSocketNotifier;

namespace llmpool::gateway {

class UpstreamCall;

namespace detail {
struct CurlTransfer;
struct CurlMultiCallbacks;
} // namespace detail

class CurlMulti : public QObject
{
    Q_OBJECT

public:
    struct Options
    {
        // Idle connections kept for reuse (CURLMOPT_MAXCONNECTS). Beyond it the oldest idle one is
        // closed. Size it above the concurrency one thread sees per upstream host.
        int maxConnects = 256;
        int maxHostConnections = 0; // 0 = unlimited (CURLMOPT_MAX_HOST_CONNECTIONS)
        int maxPooledHandles = 64;  // easy handles kept for reuse
    };

    struct Stats
    {
        qint64 transfersStarted = 0;
        qint64 socketsWatched = 0; // sockets curl asked us to watch (a reused socket number counts again)
        int socketSlots = 0;       // distinct socket numbers that have a notifier pair
        int activeTransfers = 0;
        int pooledHandles = 0;
    };

    explicit CurlMulti(QObject *parent = nullptr);
    explicit CurlMulti(Options options, QObject *parent = nullptr);
    // Calls still running end as Aborted without callbacks; their handles are removed.
    ~CurlMulti() override;

    // The multi of the calling thread, created on first use and deleted when the thread ends (for
    // the main thread: when QCoreApplication is destroyed). Needs a running event loop to do work.
    static CurlMulti *forCurrentThread();

    Stats stats() const;
    const Options &options() const { return m_options; }

private:
    friend class UpstreamCall;
    friend struct detail::CurlMultiCallbacks;

    struct SocketWatch;

    // For UpstreamCall.
    detail::CurlTransfer *acquire(UpstreamCall *owner);
    bool add(detail::CurlTransfer *t);    // false if curl refused the handle
    void remove(detail::CurlTransfer *t); // now, or right after the current curl call; then pooled
    void requestUnpause(detail::CurlTransfer *t);
    bool insideCurl() const { return m_depth > 0; }

    void removeNow(detail::CurlTransfer *t);
    void recycle(detail::CurlTransfer *t);
    void destroyTransfer(detail::CurlTransfer *t);

    void watchSocket(int fd, int what);
    void setCurlTimer(long timeoutMs);
    void socketAction(int fd, int eventMask);
    void runDeferred();
    // After every call into curl that can run easy callbacks: queued removals and adds, then the
    // finished transfers.
    void afterCurl();

    Options m_options;
    void *m_multi = nullptr; // CURLM*
    int m_depth = 0;         // > 0 while inside a libcurl call made from here
    bool m_closing = false;
    QTimer m_curlTimer;                                  // curl's own timeouts (CURLMOPT_TIMERFUNCTION)
    QTimer m_deferredTimer;                              // 0 ms: unpauses
    std::vector<std::unique_ptr<SocketWatch>> m_sockets; // indexed by socket number
    std::vector<detail::CurlTransfer *> m_pool;          // idle easy handles (owned)
    std::vector<detail::CurlTransfer *> m_active;        // handed to calls (owned)
    std::vector<detail::CurlTransfer *> m_pendingRemovals;
    std::vector<detail::CurlTransfer *> m_pendingAdds;
    std::vector<detail::CurlTransfer *> m_pendingUnpauses;
    qint64 m_transfersStarted = 0;
    qint64 m_socketsWatched = 0;
    int m_socketSlots = 0;
};

} // namespace llmpool::gateway
