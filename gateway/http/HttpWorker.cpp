#include "http/HttpWorker.h"

#include "Log.h"

#include "http/ErrorReply.h"
#include "http/HttpConnection.h"
#include "http/HttpWire.h"

#include <QAbstractEventDispatcher>
#include <QSocketNotifier>

#include <algorithm>
#include <cerrno>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

namespace llmpool::gateway {

namespace {

constexpr int kAcceptBatch = 64;

int sweepIntervalMs(const HttpServerConfig &c)
{
    int shortest = 1000;
    for (int t : {c.headerTimeoutMs, c.bodyTimeoutMs, c.idleTimeoutMs, c.writeTimeoutMs, c.lingerMs}) {
        if (t > 0)
            shortest = std::min(shortest, t);
    }
    return std::clamp(shortest / 4, 5, 1000);
}

QByteArray busyResponse()
{
    const QByteArray body = errorBody(httpErrors::serverBusy());
    return HttpWire::statusLine(503).toByteArray() + "server: llmpool\r\n" + HttpWire::dateHeader().toByteArray() +
           "content-type: application/json\r\ncontent-length: " + QByteArray::number(body.size()) +
           "\r\nconnection: close\r\n\r\n" + body;
}

} // namespace

HttpWorker::HttpWorker(const HttpServerConfig &config, const Router &router, int listenFd, HttpServerShared &shared,
                       HttpWorkerCounters &counters)
    : m_config(config), m_router(router), m_shared(shared), m_counters(counters), m_listenFd(listenFd)
{
    // The pass's output goes out when the next pass starts (awake: before the posted events — the
    // deleteLaters of the finished requests — are handled) and before the loop waits.
    QAbstractEventDispatcher *dispatcher = QAbstractEventDispatcher::instance();
    Q_ASSERT(dispatcher); // a QThread has one before run()
    if (dispatcher) {
        connect(dispatcher, &QAbstractEventDispatcher::awake, this, &HttpWorker::flushQueued);
        connect(dispatcher, &QAbstractEventDispatcher::aboutToBlock, this, &HttpWorker::flushQueued);
    }
}

HttpWorker::~HttpWorker()
{
    stopAccepting();
    // The loop may have stopped between a response's end and the pass's flush (a drain sees the
    // request finished, then stops the thread): what is queued still goes out before the close.
    flushQueued();
    const std::vector<HttpConnection *> open = m_connections;
    for (HttpConnection *c : open)
        c->closeNow();
    // The connections are children: QObject's destructor deletes them after this body.
}

void HttpWorker::startAccepting()
{
    m_acceptNotifier = new QSocketNotifier(m_listenFd, QSocketNotifier::Read, this);
    connect(m_acceptNotifier, &QSocketNotifier::activated, this, &HttpWorker::onAcceptReady);
    m_sweepTimer.setInterval(sweepIntervalMs(m_config));
    connect(&m_sweepTimer, &QTimer::timeout, this, &HttpWorker::onSweep);
    m_sweepTimer.start();
    m_acceptRetryTimer.setSingleShot(true);
    m_acceptRetryTimer.setInterval(100);
    connect(&m_acceptRetryTimer, &QTimer::timeout, this, [this] {
        if (m_acceptNotifier)
            m_acceptNotifier->setEnabled(true);
    });
}

void HttpWorker::stopAccepting()
{
    m_acceptRetryTimer.stop();
    if (m_acceptNotifier) {
        m_acceptNotifier->setEnabled(false);
        delete m_acceptNotifier;
        m_acceptNotifier = nullptr;
    }
    if (m_listenFd >= 0) {
        ::close(m_listenFd);
        m_listenFd = -1;
    }
}

void HttpWorker::closeIdleConnections()
{
    const std::vector<HttpConnection *> open = m_connections;
    for (HttpConnection *c : open)
        c->closeIfIdle();
}

void HttpWorker::onAcceptReady()
{
    for (int i = 0; i < kAcceptBatch && m_listenFd >= 0; ++i) {
        struct sockaddr_storage address = {};
        socklen_t length = sizeof address;
        const int fd =
            ::accept4(m_listenFd, reinterpret_cast<struct sockaddr *>(&address), &length, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                // Level-triggered: the pending connection would wake us again at once. Pause.
                qCWarning(lcHttp) << "accept failed:" << qt_error_string(errno) << "- retrying in 100 ms";
                m_acceptNotifier->setEnabled(false);
                m_acceptRetryTimer.start();
            }
            return;
        }
        m_counters.accepted.fetch_add(1, std::memory_order_relaxed);
        if (m_config.maxConnections > 0 &&
            m_shared.connections.load(std::memory_order_relaxed) >= m_config.maxConnections) {
            static const QByteArray busy = busyResponse();
            [[maybe_unused]] const ssize_t ignored =
                ::send(fd, busy.constData(), size_t(busy.size()), MSG_NOSIGNAL | MSG_DONTWAIT);
            ::close(fd);
            m_counters.rejected.fetch_add(1, std::memory_order_relaxed);
            continue;
        }
        const int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (m_config.socketSendBufferBytes > 0) {
            const int size = m_config.socketSendBufferBytes;
            ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
        }
        const QHostAddress peer(reinterpret_cast<const struct sockaddr *>(&address));
        quint16 peerPort = 0;
        if (address.ss_family == AF_INET)
            peerPort = ntohs(reinterpret_cast<const struct sockaddr_in *>(&address)->sin_port);
        else if (address.ss_family == AF_INET6)
            peerPort = ntohs(reinterpret_cast<const struct sockaddr_in6 *>(&address)->sin6_port);
        auto *connection = new HttpConnection(this, fd, peer, peerPort); // child of this worker
        connection->setIndex(int(m_connections.size()));
        m_connections.push_back(connection);
        m_shared.connections.fetch_add(1, std::memory_order_relaxed);
        m_counters.connections.fetch_add(1, std::memory_order_relaxed);
    }
}

