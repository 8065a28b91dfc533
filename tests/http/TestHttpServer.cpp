// HttpServer over real sockets on 127.0.0.1, port 0. Handlers run on the server's threads; the
// test thread drives a raw client (HttpTestClient) and waits with deadlines, never with sleeps.

#include "HttpTestClient.h"
#include "http/ErrorReply.h"
#include "http/HttpServer.h"
#include "http/SseWriter.h"

#include <QElapsedTimer>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QMutex>
#include <QSet>
#include <QTest>
#include <QThread>
#include <QTimer>

#include <atomic>
#include <memory>

using namespace llmpool;
using namespace llmpool::gateway;

namespace {

// Resident set size of this process (server and client both live here), in bytes.
qint64 residentBytes()
{
    QFile f(QStringLiteral("/proc/self/statm"));
    if (!f.open(QIODevice::ReadOnly))
        return 0;
    const QList<QByteArray> parts = f.readAll().split(' ');
    return parts.size() > 1 ? parts[1].toLongLong() * 4096 : 0;
}

QByteArray get(const QByteArray &path, const QByteArray &extra = {})
{
    return "GET " + path + " HTTP/1.1\r\nHost: t\r\n" + extra + "\r\n";
}

} // namespace

class TestHttpServer : public QObject
{
    Q_OBJECT

private slots:
    void init();
    void cleanup();

    void getAndKeepAlive();
    void headHasNoBody();
    void notFoundJsonShape();
    void methodNotAllowedKeepsConnection();
    void pathAndQueryParameters();
    void pipelinedResponsesInOrder();
    void connectionClose();
    void http10();
    void declaredBodyTooLarge();
    void chunkedBodyTooLarge();
    void chunkedRequestBody();
    void headersTooLarge();
    void idleTimeoutCloses();
    void headerTimeoutCloses();
    void expectContinueAccepted();
    void expectContinueRejected_data();
    void expectContinueRejected();
    void chunkedResponse();
    void sseBackpressure();
    void disconnectReachesHandler();
    void handlerWithoutResponseGets500();
    void twoThreadsServeOnePort();
    void maxConnections();
    void drainWaitsForInFlight();
    void loopEndingRightAfterAResponseStillSendsIt();
    void rejectsSmuggling_data();
    void rejectsSmuggling();

private:
    // Starts a server with the default routes (+ extra ones) and `config` (port 0, 1 thread unless set).
    HttpServer *start(HttpServerConfig config = {}, const std::function<void(Router &)> &extraRoutes = {});

    std::unique_ptr<HttpServer> m_server;
    std::atomic<int> m_handlerCalls{0};
    QMutex m_mutex;
    QList<HttpResponder> m_kept; // responders held beyond their handler, guarded by m_mutex
};

void TestHttpServer::init()
{
    m_handlerCalls = 0;
}

void TestHttpServer::cleanup()
{
    if (m_server)
        m_server->stop();
    m_server.reset();
    const QMutexLocker lock(&m_mutex);
    m_kept.clear();
}

HttpServer *TestHttpServer::start(HttpServerConfig config, const std::function<void(Router &)> &extraRoutes)
{
    auto router = std::make_shared<Router>();
    router->get("/healthz", [this](HttpRequest &, HttpResponder &r) {
        ++m_handlerCalls;
        r.respond(200, "application/json", QByteArrayLiteral("{\"status\":\"ok\"}"));
    });
    router->post("/echo", [this](HttpRequest &req, HttpResponder &r) {
        ++m_handlerCalls;
        r.respond(200, "application/octet-stream", req.body());
    });
    router->get("/echo", [this](HttpRequest &req, HttpResponder &r) {
        ++m_handlerCalls;
        r.respond(200, "text/plain", req.queryParam("n"));
    });
    router->get("/slow", [this](HttpRequest &, HttpResponder &r) {
        ++m_handlerCalls;
        QTimer::singleShot(150, r.threadContext(), [r]() mutable { r.respond(200, "text/plain", "slow"); });
    });
    if (extraRoutes)
        extraRoutes(*router);
    if (config.threads == 0)
        config.threads = 1;
    config.port = 0;
    m_server = std::make_unique<HttpServer>(config, router);
    const Status started = m_server->start();
    if (!started) {
        qWarning() << started.error().message;
        return nullptr;
    }
    return m_server.get();
}

