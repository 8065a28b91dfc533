// The mock OpenAI upstream over real HTTP: wire format (JSON and SSE framing, usage chunk), auth,
// faults (status, delay, hang, drop-after), the control API and the Azure paths. The mock runs as
// a child process (MockUpstream); requests go over raw sockets so truncation and timing are
// visible.

#include "MockUpstream.h"

#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTcpSocket>
#include <QTest>

using namespace llmpool;
using namespace llmpool::test;

namespace {

const QByteArray kKey = "sk-upstream-key";
using Headers = QList<std::pair<QByteArray, QByteArray>>;

// A raw exchange: what arrived, whether the server closed cleanly after a complete response, and
// when the first and last bytes came.
struct Raw
{
    int status = 0;
    QByteArray head;
    QByteArray body;       // de-chunked as far as it got
    bool complete = false; // the terminal chunk (or the whole content-length) arrived
    bool closed = false;   // the server closed the connection
    qint64 firstByteMs = -1;
    qint64 totalMs = 0;

    QByteArray header(const QByteArray &lowerName) const
    {
        for (const QByteArray &line : head.split('\n')) {
            const qsizetype colon = line.indexOf(':');
            if (colon > 0 && line.first(colon).trimmed().toLower() == lowerName)
                return line.sliced(colon + 1).trimmed();
        }
        return {};
    }
    QJsonObject json() const { return QJsonDocument::fromJson(body).object(); }
};

void decode(const QByteArray &raw, Raw &out)
{
    const qsizetype headEnd = raw.indexOf("\r\n\r\n");
    if (headEnd < 0)
        return;
    out.head = raw.first(headEnd);
    out.status = out.head.split(' ').value(1).toInt();
    const QByteArray rest = raw.sliced(headEnd + 4);
    if (!out.header("transfer-encoding").contains("chunked")) {
        out.body = rest;
        out.complete = rest.size() == out.header("content-length").toLongLong();
        return;
    }
    out.body.clear();
    qsizetype pos = 0;
    while (true) {
        const qsizetype lineEnd = rest.indexOf("\r\n", pos);
        if (lineEnd < 0)
            return;
        const qint64 size = rest.sliced(pos, lineEnd - pos).toLongLong(nullptr, 16);
        pos = lineEnd + 2;
        if (size == 0) {
            out.complete = true;
            return;
        }
        if (pos + size + 2 > rest.size()) {
            out.body += rest.sliced(pos, std::min<qsizetype>(size, rest.size() - pos));
            return;
        }
        out.body += rest.sliced(pos, size);
        pos += size + 2;
    }
}

// Sends one request with "connection: close" and reads until the server closes or the timeout.
Raw exchange(quint16 port, const QByteArray &method, const QByteArray &target, const QByteArray &body,
             Headers headers = {}, int timeoutMs = 5'000, bool withKey = true)
{
    QTcpSocket socket;
    socket.connectToHost(QHostAddress(QHostAddress::LocalHost), port);
    Raw out;
    if (!socket.waitForConnected(5'000))
        return out;
    if (withKey)
        headers.prepend({"authorization", "Bearer " + kKey});
    QByteArray request = method + ' ' + target + " HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n";
    if (method == "POST")
        request += "content-length: " + QByteArray::number(body.size()) + "\r\n";
    for (const auto &[name, value] : headers)
        request += name + ": " + value + "\r\n";
    request += "\r\n" + body;
    QElapsedTimer timer;
    timer.start();
    socket.write(request);
    QByteArray raw;
    while (timer.elapsed() < timeoutMs) {
        if (socket.waitForReadyRead(int(std::max<qint64>(1, timeoutMs - timer.elapsed())))) {
            if (out.firstByteMs < 0)
                out.firstByteMs = timer.elapsed();
            raw += socket.readAll();
        } else if (socket.state() != QAbstractSocket::ConnectedState) {
            out.closed = true;
            break;
        }
    }
    raw += socket.readAll();
    out.totalMs = timer.elapsed();
    decode(raw, out);
    return out;
}

QByteArray chatBody(const QByteArray &model, bool stream = false, std::optional<bool> includeUsage = std::nullopt)
{
    QByteArray body = "{\"model\":\"" + model + "\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]";
    if (stream)
        body += ",\"stream\":true";
    if (includeUsage)
        body += QByteArray(",\"stream_options\":{\"include_usage\":") + (*includeUsage ? "true" : "false") + "}";
    return body + '}';
}

// SSE events ("data: …" payloads); fails the test on framing errors.
QList<QByteArray> sseData(const QByteArray &body, bool *framingOk)
{
    QList<QByteArray> data;
    *framingOk = body.endsWith("\n\n");
    for (const QByteArray &event : body.split('\n')) {
        if (event.startsWith("data: "))
            data.append(event.sliced(6));
        else if (!event.isEmpty() && !event.startsWith("event: "))
            *framingOk = false;
    }
    return data;
}

} // namespace

class TestMockUpstream : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();
    void init();
    void nonStreamChat();
    void auth_data();
    void auth();
    void sseFraming_data();
    void sseFraming();
    void streamPacing();
    void dropAfter();
    void statusFaults_data();
    void statusFaults();
    void delay();
    void hangUntilClientGivesUp();
    void clientDisconnectCountsAborted();
    void globalConfig();
    void statsCaptureLastRequest();
    void azure();
    void otherEndpoints();
    void responsesStream();
    void badRequests();

private:
    MockUpstream m_mock;
};

void TestMockUpstream::initTestCase()
{
    const Status started = m_mock.start({"--api-key", QString::fromLatin1(kKey), "--name", "mock-a", "--threads", "2"});
    QVERIFY2(started.ok(), qPrintable(started.ok() ? QString() : started.error().message));
    QVERIFY(m_mock.port() != 0);
    QCOMPARE(m_mock.apiBase(), QStringLiteral("http://127.0.0.1:%1/v1").arg(m_mock.port()));
}

void TestMockUpstream::init()
{
    QVERIFY(m_mock.reset().ok());
}

void TestMockUpstream::nonStreamChat()
{
    const Raw r = exchange(m_mock.port(), "POST", "/v1/chat/completions", chatBody("gpt-4o-mini"));
    QCOMPARE(r.status, 200);
    QVERIFY(r.complete);
    QCOMPARE(r.header("content-type"), QByteArray("application/json"));
    QVERIFY(r.header("x-request-id").startsWith("req_"));
    bool ok = false;
    r.header("openai-processing-ms").toInt(&ok);
    QVERIFY(ok);
    QCOMPARE(r.header("x-ratelimit-remaining-requests"), QByteArray("9999"));
    QCOMPARE(r.header("x-mock-instance"), QByteArray("mock-a"));

    const QJsonObject o = r.json();
    QVERIFY(o.value("id").toString().startsWith("chatcmpl-"));
    QCOMPARE(o.value("object").toString(), QStringLiteral("chat.completion"));
    QCOMPARE(o.value("model").toString(), QStringLiteral("gpt-4o-mini"));
    const QJsonObject choice = o.value("choices").toArray().at(0).toObject();
    QCOMPARE(choice.value("finish_reason").toString(), QStringLiteral("stop"));
    QCOMPARE(choice.value("message").toObject().value("role").toString(), QStringLiteral("assistant"));
    QCOMPARE(choice.value("message").toObject().value("content").toString(),
             QStringLiteral("Hello! This is the LLMPool mock upstream"));
    const QJsonObject usage = o.value("usage").toObject();
    QCOMPARE(usage.value("prompt_tokens").toInt(), 10);
    QCOMPARE(usage.value("completion_tokens").toInt(), 8);
    QCOMPARE(usage.value("total_tokens").toInt(), 18);
    QCOMPARE(usage.value("prompt_tokens_details").toObject().value("cached_tokens").toInt(), 0);

    // Per-request usage and content overrides.
    const Raw custom = exchange(m_mock.port(), "POST", "/v1/chat/completions", chatBody("m"),
                                {{"x-mock-prompt-tokens", "123"},
                                 {"x-mock-completion-tokens", "45"},
                                 {"x-mock-cached-tokens", "100"},
                                 {"x-mock-chunks", "2"},
                                 {"x-mock-chunk-size", "3"}});
    const QJsonObject cu = custom.json().value("usage").toObject();
    QCOMPARE(cu.value("prompt_tokens").toInt(), 123);
    QCOMPARE(cu.value("completion_tokens").toInt(), 45);
    QCOMPARE(cu.value("total_tokens").toInt(), 168);
    QCOMPARE(cu.value("prompt_tokens_details").toObject().value("cached_tokens").toInt(), 100);
    QCOMPARE(custom.json()
                 .value("choices")
                 .toArray()
                 .at(0)
                 .toObject()
                 .value("message")
                 .toObject()
                 .value("content")
                 .toString(),
             QStringLiteral("abcbcd"));
    const Raw noUsage =
        exchange(m_mock.port(), "POST", "/v1/chat/completions", chatBody("m"), {{"x-mock-no-usage", "1"}});
    QVERIFY(!noUsage.json().contains("usage"));
}

void TestMockUpstream::auth_data()
{
    QTest::addColumn<QByteArray>("name");
    QTest::addColumn<QByteArray>("value");
    QTest::addColumn<int>("status");
    QTest::addColumn<QString>("code"); // "null" for a null code

    QTest::newRow("no key") << QByteArray() << QByteArray() << 401 << "null";
    QTest::newRow("wrong bearer") << QByteArray("authorization") << QByteArray("Bearer sk-wrong") << 401
                                  << "invalid_api_key";
    QTest::newRow("wrong api-key") << QByteArray("api-key") << QByteArray("nope") << 401 << "invalid_api_key";
    QTest::newRow("bearer") << QByteArray("authorization") << "Bearer " + kKey << 200 << QString();
    QTest::newRow("bearer, any case") << QByteArray("Authorization") << "bearer " + kKey << 200 << QString();
    QTest::newRow("api-key") << QByteArray("api-key") << kKey << 200 << QString();
}

void TestMockUpstream::auth()
{
    QFETCH(QByteArray, name);
    QFETCH(QByteArray, value);
    QFETCH(int, status);
    QFETCH(QString, code);
    Headers headers;
    if (!name.isEmpty())
        headers.append({name, value});
    const Raw r = exchange(m_mock.port(), "POST", "/v1/chat/completions", chatBody("gpt-4o"), headers, 5'000, false);
    QCOMPARE(r.status, status);
    if (status == 401) {
        const QJsonObject error = r.json().value("error").toObject();
        QCOMPARE(error.value("type").toString(), QStringLiteral("invalid_request_error"));
        QCOMPARE(error.value("code").isNull() ? QStringLiteral("null") : error.value("code").toString(), code);
        QVERIFY(!r.body.contains("sk-wrong"));
        QCOMPARE(m_mock.stats()->value("auth_failures").toInt(), 1);
    }
}

void TestMockUpstream::sseFraming_data()
{
    QTest::addColumn<int>("includeUsage"); // -1 absent, 0 false, 1 true
    QTest::addColumn<bool>("noUsageHeader");
    QTest::newRow("no stream_options") << -1 << false;
    QTest::newRow("include_usage false") << 0 << false;
    QTest::newRow("include_usage true") << 1 << false;
    QTest::newRow("include_usage true, upstream reports none") << 1 << true;
}

void TestMockUpstream::sseFraming()
{
    QFETCH(int, includeUsage);
    QFETCH(bool, noUsageHeader);
    Headers headers{{"x-mock-chunks", "3"}};
    if (noUsageHeader)
        headers.append(std::pair<QByteArray, QByteArray>("x-mock-no-usage", "true"));
    const Raw r = exchange(
        m_mock.port(), "POST", "/v1/chat/completions",
        chatBody("gpt-4o", true, includeUsage < 0 ? std::nullopt : std::optional<bool>(includeUsage)), headers);
    QCOMPARE(r.status, 200);
    QVERIFY(r.complete);
    QCOMPARE(r.header("content-type"), QByteArray("text/event-stream; charset=utf-8"));
    QVERIFY(r.header("x-request-id").startsWith("req_"));
    QVERIFY(r.body.endsWith("\n\ndata: [DONE]\n\n"));
    bool framingOk = false;
    const QList<QByteArray> data = sseData(r.body, &framingOk);
    QVERIFY2(framingOk, r.body.constData());
    QVERIFY(r.body.count("\n\n") == data.size()); // exactly one blank line per event

    const bool usageChunk = includeUsage == 1 && !noUsageHeader;
    // role + 3 content + finish (+ usage) + [DONE]
    QCOMPARE(data.size(), 6 + (usageChunk ? 1 : 0));
    QCOMPARE(data.last(), QByteArray("[DONE]"));
    QString content;
    for (qsizetype i = 0; i + 1 < data.size(); ++i) {
        const QJsonObject chunk = QJsonDocument::fromJson(data[i]).object();
        QCOMPARE(chunk.value("object").toString(), QStringLiteral("chat.completion.chunk"));
        QCOMPARE(chunk.value("model").toString(), QStringLiteral("gpt-4o"));
        const bool isUsage = usageChunk && i + 2 == data.size();
        if (isUsage) {
            QVERIFY(chunk.value("choices").toArray().isEmpty());
            QCOMPARE(chunk.value("usage").toObject().value("completion_tokens").toInt(), 3);
            QCOMPARE(chunk.value("usage").toObject().value("prompt_tokens").toInt(), 10);
            continue;
        }
        // With include_usage every other chunk says "usage":null; without, no usage key at all.
        QCOMPARE(chunk.contains("usage"), includeUsage == 1);
        QVERIFY(chunk.value("usage").isNull() || chunk.value("usage").isUndefined());
        const QJsonObject choice = chunk.value("choices").toArray().at(0).toObject();
        content += choice.value("delta").toObject().value("content").toString();
        if (i == 0)
            QCOMPARE(choice.value("delta").toObject().value("role").toString(), QStringLiteral("assistant"));
        if (i == 4)
            QCOMPARE(choice.value("finish_reason").toString(), QStringLiteral("stop"));
    }
    QCOMPARE(content, QStringLiteral("Hello! This"));
}

void TestMockUpstream::streamPacing()
{
    const Raw r = exchange(m_mock.port(), "POST", "/v1/chat/completions", chatBody("gpt-4o", true),
                           {{"x-mock-chunks", "5"}, {"x-mock-interval-ms", "60"}});
    QVERIFY(r.complete);
    QVERIFY2(r.firstByteMs < 150, qPrintable(QString::number(r.firstByteMs))); // headers + role chunk at once
    QVERIFY2(r.totalMs >= 290, qPrintable(QString::number(r.totalMs)));        // 5 paced chunks
    QVERIFY2(r.totalMs < 3'000, qPrintable(QString::number(r.totalMs)));
    QTRY_COMPARE(m_mock.stats()->value("completed_streams").toInt(), 1);
}

void TestMockUpstream::dropAfter()
{
    const Raw r = exchange(m_mock.port(), "POST", "/v1/chat/completions", chatBody("gpt-4o", true, true),
                           {{"x-mock-chunks", "5"}, {"x-mock-drop-after", "2"}});
    QCOMPARE(r.status, 200);
    QVERIFY(r.closed);
    QVERIFY(!r.complete); // no terminal chunk: a client can tell the stream was cut
    bool framingOk = false;
    QCOMPARE(sseData(r.body, &framingOk).size(), 2);
    QVERIFY(!r.body.contains("[DONE]"));
    QTRY_COMPARE(m_mock.stats()->value("dropped_streams").toInt(), 1);

    // Through the model name, and for a non-streaming request: the connection closes with no answer.
    const Raw cut = exchange(m_mock.port(), "POST", "/v1/chat/completions", chatBody("gpt-4o@drop_after=0"));
    QVERIFY(cut.closed);
    QCOMPARE(cut.status, 0);
}

void TestMockUpstream::statusFaults_data()
{
    QTest::addColumn<QByteArray>("model");
    QTest::addColumn<QByteArray>("header");
    QTest::addColumn<int>("status");
    QTest::addColumn<QString>("type");
    QTest::addColumn<QString>("code");

    QTest::newRow("429 header") << QByteArray("gpt-4o") << QByteArray("429") << 429 << "requests"
                                << "rate_limit_exceeded";
    QTest::newRow("500 header") << QByteArray("gpt-4o") << QByteArray("500") << 500 << "server_error"
                                << "null";
    QTest::newRow("503 header") << QByteArray("gpt-4o") << QByteArray("503") << 503 << "server_error"
                                << "null";
    QTest::newRow("503 model directive") << QByteArray("gpt-4o@status=503") << QByteArray() << 503 << "server_error"
                                         << "null";
    QTest::newRow("header beats directive") << QByteArray("gpt-4o@status=503") << QByteArray("429") << 429 << "requests"
                                            << "rate_limit_exceeded";
    QTest::newRow("header 0 clears directive")
        << QByteArray("gpt-4o@status=503") << QByteArray("0") << 200 << QString() << QString();
}

void TestMockUpstream::statusFaults()
{
    QFETCH(QByteArray, model);
    QFETCH(QByteArray, header);
    QFETCH(int, status);
    QFETCH(QString, type);
    QFETCH(QString, code);
    Headers headers;
    if (!header.isEmpty())
        headers.append(std::pair<QByteArray, QByteArray>("x-mock-status", header));
    const Raw r = exchange(m_mock.port(), "POST", "/v1/chat/completions", chatBody(model, true), headers);
    QCOMPARE(r.status, status);
    QVERIFY(r.header("x-request-id").startsWith("req_"));
    if (status == 200) {
        QCOMPARE(r.header("content-type"), QByteArray("text/event-stream; charset=utf-8"));
        QVERIFY(r.body.contains("\"model\":\"gpt-4o\"")); // the directive is not echoed
        return;
    }
    QCOMPARE(r.header("content-type"), QByteArray("application/json"));
    const QJsonObject error = r.json().value("error").toObject();
    QVERIFY(!error.value("message").toString().isEmpty());
    QCOMPARE(error.value("type").toString(), type);
    QCOMPARE(error.value("code").isNull() ? QStringLiteral("null") : error.value("code").toString(), code);
    QCOMPARE(m_mock.stats()->value("statuses").toObject().value(QString::number(status)).toInt(), 1);
}

void TestMockUpstream::delay()
{
    const Raw r =
        exchange(m_mock.port(), "POST", "/v1/chat/completions", chatBody("gpt-4o"), {{"x-mock-delay-ms", "250"}});
    QCOMPARE(r.status, 200);
    QVERIFY2(r.firstByteMs >= 240, qPrintable(QString::number(r.firstByteMs)));
    QVERIFY(r.header("openai-processing-ms").toInt() >= 240);
}

void TestMockUpstream::hangUntilClientGivesUp()
{
    // The helper's timeout path: nothing arrives within the client's deadline.
    const Raw r =
        exchange(m_mock.port(), "POST", "/v1/chat/completions", chatBody("gpt-4o"), {{"x-mock-hang", "1"}}, 300);
    QCOMPARE(r.firstByteMs, qint64(-1));
    QVERIFY(!r.closed);
    QTRY_COMPARE(m_mock.stats()->value("hanging").toInt(), 0); // that client has gone

    // While the client waits, the mock holds the request; when it goes, the mock lets go too.
    QTcpSocket socket;
    socket.connectToHost(QHostAddress(QHostAddress::LocalHost), m_mock.port());
    QVERIFY(socket.waitForConnected(5'000));
    const QByteArray body = chatBody("gpt-4o@hang");
    socket.write("POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer " + kKey +
                 "\r\ncontent-length: " + QByteArray::number(body.size()) + "\r\n\r\n" + body);
    QVERIFY(!socket.waitForReadyRead(300));
    QCOMPARE(m_mock.stats()->value("hanging").toInt(), 1);
    socket.abort();
    QTRY_COMPARE(m_mock.stats()->value("hanging").toInt(), 0);
}

void TestMockUpstream::clientDisconnectCountsAborted()
{
    QTcpSocket socket;
    socket.connectToHost(QHostAddress(QHostAddress::LocalHost), m_mock.port());
    QVERIFY(socket.waitForConnected(5'000));
    const QByteArray body = chatBody("gpt-4o", true);
    socket.write("POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer " + kKey +
                 "\r\nx-mock-chunks: 50\r\nx-mock-interval-ms: 100\r\ncontent-length: " +
                 QByteArray::number(body.size()) + "\r\n\r\n" + body);
    QByteArray got;
    while (!got.contains("chat.completion.chunk") && socket.waitForReadyRead(5'000))
        got += socket.readAll();
    QVERIFY(got.contains("chat.completion.chunk"));
    QTRY_COMPARE(m_mock.stats()->value("active_streams").toInt(), 1);
    socket.abort();
    QTRY_COMPARE(m_mock.stats()->value("aborted_streams").toInt(), 1);
    QCOMPARE(m_mock.stats()->value("active_streams").toInt(), 0);
    QCOMPARE(m_mock.stats()->value("completed_streams").toInt(), 0);
}

void TestMockUpstream::globalConfig()
{
    // Make the instance fail everything (failover / ejection tests), then recover.
    auto settings = m_mock.configure({{"status", 503}});
    QVERIFY(settings.ok());
    QCOMPARE(settings->value("status").toInt(), 503);
    for (int i = 0; i < 3; ++i)
        QCOMPARE(exchange(m_mock.port(), "POST", "/v1/chat/completions", chatBody("gpt-4o")).status, 503);
    QCOMPARE(exchange(m_mock.port(), "GET", "/v1/models", {}).status, 503); // health probes fail too
    QVERIFY(m_mock.configure({{"status", 0}}).ok());
    QCOMPARE(exchange(m_mock.port(), "POST", "/v1/chat/completions", chatBody("gpt-4o")).status, 200);

    // Fail only the next two requests.
    QVERIFY(m_mock.configure({{"status", 429}, {"fail_requests", 2}}).ok());
    QCOMPARE(exchange(m_mock.port(), "POST", "/v1/chat/completions", chatBody("gpt-4o")).status, 429);
    QCOMPARE(exchange(m_mock.port(), "POST", "/v1/chat/completions", chatBody("gpt-4o")).status, 429);
    QCOMPARE(exchange(m_mock.port(), "POST", "/v1/chat/completions", chatBody("gpt-4o")).status, 200);

    // Content defaults change for everyone; a bad key is refused and changes nothing.
    QVERIFY(m_mock.configure({{"status", 0}, {"chunks", 2}, {"prompt_tokens", 7}}).ok());
    const QJsonObject usage =
        exchange(m_mock.port(), "POST", "/v1/chat/completions", chatBody("gpt-4o")).json().value("usage").toObject();
    QCOMPARE(usage.value("prompt_tokens").toInt(), 7);
    QCOMPARE(usage.value("completion_tokens").toInt(), 2);
    QVERIFY(!m_mock.configure({{"bogus", 1}}).ok());
    QVERIFY(!m_mock.configure({{"chunks", "many"}}).ok());

    // reset restores the start-up settings.
    QVERIFY(m_mock.reset().ok());
    QCOMPARE(exchange(m_mock.port(), "POST", "/v1/chat/completions", chatBody("gpt-4o"))
                 .json()
                 .value("usage")
                 .toObject()
                 .value("completion_tokens")
                 .toInt(),
             8);
}

void TestMockUpstream::statsCaptureLastRequest()
{
    const QByteArray body =
        "{\"model\":\"upstream-model\",\"stream\":true,\"stream_options\":{\"include_usage\":true},"
        "\"messages\":[{\"role\":\"user\",\"content\":\"caf\\u00e9\"}],\"x_unknown\":[1,{\"a\":\"]\"}]}";
    QCOMPARE(exchange(m_mock.port(), "POST", "/v1/chat/completions", body, {{"x-custom", "kept"}}).status, 200);
    QCOMPARE(exchange(m_mock.port(), "GET", "/v1/models", {}).status, 200);
    QCOMPARE(exchange(m_mock.port(), "POST", "/v1/embeddings", "{\"model\":\"e\",\"input\":\"x\"}").status, 200);
    const QJsonObject before = *m_mock.stats();
    QCOMPARE(before.value("requests_total").toInt(), 3);
    QCOMPARE(before.value("requests").toObject().value("/v1/chat/completions").toInt(), 1);
    QCOMPARE(before.value("requests").toObject().value("/v1/models").toInt(), 1);
    const QJsonArray recent = before.value("recent").toArray();
    QCOMPARE(recent.size(), 3);
    QCOMPARE(recent.at(0).toObject().value("model").toString(), QStringLiteral("upstream-model"));
    QCOMPARE(recent.at(2).toObject().value("path").toString(), QStringLiteral("/v1/embeddings"));

    QCOMPARE(exchange(m_mock.port(), "POST", "/v1/chat/completions", body, {{"x-custom", "kept"}}).status, 200);
    const QJsonObject last = m_mock.stats()->value("last_request").toObject();
    QCOMPARE(last.value("method").toString(), QStringLiteral("POST"));
    QCOMPARE(last.value("path").toString(), QStringLiteral("/v1/chat/completions"));
    QCOMPARE(last.value("body").toString().toUtf8(), body); // byte for byte what was sent
    QCOMPARE(last.value("model").toString(), QStringLiteral("upstream-model"));
    const QJsonObject headers = last.value("headers").toObject();
    QCOMPARE(headers.value("authorization").toString(), QString::fromLatin1("Bearer " + kKey));
    QCOMPARE(headers.value("x-custom").toString(), QStringLiteral("kept"));
    QVERIFY(!headers.contains("api-key"));
}

void TestMockUpstream::azure()
{
    const Raw r =
        exchange(m_mock.port(), "POST", "/openai/deployments/my%20dep/chat/completions?api-version=2024-10-21",
                 chatBody("ignored"), {{"api-key", kKey}}, 5'000, false);
    QCOMPARE(r.status, 200);
    QCOMPARE(r.json().value("model").toString(), QStringLiteral("my dep")); // the deployment is the model
    const QJsonObject last = m_mock.stats()->value("last_request").toObject();
    QCOMPARE(last.value("target").toString(),
             QStringLiteral("/openai/deployments/my%20dep/chat/completions?api-version=2024-10-21"));
    QCOMPARE(last.value("headers").toObject().value("api-key").toString(), QString::fromLatin1(kKey));

    QCOMPARE(exchange(m_mock.port(), "POST", "/openai/deployments/d/chat/completions", chatBody("x"),
                      {{"api-key", kKey}}, 5'000, false)
                 .status,
             400); // api-version is required
    QCOMPARE(exchange(m_mock.port(), "POST", "/openai/deployments/d/chat/completions?api-version=1", chatBody("x"),
                      {{"api-key", "wrong"}}, 5'000, false)
                 .status,
             401);
    QCOMPARE(exchange(m_mock.port(), "POST", "/openai/deployments/d/files?api-version=1", chatBody("x")).status, 404);
    const Raw emb = exchange(m_mock.port(), "POST", "/openai/deployments/emb/embeddings?api-version=1",
                             "{\"input\":[\"a\",\"b\"]}", {{"api-key", kKey}}, 5'000, false);
    QCOMPARE(emb.status, 200);
    QCOMPARE(emb.json().value("data").toArray().size(), 2);
    const Raw models =
        exchange(m_mock.port(), "GET", "/openai/models?api-version=2024-10-21", {}, {{"api-key", kKey}}, 5'000, false);
    QCOMPARE(models.status, 200);
    QCOMPARE(models.json().value("object").toString(), QStringLiteral("list"));
}

void TestMockUpstream::otherEndpoints()
{
    // models
    const Raw models = exchange(m_mock.port(), "GET", "/v1/models", {});
    QCOMPARE(models.status, 200);
    QCOMPARE(models.json().value("data").toArray().at(0).toObject().value("id").toString(),
             QStringLiteral("gpt-4o-mini"));
    QCOMPARE(exchange(m_mock.port(), "GET", "/v1/models/whisper-1", {}).json().value("id").toString(),
             QStringLiteral("whisper-1"));
    QCOMPARE(exchange(m_mock.port(), "GET", "/v1/models/nope", {}).status, 404);

    // completions, non-stream and stream with usage
    const Raw completion =
        exchange(m_mock.port(), "POST", "/v1/completions", "{\"model\":\"instruct\",\"prompt\":\"x\"}");
    QCOMPARE(completion.json().value("object").toString(), QStringLiteral("text_completion"));
    QCOMPARE(completion.json().value("usage").toObject().value("total_tokens").toInt(), 18);
    const Raw completionStream = exchange(
        m_mock.port(), "POST", "/v1/completions",
        "{\"model\":\"instruct\",\"prompt\":\"x\",\"stream\":true,\"stream_options\":{\"include_usage\":true}}");
    bool framingOk = false;
    const QList<QByteArray> events = sseData(completionStream.body, &framingOk);
    QVERIFY(framingOk);
    QCOMPARE(events.size(), 8 + 1 + 1 + 1);
    QVERIFY(QJsonDocument::fromJson(events[events.size() - 2]).object().value("choices").toArray().isEmpty());

    // embeddings: floats and base64
    const QJsonObject emb =
        exchange(m_mock.port(), "POST", "/v1/embeddings",
                 "{\"model\":\"text-embedding-3-small\",\"input\":[\"a\",\"b\",\"a\"],\"dimensions\":4}")
            .json();
    const QJsonArray data = emb.value("data").toArray();
    QCOMPARE(data.size(), 3);
    QCOMPARE(data.at(0).toObject().value("embedding").toArray().size(), 4);
    QCOMPARE(data.at(0).toObject().value("embedding"), data.at(2).toObject().value("embedding"));
    QVERIFY(data.at(0).toObject().value("embedding") != data.at(1).toObject().value("embedding"));
    QCOMPARE(emb.value("usage").toObject().value("prompt_tokens").toInt(), 10);
    const QJsonObject b64 = exchange(m_mock.port(), "POST", "/v1/embeddings",
                                     "{\"model\":\"e\",\"input\":\"a\",\"encoding_format\":\"base64\"}")
                                .json();
    QCOMPARE(
        QByteArray::fromBase64(b64.value("data").toArray().at(0).toObject().value("embedding").toString().toLatin1())
            .size(),
        16 * 4);

    // images
    const QJsonObject urls =
        exchange(m_mock.port(), "POST", "/v1/images/generations", "{\"model\":\"dall-e-3\",\"prompt\":\"cat\",\"n\":2}")
            .json();
    QCOMPARE(urls.value("data").toArray().size(), 2);
    QVERIFY(urls.value("data").toArray().at(0).toObject().value("url").toString().startsWith("https://"));
    const QJsonObject pngs = exchange(m_mock.port(), "POST", "/v1/images/generations",
                                      "{\"model\":\"dall-e-3\",\"prompt\":\"cat\",\"response_format\":\"b64_json\"}")
                                 .json();
    QVERIFY(
        QByteArray::fromBase64(pngs.value("data").toArray().at(0).toObject().value("b64_json").toString().toLatin1())
            .startsWith("\x89PNG"));

    // speech: binary audio in chunks
    const Raw speech = exchange(m_mock.port(), "POST", "/v1/audio/speech",
                                "{\"model\":\"tts-1\",\"input\":\"hello\",\"voice\":\"alloy\"}",
                                {{"x-mock-chunks", "3"}, {"x-mock-chunk-size", "1000"}});
    QCOMPARE(speech.status, 200);
    QCOMPARE(speech.header("content-type"), QByteArray("audio/mpeg"));
    QVERIFY(speech.complete);
    QCOMPARE(speech.body.size(), 3000);
    QVERIFY(speech.body.startsWith("ID3"));

    // transcriptions: multipart
    const QByteArray audio(40'000, 'x');
    const QByteArray multipart = "--BOUNDARY\r\ncontent-disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n"
                                 "--BOUNDARY\r\ncontent-disposition: form-data; name=\"file\"; filename=\"a.mp3\"\r\n"
                                 "content-type: audio/mpeg\r\n\r\n" +
                                 audio + "\r\n--BOUNDARY--\r\n";
    const Raw transcription = exchange(m_mock.port(), "POST", "/v1/audio/transcriptions", multipart,
                                       {{"content-type", "multipart/form-data; boundary=BOUNDARY"}});
    QCOMPARE(transcription.status, 200);
    QCOMPARE(transcription.json().value("text").toString(), QStringLiteral("Hello! This is the LLMPool mock upstream"));
    QCOMPARE(transcription.json().value("usage").toObject().value("seconds").toInt(),
             3); // 40 kB at 16 kB/s, rounded up
    QCOMPARE(m_mock.stats()->value("last_request").toObject().value("model").toString(), QStringLiteral("whisper-1"));
    const Raw noFile = exchange(m_mock.port(), "POST", "/v1/audio/transcriptions",
                                "--B\r\ncontent-disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n--B--\r\n",
                                {{"content-type", "multipart/form-data; boundary=B"}});
    QCOMPARE(noFile.status, 400);

    // responses, non-stream
    const QJsonObject response =
        exchange(m_mock.port(), "POST", "/v1/responses", "{\"model\":\"gpt-4.1\",\"input\":\"hi\"}").json();
    QCOMPARE(response.value("object").toString(), QStringLiteral("response"));
    QCOMPARE(response.value("status").toString(), QStringLiteral("completed"));
    QCOMPARE(response.value("usage").toObject().value("input_tokens").toInt(), 10);
    QCOMPARE(response.value("usage").toObject().value("output_tokens").toInt(), 8);
}

void TestMockUpstream::responsesStream()
{
    const Raw r = exchange(m_mock.port(), "POST", "/v1/responses",
                           "{\"model\":\"gpt-4.1\",\"input\":\"hi\",\"stream\":true}", {{"x-mock-chunks", "2"}});
    QCOMPARE(r.status, 200);
    QVERIFY(r.complete);
    QStringList types;
    int sequence = 0;
    for (const QByteArray &block : r.body.split('\n')) {
        if (!block.startsWith("data: "))
            continue;
        const QJsonObject event = QJsonDocument::fromJson(block.sliced(6)).object();
        types.append(event.value("type").toString());
        QCOMPARE(event.value("sequence_number").toInt(), sequence++);
    }
    QCOMPARE(types, QStringList({"response.created", "response.in_progress", "response.output_item.added",
                                 "response.content_part.added", "response.output_text.delta",
                                 "response.output_text.delta", "response.output_text.done",
                                 "response.content_part.done", "response.output_item.done", "response.completed"}));
    QVERIFY(r.body.startsWith("event: response.created\ndata: {"));
    QVERIFY(!r.body.contains("[DONE]"));
    const qsizetype at = r.body.lastIndexOf("data: ");
    const QJsonObject completed = QJsonDocument::fromJson(r.body.sliced(at + 6).trimmed()).object();
    QCOMPARE(completed.value("response").toObject().value("usage").toObject().value("total_tokens").toInt(), 12);
}

void TestMockUpstream::badRequests()
{
    QCOMPARE(exchange(m_mock.port(), "POST", "/v1/chat/completions", "{\"model\":").status, 400);
    QCOMPARE(exchange(m_mock.port(), "POST", "/v1/chat/completions", "{\"messages\":[]}").status, 400); // no model
    const Raw unknownHeader =
        exchange(m_mock.port(), "POST", "/v1/chat/completions", chatBody("m"), {{"x-mock-bogus", "1"}});
    QCOMPARE(unknownHeader.status, 400);
    QCOMPARE(unknownHeader.json().value("error").toObject().value("code").toString(),
             QStringLiteral("invalid_mock_directive"));
    QCOMPARE(exchange(m_mock.port(), "POST", "/v1/chat/completions", chatBody("m@statuz=1")).status, 400);
    QCOMPARE(exchange(m_mock.port(), "POST", "/v1/files", "{}").status, 404);
}

QTEST_GUILESS_MAIN(TestMockUpstream)
#include "TestMockUpstream.moc"
