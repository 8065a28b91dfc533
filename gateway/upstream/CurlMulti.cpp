#include "upstream/CurlMulti.h"

#include "Log.h"
#include "upstream/CurlTransfer.h"
#include "upstream/UpstreamCall.h"

#include <QSocketNotifier>
#include <QThread>
#include <QThreadStorage>

#include <algorithm>
#include <limits>
#include <mutex>

namespace llmpool::gateway {

namespace {

CURLM *asMulti(void *p)
{
    return static_cast<CURLM *>(p);
}

void globalInit()
{
    // curl_global_init is thread-safe in this libcurl (CURL_VERSION_THREADSAFE), but once is enough
    // and keeps older builds correct. Never cleaned up: other threads may still use curl at exit.
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

} // namespace

// The read and write notifiers of one socket number; kept for the lifetime of the multi and only
// toggled (see the header).
struct CurlMulti::SocketWatch
{
    SocketWatch(int fd, CurlMulti *multi) : read(QSocketNotifier::Read), write(QSocketNotifier::Write)
    {
        read.setSocket(fd); // the (Type) constructor plus setSocket leaves the notifier disabled
        write.setSocket(fd);
        QObject::connect(&read, &QSocketNotifier::activated, multi,
                         [multi, fd] { multi->socketAction(fd, CURL_CSELECT_IN); });
        QObject::connect(&write, &QSocketNotifier::activated, multi,
                         [multi, fd] { multi->socketAction(fd, CURL_CSELECT_OUT); });
    }
    QSocketNotifier read;
    QSocketNotifier write;
    bool watched = false; // curl currently has a socket with this number
};

namespace detail {

struct CurlMultiCallbacks
{
    // CURLMOPT_SOCKETFUNCTION: inside curl. Only notifier toggling.
    static int socket(CURL *, curl_socket_t s, int what, void *userp, void *)
    {
        auto *multi = static_cast<CurlMulti *>(userp);
        if (!multi->m_closing)
            multi->watchSocket(int(s), what);
        return 0;
    }

    // CURLMOPT_TIMERFUNCTION: inside curl. Only arms the timer; 0 ms means "call me right after".
    static int timer(CURLM *, long timeoutMs, void *userp)
    {
        auto *multi = static_cast<CurlMulti *>(userp);
        if (!multi->m_closing)
            multi->setCurlTimer(timeoutMs);
        return 0;
    }
};

} // namespace detail

CurlMulti::CurlMulti(QObject *parent) : CurlMulti(Options{}, parent) {}

CurlMulti::CurlMulti(Options options, QObject *parent) : QObject(parent), m_options(options)
{
    globalInit();
    m_multi = curl_multi_init();
    Q_ASSERT(m_multi);
    CURLM *multi = asMulti(m_multi);
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, &detail::CurlMultiCallbacks::socket);
    curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, &detail::CurlMultiCallbacks::timer);
    curl_multi_setopt(multi, CURLMOPT_TIMERDATA, this);
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, long(qMax(1, m_options.maxConnects)));
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, long(qMax(0, m_options.maxHostConnections)));
    // HTTP/2 multiplexing when an https upstream offers it (no effect on HTTP/1.1).
    curl_multi_setopt(multi, CURLMOPT_PIPELINING, long(CURLPIPE_MULTIPLEX));

    m_curlTimer.setSingleShot(true);
    m_curlTimer.setTimerType(Qt::PreciseTimer);
    connect(&m_curlTimer, &QTimer::timeout, this, [this] { socketAction(CURL_SOCKET_TIMEOUT, 0); });
    m_deferredTimer.setSingleShot(true);
    m_deferredTimer.setInterval(0);
    connect(&m_deferredTimer, &QTimer::timeout, this, [this] { runDeferred(); });
}

CurlMulti::~CurlMulti()
{
    Q_ASSERT(m_depth == 0); // never destroyed from inside one of its own callbacks
    m_closing = true;
    m_curlTimer.stop();
    m_deferredTimer.stop();
    CURLM *multi = asMulti(m_multi);
    const std::vector<detail::CurlTransfer *> active = m_active;
    for (detail::CurlTransfer *t : active) {
        if (UpstreamCall *owner = t->owner)
            owner->detachFromMulti(); // no callbacks from here
        if (t->inMulti)
            curl_multi_remove_handle(multi, t->easy);
        destroyTransfer(t);
    }
    for (detail::CurlTransfer *t : m_pool)
        destroyTransfer(t);
    curl_multi_cleanup(multi); // closes cached connections; callbacks are ignored (m_closing)
}