void TestHttpServer::getAndKeepAlive()
{
    HttpServer *server = start();
    QVERIFY(server);
    QVERIFY(server->port() != 0);
    HttpTestClient client(server->port());
    QVERIFY(client.isOpen());
    for (int i = 0; i < 3; ++i) {
        QVERIFY(client.send(get("/healthz")));
        const auto response = client.readResponse();
        QVERIFY(response);
        QCOMPARE(response->status, 200);
        QCOMPARE(response->body, QByteArray("{\"status\":\"ok\"}"));
        QCOMPARE(response->header("server"), QByteArray("llmpool"));
        QCOMPARE(response->header("content-type"), QByteArray("application/json"));
        QCOMPARE(response->header("content-length"), QByteArray("15"));
        QVERIFY(response->header("date").endsWith(" GMT"));
        QVERIFY(!response->hasHeader("connection"));
    }
    QCOMPARE(server->stats().connectionsAccepted, 1);
}

void TestHttpServer::headHasNoBody()
{
    HttpServer *server = start();
    QVERIFY(server);
    HttpTestClient client(server->port());
    QVERIFY(client.send("HEAD /healthz HTTP/1.1\r\nHost: t\r\n\r\n" + get("/echo?n=after")));
    const auto head = client.readResponse(5000, true);
    QVERIFY(head);
    QCOMPARE(head->status, 200);
    QCOMPARE(head->header("content-length"), QByteArray("15"));
    QVERIFY(head->body.isEmpty());
    // Had the server sent a body, it would be parsed as the start of this response.
    const auto next = client.readResponse();
    QVERIFY(next);
    QCOMPARE(next->body, QByteArray("after"));
}

void TestHttpServer::notFoundJsonShape()
{
    HttpServer *server = start();
    QVERIFY(server);
    HttpTestClient client(server->port());
    QVERIFY(client.send(get("/nope")));
    const auto response = client.readResponse();
    QVERIFY(response);
    QCOMPARE(response->status, 404);
    QCOMPARE(response->header("content-type"), QByteArray("application/json"));
    QCOMPARE(response->body,
             QByteArray("{\"error\":{\"message\":\"Invalid URL (GET /nope)\",\"type\":\"invalid_request_error\","
                        "\"param\":null,\"code\":\"not_found\"}}"));
    const QJsonObject error = QJsonDocument::fromJson(response->body).object().value("error").toObject();
    QCOMPARE(error.keys(), (QStringList{"code", "message", "param", "type"}));
    QVERIFY(error.value("param").isNull());
    QCOMPARE(m_handlerCalls.load(), 0);

    Error custom =
        Error::invalidRequest(QStringLiteral("bad_field"), QStringLiteral("say \"hi\"\n"), QStringLiteral("model"));
    QCOMPARE(errorBody(custom),
             QByteArray("{\"error\":{\"message\":\"say \\\"hi\\\"\\n\",\"type\":\"invalid_request_error\","
                        "\"param\":\"model\",\"code\":\"bad_field\"}}"));
}

void TestHttpServer::methodNotAllowedKeepsConnection()
{
    HttpServer *server = start();
    QVERIFY(server);
    HttpTestClient client(server->port());
    QVERIFY(client.send("POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nabcde" + get("/healthz")));
    const auto response = client.readResponse();
    QVERIFY(response);
    QCOMPARE(response->status, 405);
    QCOMPARE(response->header("allow"), QByteArray("GET, HEAD"));
    const QJsonObject error = QJsonDocument::fromJson(response->body).object().value("error").toObject();
    QCOMPARE(error.value("code").toString(), QStringLiteral("method_not_allowed"));
    QCOMPARE(error.value("type").toString(), QStringLiteral("invalid_request_error"));
    // The body was skipped, not parsed as a request: the next one works on the same connection.
    const auto next = client.readResponse();
    QVERIFY(next);
    QCOMPARE(next->status, 200);
}

