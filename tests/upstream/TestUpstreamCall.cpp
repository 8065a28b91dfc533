// UpstreamCall / CurlMulti over real loopback sockets. The well-behaved upstream is the gateway's
// own HttpServer (its own thread); misbehaving upstreams are scripted QTcpServers on the test
// thread, which also runs the CurlMulti. Waiting is QTRY_* / qWaitFor with deadlines, never sleeps.

#include "http/HttpServer.h"
#include "upstream/CurlMulti.h"
#include "upstream/UpstreamCall.h"

#include <QCryptographicHash>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QProcess>
#include <QRegularExpression>
#include <QSslKey>
#include <QSslServer>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>
#include <QTimer>

#include <atomic>
#include <functional>
#include <memory>

using namespace llmpool;
using namespace llmpool::gateway;

namespace {

using Kind = UpstreamOutcome::Kind;

char patternByte(qint64 i)
{
    return char((i * 7 + i / 1021) & 0xff);
}

QByteArray pattern(qint64 offset, qint64 size)
{
    QByteArray out(size, Qt::Uninitialized);
    for (qint64 i = 0; i < size; ++i)
        out[i] = patternByte(offset + i);
    return out;
}

QByteArray headerValue(const UpstreamHeaders &headers, QByteArrayView name)
{
    for (const auto &[n, v] : headers) {
        if (n.compare(name, Qt::CaseInsensitive) == 0)
            return v;
    }
    return {};
}

// Collects everything a call reports.
struct Recorder
{
    int heads = 0;
    int status = 0;
    UpstreamHeaders headers;
    QByteArray body;
    int chunks = 0;
    int finishedCount = 0;
    UpstreamOutcome outcome;

    bool finished() const { return finishedCount > 0; }

    void attach(UpstreamCall &call)
    {
        call.onResponseHead([this](int s, const UpstreamHeaders &h) {
            ++heads;
            status = s;
            headers = h;
        });
        call.onBodyData([this](QByteArrayView chunk) {
            ++chunks;
            body.append(chunk);
            return true;
        });
        call.onFinished([this](const UpstreamOutcome &o) {
            ++finishedCount;
            outcome = o;
        });
    }
};

// A scripted upstream on the test thread: reads one request head, then hands the socket to the
// script (which may answer anything, or nothing).
class RawServer : public QObject
{
public:
    using Script = std::function<void(QTcpSocket *socket)>;

    explicit RawServer(Script script) : m_script(std::move(script))
    {
        m_server.listen(QHostAddress::LocalHost, 0);
        connect(&m_server, &QTcpServer::newConnection, this, [this] {
            while (QTcpSocket *socket = m_server.nextPendingConnection()) {
                ++accepted;
                auto buffer = std::make_shared<QByteArray>();
                connect(socket, &QTcpSocket::readyRead, socket, [this, socket, buffer] {
                    buffer->append(socket->readAll());
                    if (!buffer->contains("\r\n\r\n") || socket->property("answered").toBool())
                        return;
                    socket->setProperty("answered", true);
                    m_script(socket);
                });
                connect(socket, &QTcpSocket::disconnected, socket, [this, socket] {
                    ++disconnected;
                    socket->deleteLater();
                });
            }
        });
    }

    QByteArray url(const QByteArray &path = "/") const
    {
        return "http://127.0.0.1:" + QByteArray::number(m_server.serverPort()) + path;
    }

    int accepted = 0;
    int disconnected = 0;

private:
    QTcpServer m_server;
    Script m_script;
};

} // namespace

class TestUpstreamCall : public QObject
{
    Q_OBJECT

private slots:
    void init();
    void cleanup();