CurlMulti *CurlMulti::forCurrentThread()
{
    // QThreadStorage deletes the object while the thread finishes, before its event dispatcher
    // goes away, so the notifiers and timers unregister cleanly.
    static QThreadStorage<CurlMulti *> perThread;
    if (!perThread.hasLocalData())
        perThread.setLocalData(new CurlMulti());
    return perThread.localData();
}

CurlMulti::Stats CurlMulti::stats() const
{
    Stats s;
    s.transfersStarted = m_transfersStarted;
    s.socketsWatched = m_socketsWatched;
    s.socketSlots = m_socketSlots;
    s.activeTransfers = int(m_active.size());
    s.pooledHandles = int(m_pool.size());
    return s;
}

detail::CurlTransfer *CurlMulti::acquire(UpstreamCall *owner)
{
    Q_ASSERT(QThread::currentThread() == thread());
    detail::CurlTransfer *t = nullptr;
    if (!m_pool.empty()) {
        t = m_pool.back();
        m_pool.pop_back();
    } else {
        t = new detail::CurlTransfer;
        t->easy = curl_easy_init();
    }
    t->owner = owner;
    t->activeIndex = qsizetype(m_active.size());
    m_active.push_back(t);
    ++m_transfersStarted;
    return t;
}

bool CurlMulti::add(detail::CurlTransfer *t)
{
    if (insideCurl()) {
        // curl_multi_add_handle from inside a callback fails with CURLM_RECURSIVE_API_CALL.
        t->addQueued = true;
        m_pendingAdds.push_back(t);
        return true;
    }
    ++m_depth;
    const CURLMcode rc = curl_multi_add_handle(asMulti(m_multi), t->easy);
    --m_depth;
    if (rc != CURLM_OK) {
        qCWarning(lcUpstream) << "curl_multi_add_handle failed:" << curl_multi_strerror(rc);
        return false;
    }
    t->inMulti = true;
    return true;
}

void CurlMulti::remove(detail::CurlTransfer *t)
{
    t->owner = nullptr;
    if (insideCurl()) {
        if (!t->removalQueued) {
            t->removalQueued = true;
            m_pendingRemovals.push_back(t);
        }
        return;
    }
    removeNow(t);
}

void CurlMulti::removeNow(detail::CurlTransfer *t)
{
    if (t->inMulti) {
        ++m_depth;
        curl_multi_remove_handle(asMulti(m_multi), t->easy);
        --m_depth;
        t->inMulti = false;
    }
    recycle(t);
}

void CurlMulti::recycle(detail::CurlTransfer *t)
{
    // Out of the active list (swap with the last one, O(1)).
    if (t->activeIndex >= 0) {
        detail::CurlTransfer *last = m_active.back();
        m_active[size_t(t->activeIndex)] = last;
        last->activeIndex = t->activeIndex;
        m_active.pop_back();
        t->activeIndex = -1;
    }
    if (t->headers) {
        curl_slist_free_all(t->headers);
        t->headers = nullptr;
    }
    t->body = QByteArray();
    t->owner = nullptr;
    // No queue may keep a pointer to a handle that is pooled (and reused) or freed below.
    if (t->addQueued)
        std::erase(m_pendingAdds, t);
    if (t->unpauseQueued)
        std::erase(m_pendingUnpauses, t);
    t->addQueued = t->removalQueued = t->unpauseQueued = false;
    t->errorBuffer[0] = '\0';
    if (int(m_pool.size()) < m_options.maxPooledHandles) {
        curl_easy_reset(t->easy);
        m_pool.push_back(t);
    } else {
        destroyTransfer(t);
    }
}

void CurlMulti::destroyTransfer(detail::CurlTransfer *t)
{
    if (t->headers)
        curl_slist_free_all(t->headers);
    curl_easy_cleanup(t->easy);
    delete t;
}