void TestHttpServer::pathAndQueryParameters()
{
    QByteArray seen;
    QMutex seenMutex;
    HttpServer *server = start({}, [&](Router &router) {
        router.get("/v1/models/{id}", [&](HttpRequest &req, HttpResponder &r) {
            const QMutexLocker lock(&seenMutex);
            seen = req.pathParam("id") + '|' + req.queryParam("q") + '|' + req.header("X-Test").toByteArray() + '|' +
                   QByteArray::number(req.headerValues("x-multi").size()) + '|' + req.path();
            r.respond(204, HttpHeaders{}, {});
        });
    });
    QVERIFY(server);
    HttpTestClient client(server->port());
    QVERIFY(client.send(get("/v1/models/a%2Fb?q=x%20y+z", "x-test:  v1 \r\nX-Multi: 1\r\nx-multi: 2\r\n")));
    const auto response = client.readResponse();
    QVERIFY(response);
    QCOMPARE(response->status, 204);
    QVERIFY(!response->hasHeader("content-length"));
    const QMutexLocker lock(&seenMutex);
    QCOMPARE(seen, QByteArray("a/b|x y z|v1|2|/v1/models/a/b"));
}

void TestHttpServer::pipelinedResponsesInOrder()
{
    HttpServer *server = start();
    QVERIFY(server);
    HttpTestClient client(server->port());
    // Three requests in one write; the first handler answers 150 ms later from a timer.
    QVERIFY(client.send(get("/slow") + get("/echo?n=1") + get("/echo?n=2")));
    QByteArrayList bodies;
    for (int i = 0; i < 3; ++i) {
        const auto response = client.readResponse();
        QVERIFY(response);
        QCOMPARE(response->status, 200);
        bodies << response->body;
    }
    QCOMPARE(bodies, (QByteArrayList{"slow", "1", "2"}));
}

void TestHttpServer::connectionClose()
{
    HttpServer *server = start();
    QVERIFY(server);
    HttpTestClient client(server->port());
    QVERIFY(client.send(get("/healthz", "Connection: close\r\n")));
    const auto response = client.readResponse();
    QVERIFY(response);
    QCOMPARE(response->status, 200);
    QCOMPARE(response->header("connection"), QByteArray("close"));
    QVERIFY(client.waitForClose(3000));
}