    void getRoundTrip();
    void acceptAndContentTypeOnlyWhenSent();
    void postBodyExact_data();
    void postBodyExact();
    void noExpectContinueWait();
    void bodyRelayedUndecoded();
    void decompressWhenAsked();
    void streamedIncrementally();
    void backpressurePauseResume();
    void manyPauseResumeCycles_data();
    void manyPauseResumeCycles();
    void pauseOnLastChunk();
    void abortMidStream_data();
    void abortMidStream();
    void deleteInsideCallback();
    void connectionRefused();
    void noAnswerTimesOutBeforeFirstByte();
    void idleTimeoutMidBody();
    void totalTimeout();
    void clientStalled();
    void misbehavingServer_data();
    void misbehavingServer();
    void interimHeadsSkipped();
    void headerLimits_data();
    void headerLimits();
    void bufferedBodyCap();
    void connectionReuse();
    void manyConcurrent();
    void socketNumberReuseWithConnectionClose();
    void startAndAbortInsideCallbacks();
    void queuedWorkDroppedOnAbort();
    void tlsVerified();
    void errorTextSanitised();
    void sanitize_data();
    void sanitize();
    void perThreadMulti();

private:
    void startServer(int threads = 1);
    QByteArray url(const QByteArray &path) const
    {
        return "http://127.0.0.1:" + QByteArray::number(m_server->port()) + path;
    }
    static UpstreamRequest get(const QByteArray &url)
    {
        UpstreamRequest r;
        r.url = url;
        return r;
    }
    // Starts the call and waits for onFinished.
    bool run(UpstreamCall &call, const Recorder &recorder, int timeoutMs = 10'000)
    {
        call.start();
        return QTest::qWaitFor([&] { return recorder.finished(); }, timeoutMs);
    }

    std::unique_ptr<HttpServer> m_server;
    std::unique_ptr<CurlMulti> m_multi;

    // Written by the server thread.
    std::atomic<int> m_serverDisconnects{0};
    std::atomic<qint64> m_serverSent{0};
    std::atomic<bool> m_serverBlocked{false};
    std::atomic<bool> m_streamEnded{false};
};

void TestUpstreamCall::init()
{
    m_serverDisconnects = 0;
    m_serverSent = 0;
    m_serverBlocked = false;
    m_streamEnded = false;
    m_multi = std::make_unique<CurlMulti>();
}

void TestUpstreamCall::cleanup()
{
    m_multi.reset();
    if (m_server)
        m_server->stop();
    m_server.reset();
}

void TestUpstreamCall::startServer(int threads)
{
    auto router = std::make_shared<Router>();

    // The request head as "name: value" lines; two response headers with the same name.
    const auto echoHeaders = [](HttpRequest &req, HttpResponder &r) {
        QByteArray lines;
        for (qsizetype i = 0; i < req.headerCount(); ++i)
            lines += req.headerName(i).toByteArray().toLower() + ": " + req.headerValue(i).toByteArray() + "\n";
        r.respond(
            200,
            HttpHeaders{{"content-type", "text/plain"}, {"x-request-id", "req-1"}, {"x-multi", "a"}, {"x-multi", "b"}},
            lines);
    };
    router->get("/headers", echoHeaders);
    router->post("/headers", echoHeaders);

    router->post("/digest", [](HttpRequest &req, HttpResponder &r) {
        const QByteArray digest = QCryptographicHash::hash(req.body(), QCryptographicHash::Sha256).toHex();
        r.respond(
            200,
            HttpHeaders{{"content-type", "text/plain"},
                        {"x-saw-expect", req.hasHeader("expect") ? "yes" : "no"},
                        {"x-saw-content-type", req.hasHeader("content-type") ? req.header("content-type").toByteArray()
                                                                             : QByteArray("none")}},
            QByteArray::number(req.body().size()) + " " + digest);
    });

    router->get("/status", [](HttpRequest &req, HttpResponder &r) {
        r.respond(req.queryParam("code").toInt(), "text/plain", "status");
    });

    // deflate-encoded body (zlib stream), relayed as is unless decompression is asked for.
    router->get("/deflate", [](HttpRequest &req, HttpResponder &r) {
        const QByteArray plain = QByteArray("hello deflate ").repeated(100);
        r.respond(200,
                  HttpHeaders{{"content-type", "text/plain"},
                              {"content-encoding", "deflate"},
                              {"x-saw-accept-encoding", req.header("accept-encoding").toByteArray()}},
                  qCompress(plain).mid(4));
    });

    // n chunks, one every ms milliseconds.
    router->get("/stream", [this](HttpRequest &req, HttpResponder &r) {
        const int n = req.queryParam("n").toInt();
        r.beginStream(200, HttpHeaders{{"content-type", "text/event-stream"}});
        auto *timer = new QTimer(r.threadContext());
        auto sent = std::make_shared<int>(0);
        QObject::connect(timer, &QTimer::timeout, timer, [this, timer, r, n, sent]() mutable {
            if (!r.isConnected()) {
                timer->deleteLater();
                return;
            }
            r.write("data: event " + QByteArray::number((*sent)++) + "\n\n");
            if (*sent == n) {
                m_streamEnded = true;
                r.end();
                timer->deleteLater();
            }
        });
        timer->start(req.queryParam("ms").toInt());
    });

    // A tick every ms milliseconds until the client goes away.
    router->get("/forever", [this](HttpRequest &req, HttpResponder &r) {
        r.beginStream(200, HttpHeaders{{"content-type", "text/event-stream"}});
        auto *timer = new QTimer(r.threadContext());
        QObject::connect(timer, &QTimer::timeout, timer, [timer, r]() mutable {
            if (!r.isConnected()) {
                timer->deleteLater();
                return;
            }
            r.write("data: tick\n\n");
        });
        r.onDisconnected(timer, [this, timer] {
            ++m_serverDisconnects;
            timer->deleteLater();
        });
        timer->start(req.queryParam("ms").toInt());
    });

    // `size` pattern bytes as fast as the client takes them (respecting the server's own
    // backpressure), chunked unless chunked=0.
    router->get("/pattern", [this](HttpRequest &req, HttpResponder &r) {
        const qint64 total = req.queryParam("size").toLongLong();
        const bool chunked = req.queryParam("chunked") != "0";
        r.beginStream(200, HttpHeaders{{"content-type", "application/octet-stream"}}, chunked ? -1 : total);
        auto offset = std::make_shared<qint64>(0);
        auto pump = std::make_shared<std::function<void()>>();
        *pump = [this, r, total, offset]() mutable {
            while (*offset < total) {
                const qint64 n = qMin<qint64>(16 * 1024, total - *offset);
                const QByteArray chunk = pattern(*offset, n);
                *offset += n;
                m_serverSent = *offset;
                if (!r.write(chunk)) {
                    m_serverBlocked = true;
                    return;
                }
            }
            r.end();
        };
        QObject *context = r.threadContext();
        r.onDrained(context, [this, pump] {
            m_serverBlocked = false;
            (*pump)();
        });
        r.onDisconnected(context, [this] { ++m_serverDisconnects; });
        (*pump)();
    });

    HttpServerConfig config;
    config.threads = threads;
    config.port = 0;
    config.maxBodyBytes = 16 * 1024 * 1024;
    config.socketSendBufferBytes = 64 * 1024; // keeps what the kernel buffers during backpressure small
    m_server = std::make_unique<HttpServer>(config, router);
    const Status started = m_server->start();
    QVERIFY2(started.ok(), started.ok() ? "" : qPrintable(started.error().message));
}

void TestUpstreamCall::getRoundTrip()
{
    startServer();
    UpstreamRequest request = get(url("/headers"));
    request.headers = {
        {"X-Custom", "1"}, {"Authorization", "Bearer t"}, {"Accept-Encoding", "gzip, br"}, {"X-Empty", ""}};
    UpstreamCall call(request, m_multi.get());
    Recorder rec;
    rec.attach(call);
    QVERIFY(run(call, rec));
    QVERIFY2(rec.outcome.ok(), qPrintable(rec.outcome.message));
    QCOMPARE(rec.heads, 1);
    QCOMPARE(rec.status, 200);
    QCOMPARE(rec.outcome.httpStatus, 200);
    QVERIFY(rec.outcome.headReceived);
    QCOMPARE(headerValue(rec.headers, "x-request-id"), QByteArray("req-1"));
    QCOMPARE(headerValue(rec.headers, "content-type"), QByteArray("text/plain"));
    int multi = 0;
    for (const auto &[n, v] : rec.headers)
        multi += n.compare("x-multi", Qt::CaseInsensitive) == 0 ? 1 : 0;
    QCOMPARE(multi, 2);
    QCOMPARE(call.responseHeaders(), rec.headers);

    const QByteArray seen = rec.body;
    QVERIFY2(seen.contains("x-custom: 1\n"), seen.constData());
    QVERIFY(seen.contains("authorization: Bearer t\n"));
    QVERIFY(seen.contains("accept-encoding: gzip, br\n"));
    QVERIFY(seen.contains("x-empty: \n"));
    QVERIFY(!seen.contains("\naccept:"));
    QVERIFY(!seen.contains("expect"));
    QVERIFY(!seen.contains("content-type"));
    QVERIFY(seen.contains("host: 127.0.0.1:"));
    QCOMPARE(rec.outcome.bytesReceived, qint64(seen.size()));
    QVERIFY(rec.outcome.connectUs > 0);
    QVERIFY(rec.outcome.firstByteUs >= rec.outcome.connectUs);
    QVERIFY(rec.outcome.totalUs >= rec.outcome.firstByteUs);
    QVERIFY(!rec.outcome.reusedConnection);
}

void TestUpstreamCall::acceptAndContentTypeOnlyWhenSent()
{
    startServer();
    UpstreamRequest request = get(url("/headers"));
    request.method = "POST";
    request.body = "x=1";
    request.headers = {{"Accept", "application/json"}};
    UpstreamCall call(request, m_multi.get());
    Recorder rec;
    rec.attach(call);
    QVERIFY(run(call, rec));
    QVERIFY2(rec.outcome.ok(), qPrintable(rec.outcome.message));
    QCOMPARE(rec.body.count("accept: "), 1);
    QVERIFY(rec.body.contains("accept: application/json\n"));
    // curl would add "Content-Type: application/x-www-form-urlencoded" to a POST on its own.
    QVERIFY2(!rec.body.contains("content-type"), rec.body.constData());
    QVERIFY(rec.body.contains("content-length: 3\n"));
}

void TestUpstreamCall::postBodyExact_data()
{
    QTest::addColumn<int>("size");
    QTest::newRow("empty") << 0;
    QTest::newRow("1 byte") << 1;
    QTest::newRow("64 KiB + 1") << 64 * 1024 + 1;
    QTest::newRow("1 MiB") << 1024 * 1024;
    QTest::newRow("5 MiB") << 5 * 1024 * 1024;
}

void TestUpstreamCall::postBodyExact()
{
    QFETCH(int, size);
    startServer();
    UpstreamRequest request = get(url("/digest"));
    request.method = "POST";
    request.body = pattern(3, size);
    // A wrong Content-Length and an Expect from the client must not reach the upstream.
    request.headers = {{"Content-Type", "application/json"}, {"Content-Length", "1"}, {"Expect", "100-continue"}};
    UpstreamCall call(request, m_multi.get());
    Recorder rec;
    rec.attach(call);
    QElapsedTimer elapsed;
    elapsed.start();
    QVERIFY(run(call, rec));
    QVERIFY2(rec.outcome.ok(), qPrintable(rec.outcome.message));
    QCOMPARE(rec.status, 200);
    const QByteArray expected =
        QByteArray::number(size) + " " + QCryptographicHash::hash(request.body, QCryptographicHash::Sha256).toHex();
    QCOMPARE(rec.body, expected);
    QCOMPARE(headerValue(rec.headers, "x-saw-expect"), QByteArray("no"));
    QCOMPARE(headerValue(rec.headers, "x-saw-content-type"), QByteArray("application/json"));
    QCOMPARE(rec.outcome.bytesSent, qint64(size));
    // Gross sanity bound only; noExpectContinueWait checks the 1 s 100-continue wait precisely.
    QVERIFY2(elapsed.elapsed() < 5000, qPrintable(QString::number(elapsed.elapsed())));
}

void TestUpstreamCall::noExpectContinueWait()
{
    // This server never sends "100 Continue". Had curl sent "Expect: 100-continue" (it does on its
    // own for bodies over 1 MiB), it would hold the body back for 1 s after the head. The gap
    // between head and body is measured on the server, so a loaded machine does not make it flaky.
    constexpr qint64 kBody = 5 * 1024 * 1024;
    QTcpServer server;
    QVERIFY(server.listen(QHostAddress::LocalHost, 0));
    QElapsedTimer clock;
    clock.start();
    QByteArray received;
    qint64 headSize = -1;
    qint64 headAtMs = -1;
    qint64 bodyAtMs = -1;
    connect(&server, &QTcpServer::newConnection, this, [&] {
        QTcpSocket *socket = server.nextPendingConnection();
        connect(socket, &QTcpSocket::readyRead, socket, [&, socket] {
            received += socket->readAll();
            if (headSize < 0) {
                const qsizetype end = received.indexOf("\r\n\r\n");
                if (end < 0)
                    return;
                headSize = end + 4;
                headAtMs = clock.elapsed();
            }
            if (bodyAtMs < 0 && received.size() > headSize)
                bodyAtMs = clock.elapsed();
            if (received.size() - headSize == kBody)
                socket->write("HTTP/1.1 204 No Content\r\n\r\n");
        });
        connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
    });
    UpstreamRequest request = get("http://127.0.0.1:" + QByteArray::number(server.serverPort()) + "/upload");
    request.method = "POST";
    request.body = pattern(0, kBody);
    UpstreamCall call(request, m_multi.get());
    Recorder rec;
    rec.attach(call);
    QVERIFY(run(call, rec));
    QVERIFY2(rec.outcome.ok(), qPrintable(rec.outcome.message));
    QCOMPARE(rec.status, 204);
    const QByteArray head = received.left(headSize).toLower();
    QVERIFY2(!head.contains("expect"), head.constData());
    QVERIFY2(head.contains("content-length: 5242880\r\n"), head.constData());
    QVERIFY2(bodyAtMs - headAtMs < 500, qPrintable(QString::number(bodyAtMs - headAtMs)));
    QVERIFY(received.mid(headSize) == request.body);
}

void TestUpstreamCall::bodyRelayedUndecoded()
{
    startServer();
    UpstreamRequest request = get(url("/deflate"));
    request.headers = {{"Accept-Encoding", "deflate"}};
    UpstreamCall call(request, m_multi.get());
    Recorder rec;
    rec.attach(call);
    QVERIFY(run(call, rec));
    QVERIFY2(rec.outcome.ok(), qPrintable(rec.outcome.message));
    QCOMPARE(headerValue(rec.headers, "x-saw-accept-encoding"), QByteArray("deflate"));
    QCOMPARE(headerValue(rec.headers, "content-encoding"), QByteArray("deflate"));
    QCOMPARE(rec.body, qCompress(QByteArray("hello deflate ").repeated(100)).mid(4));
}

void TestUpstreamCall::decompressWhenAsked()
{
    startServer();
    UpstreamRequest request = get(url("/deflate"));
    request.headers = {{"Accept-Encoding", "identity"}}; // replaced by curl's own list
    request.decompress = true;
    UpstreamCall call(request, m_multi.get());
    Recorder rec;
    rec.attach(call);
    QVERIFY(run(call, rec));
    QVERIFY2(rec.outcome.ok(), qPrintable(rec.outcome.message));
    QVERIFY(headerValue(rec.headers, "x-saw-accept-encoding").contains("deflate"));
    QCOMPARE(rec.body, QByteArray("hello deflate ").repeated(100));
}

void TestUpstreamCall::streamedIncrementally()
{
    startServer();
    UpstreamCall call(get(url("/stream?n=5&ms=40")), m_multi.get());
    Recorder rec;
    rec.attach(call);
    bool firstChunkBeforeEnd = false;
    int chunks = 0;
    call.onBodyData([&](QByteArrayView chunk) {
        if (chunks++ == 0)
            firstChunkBeforeEnd = !m_streamEnded.load();
        rec.body.append(chunk);
        return true;
    });
    QVERIFY(run(call, rec));
    QVERIFY2(rec.outcome.ok(), qPrintable(rec.outcome.message));
    QVERIFY(firstChunkBeforeEnd);
    QVERIFY2(chunks >= 3, qPrintable(QString::number(chunks))); // 40 ms apart: not coalesced
    QByteArray expected;
    for (int i = 0; i < 5; ++i)
        expected += "data: event " + QByteArray::number(i) + "\n\n";
    QCOMPARE(rec.body, expected);
}

void TestUpstreamCall::backpressurePauseResume()
{
    startServer();
    const qint64 total = 16 * 1024 * 1024;
    UpstreamCall call(get(url("/pattern?size=" + QByteArray::number(total))), m_multi.get());
    Recorder rec;
    rec.attach(call);
    qint64 delivered = 0;
    int mismatches = 0;
    int refusals = 0;
    bool refuse = false;
    bool filledOnce = false;
    call.onBodyData([&](QByteArrayView chunk) {
        if (refuse) {
            ++refusals;
            return false;
        }
        for (qsizetype i = 0; i < chunk.size(); ++i)
            mismatches += chunk[i] != patternByte(delivered + i) ? 1 : 0;
        delivered += chunk.size();
        if (!filledOnce && delivered >= 256 * 1024) {
            filledOnce = true;
            refuse = true; // full: the next chunk is refused
        }
        return true;
    });
    call.start();
    // The upstream keeps producing until its own socket backs up; we stay paused.
    QTRY_VERIFY_WITH_TIMEOUT(call.isPaused() && m_serverBlocked.load(), 10'000);
    const qint64 deliveredAtPause = delivered;
    const qint64 serverSentAtBlock = m_serverSent.load();
    QCOMPARE(refusals, 1); // curl does not call again while paused
    QVERIFY(deliveredAtPause < 256 * 1024 + 64 * 1024);
    QVERIFY2(serverSentAtBlock < total, qPrintable(QString::number(serverSentAtBlock)));
    QVERIFY(!rec.finished());
    // Bounded: what we received is what the consumer took; nothing piles up in the call.
    QCOMPARE(call.bytesReceived(), deliveredAtPause);

    refuse = false;
    call.resume();
    QTRY_VERIFY_WITH_TIMEOUT(rec.finished(), 20'000);
    QVERIFY2(rec.outcome.ok(), qPrintable(rec.outcome.message));
    QCOMPARE(delivered, total);
    QCOMPARE(mismatches, 0);
    QCOMPARE(rec.outcome.bytesReceived, total);
}

void TestUpstreamCall::manyPauseResumeCycles_data()
{
    QTest::addColumn<bool>("chunked");
    QTest::newRow("chunked") << true;
    QTest::newRow("content-length") << false;
}

void TestUpstreamCall::manyPauseResumeCycles()
{
    QFETCH(bool, chunked);
    startServer();
    const qint64 total = 4 * 1024 * 1024 + 17;
    UpstreamCall call(get(url("/pattern?size=" + QByteArray::number(total) + "&chunked=" + (chunked ? "1" : "0"))),
                      m_multi.get());
    Recorder rec;
    rec.attach(call);
    qint64 delivered = 0;
    int mismatches = 0;
    int calls = 0;
    int refusals = 0;
    call.onBodyData([&](QByteArrayView chunk) {
        if (++calls % 3 == 0) {
            // Full every third time; "drained" on the next loop iteration.
            ++refusals;
            QTimer::singleShot(0, &call, [&call] { call.resume(); });
            return false;
        }
        for (qsizetype i = 0; i < chunk.size(); ++i)
            mismatches += chunk[i] != patternByte(delivered + i) ? 1 : 0;
        delivered += chunk.size();
        return true;
    });
    QVERIFY(run(call, rec, 30'000));
    QVERIFY2(rec.outcome.ok(), qPrintable(rec.outcome.message));
    QVERIFY(refusals > 10);
    QCOMPARE(delivered, total);
    QCOMPARE(mismatches, 0);
}

void TestUpstreamCall::pauseOnLastChunk()
{
    startServer();
    UpstreamCall call(get(url("/status?code=200")), m_multi.get());
    Recorder rec;
    rec.attach(call);
    int refusals = 0;
    call.onBodyData([&](QByteArrayView chunk) {
        if (refusals == 0) {
            ++refusals;
            QTimer::singleShot(20, &call, [&call] { call.resume(); });
            return false;
        }
        rec.body.append(chunk);
        return true;
    });
    QVERIFY(run(call, rec));
    QVERIFY2(rec.outcome.ok(), qPrintable(rec.outcome.message));
    QCOMPARE(refusals, 1);
    QCOMPARE(rec.body, QByteArray("status"));
}

void TestUpstreamCall::abortMidStream_data()
{
    QTest::addColumn<bool>("insideCallback");
    QTest::newRow("from the event loop") << false;
    QTest::newRow("inside onBodyData") << true;
}

void TestUpstreamCall::abortMidStream()
{
    QFETCH(bool, insideCallback);
    startServer();
    UpstreamCall call(get(url("/forever?ms=10")), m_multi.get());
    Recorder rec;
    rec.attach(call);
    int chunksAfterAbort = 0;
    bool aborted = false;
    call.onBodyData([&](QByteArrayView) {
        if (aborted) {
            ++chunksAfterAbort;
            return true;
        }
        if (insideCallback) {
            aborted = true;
            call.abort();
        } else {
            QTimer::singleShot(0, &call, [&] {
                aborted = true;
                call.abort();
            });
        }
        return true;
    });
    call.start();
    QTRY_VERIFY_WITH_TIMEOUT(aborted, 5000);
    QTRY_COMPARE_WITH_TIMEOUT(m_serverDisconnects.load(), 1, 2000); // the upstream sees the close promptly
    QTRY_COMPARE(m_multi->stats().activeTransfers, 0);
    QCOMPARE(chunksAfterAbort, 0);
    QCOMPARE(rec.finishedCount, 0); // no callback after abort()
    QCOMPARE(call.state(), UpstreamCall::State::Finished);
    QCOMPARE(call.outcome().kind, Kind::Aborted);
}

void TestUpstreamCall::deleteInsideCallback()
{
    startServer();
    auto *call = new UpstreamCall(get(url("/forever?ms=10")), m_multi.get());
    bool deleted = false;
    call->onBodyData([&](QByteArrayView) {
        deleted = true;
        delete call;
        return true;
    });
    call->onFinished([](const UpstreamOutcome &) { QFAIL("no onFinished after delete"); });
    call->start();
    QTRY_VERIFY_WITH_TIMEOUT(deleted, 5000);
    QTRY_COMPARE_WITH_TIMEOUT(m_serverDisconnects.load(), 1, 2000);
    QTRY_COMPARE(m_multi->stats().activeTransfers, 0);
}

void TestUpstreamCall::connectionRefused()
{
    QTcpServer probe;
    QVERIFY(probe.listen(QHostAddress::LocalHost, 0));
    const quint16 port = probe.serverPort();
    probe.close();
    UpstreamCall call(get("http://127.0.0.1:" + QByteArray::number(port) + "/v1/models"), m_multi.get());
    Recorder rec;
    rec.attach(call);
    QVERIFY(run(call, rec));
    QCOMPARE(rec.outcome.kind, Kind::ConnectFailed);
    QVERIFY(!rec.outcome.headReceived);
    QCOMPARE(rec.outcome.connectUs, qint64(-1));
    QCOMPARE(rec.heads, 0);
    QVERIFY(!rec.outcome.message.isEmpty());
    QCOMPARE(rec.outcome.toError().httpStatus, 502);
}

void TestUpstreamCall::noAnswerTimesOutBeforeFirstByte()
{
    RawServer server([](QTcpSocket *) {}); // reads the request, never answers
    UpstreamRequest request = get(server.url("/v1/chat/completions"));
    request.timeouts.firstByteMs = 300;
    UpstreamCall call(request, m_multi.get());
    Recorder rec;
    rec.attach(call);
    QElapsedTimer elapsed;
    elapsed.start();
    QVERIFY(run(call, rec));
    QCOMPARE(rec.outcome.kind, Kind::TimeoutBeforeFirstByte);
    QVERIFY(elapsed.elapsed() >= 290);
    QVERIFY(rec.outcome.connectUs > 0);
    QCOMPARE(rec.outcome.firstByteUs, qint64(-1));
    QCOMPARE(rec.outcome.toError().httpStatus, 504);
    QTRY_COMPARE(server.disconnected, 1);
}

void TestUpstreamCall::idleTimeoutMidBody()
{
    RawServer server([](QTcpSocket *s) { s->write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789"); });
    UpstreamRequest request = get(server.url());
    request.timeouts.idleMs = 300;
    UpstreamCall call(request, m_multi.get());
    Recorder rec;
    rec.attach(call);
    QVERIFY(run(call, rec));
    QCOMPARE(rec.outcome.kind, Kind::IdleTimeout);
    QVERIFY(rec.outcome.headReceived);
    QCOMPARE(rec.outcome.httpStatus, 200);
    QCOMPARE(rec.body, QByteArray("0123456789"));
    QCOMPARE(rec.outcome.bytesReceived, qint64(10));
    QTRY_COMPARE(server.disconnected, 1);
}

void TestUpstreamCall::totalTimeout()
{
    startServer();
    UpstreamRequest request = get(url("/forever?ms=20"));
    request.timeouts.totalMs = 400;
    request.timeouts.idleMs = 5000;
    UpstreamCall call(request, m_multi.get());
    Recorder rec;
    rec.attach(call);
    QElapsedTimer elapsed;
    elapsed.start();
    QVERIFY(run(call, rec));
    QCOMPARE(rec.outcome.kind, Kind::TotalTimeout);
    QVERIFY(elapsed.elapsed() >= 390);
    QVERIFY(rec.chunks > 2);
    QTRY_COMPARE_WITH_TIMEOUT(m_serverDisconnects.load(), 1, 2000);
}

void TestUpstreamCall::clientStalled()
{
    startServer();
    UpstreamRequest request = get(url("/pattern?size=" + QByteArray::number(16 * 1024 * 1024)));
    request.timeouts.stallMs = 300;
    request.timeouts.idleMs = 200; // not counted while paused
    UpstreamCall call(request, m_multi.get());
    Recorder rec;
    rec.attach(call);
    call.onBodyData([](QByteArrayView) { return false; }); // a client that never reads
    QVERIFY(run(call, rec));
    QCOMPARE(rec.outcome.kind, Kind::ClientStalled);
    QCOMPARE(rec.outcome.bytesReceived, qint64(0));
    QTRY_COMPARE_WITH_TIMEOUT(m_serverDisconnects.load(), 1, 2000);
}

void TestUpstreamCall::misbehavingServer_data()
{
    QTest::addColumn<QByteArray>("reply");
    QTest::addColumn<bool>("closeAfter");
    QTest::addColumn<int>("kind");
    QTest::addColumn<QByteArray>("body");

    QTest::newRow("closes before replying") << QByteArray() << true << int(Kind::ConnectionLost) << QByteArray();
    QTest::newRow("closes mid body") << QByteArray("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789") << true
                                     << int(Kind::ConnectionLost) << QByteArray("0123456789");
    QTest::newRow("closes mid chunked body")
        << QByteArray("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n") << true
        << int(Kind::ConnectionLost) << QByteArray("hello");
    QTest::newRow("garbage") << QByteArray("garbage garbage\r\n\r\n") << true << int(Kind::ProtocolError)
                             << QByteArray();
    QTest::newRow("bad status code") << QByteArray("HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n") << false
                                     << int(Kind::ProtocolError) << QByteArray();
    QTest::newRow("header without colon") << QByteArray("HTTP/1.1 200 OK\r\nNoColonHere\r\nContent-Length: 0\r\n\r\n")
                                          << false << int(Kind::ProtocolError) << QByteArray();
    QTest::newRow("space before colon") << QByteArray("HTTP/1.1 200 OK\r\nX-A : b\r\nContent-Length: 0\r\n\r\n")
                                        << false << int(Kind::ProtocolError) << QByteArray();
    QTest::newRow("bad chunk size") << QByteArray("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nx\r\n")
                                    << false << int(Kind::ProtocolError) << QByteArray();
}

void TestUpstreamCall::misbehavingServer()
{
    QFETCH(QByteArray, reply);
    QFETCH(bool, closeAfter);
    QFETCH(int, kind);
    QFETCH(QByteArray, body);
    RawServer server([&](QTcpSocket *s) {
        s->write(reply);
        if (closeAfter)
            s->disconnectFromHost();
    });
    UpstreamRequest request = get(server.url());
    request.timeouts.firstByteMs = 5000;
    request.timeouts.idleMs = 5000;
    UpstreamCall call(request, m_multi.get());
    Recorder rec;
    rec.attach(call);
    QVERIFY(run(call, rec));
    QVERIFY2(int(rec.outcome.kind) == kind, qPrintable(QStringLiteral("%1: %2").arg(
                                                UpstreamOutcome::kindName(rec.outcome.kind), rec.outcome.message)));
    QCOMPARE(rec.body, body);
    QVERIFY(!rec.outcome.message.isEmpty());
}

void TestUpstreamCall::interimHeadsSkipped()
{
    RawServer server([](QTcpSocket *s) {
        s->write("HTTP/1.1 100 Continue\r\n\r\n"
                 "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
                 "HTTP/1.1 201 Created\r\nContent-Length: 2\r\nX-Final: yes\r\n\r\nok");
    });
    UpstreamCall call(get(server.url()), m_multi.get());
    Recorder rec;
    rec.attach(call);
    QVERIFY(run(call, rec));
    QVERIFY2(rec.outcome.ok(), qPrintable(rec.outcome.message));
    QCOMPARE(rec.heads, 1);
    QCOMPARE(rec.status, 201);
    QCOMPARE(headerValue(rec.headers, "x-final"), QByteArray("yes"));
    QVERIFY(headerValue(rec.headers, "link").isNull());
    QCOMPARE(rec.body, QByteArray("ok"));
}

void TestUpstreamCall::headerLimits_data()
{
    QTest::addColumn<QByteArray>("head");
    QByteArray many = "HTTP/1.1 200 OK\r\n";
    for (int i = 0; i < 300; ++i)
        many += "X-H-" + QByteArray::number(i) + ": v\r\n";
    QTest::newRow("300 headers") << many;
    QTest::newRow("70 KiB header") << "HTTP/1.1 200 OK\r\nX-Big: " + QByteArray(70 * 1024, 'a') + "\r\n";
    QTest::newRow("200 KiB header line") << "HTTP/1.1 200 OK\r\nX-Big: " + QByteArray(200 * 1024, 'a') + "\r\n";
    QByteArray spread = "HTTP/1.1 200 OK\r\n";
    for (int i = 0; i < 100; ++i)
        spread += "X-H-" + QByteArray::number(i) + ": " + QByteArray(1000, 'b') + "\r\n";
    QTest::newRow("100 KB over 100 headers") << spread;
}

void TestUpstreamCall::headerLimits()
{
    QFETCH(QByteArray, head);
    RawServer server([&](QTcpSocket *s) { s->write(head + "Content-Length: 0\r\n\r\n"); });
    UpstreamCall call(get(server.url()), m_multi.get());
    Recorder rec;
    rec.attach(call);
    QVERIFY(run(call, rec));
    QVERIFY2(
        rec.outcome.kind == Kind::ResponseTooLarge,
        qPrintable(QStringLiteral("%1: %2").arg(UpstreamOutcome::kindName(rec.outcome.kind), rec.outcome.message)));
    QCOMPARE(rec.heads, 0);
}

void TestUpstreamCall::bufferedBodyCap()
{
    startServer();
    {
        UpstreamRequest request = get(url("/pattern?size=5000"));
        request.maxBodyBytes = 1000;
        UpstreamCall call(request, m_multi.get());
        Recorder rec;
        call.onFinished([&](const UpstreamOutcome &o) {
            ++rec.finishedCount;
            rec.outcome = o;
        });
        QVERIFY(run(call, rec));
        QCOMPARE(rec.outcome.kind, Kind::ResponseTooLarge);
        QVERIFY(call.body().size() <= 1000);
    }
    {
        UpstreamRequest request = get(url("/pattern?size=5000&chunked=0"));
        request.maxBodyBytes = 5000;
        UpstreamCall call(request, m_multi.get());
        Recorder rec;
        call.onFinished([&](const UpstreamOutcome &o) {
            ++rec.finishedCount;
            rec.outcome = o;
        });
        QVERIFY(run(call, rec));
        QVERIFY2(rec.outcome.ok(), qPrintable(rec.outcome.message));
        QCOMPARE(call.body(), pattern(0, 5000));
    }
}

void TestUpstreamCall::connectionReuse()
{
    startServer();
    for (int i = 0; i < 20; ++i) {
        UpstreamCall call(get(url("/status?code=200")), m_multi.get());
        Recorder rec;
        rec.attach(call);
        QVERIFY(run(call, rec));
        QVERIFY2(rec.outcome.ok(), qPrintable(rec.outcome.message));
        QCOMPARE(rec.outcome.reusedConnection, i > 0);
        if (i > 0)
            QCOMPARE(rec.outcome.connectUs, qint64(0));
    }
    QCOMPARE(m_server->stats().connectionsAccepted, qint64(1));
    QCOMPARE(m_multi->stats().pooledHandles, 1); // one easy handle, reset and reused
}

void TestUpstreamCall::manyConcurrent()
{
    startServer(2);
    constexpr int kCalls = 200;
    std::vector<std::unique_ptr<UpstreamCall>> calls;
    std::vector<Recorder> recs(kCalls);
    std::vector<QByteArray> bodies;
    for (int i = 0; i < kCalls; ++i) {
        UpstreamRequest request = get(url("/digest"));
        request.method = "POST";
        request.body = pattern(i, 1000 + i);
        bodies.push_back(request.body);
        calls.push_back(std::make_unique<UpstreamCall>(request, m_multi.get()));
        recs[size_t(i)].attach(*calls.back());
    }
    for (auto &call : calls)
        call->start();
    QVERIFY(QTest::qWaitFor(
        [&] { return std::all_of(recs.begin(), recs.end(), [](const Recorder &r) { return r.finished(); }); }, 30'000));
    for (int i = 0; i < kCalls; ++i) {
        const Recorder &rec = recs[size_t(i)];
        QVERIFY2(rec.outcome.ok(), qPrintable(rec.outcome.message));
        QCOMPARE(rec.body, QByteArray::number(bodies[size_t(i)].size()) + " " +
                               QCryptographicHash::hash(bodies[size_t(i)], QCryptographicHash::Sha256).toHex());
    }
    QVERIFY(m_server->stats().connectionsAccepted <= kCalls);
    QCOMPARE(m_multi->stats().activeTransfers, 0);
}

void TestUpstreamCall::socketNumberReuseWithConnectionClose()
{
    // Every call opens and closes its own connection; socket numbers come back at once, often
    // within one curl call (one transfer's socket closed, the next one's opened).
    QTest::failOnWarning(QRegularExpression(QStringLiteral("QSocketNotifier")));
    startServer(2);
    constexpr int kChains = 8;
    constexpr int kPerChain = 50;
    int done = 0;
    int failures = 0;
    std::function<void(int)> next;
    std::vector<int> remaining(kChains, kPerChain);
    next = [&](int chain) {
        UpstreamRequest request = get(url("/status?code=200"));
        request.headers = {{"Connection", "close"}};
        auto *call = new UpstreamCall(request, m_multi.get(), this);
        call->onFinished([&, call, chain](const UpstreamOutcome &o) {
            ++done;
            if (!o.ok() || o.httpStatus != 200) {
                ++failures;
                qWarning() << "call failed:" << o.message;
            }
            delete call; // allowed from inside onFinished
            if (--remaining[size_t(chain)] > 0)
                next(chain); // started from inside the previous call's completion
        });
        call->start();
    };
    for (int c = 0; c < kChains; ++c)
        next(c);
    QTRY_COMPARE_WITH_TIMEOUT(done, kChains * kPerChain, 60'000);
    QCOMPARE(failures, 0);
    QCOMPARE(m_server->stats().connectionsAccepted, qint64(kChains * kPerChain));
    const CurlMulti::Stats stats = m_multi->stats();
    QVERIFY(stats.socketsWatched >= kChains * kPerChain);
    QVERIFY2(stats.socketSlots < 64, qPrintable(QString::number(stats.socketSlots))); // numbers were reused
}

void TestUpstreamCall::startAndAbortInsideCallbacks()
{
    // Failover shape: the first attempt's head says 503; from inside that callback the caller
    // aborts it and starts the next attempt.
    startServer();
    UpstreamCall first(get(url("/status?code=503")), m_multi.get());
    UpstreamCall second(get(url("/status?code=200")), m_multi.get());
    Recorder firstRec;
    Recorder secondRec;
    firstRec.attach(first);
    secondRec.attach(second);
    first.onResponseHead([&](int status, const UpstreamHeaders &) {
        firstRec.status = status;
        first.abort();
        second.start();
    });
    first.start();
    QTRY_VERIFY_WITH_TIMEOUT(secondRec.finished(), 5000);
    QVERIFY2(secondRec.outcome.ok(), qPrintable(secondRec.outcome.message));
    QCOMPARE(secondRec.status, 200);
    QCOMPARE(firstRec.status, 503);
    QCOMPARE(firstRec.finishedCount, 0);
    QVERIFY(firstRec.body.isEmpty());
    QTRY_COMPARE(m_multi->stats().activeTransfers, 0);
}

void TestUpstreamCall::queuedWorkDroppedOnAbort()
{
    // Without a handle pool a recycled handle is freed at once: queued adds and unpauses of an
    // aborted call must be dropped, not run against freed memory (ASan build checks this).
    startServer();
    CurlMulti::Options options;
    options.maxPooledHandles = 0;
    m_multi = std::make_unique<CurlMulti>(options);

    // start() then abort() of another call, both inside a curl callback.
    UpstreamCall first(get(url("/status?code=200")), m_multi.get());
    UpstreamCall second(get(url("/status?code=200")), m_multi.get());
    Recorder firstRec;
    Recorder secondRec;
    firstRec.attach(first);
    secondRec.attach(second);
    first.onResponseHead([&](int, const UpstreamHeaders &) {
        second.start();
        second.abort();
    });
    QVERIFY(run(first, firstRec));
    QVERIFY2(firstRec.outcome.ok(), qPrintable(firstRec.outcome.message));
    QCOMPARE(secondRec.finishedCount, 0);

    // resume() then abort() before the deferred unpause runs.
    UpstreamCall third(get(url("/pattern?size=100000")), m_multi.get());
    Recorder thirdRec;
    thirdRec.attach(third);
    third.onBodyData([](QByteArrayView) { return false; });
    third.start();
    QTRY_VERIFY_WITH_TIMEOUT(third.isPaused(), 5000);
    third.resume();
    third.abort();
    UpstreamCall fourth(get(url("/status?code=200")), m_multi.get()); // may get the freed address
    Recorder fourthRec;
    fourthRec.attach(fourth);
    QVERIFY(run(fourth, fourthRec));
    QVERIFY2(fourthRec.outcome.ok(), qPrintable(fourthRec.outcome.message));
    QCOMPARE(thirdRec.finishedCount, 0);
    QTRY_COMPARE(m_multi->stats().activeTransfers, 0);
}

void TestUpstreamCall::tlsVerified()
{
    // A self-signed certificate for 127.0.0.1: refused without it as CA, accepted with it.
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString certPath = dir.filePath(QStringLiteral("cert.pem"));
    const QString keyPath = dir.filePath(QStringLiteral("key.pem"));
    QProcess openssl;
    openssl.start(QStringLiteral("openssl"),
                  {"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
                   keyPath, "-out", certPath, "-days", "1", "-subj", "/CN=127.0.0.1", "-addext",
                   "subjectAltName=IP:127.0.0.1"});
    if (!openssl.waitForFinished(20'000) || openssl.exitCode() != 0)
        QSKIP("openssl could not make a test certificate");
    QFile certFile(certPath);
    QFile keyFile(keyPath);
    QVERIFY(certFile.open(QIODevice::ReadOnly) && keyFile.open(QIODevice::ReadOnly));
    QSslConfiguration tls = QSslConfiguration::defaultConfiguration();
    tls.setLocalCertificate(QSslCertificate(certFile.readAll()));
    tls.setPrivateKey(QSslKey(keyFile.readAll(), QSsl::Ec));
    tls.setPeerVerifyMode(QSslSocket::VerifyNone);

    QSslServer server;
    server.setSslConfiguration(tls);
    QVERIFY(server.listen(QHostAddress::LocalHost, 0));
    connect(&server, &QTcpServer::pendingConnectionAvailable, this, [&server] {
        while (QTcpSocket *socket = server.nextPendingConnection()) {
            auto buffer = std::make_shared<QByteArray>();
            connect(socket, &QTcpSocket::readyRead, socket, [socket, buffer] {
                buffer->append(socket->readAll());
                if (buffer->contains("\r\n\r\n"))
                    socket->write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
            });
            connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
        }
    });
    const QByteArray target = "https://127.0.0.1:" + QByteArray::number(server.serverPort()) + "/";
    {
        UpstreamCall call(get(target), m_multi.get());
        Recorder rec;
        rec.attach(call);
        QVERIFY(run(call, rec));
        QCOMPARE(rec.outcome.kind, Kind::ConnectFailed);
        QVERIFY2(rec.outcome.message.contains("certificate", Qt::CaseInsensitive), qPrintable(rec.outcome.message));
    }
    {
        UpstreamRequest request = get(target);
        request.caFile = certPath.toLocal8Bit();
        UpstreamCall call(request, m_multi.get());
        Recorder rec;
        rec.attach(call);
        QVERIFY(run(call, rec));
        QVERIFY2(rec.outcome.ok(), qPrintable(rec.outcome.message));
        QCOMPARE(rec.body, QByteArray("ok"));
        QVERIFY(rec.outcome.connectUs > 0);
    }
}

void TestUpstreamCall::errorTextSanitised()
{
    QTcpServer probe;
    QVERIFY(probe.listen(QHostAddress::LocalHost, 0));
    const QByteArray port = QByteArray::number(probe.serverPort());
    probe.close();
    {
        UpstreamRequest request = get("http://alice:s3cr3tpw@127.0.0.1:" + port + "/v1/models?key=qk");
        request.headers = {{"Authorization", "Bearer sk-secret-token-123"}};
        UpstreamCall call(request, m_multi.get());
        Recorder rec;
        rec.attach(call);
        QVERIFY(run(call, rec));
        QCOMPARE(rec.outcome.kind, Kind::ConnectFailed);
        QVERIFY(!rec.outcome.message.contains("s3cr3tpw"));
        QVERIFY(!rec.outcome.message.contains("sk-secret-token-123"));
    }
    {
        UpstreamRequest request = get("http://example.invalid/v1/models");
        request.proxyUrl = "http://bob:pr0xypw@127.0.0.1:" + port;
        UpstreamCall call(request, m_multi.get());
        Recorder rec;
        rec.attach(call);
        QVERIFY(run(call, rec));
        QCOMPARE(rec.outcome.kind, Kind::ConnectFailed);
        QVERIFY2(!rec.outcome.message.contains("pr0xypw"), qPrintable(rec.outcome.message));
    }
}

void TestUpstreamCall::sanitize_data()
{
    QTest::addColumn<QByteArray>("text");
    QTest::addColumn<QList<QByteArray>>("secrets");
    QTest::addColumn<QString>("expected");
    QTest::newRow("userinfo") << QByteArray("Could not resolve proxy: http://u:p4ss@proxy:3128") << QList<QByteArray>{}
                              << QStringLiteral("Could not resolve proxy: http://***@proxy:3128");
    QTest::newRow("known secret") << QByteArray("bad token sk-abc in reply") << QList<QByteArray>{"sk-abc", ""}
                                  << QStringLiteral("bad token *** in reply");
    QTest::newRow("longest first") << QByteArray("pw=abcdef") << QList<QByteArray>{"abc", "abcdef"}
                                   << QStringLiteral("pw=***");
    QTest::newRow("control characters") << QByteArray("line1\r\nline2\x01") << QList<QByteArray>{}
                                        << QStringLiteral("line1  line2");
}

void TestUpstreamCall::sanitize()
{
    QFETCH(QByteArray, text);
    QFETCH(QList<QByteArray>, secrets);
    QFETCH(QString, expected);
    QCOMPARE(UpstreamOutcome::sanitize(text, secrets), expected);
}

void TestUpstreamCall::perThreadMulti()
{
    startServer();
    const QByteArray target = url("/status?code=200");
    CurlMulti *mainMulti = CurlMulti::forCurrentThread();
    QCOMPARE(CurlMulti::forCurrentThread(), mainMulti);

    std::atomic<bool> ok{false};
    std::atomic<bool> distinct{false};
    QThread *thread = QThread::create([&] {
        distinct = CurlMulti::forCurrentThread() != mainMulti;
        QEventLoop loop;
        UpstreamCall call(get(target)); // the thread's own multi
        call.onFinished([&](const UpstreamOutcome &o) {
            ok = o.ok() && o.httpStatus == 200;
            loop.quit();
        });
        call.start();
        loop.exec();
    }); // the thread's multi is deleted as the thread ends
    thread->start();
    QVERIFY(thread->wait(10'000));
    delete thread;
    QVERIFY(distinct);
    QVERIFY(ok);
}

QTEST_GUILESS_MAIN(TestUpstreamCall)
#include "TestUpstreamCall.moc"
