#include "http/HttpServer.h"

#include "Log.h"
#include "http/EpollEventDispatcher.h"
#include "http/HttpWorker.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace llmpool::gateway {

namespace {

struct SocketAddress
{
    struct sockaddr_storage storage = {};
    socklen_t length = 0;
    int family = AF_INET;
    bool dualStack = false;
};

SocketAddress toSocketAddress(const QHostAddress &address, quint16 port)
{
    SocketAddress a;
    if (address == QHostAddress(QHostAddress::Any) || address.protocol() == QAbstractSocket::IPv6Protocol) {
        auto *in6 = reinterpret_cast<struct sockaddr_in6 *>(&a.storage);
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        const Q_IPV6ADDR v6 = address.toIPv6Address();
        std::memcpy(&in6->sin6_addr, &v6, sizeof v6);
        in6->sin6_scope_id = address.scopeId().toUInt();
        a.length = sizeof(struct sockaddr_in6);
        a.family = AF_INET6;
        a.dualStack = address == QHostAddress(QHostAddress::Any);
    } else {
        auto *in4 = reinterpret_cast<struct sockaddr_in *>(&a.storage);
        in4->sin_family = AF_INET;
        in4->sin_port = htons(port);
        in4->sin_addr.s_addr = htonl(address.toIPv4Address());
        a.length = sizeof(struct sockaddr_in);
    }
    return a;
}

// One SO_REUSEPORT listener. Returns the fd or -1 with errno set.
int openListener(const HttpServerConfig &config, quint16 port)
{
    const SocketAddress a = toSocketAddress(config.address, port);
    const int fd = ::socket(a.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    const int one = 1;
    const int zero = 0;
    if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0 ||
        (a.dualStack && ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero) != 0) ||
        ::bind(fd, reinterpret_cast<const struct sockaddr *>(&a.storage), a.length) != 0 ||
        ::listen(fd, config.backlog) != 0) {
        const int saved = errno;
        ::close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

quint16 boundPort(int fd)
{
    struct sockaddr_storage storage = {};
    socklen_t length = sizeof storage;
    if (::getsockname(fd, reinterpret_cast<struct sockaddr *>(&storage), &length) != 0)
        return 0;
    if (storage.ss_family == AF_INET6)
        return ntohs(reinterpret_cast<const struct sockaddr_in6 *>(&storage)->sin6_port);
    return ntohs(reinterpret_cast<const struct sockaddr_in *>(&storage)->sin_port);
}

} // namespace

HttpServer::HttpServer(HttpServerConfig config, std::shared_ptr<const Router> router, QObject *parent)
    : QObject(parent), m_config(std::move(config)), m_router(std::move(router)),
      m_shared(std::make_unique<HttpServerShared>())
{
    if (!m_router)
        m_router = std::make_shared<const Router>();
    // http-parser refuses heads over 80 KiB on its own; keep ours the binding limit.
    m_config.maxHeaderBytes = std::clamp(m_config.maxHeaderBytes, 256, 80 * 1024 - 1);
    m_config.writeLowWater = std::min(m_config.writeLowWater, m_config.writeHighWater);
    m_config.backlog = std::max(m_config.backlog, 16);
}

HttpServer::~HttpServer()
{
    stop();
}

Status HttpServer::start()
{
    if (isRunning())
        return Error::internal(QStringLiteral("http_already_running"), QStringLiteral("the HTTP server is running"));
    const int count = m_config.threads > 0 ? m_config.threads : std::max(1, QThread::idealThreadCount());

    std::vector<int> fds;
    quint16 port = m_config.port;
    for (int i = 0; i < count; ++i) {
        const int fd = openListener(m_config, port);
        if (fd < 0) {
            const QString reason = qt_error_string(errno);
            for (int open : fds)
                ::close(open);
            return Error::unavailable(QStringLiteral("http_listen_failed"),
                                      QStringLiteral("cannot listen on %1 port %2: %3")
                                          .arg(m_config.address.toString())
                                          .arg(port)
                                          .arg(reason));
        }
        if (i == 0)
            port = boundPort(fd); // port 0: the others join the port the kernel chose
        fds.push_back(fd);
    }

    m_shared->draining = false;
    for (int i = 0; i < count; ++i) {
        auto thread = std::make_unique<HttpWorkerThread>(m_config, m_router, fds[size_t(i)], *m_shared);
        thread->setObjectName(QStringLiteral("http-%1").arg(i));
        // epoll unless LLMPOOL_EVENT_DISPATCHER=qt asks for Qt's poll-based dispatcher (see
        // EpollEventDispatcher: poll's cost grows with every open connection, epoll's does not).
        if (qgetenv("LLMPOOL_EVENT_DISPATCHER") != "qt") {
            auto dispatcher = std::make_unique<EpollEventDispatcher>();
            if (dispatcher->isValid())
                thread->setEventDispatcher(dispatcher.release());
        }
        thread->start();
        thread->waitReady();
        m_threads.push_back(std::move(thread));
    }
    m_port = port;
    qCInfo(lcHttp).noquote() << "listening on" << m_config.address.toString() << "port" << port << "with" << count
                             << "threads";
    return Ok{};
}

void HttpServer::stopAccepting()
{
    for (const auto &t : m_threads) {
        Q_ASSERT(QThread::currentThread() != t.get());
        if (HttpWorker *w = t->worker())
            QMetaObject::invokeMethod(w, &HttpWorker::stopAccepting, Qt::BlockingQueuedConnection);
    }
}

bool HttpServer::drain(QDeadlineTimer deadline)
{
    stopAccepting();
    m_shared->draining = true;
    for (const auto &t : m_threads) {
        if (HttpWorker *w = t->worker())
            QMetaObject::invokeMethod(w, &HttpWorker::closeIdleConnections, Qt::QueuedConnection);
    }
    std::unique_lock lock(m_shared->drainMutex);
    while (inFlight() > 0) {
        if (deadline.hasExpired())
            return false;
        const auto left = std::chrono::milliseconds(std::max<qint64>(1, deadline.remainingTime()));
        m_shared->drainCv.wait_for(lock, deadline.isForever() ? std::chrono::milliseconds(100) : left);
    }
    return true;
}

void HttpServer::stop()
{
    if (m_threads.empty())
        return;
    for (const auto &t : m_threads)
        t->quit();
    for (const auto &t : m_threads)
        t->wait(); // each worker closes its connections (disconnect callbacks) as its thread ends
    m_threads.clear();
    m_shared->draining = false;
    m_port = 0;
}

int HttpServer::inFlight() const
{
    int n = 0;
    for (const auto &t : m_threads)
        n += t->counters().inFlight.load(std::memory_order_acquire);
    return n;
}

HttpServerStats HttpServer::stats() const
{
    HttpServerStats s;
    for (const auto &t : m_threads) {
        const HttpWorkerCounters &c = t->counters();
        s.connectionsAccepted += c.accepted.load(std::memory_order_relaxed);
        s.connectionsRejected += c.rejected.load(std::memory_order_relaxed);
        s.requests += c.requests.load(std::memory_order_relaxed);
        s.bytesReceived += c.bytesReceived.load(std::memory_order_relaxed);
        s.connections += c.connections.load(std::memory_order_relaxed);
        s.inFlight += c.inFlight.load(std::memory_order_relaxed);
    }
    return s;
}

} // namespace llmpool::gateway