void TestHttpServer::http10()
{
    HttpServer *server = start();
    QVERIFY(server);
    {
        HttpTestClient client(server->port());
        QVERIFY(client.send("GET /healthz HTTP/1.0\r\n\r\n"));
        const auto response = client.readResponse();
        QVERIFY(response);
        QCOMPARE(response->status, 200);
        QCOMPARE(response->header("connection"), QByteArray("close"));
        QVERIFY(client.waitForClose(3000));
    }
    {
        HttpTestClient client(server->port());
        QVERIFY(client.send("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
        auto response = client.readResponse();
        QVERIFY(response);
        QCOMPARE(response->header("connection"), QByteArray("keep-alive"));
        QVERIFY(client.send("GET /echo?n=2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
        response = client.readResponse();
        QVERIFY(response);
        QCOMPARE(response->body, QByteArray("2"));
    }
}

void TestHttpServer::declaredBodyTooLarge()
{
    HttpServerConfig config;
    config.maxBodyBytes = 1024 * 1024;
    HttpServer *server = start(config);
    QVERIFY(server);
    const qint64 rssBefore = residentBytes();
    HttpTestClient client(server->port());
    QVERIFY(client.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1073741824\r\n\r\n"));
    // Some of the body follows; the answer must not wait for it.
    client.send(QByteArray(256 * 1024, 'x'), 2000);
    const auto response = client.readResponse();
    QVERIFY(response);
    QCOMPARE(response->status, 413);
    QCOMPARE(response->header("connection"), QByteArray("close"));
    QCOMPARE(QJsonDocument::fromJson(response->body).object().value("error").toObject().value("code").toString(),
             QStringLiteral("request_too_large"));
    QVERIFY(client.waitForClose(5000));
    QCOMPARE(m_handlerCalls.load(), 0);
    // Nothing like the declared gigabyte was read or kept.
    QVERIFY2(server->stats().bytesReceived < 2 * 1024 * 1024, QByteArray::number(server->stats().bytesReceived));
    QVERIFY(residentBytes() - rssBefore < 16 * 1024 * 1024);
}

void TestHttpServer::chunkedBodyTooLarge()
{
    HttpServerConfig config;
    config.maxBodyBytes = 1000;
    HttpServer *server = start(config);
    QVERIFY(server);
    HttpTestClient client(server->port());
    const QByteArray chunk = "258\r\n" + QByteArray(600, 'a') + "\r\n";
    QVERIFY(client.send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk + chunk));
    const auto response = client.readResponse();
    QVERIFY(response);
    QCOMPARE(response->status, 413);
    QVERIFY(client.waitForClose(5000));
    QCOMPARE(m_handlerCalls.load(), 0);
}

void TestHttpServer::chunkedRequestBody()
{
    HttpServer *server = start();
    QVERIFY(server);
    HttpTestClient client(server->port());
    QVERIFY(client.send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "6\r\nhello \r\n5;ext=1\r\nworld\r\n0\r\n\r\n"));
    const auto response = client.readResponse();
    QVERIFY(response);
    QCOMPARE(response->status, 200);
    QCOMPARE(response->body, QByteArray("hello world"));
}

void TestHttpServer::headersTooLarge()
{
    HttpServerConfig config;
    config.maxHeaderBytes = 4096;
    HttpServer *server = start(config);
    QVERIFY(server);
    HttpTestClient client(server->port());
    QVERIFY(client.send(get("/healthz", "X-Big: " + QByteArray(8000, 'b') + "\r\n")));
    const auto response = client.readResponse();
    QVERIFY(response);
    QCOMPARE(response->status, 431);
    QVERIFY(client.waitForClose(5000));
}

void TestHttpServer::idleTimeoutCloses()
{
    HttpServerConfig config;
    config.idleTimeoutMs = 200;
    HttpServer *server = start(config);
    QVERIFY(server);
    HttpTestClient client(server->port());
    QVERIFY(client.send(get("/healthz")));
    QVERIFY(client.readResponse());
    QElapsedTimer timer;
    timer.start();
    QVERIFY(client.waitForClose(5000));
    QVERIFY2(timer.elapsed() >= 150, QByteArray::number(timer.elapsed()));
    QTRY_COMPARE(server->stats().connections, 0);
}

void TestHttpServer::headerTimeoutCloses()
{
    HttpServerConfig config;
    config.headerTimeoutMs = 200;
    HttpServer *server = start(config);
    QVERIFY(server);
    HttpTestClient client(server->port());
    // Slowloris: a head that never ends.
    QVERIFY(client.send("GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: "));
    const auto response = client.readResponse(5000);
    QVERIFY(response);
    QCOMPARE(response->status, 408);
    QVERIFY(client.waitForClose(5000));

    // A connection that sends nothing at all is closed too.
    HttpTestClient silent(server->port());
    QVERIFY(silent.waitForClose(5000));
}

void TestHttpServer::expectContinueAccepted()
{
    HttpServer *server = start();
    QVERIFY(server);
    HttpTestClient client(server->port());
    QVERIFY(client.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
    const auto interim = client.readResponse();
    QVERIFY(interim);
    QCOMPARE(interim->status, 100);
    QVERIFY(client.send("hello"));
    const auto response = client.readResponse();
    QVERIFY(response);
    QCOMPARE(response->status, 200);
    QCOMPARE(response->body, QByteArray("hello"));
}

void TestHttpServer::expectContinueRejected_data()
{
    QTest::addColumn<QByteArray>("request");
    QTest::addColumn<int>("status");
    QTest::newRow("too large") << QByteArray("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n"
                                             "Expect: 100-continue\r\n\r\n")
                               << 413;
    QTest::newRow("unknown route") << QByteArray("POST /nope HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                                                 "Expect: 100-continue\r\n\r\n")
                                   << 404;
    QTest::newRow("wrong method") << QByteArray("PUT /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                                                "Expect: 100-continue\r\n\r\n")
                                  << 405;
    QTest::newRow("unknown expectation") << QByteArray("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                                                       "Expect: something-else\r\n\r\n")
                                         << 417;
}

void TestHttpServer::expectContinueRejected()
{
    QFETCH(QByteArray, request);
    QFETCH(int, status);
    HttpServerConfig config;
    config.maxBodyBytes = 10;
    HttpServer *server = start(config);
    QVERIFY(server);
    HttpTestClient client(server->port());
    QVERIFY(client.send(request));
    const auto response = client.readResponse();
    QVERIFY(response);
    QCOMPARE(response->status, status); // the final status directly, no 100 Continue
    QVERIFY(client.waitForClose(5000));
    QCOMPARE(m_handlerCalls.load(), 0);
}

void TestHttpServer::chunkedResponse()
{
    HttpServer *server = start({}, [](Router &router) {
        router.get("/stream", [](HttpRequest &, HttpResponder &r) {
            r.beginStream(200, {{"content-type", "text/plain"}});
            r.write("hello ");
            QTimer::singleShot(20, r.threadContext(), [r]() mutable {
                r.write("world");
                r.end();
            });
        });
    });
    QVERIFY(server);
    HttpTestClient client(server->port());
    QVERIFY(client.send(get("/stream") + get("/healthz")));
    const auto response = client.readResponse();
    QVERIFY(response);
    QCOMPARE(response->status, 200);
    QCOMPARE(response->header("transfer-encoding"), QByteArray("chunked"));
    QCOMPARE(response->body, QByteArray("hello world"));
    const auto next = client.readResponse();
    QVERIFY(next);
    QCOMPARE(next->status, 200);

    // An HTTP/1.0 client gets the stream close-delimited.
    HttpTestClient old(server->port());
    QVERIFY(old.send("GET /stream HTTP/1.0\r\n\r\n"));
    const auto oldResponse = old.readResponse();
    QVERIFY(oldResponse);
    QVERIFY(!oldResponse->hasHeader("transfer-encoding"));
    QCOMPARE(oldResponse->body, QByteArray("hello world"));
}

void TestHttpServer::sseBackpressure()
{
    std::atomic<bool> full{false};
    std::atomic<bool> drained{false};
    std::atomic<qint64> pendingWhenFull{0};
    const QByteArray event(16 * 1024, 'e');
    HttpServerConfig config;
    config.writeHighWater = 256 * 1024;
    config.writeLowWater = 64 * 1024;
    HttpServer *server = start(config, [&](Router &router) {
        router.get("/events", [&](HttpRequest &, HttpResponder &r) {
            auto writer = std::make_shared<SseWriter>(r);
            writer->begin();
            // Produce from the event loop (like an upstream would) until the writer says stop.
            auto pump = std::make_shared<std::function<void()>>();
            *pump = [&, writer, pump] {
                int guard = 0;
                while (writer->send(event) && ++guard < 100000) {
                }
                pendingWhenFull = writer->responder().pendingBytes();
                full = true;
            };
            r.onDrained(r.threadContext(), [&, writer, pump] {
                *pump = nullptr; // break the cycle
                drained = true;
                writer->send("done");
                writer->end();
            });
            QTimer::singleShot(0, r.threadContext(), [pump] {
                if (*pump)
                    (*pump)();
            });
        });
    });
    QVERIFY(server);
    HttpTestClient client(server->port(), 16 * 1024);
    QVERIFY(client.send(get("/events")));
    QTRY_VERIFY_WITH_TIMEOUT(full.load(), 10000);
    QVERIFY(pendingWhenFull.load() >= config.writeHighWater);
    QVERIFY(!drained.load()); // the client has not read a byte
    // Now read: the server's queue empties, drained fires and the stream ends.
    const auto response = client.readResponse(20000);
    QVERIFY(response);
    QCOMPARE(response->status, 200);
    QCOMPARE(response->header("content-type"), QByteArray("text/event-stream"));
    QVERIFY(response->body.endsWith("data: done\n\n"));
    QVERIFY(response->body.startsWith("data: eeee"));
    QVERIFY(drained.load());
}

void TestHttpServer::disconnectReachesHandler()
{
    std::atomic<bool> disconnected{false};
    std::atomic<qint64> disconnectedAt{0};
    HttpServer *server = start({}, [&](Router &router) {
        router.get("/hold", [&](HttpRequest &, HttpResponder &r) {
            r.beginStream(200, {{"content-type", "text/event-stream"}});
            r.write("data: first\n\n");
            r.onDisconnected(r.threadContext(), [&] {
                disconnectedAt = QDateTime::currentMSecsSinceEpoch();
                disconnected = true;
            });
            const QMutexLocker lock(&m_mutex);
            m_kept.append(r); // async work in progress: keeps the response open
        });
    });
    QVERIFY(server);
    HttpTestClient client(server->port());
    QVERIFY(client.send(get("/hold")));
    QVERIFY(client.readUntil("data: first"));
    QCOMPARE(server->inFlight(), 1);
    const qint64 closedAt = QDateTime::currentMSecsSinceEpoch();
    client.close();
    QTRY_VERIFY_WITH_TIMEOUT(disconnected.load(), 2000);
    QVERIFY2(disconnectedAt - closedAt < 500, QByteArray::number(disconnectedAt - closedAt));
    QTRY_COMPARE(server->inFlight(), 0);
    const QMutexLocker lock(&m_mutex);
    QVERIFY(!m_kept.first().isConnected());
    QVERIFY(!m_kept.first().write("ignored")); // a no-op now, not a crash
}

void TestHttpServer::handlerWithoutResponseGets500()
{
    HttpServer *server =
        start({}, [](Router &router) { router.get("/forgot", [](HttpRequest &, HttpResponder &) {}); });
    QVERIFY(server);
    HttpTestClient client(server->port());
    QVERIFY(client.send(get("/forgot")));
    const auto response = client.readResponse();
    QVERIFY(response);
    QCOMPARE(response->status, 500);
}

void TestHttpServer::twoThreadsServeOnePort()
{
    QMutex threadsMutex;
    QSet<QThread *> threads;
    HttpServerConfig config;
    config.threads = 2;
    HttpServer *server = start(config, [&](Router &router) {
        router.get("/thread", [&](HttpRequest &, HttpResponder &r) {
            {
                const QMutexLocker lock(&threadsMutex);
                threads.insert(QThread::currentThread());
            }
            r.respond(200, "text/plain", "ok");
        });
    });
    QVERIFY(server);
    QCOMPARE(server->threadCount(), 2);
    std::vector<std::unique_ptr<HttpTestClient>> clients;
    for (int i = 0; i < 48; ++i) {
        clients.push_back(std::make_unique<HttpTestClient>(server->port()));
        QVERIFY(clients.back()->send(get("/thread")));
    }
    for (auto &c : clients) {
        const auto response = c->readResponse();
        QVERIFY(response);
        QCOMPARE(response->status, 200);
    }
    const QMutexLocker lock(&threadsMutex);
    QCOMPARE(threads.size(), 2);
    QVERIFY(!threads.contains(QThread::currentThread()));
}

void TestHttpServer::maxConnections()
{
    HttpServerConfig config;
    config.maxConnections = 2;
    HttpServer *server = start(config);
    QVERIFY(server);
    HttpTestClient a(server->port());
    HttpTestClient b(server->port());
    QTRY_COMPARE(server->stats().connections, 2);
    HttpTestClient c(server->port());
    const auto busy = c.readResponse();
    QVERIFY(busy);
    QCOMPARE(busy->status, 503);
    QVERIFY(c.waitForClose());
    QVERIFY(a.send(get("/healthz")));
    QVERIFY(a.readResponse());
}

void TestHttpServer::drainWaitsForInFlight()
{
    HttpServer *server = start();
    QVERIFY(server);
    HttpTestClient client(server->port());
    QVERIFY(client.send(get("/slow")));
    QTRY_COMPARE(server->inFlight(), 1);
    QVERIFY(server->drain(QDeadlineTimer(5000)));
    const auto response = client.readResponse();
    QVERIFY(response);
    QCOMPARE(response->body, QByteArray("slow"));
    QCOMPARE(response->header("connection"), QByteArray("close"));
    QVERIFY(client.waitForClose());
}

void TestHttpServer::loopEndingRightAfterAResponseStillSendsIt()
{
    // Output leaves when the loop's pass ends. A drain returns once the last request finished and
    // the server then stops the threads: a stop landing before that pass ends must not drop the
    // response. Here the handler itself ends its thread's loop right after responding.
    HttpServer *server = start({}, [](Router &router) {
        router.get("/last", [](HttpRequest &, HttpResponder &r) {
            r.respond(200, "text/plain", "last");
            QThread::currentThread()->quit();
        });
    });
    QVERIFY(server);
    HttpTestClient client(server->port());
    QVERIFY(client.send(get("/last")));
    const auto response = client.readResponse();
    QVERIFY(response);
    QCOMPARE(response->status, 200);
    QCOMPARE(response->body, QByteArray("last"));
}

void TestHttpServer::rejectsSmuggling_data()
{
    QTest::addColumn<QByteArray>("request");
    QTest::addColumn<int>("status");
    QTest::newRow("bare CR in value") << QByteArray("GET /healthz HTTP/1.1\r\nHost: t\r\nX-A: a\rb\r\n\r\n") << 400;
    QTest::newRow("space before colon") << QByteArray("GET /healthz HTTP/1.1\r\nHost : t\r\n\r\n") << 400;
    QTest::newRow("tab before colon") << QByteArray("GET /healthz HTTP/1.1\r\nHost\t: t\r\n\r\n") << 400;
    QTest::newRow("bare LF line ends") << QByteArray("GET /healthz HTTP/1.1\nHost: t\n\n") << 400;
    QTest::newRow("bare LF in head") << QByteArray("GET /healthz HTTP/1.1\r\nHost: t\nX: y\r\n\r\n") << 400;
    QTest::newRow("obs-fold") << QByteArray("GET /healthz HTTP/1.1\r\nHost: t\r\nX-A: a\r\n b\r\n\r\n") << 400;
    static const char withNul[] = "GET /healthz HTTP/1.1\r\nHost: t\r\nX-A: a\0b\r\n\r\n";
    QTest::newRow("NUL in value") << QByteArray(withNul, sizeof withNul - 1) << 400;
    QTest::newRow("CL and TE") << QByteArray("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                                             "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
                               << 400;
    QTest::newRow("TE and CL") << QByteArray("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
                                             "Content-Length: 5\r\n\r\n0\r\n\r\n")
                               << 400;
    QTest::newRow("differing CL") << QByteArray("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                                                "Content-Length: 6\r\n\r\nhello!")
                                  << 400;
    QTest::newRow("TE gzip") << QByteArray("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\nxx")
                             << 501;
    QTest::newRow("TE gzip, chunked") << QByteArray("POST /echo HTTP/1.1\r\nHost: t\r\n"
                                                    "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n")
                                      << 501;
    QTest::newRow("garbage") << QByteArray("HELLO\r\n\r\n") << 400;
    QTest::newRow("HTTP/2.0") << QByteArray("GET /healthz HTTP/2.0\r\nHost: t\r\n\r\n") << 505;
}

void TestHttpServer::rejectsSmuggling()
{
    QFETCH(QByteArray, request);
    QFETCH(int, status);
    HttpServer *server = start();
    QVERIFY(server);
    HttpTestClient client(server->port());
    QVERIFY(client.send(request));
    const auto response = client.readResponse();
    QVERIFY(response);
    QCOMPARE(response->status, status);
    QCOMPARE(response->header("connection"), QByteArray("close"));
    QVERIFY(QJsonDocument::fromJson(response->body).object().contains("error"));
    QVERIFY(client.waitForClose());
    QCOMPARE(m_handlerCalls.load(), 0);
}

QTEST_GUILESS_MAIN(TestHttpServer)
#include "TestHttpServer.moc"