void CurlMulti::requestUnpause(detail::CurlTransfer *t)
{
    if (t->unpauseQueued)
        return;
    t->unpauseQueued = true;
    m_pendingUnpauses.push_back(t);
    if (!m_deferredTimer.isActive())
        m_deferredTimer.start();
}

void CurlMulti::watchSocket(int fd, int what)
{
    if (fd < 0)
        return;
    if (size_t(fd) >= m_sockets.size())
        m_sockets.resize(size_t(fd) + 1);
    std::unique_ptr<SocketWatch> &slot = m_sockets[size_t(fd)];
    if (what == CURL_POLL_REMOVE) {
        // curl is about to close this socket: stop polling the number before it can be reused.
        if (slot) {
            slot->read.setEnabled(false);
            slot->write.setEnabled(false);
            slot->watched = false;
        }
        return;
    }
    if (!slot) {
        slot = std::make_unique<SocketWatch>(fd, this);
        ++m_socketSlots;
    }
    if (!slot->watched) {
        slot->watched = true;
        ++m_socketsWatched;
    }
    slot->read.setEnabled(what == CURL_POLL_IN || what == CURL_POLL_INOUT);
    slot->write.setEnabled(what == CURL_POLL_OUT || what == CURL_POLL_INOUT);
}

void CurlMulti::setCurlTimer(long timeoutMs)
{
    if (timeoutMs < 0)
        m_curlTimer.stop();
    else
        m_curlTimer.start(int(qMin<long>(timeoutMs, std::numeric_limits<int>::max())));
}

void CurlMulti::socketAction(int fd, int eventMask)
{
    Q_ASSERT(m_depth == 0);
    int running = 0;
    ++m_depth;
    curl_multi_socket_action(asMulti(m_multi), curl_socket_t(fd), eventMask, &running);
    --m_depth;
    afterCurl();
}

void CurlMulti::runDeferred()
{
    // Swapped out so a resume() asked for during this round waits for the next iteration. Nothing is
    // recycled inside the loop (removals asked for inside curl wait for afterCurl), so every entry
    // stays valid; an aborted one has no owner any more.
    std::vector<detail::CurlTransfer *> unpauses;
    unpauses.swap(m_pendingUnpauses);
    for (detail::CurlTransfer *t : unpauses) {
        if (!t->unpauseQueued || !t->owner || !t->inMulti)
            continue;
        t->unpauseQueued = false;
        t->owner->beforeUnpause();
        // Paused data is handed to the write callback from inside this call (and may pause again).
        ++m_depth;
        curl_easy_pause(t->easy, CURLPAUSE_CONT);
        --m_depth;
    }
    afterCurl();
}

void CurlMulti::afterCurl()
{
    if (m_depth > 0)
        return;
    // Removals first: curl drops the pending DONE message of a handle it removes, and recycling
    // takes the handle out of the add queue. One entry at a time from the member queues, so no
    // pointer outlives its handle.
    while (!m_pendingRemovals.empty() || !m_pendingAdds.empty()) {
        while (!m_pendingRemovals.empty()) {
            detail::CurlTransfer *t = m_pendingRemovals.back();
            m_pendingRemovals.pop_back();
            removeNow(t);
        }
        while (!m_pendingAdds.empty()) {
            detail::CurlTransfer *t = m_pendingAdds.front();
            m_pendingAdds.erase(m_pendingAdds.begin());
            t->addQueued = false;
            if (!t->owner || t->inMulti)
                continue;
            if (!add(t)) {
                t->owner->failLater(UpstreamOutcome::Kind::ConnectFailed,
                                    QStringLiteral("the upstream request could not be started"));
            }
        }
    }

    int left = 0;
    while (CURLMsg *msg = curl_multi_info_read(asMulti(m_multi), &left)) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        // The message lives in the easy handle: copy what we need before anything removes it.
        CURL *easy = msg->easy_handle;
        const CURLcode code = msg->data.result;
        char *priv = nullptr;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
        auto *t = reinterpret_cast<detail::CurlTransfer *>(priv);
        if (!t)
            continue;
        if (UpstreamCall *owner = t->owner)
            owner->curlDone(int(code)); // removes the handle, then runs onFinished (may start calls)
        else
            removeNow(t);
    }
}

} // namespace llmpool::gateway
