#pragma once

// HttpServer: the HTTP/1.1 front end — the one narrow interface the rest of the gateway sees
// (HttpServer + Router + HttpRequest + HttpResponder), so another implementation (QtHttpServer ≥ 6.8)
// could stand behind it later.
//
// Owns N event-loop threads (HttpWorkerThread). Each has its own listening socket bound with
// SO_REUSEPORT to the same address, so the kernel spreads connections; a connection lives and dies
// on the thread that accepted it, and its handlers run there. The router is shared read-only.
//
// Thread: the HttpServer object lives on the thread that created it (usually main); call start(),
// stop(), drain() there. stats(), inFlight() and port() may be called from any thread.

#include "Result.h"
#include "http/Router.h"

#include <QDeadlineTimer>
#include <QHostAddress>
#include <QObject>

#include <memory>
#include <vector>

namespace llmpool::gateway {

class HttpWorkerThread;
struct HttpServerShared;

struct HttpServerConfig
{
    QHostAddress address = QHostAddress(QHostAddress::LocalHost);
    quint16 port = 0; // 0 = any free port (see HttpServer::port())
    int threads = 0;  // event-loop threads; 0 = QThread::idealThreadCount()
    int backlog = 1024;
    int maxConnections = 10000; // across all threads; beyond it a connection gets 503 and is closed; 0 = no limit

    qint64 maxBodyBytes = 64ll * 1024 * 1024;
    int maxHeaderBytes = 32 * 1024;    // request line + header fields; at most 80 KiB (http-parser's own cap)
    int maxPipelinedBytes = 64 * 1024; // bytes read ahead while a request is being handled

    int headerTimeoutMs = 10'000; // from accept / the first byte of a request to the end of its head
    int bodyTimeoutMs = 30'000;   // without a single body byte
    int idleTimeoutMs = 60'000;   // keep-alive connection waiting for its next request
    int writeTimeoutMs = 60'000;  // queued response bytes and no progress (a client that stopped reading)
    int lingerMs = 2'000;         // reading and discarding after a final response on a closing connection

    qint64 writeHighWater = 256 * 1024; // HttpResponder::write() returns false above this
    qint64 writeLowWater = 64 * 1024;   // onDrained fires at or below this
    int socketSendBufferBytes = 0;      // SO_SNDBUF for accepted sockets; 0 = kernel default
};

struct HttpServerStats
{
    qint64 connectionsAccepted = 0;
    qint64 connectionsRejected = 0; // over maxConnections
    qint64 requests = 0;            // requests whose head was complete
    qint64 bytesReceived = 0;
    int connections = 0; // open now
    int inFlight = 0;    // dispatched and not finished
};

class HttpServer : public QObject
{
    Q_OBJECT
public:
    HttpServer(HttpServerConfig config, std::shared_ptr<const Router> router, QObject *parent = nullptr);
    ~HttpServer() override;

    // Binds every listener (synchronously: when it returns, port() is valid and connections are
    // queued by the kernel) and starts the threads.
    Status start();
    bool isRunning() const { return !m_threads.empty(); }
    quint16 port() const { return m_port; }
    const HttpServerConfig &config() const { return m_config; }
    int threadCount() const { return int(m_threads.size()); }

    // Stops accepting (closes the listeners); open connections carry on.
    void stopAccepting();
    // stopAccepting(), then answers every later response with "connection: close", closes idle
    // keep-alive connections and waits until no request is in flight or the deadline passes.
    // Returns whether everything finished. Blocks the calling thread (not an event-loop thread).
    bool drain(QDeadlineTimer deadline);
    // Closes everything: in-flight handlers see their disconnect callbacks (on their threads), then
    // the threads end. Safe to call twice; the destructor calls it.
    void stop();

    int inFlight() const;
    HttpServerStats stats() const;

private:
    HttpServerConfig m_config;
    std::shared_ptr<const Router> m_router;
    std::unique_ptr<HttpServerShared> m_shared;
    std::vector<std::unique_ptr<HttpWorkerThread>> m_threads;
    quint16 m_port = 0;
};

} // namespace llmpool::gateway