void HttpWorker::connectionClosed(HttpConnection *connection)
{
    const int index = connection->index();
    if (index < 0 || index >= int(m_connections.size()) || m_connections[size_t(index)] != connection)
        return;
    HttpConnection *last = m_connections.back();
    m_connections[size_t(index)] = last;
    last->setIndex(index);
    m_connections.pop_back();
    connection->setIndex(-1);
    std::erase(m_toFlush, connection);
    m_shared.connections.fetch_sub(1, std::memory_order_relaxed);
    m_counters.connections.fetch_sub(1, std::memory_order_relaxed);
}

void HttpWorker::flushSoon(HttpConnection *connection)
{
    m_toFlush.push_back(connection);
}

void HttpWorker::flushQueued()
{
    // A flush can queue others (a drained stream writes again): until none is left.
    std::vector<HttpConnection *> batch;
    while (!m_toFlush.empty()) {
        batch.swap(m_toFlush);
        for (size_t i = 0; i < batch.size(); ++i)
            batch[i]->flushQueued();
        batch.clear();
    }
}

void HttpWorker::onSweep()
{
    const qint64 now = HttpConnection::monotonicMs();
    const bool drain = draining();
    // Backwards: a connection that closes is replaced by the last one, already visited.
    for (size_t i = m_connections.size(); i-- > 0;) {
        if (i >= m_connections.size())
            continue;
        HttpConnection *c = m_connections[i];
        if (drain)
            c->closeIfIdle();
        if (c->index() >= 0)
            c->checkTimeouts(now);
    }
}

void HttpWorker::requestStarted()
{
    m_counters.inFlight.fetch_add(1, std::memory_order_relaxed);
}

void HttpWorker::requestFinished()
{
    if (m_counters.inFlight.fetch_sub(1, std::memory_order_acq_rel) == 1 && draining()) {
        const std::lock_guard lock(m_shared.drainMutex);
        m_shared.drainCv.notify_all();
    }
}

// ---------------------------------------------------------------------------------------------

HttpWorkerThread::HttpWorkerThread(const HttpServerConfig &config, std::shared_ptr<const Router> router, int listenFd,
                                   HttpServerShared &shared)
    : m_config(config), m_router(std::move(router)), m_listenFd(listenFd), m_shared(shared)
{
}

HttpWorkerThread::~HttpWorkerThread()
{
    quit();
    wait();
    if (m_listenFd >= 0)
        ::close(m_listenFd);
}

void HttpWorkerThread::run()
{
    // The worker lives on this thread's stack: created, used and destroyed here.
    HttpWorker worker(m_config, *m_router, std::exchange(m_listenFd, -1), m_shared, m_counters);
    worker.startAccepting();
    m_worker = &worker;
    m_ready.release();
    exec();
    m_worker = nullptr;
}

} // namespace llmpool::gateway
