#include "MockUpstream.h"

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QFileInfo>
#include <QJsonDocument>
#include <QRegularExpression>
#include <QTcpSocket>

namespace llmpool::test {

namespace {

Error mockError(const QString &message)
{
    return Error::internal(QStringLiteral("mock_upstream"), message);
}

// Decodes a chunked body; returns false while incomplete.
bool dechunk(QByteArrayView in, QByteArray &out)
{
    out.clear();
    qsizetype pos = 0;
    while (true) {
        const qsizetype lineEnd = in.indexOf("\r\n", pos);
        if (lineEnd < 0)
            return false;
        bool ok = false;
        const qsizetype size =
            in.sliced(pos, lineEnd - pos).toByteArray().split(';').first().trimmed().toLongLong(&ok, 16);
        if (!ok)
            return false;
        pos = lineEnd + 2;
        if (size == 0)
            return true;
        if (pos + size + 2 > in.size())
            return false;
        out.append(in.sliced(pos, size));
        pos += size + 2;
    }
}

} // namespace

QByteArray MockUpstream::Reply::header(QByteArrayView lowerName) const
{
    for (const auto &[name, value] : headers) {
        if (name == lowerName)
            return value;
    }
    return {};
}

MockUpstream::~MockUpstream()
{
    stop();
}

QString MockUpstream::executable()
{
    const QByteArray fromEnv = qgetenv("LLMPOOL_MOCK_OPENAI");
    if (!fromEnv.isEmpty())
        return QString::fromLocal8Bit(fromEnv);
    return QStringLiteral(LLMPOOL_MOCK_OPENAI_PATH);
}

Status MockUpstream::start(const QStringList &arguments, int timeoutMs)
{
    stop();
    const QString program = executable();
    if (!QFileInfo(program).isExecutable())
        return mockError(QStringLiteral("mock upstream not found at %1 (build llmpool-mock-openai)").arg(program));
    m_process = std::make_unique<QProcess>();
    m_process->setProgram(program);
    m_process->setArguments(
        QStringList{QStringLiteral("--port"), QStringLiteral("0"), QStringLiteral("--die-with-parent")} + arguments);
    // Its warnings belong in the test's output; stdout carries only the "listening on" line.
    m_process->setProcessChannelMode(QProcess::ForwardedErrorChannel);
    m_process->start();
    if (!m_process->waitForStarted(timeoutMs)) {
        const QString why = m_process->errorString();
        m_process.reset();
        return mockError(QStringLiteral("cannot start the mock upstream: %1").arg(why));
    }
    static const QRegularExpression listening(QStringLiteral("^listening on http://[^:]+:(\\d+)"));
    QByteArray out;
    const QDeadlineTimer deadline(timeoutMs);
    while (!deadline.hasExpired()) {
        if (m_process->canReadLine() ||
            m_process->waitForReadyRead(int(std::max<qint64>(1, deadline.remainingTime())))) {
            while (m_process->canReadLine()) {
                const QString line = QString::fromUtf8(m_process->readLine()).trimmed();
                const QRegularExpressionMatch m = listening.match(line);
                if (m.hasMatch()) {
                    m_port = quint16(m.captured(1).toUInt());
                    return Ok{};
                }
            }
        }
        if (m_process->state() != QProcess::Running)
            break;
    }
    const QString why = m_process->state() == QProcess::Running
                            ? QStringLiteral("no \"listening on\" line within %1 ms").arg(timeoutMs)
                            : QStringLiteral("it exited with code %1").arg(m_process->exitCode());
    stop();
    return mockError(QStringLiteral("the mock upstream did not start: %1").arg(why));
}

void MockUpstream::stop()
{
    if (!m_process)
        return;
    if (m_process->state() != QProcess::NotRunning) {
        m_process->terminate();
        if (!m_process->waitForFinished(5'000)) {
            m_process->kill();
            m_process->waitForFinished(5'000);
        }
    }
    m_process.reset();
    m_port = 0;
}

bool MockUpstream::isRunning() const
{
    return m_process && m_process->state() == QProcess::Running;
}

QString MockUpstream::baseUrl() const
{
    return QStringLiteral("http://127.0.0.1:%1").arg(m_port);
}

QString MockUpstream::apiBase() const
{
    return baseUrl() + QStringLiteral("/v1");
}

Result<MockUpstream::Reply> MockUpstream::request(const QByteArray &method, const QByteArray &target,
                                                  const QByteArray &body,
                                                  const QList<std::pair<QByteArray, QByteArray>> &headers,
                                                  int timeoutMs) const
{
    if (m_port == 0)
        return mockError(QStringLiteral("the mock upstream is not running"));
    QTcpSocket socket;
    socket.connectToHost(QHostAddress(QHostAddress::LocalHost), m_port);
    const QDeadlineTimer deadline(timeoutMs);
    if (!socket.waitForConnected(int(deadline.remainingTime())))
        return mockError(QStringLiteral("cannot connect to the mock upstream: %1").arg(socket.errorString()));
    QByteArray head = method + ' ' + target + " HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n";
    if (!body.isEmpty() || method == "POST")
        head += "content-length: " + QByteArray::number(body.size()) + "\r\n";
    for (const auto &[name, value] : headers)
        head += name + ": " + value + "\r\n";
    socket.write(head + "\r\n" + body);
    QByteArray raw;
    while (socket.state() == QAbstractSocket::ConnectedState && !deadline.hasExpired()) {
        if (socket.waitForReadyRead(int(std::max<qint64>(1, deadline.remainingTime()))))
            raw += socket.readAll();
    }
    raw += socket.readAll();
    const qsizetype headEnd = raw.indexOf("\r\n\r\n");
    if (headEnd < 0)
        return mockError(QStringLiteral("no complete response from the mock upstream within %1 ms").arg(timeoutMs));
    Reply reply;
    const QList<QByteArray> lines = raw.first(headEnd).split('\n');
    const QList<QByteArray> statusLine = lines.value(0).trimmed().split(' ');
    reply.status = statusLine.value(1).toInt();
    bool chunked = false;
    for (qsizetype i = 1; i < lines.size(); ++i) {
        const qsizetype colon = lines[i].indexOf(':');
        if (colon <= 0)
            continue;
        const QByteArray name = lines[i].first(colon).trimmed().toLower();
        const QByteArray value = lines[i].sliced(colon + 1).trimmed();
        if (name == "transfer-encoding" && value.toLower().contains("chunked"))
            chunked = true;
        reply.headers.append({name, value});
    }
    const QByteArray rest = raw.sliced(headEnd + 4);
    if (chunked) {
        if (!dechunk(rest, reply.body))
            return mockError(QStringLiteral("truncated chunked response from the mock upstream"));
    } else {
        reply.body = rest;
    }
    return reply;
}

Result<QJsonObject> MockUpstream::stats(int timeoutMs) const
{
    Result<Reply> r = request("GET", "/mock/stats", {}, {}, timeoutMs);
    if (!r)
        return r.takeError();
    const QJsonDocument doc = QJsonDocument::fromJson(r->body);
    if (r->status != 200 || !doc.isObject())
        return mockError(QStringLiteral("GET /mock/stats answered %1").arg(r->status));
    return doc.object();
}

Result<QJsonObject> MockUpstream::configure(const QJsonObject &settings, int timeoutMs) const
{
    Result<Reply> r = request("POST", "/mock/config", QJsonDocument(settings).toJson(QJsonDocument::Compact),
                              {{"content-type", "application/json"}}, timeoutMs);
    if (!r)
        return r.takeError();
    const QJsonDocument doc = QJsonDocument::fromJson(r->body);
    if (r->status != 200 || !doc.isObject())
        return mockError(
            QStringLiteral("POST /mock/config answered %1: %2").arg(r->status).arg(QString::fromUtf8(r->body)));
    return doc.object();
}

Status MockUpstream::reset(int timeoutMs) const
{
    Result<Reply> r = request("POST", "/mock/reset", {}, {}, timeoutMs);
    if (!r)
        return r.takeError();
    if (r->status != 200)
        return mockError(QStringLiteral("POST /mock/reset answered %1").arg(r->status));
    return Ok{};
}

} // namespace llmpool::test
