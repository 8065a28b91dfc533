#include "http/HttpConnection.h"

#include "Log.h"

#include "http/ErrorReply.h"
#include "http/HttpWire.h"
#include "http/HttpWorker.h"
#include "http/Router.h"

#include <QSocketNotifier>

#include <algorithm>
#include <cerrno>
#include <ctime>

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

namespace llmpool::gateway {

namespace {

constexpr qsizetype kCopyThreshold = 4096; // smaller pieces are copied into the tail buffer
// Buffers larger than these are released when empty, so idle keep-alive connections stay small.
constexpr qsizetype kKeepOutputCapacity = 16 * 1024;
constexpr qsizetype kKeepInputCapacity = 4 * 1024;
constexpr int kMaxIov = 16;
constexpr QByteArrayView kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

// Framing and hop-by-hop headers the connection writes itself.
bool isReservedResponseHeader(QByteArrayView name)
{
    switch (name.size()) {
    case 4:
        return asciiEqualsIgnoreCase(name, "date");
    case 6:
        return asciiEqualsIgnoreCase(name, "server");
    case 10:
        return asciiEqualsIgnoreCase(name, "connection") || asciiEqualsIgnoreCase(name, "keep-alive");
    case 14:
        return asciiEqualsIgnoreCase(name, "content-length");
    case 17:
        return asciiEqualsIgnoreCase(name, "transfer-encoding");
    default:
        return false;
    }
}

QByteArrayView trimmedOws(QByteArrayView v)
{
    while (!v.isEmpty() && (v.front() == ' ' || v.front() == '\t'))
        v = v.sliced(1);
    while (!v.isEmpty() && (v.back() == ' ' || v.back() == '\t'))
        v.chop(1);
    return v;
}

} // namespace

// ---------------------------------------------------------------------------------------------
// HttpExchange / HttpOutputQueue

void HttpExchange::reset()
{
    connection = nullptr;
    threadContext = nullptr;
    disconnected = {};
    drained = {};
    finished = streaming = chunked = headOnly = wantDrain = forceClose = lost = false;
    remaining = -1;
}

void HttpOutputQueue::appendCopy(const char *data, qsizetype size)
{
    if (size <= 0)
        return;
    if (!m_tailOwned || m_chunks.empty()) {
        m_chunks.emplace_back();
        m_chunks.back().reserve(std::max<qsizetype>(size, 2048));
        m_tailOwned = true;
    }
    m_chunks.back().append(data, size);
    m_size += size;
}

void HttpOutputQueue::appendShared(const QByteArray &data)
{
    if (data.size() < kCopyThreshold) {
        appendCopy(data.constData(), data.size());
        return;
    }
    m_chunks.push_back(data);
    m_tailOwned = false;
    m_size += data.size();
}

int HttpOutputQueue::fill(struct iovec *iov, int max) const
{
    int n = 0;
    qsizetype offset = m_headOffset;
    for (auto it = m_chunks.cbegin(); it != m_chunks.cend() && n < max; ++it) {
        const qsizetype len = it->size() - offset;
        if (len > 0) {
            iov[n].iov_base = const_cast<char *>(it->constData() + offset);
            iov[n].iov_len = size_t(len);
            ++n;
        }
        offset = 0;
    }
    return n;
}

void HttpOutputQueue::consume(qint64 bytes)
{
    m_size -= bytes;
    while (!m_chunks.empty()) {
        QByteArray &front = m_chunks.front();
        const qsizetype available = front.size() - m_headOffset;
        if (bytes < available) {
            m_headOffset += qsizetype(bytes);
            return;
        }
        bytes -= available;
        m_headOffset = 0;
        if (m_chunks.size() == 1 && m_tailOwned && front.capacity() <= kKeepOutputCapacity) {
            front.resize(0); // keep the buffer for the next response
            return;
        }
        m_chunks.pop_front();
        if (m_chunks.empty())
            m_tailOwned = false;
        if (bytes == 0 && m_size == 0 && m_chunks.empty())
            return;
    }
}

void HttpOutputQueue::clear()
{
    m_chunks.clear();
    m_headOffset = 0;
    m_size = 0;
    m_tailOwned = false;
}

// ---------------------------------------------------------------------------------------------
// HttpConnection

const http_parser_settings HttpConnection::s_settings = [] {
    http_parser_settings s{};
    s.on_url = &HttpConnection::onUrl;
    s.on_header_field = &HttpConnection::onHeaderField;
    s.on_header_value = &HttpConnection::onHeaderValue;
    s.on_headers_complete = &HttpConnection::onHeadersComplete;
    s.on_body = &HttpConnection::onBody;
    s.on_message_complete = &HttpConnection::onMessageComplete;
    return s;
}();

qint64 HttpConnection::monotonicMs()
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return qint64(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

HttpConnection::HttpConnection(HttpWorker *worker, int fd, const QHostAddress &peer, quint16 peerPort)
    : QObject(worker), m_worker(worker), m_fd(fd), m_peer(peer), m_peerPort(peerPort),
      m_scanner(worker->config().maxHeaderBytes)
{
    m_readNotifier = new QSocketNotifier(fd, QSocketNotifier::Read, this);
    connect(m_readNotifier, &QSocketNotifier::activated, this, &HttpConnection::onReadable);
    m_request.m_peerAddress = peer;
    m_request.m_peerPort = peerPort;
    const qint64 now = monotonicMs();
    m_idleSinceMs = now;
    m_idleLimitMs = worker->config().headerTimeoutMs; // a fresh connection owes us a request head
    m_lastWriteMs = now;
}

HttpConnection::~HttpConnection()
{
    if (m_fd >= 0)
        ::close(m_fd);
}

void HttpConnection::onReadable()
{
    if (m_phase == Phase::Dead)
        return;
    char *buffer = m_worker->scratch();
    const ssize_t n = ::read(m_fd, buffer, size_t(HttpWorker::kScratchSize));
    if (n > 0) {
        m_worker->counters().bytesReceived.fetch_add(n, std::memory_order_relaxed);
        if (m_phase == Phase::Closing || m_phase == Phase::Linger)
            return; // a final response is on its way: whatever else the client sends is dropped
        m_in.append(buffer, qsizetype(n));
        if (m_phase == Phase::Body)
            m_lastBodyMs = monotonicMs();
        processInput();
        return;
    }
    if (n == 0) {
        peerClosed();
        return;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return;
    abortConnection(true);
}

void HttpConnection::onWritable()
{
    flush();
    if (m_phase == Phase::Idle && m_in.size() > m_inPos)
        processInput(); // parsing waited for the output to fall below the high-water mark
}

void HttpConnection::peerClosed()
{
    m_peerEof = true;
    updateReadInterest();
    switch (m_phase) {
    case Phase::Idle:
        if (m_out.isEmpty())
            abortConnection(false);
        else
            m_phase = Phase::Closing; // finish writing what the client asked for, then close
        break;
    case Phase::Head:
    case Phase::Body:
    case Phase::Linger:
        abortConnection(false);
        break;
    case Phase::Handling:
        // Like nginx and Go: EOF while a response is owed means the client gave up.
        abortConnection(true);
        break;
    case Phase::Closing:
    case Phase::Dead:
        break;
    }
}

void HttpConnection::beginRequest()
{
    m_phase = Phase::Head;
    m_scanner.reset();
    m_scanPos = m_inPos;
    m_requestStartMs = monotonicMs();
    m_request.reset();
    m_request.m_peerAddress = m_peer; // again: a handler may have moved the last request away
    m_request.m_peerPort = m_peerPort;
    m_request.m_receivedAtMSecs = m_requestStartMs;
    m_handler = nullptr;
    m_pendingError.reset();
    m_pendingErrorHeaders.clear();
    m_bodyBytes = 0;
    m_headerValueLast = false;
    m_messageComplete = m_rejected = m_discardBody = m_expectContinue = false;
    http_parser_init(&m_parser, HTTP_REQUEST);
    m_parser.data = this;
}

void HttpConnection::processInput()
{
    if (m_inProcess || m_phase == Phase::Dead)
        return;
    m_inProcess = true;
    const HttpServerConfig &cfg = m_worker->config();
    for (;;) {
        if (m_phase != Phase::Idle && m_phase != Phase::Head && m_phase != Phase::Body)
            break;
        if (m_phase == Phase::Idle && m_out.size() >= cfg.writeHighWater)
            break; // a pipelining client that does not read: wait for onWritable
        if (m_in.size() <= m_inPos)
            break;
        if (m_phase == Phase::Idle)
            beginRequest();
        if (m_phase == Phase::Head) {
            qsizetype used = 0;
            const auto status = m_scanner.feed(m_in.constData() + m_scanPos, m_in.size() - m_scanPos, &used);
            m_scanPos += used;
            if (status == HttpHeaderScanner::Status::NeedMore)
                break;
            if (status == HttpHeaderScanner::Status::Invalid) {
                failAndClose(httpErrors::badRequest(QStringLiteral("Malformed request head")));
                break;
            }
            if (status == HttpHeaderScanner::Status::TooLarge) {
                failAndClose(httpErrors::headersTooLarge(cfg.maxHeaderBytes));
                break;
            }
            m_phase = Phase::Body;
        }
        const size_t parsed =
            http_parser_execute(&m_parser, &s_settings, m_in.constData() + m_inPos, size_t(m_in.size() - m_inPos));
        m_inPos += qsizetype(parsed);
        if (m_rejected)
            break; // answered and closing
        const auto err = http_errno(m_parser.http_errno);
        if (err == HPE_PAUSED) {
            http_parser_pause(&m_parser, 0);
        } else if (err != HPE_OK) {
            failAndClose(err == HPE_HEADER_OVERFLOW
                             ? httpErrors::headersTooLarge(cfg.maxHeaderBytes)
                             : httpErrors::badRequest(QString::fromLatin1(http_errno_description(err))));
            break;
        }
        if (!m_messageComplete)
            break; // the rest of the body has not arrived
        dispatch();
    }
    compactInput();
    m_inProcess = false;
    if (m_phase != Phase::Dead && (!m_out.isEmpty() || m_phase == Phase::Closing))
        flushSoon();
    if (m_phase != Phase::Dead)
        updateReadInterest();
}

void HttpConnection::compactInput()
{
    if (m_inPos == 0)
        return;
    if (m_inPos >= m_in.size()) {
        if (m_in.capacity() > kKeepInputCapacity)
            m_in = QByteArray();
        else
            m_in.resize(0);
    } else {
        m_in.remove(0, m_inPos);
        m_scanPos = std::max<qsizetype>(0, m_scanPos - m_inPos);
    }
    m_inPos = 0;
}

void HttpConnection::updateReadInterest()
{
    const HttpServerConfig &cfg = m_worker->config();
    const bool want = m_phase != Phase::Dead && !m_peerEof &&
                      (m_phase == Phase::Linger || m_phase == Phase::Closing ||
                       m_in.size() - m_inPos < qsizetype(cfg.maxPipelinedBytes) + cfg.maxHeaderBytes);
    if (want != m_readEnabled) {
        m_readEnabled = want;
        m_readNotifier->setEnabled(want);
    }
}

void HttpConnection::setWriteInterest(bool enabled)
{
    if (enabled == m_writeEnabled)
        return;
    m_writeEnabled = enabled;
    if (!m_writeNotifier) {
        m_writeNotifier = new QSocketNotifier(m_fd, QSocketNotifier::Write, this);
        connect(m_writeNotifier, &QSocketNotifier::activated, this, &HttpConnection::onWritable);
    }
    m_writeNotifier->setEnabled(enabled);
}

void HttpConnection::dispatch()
{
    m_messageComplete = false;
    m_phase = Phase::Handling;
    if (m_pendingError) {
        const Error error = *std::exchange(m_pendingError, std::nullopt);
        sendError(error, m_pendingErrorHeaders, responseMustClose(nullptr));
        return;
    }
    m_worker->requestStarted();
    // Recycle the exchange unless a handler still holds a responder for it.
    if (!m_exchange || m_exchange.use_count() > 1)
        m_exchange = std::make_shared<HttpExchange>();
    else
        m_exchange->reset();
    const std::shared_ptr<HttpExchange> exchange = m_exchange;
    exchange->connection = this;
    exchange->threadContext = m_worker;
    exchange->headOnly = m_request.isHead();
    {
        HttpResponder responder(exchange);
        (*m_handler)(m_request, responder);
    }
    if (exchange->connection == this && !exchange->finished && exchange.use_count() <= 2) {
        // Nobody kept the responder: nothing can answer any more. Do not leave the client hanging.
        qCWarning(lcHttp) << "handler for" << m_request.method() << m_request.path() << "returned without responding";
        HttpResponder responder(exchange);
        if (exchange->streaming)
            responder.abort();
        else
            replyError(responder, httpErrors::noResponse());
    }
}

HttpExchange *HttpConnection::activeExchange(HttpExchange *exchange) const
{
    if (!exchange || exchange != m_exchange.get() || exchange->connection != this || exchange->finished ||
        m_phase != Phase::Handling)
        return nullptr;
    return exchange;
}

bool HttpConnection::responseMustClose(const HttpExchange *exchange) const
{
    return !m_request.m_keepAlive || m_peerEof || m_worker->draining() || (exchange && exchange->forceClose);
}

void HttpConnection::writeHead(int status, const HttpHeaders &headers, QByteArrayView contentType, qint64 contentLength,
                               bool chunked, bool close)
{
    HttpOutputQueue &out = m_out;
    out.appendCopy(HttpWire::statusLine(status));
    out.appendCopy("server: llmpool\r\n", 17);
    out.appendCopy(HttpWire::dateHeader());
    for (const auto &h : headers) {
        if (isReservedResponseHeader(h.first) || !HttpWire::isSafeHeader(h.first, h.second))
            continue;
        out.appendCopy(h.first);
        out.appendCopy(": ", 2);
        out.appendCopy(h.second);
        out.appendCopy("\r\n", 2);
    }
    if (!contentType.isEmpty()) {
        out.appendCopy("content-type: ", 14);
        out.appendCopy(contentType);
        out.appendCopy("\r\n", 2);
    }
    char number[32];
    if (contentLength >= 0) {
        out.appendCopy("content-length: ", 16);
        int n = HttpWire::formatDecimal(number, quint64(contentLength));
        number[n++] = '\r';
        number[n++] = '\n';
        out.appendCopy(number, n);
    } else if (chunked) {
        out.appendCopy("transfer-encoding: chunked\r\n", 28);
    }
    if (close)
        out.appendCopy("connection: close\r\n\r\n", 21);
    else if (m_request.m_versionMinor == 0)
        out.appendCopy("connection: keep-alive\r\n\r\n", 26);
    else
        out.appendCopy("\r\n", 2);
}

void HttpConnection::respond(HttpExchange *exchange, int status, const HttpHeaders &headers, QByteArrayView contentType,
                             const QByteArray &body)
{
    HttpExchange *ex = activeExchange(exchange);
    if (!ex || ex->streaming)
        return;
    if (status < 200 || status > 599)
        status = 500;
    const bool noBody = status == 204 || status == 304;
    const bool close = responseMustClose(ex);
    writeHead(status, headers, contentType, noBody ? -1 : body.size(), false, close);
    if (!noBody && !ex->headOnly)
        m_out.appendShared(body);
    finishExchange(close);
}

bool HttpConnection::beginStream(HttpExchange *exchange, int status, const HttpHeaders &headers, qint64 contentLength,
                                 bool flushHead)
{
    HttpExchange *ex = activeExchange(exchange);
    if (!ex || ex->streaming)
        return false;
    if (status < 200 || status > 599)
        status = 500;
    const bool noBody = status == 204 || status == 304;
    bool close = responseMustClose(ex);
    ex->streaming = true;
    if (noBody) {
        ex->remaining = 0;
        writeHead(status, headers, {}, -1, false, close);
    } else if (contentLength >= 0) {
        ex->remaining = contentLength;
        writeHead(status, headers, {}, contentLength, false, close);
    } else if (m_request.m_versionMinor >= 1) {
        ex->chunked = true;
        writeHead(status, headers, {}, -1, true, close);
    } else {
        // HTTP/1.0 has no chunked encoding: the end of the body is the end of the connection.
        ex->forceClose = true;
        writeHead(status, headers, {}, -1, false, true);
    }
    if (!m_inProcess && flushHead)
        flushSoon(); // headers go out in this pass (an SSE client waits for them)
    return m_phase != Phase::Dead;
}

bool HttpConnection::write(HttpExchange *exchange, const QByteArray &data)
{
    HttpExchange *ex = activeExchange(exchange);
    if (!ex || !ex->streaming)
        return false;
    if (!data.isEmpty() && !ex->headOnly) {
        if (ex->chunked) {
            char line[32];
            int n = HttpWire::formatHex(line, quint64(data.size()));
            line[n++] = '\r';
            line[n++] = '\n';
            m_out.appendCopy(line, n);
            m_out.appendShared(data);
            m_out.appendCopy("\r\n", 2);
        } else if (ex->remaining >= 0) {
            const qint64 take = std::min<qint64>(ex->remaining, data.size());
            if (take < data.size())
                qCWarning(lcHttp) << "stream wrote past its content-length; extra bytes dropped";
            if (take > 0)
                m_out.appendShared(take == data.size() ? data : data.first(qsizetype(take)));
            ex->remaining -= take;
        } else {
            m_out.appendShared(data);
        }
    }
    if (!m_inProcess) {
        // SSE: no buffering beyond this pass. At the high-water mark the kernel's buffer is filled
        // first, so "stop producing" means the client really is not reading.
        if (m_out.size() >= m_worker->config().writeHighWater)
            flush();
        else
            flushSoon();
    }
    if (m_phase == Phase::Dead || ex->connection != this)
        return false;
    const bool below = m_out.size() < m_worker->config().writeHighWater;
    if (!below)
        ex->wantDrain = true;
    return below;
}

void HttpConnection::end(HttpExchange *exchange)
{
    HttpExchange *ex = activeExchange(exchange);
    if (!ex || !ex->streaming)
        return;
    bool close = responseMustClose(ex);
    if (ex->chunked && !ex->headOnly)
        m_out.appendCopy("0\r\n\r\n", 5);
    if (ex->remaining > 0 && !ex->headOnly) {
        // Fewer bytes than announced: the client must see a broken response, not wait forever.
        qCWarning(lcHttp) << "stream ended" << ex->remaining << "bytes short of its content-length";
        close = true;
    }
    finishExchange(close);
}

void HttpConnection::abort(HttpExchange *exchange)
{
    HttpExchange *ex = activeExchange(exchange);
    if (!ex)
        return;
    ex->finished = true;
    ex->connection = nullptr;
    ex->disconnected = {};
    ex->drained = {};
    m_worker->requestFinished();
    abortConnection(false);
}

void HttpConnection::finishExchange(bool close)
{
    HttpExchange *ex = m_exchange.get();
    ex->finished = true;
    ex->connection = nullptr;
    // Callbacks often capture a responder: dropping them here breaks that reference cycle.
    ex->disconnected = {};
    ex->drained = {};
    m_worker->requestFinished();
    m_phase = close ? Phase::Closing : Phase::Idle;
    m_idleSinceMs = monotonicMs();
    m_idleLimitMs = m_worker->config().idleTimeoutMs;
    if (!m_inProcess)
        processInput(); // flushes, then parses a pipelined request already buffered
}

void HttpConnection::sendError(const Error &error, const HttpHeaders &extraHeaders, bool close)
{
    const QByteArray body = errorBody(error);
    const bool head = m_request.isHead();
    writeHead(error.httpStatus, extraHeaders, "application/json", body.size(), false, close);
    if (!head)
        m_out.appendCopy(body);
    m_phase = close ? Phase::Closing : Phase::Idle;
    m_idleSinceMs = monotonicMs();
    m_idleLimitMs = m_worker->config().idleTimeoutMs;
}

void HttpConnection::failAndClose(const Error &error, const HttpHeaders &extraHeaders)
{
    m_pendingError.reset();
    m_request.m_keepAlive = false;
    sendError(error, extraHeaders, true);
}

void HttpConnection::rejectNow(const Error &error, const HttpHeaders &extraHeaders)
{
    m_rejected = true;
    http_parser_pause(&m_parser, 1);
    failAndClose(error, extraHeaders);
}

void HttpConnection::flushSoon()
{
    if (m_flushQueued || m_phase == Phase::Dead)
        return;
    m_flushQueued = true;
    m_worker->flushSoon(this);
}

void HttpConnection::flushQueued()
{
    m_flushQueued = false;
    onWritable(); // the same: write, then parse what waited for the output to drain
}

void HttpConnection::flush()
{
    if (m_inFlush || m_phase == Phase::Dead)
        return;
    m_inFlush = true;
    bool progressed = false;
    while (!m_out.isEmpty()) {
        struct iovec iov[kMaxIov];
        const int count = m_out.fill(iov, kMaxIov);
        struct msghdr msg = {};
        msg.msg_iov = iov;
        msg.msg_iovlen = size_t(count);
        const ssize_t n = ::sendmsg(m_fd, &msg, MSG_NOSIGNAL);
        if (n > 0) {
            m_out.consume(n);
            progressed = true;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        m_inFlush = false;
        abortConnection(true); // EPIPE / ECONNRESET: the client is gone
        return;
    }
    m_inFlush = false;
    if (m_out.isEmpty()) {
        setWriteInterest(false);
    } else {
        if (progressed || !m_writeEnabled)
            m_lastWriteMs = monotonicMs();
        setWriteInterest(true);
    }
    if (m_phase == Phase::Closing && m_out.isEmpty()) {
        startLinger();
        return;
    }
    const std::shared_ptr<HttpExchange> ex = m_exchange;
    if (ex && ex->wantDrain && ex->connection == this && m_out.size() <= m_worker->config().writeLowWater) {
        ex->wantDrain = false;
        HttpExchange::Callback callback = std::move(ex->drained);
        ex->drained = {};
        callback.invoke();
        if (ex->connection == this && !ex->drained.isSet())
            ex->drained = std::move(callback);
    }
}

void HttpConnection::startLinger()
{
    if (m_peerEof) {
        abortConnection(false);
        return;
    }
    // Half-close and read until the client closes too: closing with unread input would send a
    // RST that can destroy the response we just wrote (the 413 a client is still uploading past).
    ::shutdown(m_fd, SHUT_WR);
    m_phase = Phase::Linger;
    m_lingerUntilMs = monotonicMs() + m_worker->config().lingerMs;
    m_in = QByteArray();
    m_inPos = m_scanPos = 0;
    updateReadInterest();
}

void HttpConnection::closeIfIdle()
{
    if (m_phase == Phase::Idle && m_out.isEmpty() && m_in.size() <= m_inPos)
        abortConnection(false);
}

void HttpConnection::checkTimeouts(qint64 nowMs)
{
    const HttpServerConfig &cfg = m_worker->config();
    if (m_phase == Phase::Dead)
        return;
    if (!m_out.isEmpty() && !m_flushQueued && cfg.writeTimeoutMs > 0 && nowMs - m_lastWriteMs >= cfg.writeTimeoutMs) {
        qCDebug(lcHttp) << "write timeout: the client stopped reading";
        abortConnection(true);
        return;
    }
    switch (m_phase) {
    case Phase::Idle:
        if (m_out.isEmpty() && m_in.size() <= m_inPos && nowMs - m_idleSinceMs >= m_idleLimitMs)
            abortConnection(false);
        break;
    case Phase::Head:
        if (nowMs - m_requestStartMs >= cfg.headerTimeoutMs) {
            failAndClose(httpErrors::requestTimeout());
            flush();
        }
        break;
    case Phase::Body:
        if (nowMs - m_lastBodyMs >= cfg.bodyTimeoutMs) {
            failAndClose(httpErrors::requestTimeout());
            flush();
        }
        break;
    case Phase::Linger:
        if (nowMs >= m_lingerUntilMs)
            abortConnection(false);
        break;
    default:
        break;
    }
}

void HttpConnection::abortConnection(bool notify)
{
    if (m_phase == Phase::Dead)
        return;
    m_phase = Phase::Dead;
    m_readNotifier->setEnabled(false);
    if (m_writeNotifier)
        m_writeNotifier->setEnabled(false);
    ::close(m_fd);
    m_fd = -1;
    m_out.clear();
    m_in = QByteArray();
    m_inPos = m_scanPos = 0;
    m_worker->connectionClosed(this);
    const std::shared_ptr<HttpExchange> ex = m_exchange;
    if (ex && ex->connection == this && !ex->finished) {
        ex->finished = true;
        ex->lost = true;
        ex->connection = nullptr;
        m_worker->requestFinished();
        HttpExchange::Callback callback = std::move(ex->disconnected);
        ex->disconnected = {};
        ex->drained = {};
        if (notify)
            callback.invoke();
    }
    deleteLater();
}

// ---------------------------------------------------------------------------------------------
// http-parser callbacks. The head was checked by HttpHeaderScanner and is parsed in one piece.

int HttpConnection::onUrl(http_parser *p, const char *at, size_t length)
{
    auto *c = static_cast<HttpConnection *>(p->data);
    c->m_request.m_target.append(at, qsizetype(length));
    return 0;
}

int HttpConnection::onHeaderField(http_parser *p, const char *at, size_t length)
{
    auto *c = static_cast<HttpConnection *>(p->data);
    HttpRequest &r = c->m_request;
    if (r.m_headers.isEmpty() || c->m_headerValueLast) {
        const int offset = int(r.m_headerData.size());
        r.m_headers.append({offset, int(length), offset + int(length), 0});
    } else {
        r.m_headers.back().nameLength += int(length);
        r.m_headers.back().valueOffset += int(length);
    }
    r.m_headerData.append(at, qsizetype(length));
    c->m_headerValueLast = false;
    return 0;
}

int HttpConnection::onHeaderValue(http_parser *p, const char *at, size_t length)
{
    auto *c = static_cast<HttpConnection *>(p->data);
    HttpRequest &r = c->m_request;
    if (r.m_headers.isEmpty())
        return 1;
    r.m_headers.back().valueLength += int(length);
    r.m_headerData.append(at, qsizetype(length));
    c->m_headerValueLast = true;
    return 0;
}

int HttpConnection::onHeadersComplete(http_parser *p)
{
    return static_cast<HttpConnection *>(p->data)->headersComplete();
}

bool HttpConnection::parseTarget()
{
    HttpRequest &r = m_request;
    const QByteArrayView t(r.m_target);
    if (t.isEmpty())
        return false;
    qsizetype pathStart = 0;
    if (t.front() != '/') {
        if (t == QByteArrayView("*")) {
            pathStart = 0;
        } else {
            // absolute-form: scheme "://" authority path-abempty
            const qsizetype scheme = t.indexOf("://");
            if (scheme <= 0)
                return false;
            pathStart = t.indexOf('/', scheme + 3);
            if (pathStart < 0)
                return false;
        }
    }
    qsizetype end = t.size();
    const qsizetype hash = t.indexOf('#', pathStart);
    if (hash >= 0)
        end = hash;
    const qsizetype question = t.first(end).indexOf('?', pathStart);
    r.m_pathOffset = pathStart;
    r.m_pathLength = (question >= 0 ? question : end) - pathStart;
    r.m_queryOffset = question >= 0 ? question + 1 : end;
    r.m_queryLength = question >= 0 ? end - question - 1 : 0;
    const QByteArrayView raw = r.rawPath();
    if (raw.contains('%'))
        r.m_path = HttpRequest::percentDecode(raw);
    else
        r.m_path.append(raw.data(), raw.size());
    return true;
}

int HttpConnection::headersComplete()
{
    HttpRequest &r = m_request;
    const HttpServerConfig &cfg = m_worker->config();
    m_worker->counters().requests.fetch_add(1, std::memory_order_relaxed);

    r.m_method = http_method_str(http_method(m_parser.method));
    r.m_versionMajor = m_parser.http_major;
    r.m_versionMinor = m_parser.http_minor;
    r.m_keepAlive = http_should_keep_alive(&m_parser) != 0 && !m_parser.upgrade;
    if (r.m_versionMajor != 1) {
        rejectNow(httpErrors::versionNotSupported());
        return 0;
    }

    // Trim values and find the framing headers.
    QByteArrayView contentLength;
    QByteArrayView transferEncoding;
    QByteArrayView expect;
    int contentLengthCount = 0;
    int transferEncodingCount = 0;
    bool conflictingLength = false;
    const char *base = r.m_headerData.constData();
    for (HttpRequest::HeaderSpan &h : r.m_headers) {
        const QByteArrayView value = trimmedOws(QByteArrayView(base + h.valueOffset, h.valueLength));
        h.valueOffset = int(value.data() - base);
        h.valueLength = int(value.size());
        const QByteArrayView name(base + h.nameOffset, h.nameLength);
        if (asciiEqualsIgnoreCase(name, "content-length")) {
            if (contentLengthCount++ > 0 && value != contentLength)
                conflictingLength = true;
            contentLength = value;
        } else if (asciiEqualsIgnoreCase(name, "transfer-encoding")) {
            ++transferEncodingCount;
            transferEncoding = value;
        } else if (asciiEqualsIgnoreCase(name, "expect")) {
            expect = value;
        }
    }
    if (contentLengthCount > 0 && transferEncodingCount > 0) {
        rejectNow(httpErrors::badRequest(QStringLiteral("Content-Length and Transfer-Encoding together")));
        return 0;
    }
    if (conflictingLength) {
        rejectNow(httpErrors::badRequest(QStringLiteral("Conflicting Content-Length headers")));
        return 0;
    }
    if (transferEncodingCount > 0) {
        if (r.m_versionMinor == 0) {
            rejectNow(httpErrors::badRequest(QStringLiteral("Transfer-Encoding in an HTTP/1.0 request")));
            return 0;
        }
        if (transferEncodingCount > 1 || !asciiEqualsIgnoreCase(transferEncoding, "chunked") ||
            !(m_parser.flags & F_CHUNKED)) {
            rejectNow(httpErrors::notImplemented(QStringLiteral("Only 'Transfer-Encoding: chunked' is supported")));
            return 0;
        }
    }
    if (!parseTarget()) {
        rejectNow(httpErrors::badRequest(QStringLiteral("Invalid request target")));
        return 0;
    }

    const bool chunked = (m_parser.flags & F_CHUNKED) != 0;
    const bool hasLength = (m_parser.flags & F_CONTENTLENGTH) != 0;
    const quint64 length = hasLength ? m_parser.content_length : 0;
    const bool bodyExpected = chunked || length > 0;
    // 413 from the declared length, before a single body byte is read.
    if (length > quint64(cfg.maxBodyBytes)) {
        rejectNow(httpErrors::bodyTooLarge(cfg.maxBodyBytes));
        return 0;
    }
    if (!expect.isNull() && r.m_versionMinor >= 1) {
        if (!asciiEqualsIgnoreCase(expect, "100-continue")) {
            rejectNow(httpErrors::expectationFailed());
            return 0;
        }
        m_expectContinue = bodyExpected;
    }

    const Router::Match match = m_worker->router().match(r.method(), r.rawPath(), r.m_pathParams);
    if (match.status != 200) {
        const Error error = match.status == 405 ? httpErrors::methodNotAllowed(r.method(), r.rawPath())
                                                : httpErrors::notFound(r.method(), r.rawPath());
        HttpHeaders extra;
        if (match.status == 405)
            extra.append({QByteArrayLiteral("allow"), match.allow});
        if (m_expectContinue) {
            // The client waits for our word before sending the body: the final status now.
            rejectNow(error, extra);
            return 0;
        }
        // Answer after the (skipped) body, keeping the connection.
        m_pendingError = error;
        m_pendingErrorHeaders = extra;
        m_discardBody = true;
    } else {
        m_handler = match.handler;
        if (hasLength && length > 0)
            r.m_body.reserve(qsizetype(std::min<quint64>(length, 64 * 1024))); // not more before bytes arrive
        if (m_expectContinue)
            m_out.appendCopy(kContinue); // flushed when this parse round ends
    }
    m_lastBodyMs = monotonicMs();
    return 0;
}

int HttpConnection::onBody(http_parser *p, const char *at, size_t length)
{
    auto *c = static_cast<HttpConnection *>(p->data);
    c->m_bodyBytes += qint64(length);
    if (c->m_bodyBytes > c->m_worker->config().maxBodyBytes) {
        // Chunked bodies have no declared size: stop as soon as the running total passes the limit.
        c->rejectNow(httpErrors::bodyTooLarge(c->m_worker->config().maxBodyBytes));
        return 0;
    }
    if (!c->m_discardBody)
        c->m_request.m_body.append(at, qsizetype(length));
    return 0;
}

int HttpConnection::onMessageComplete(http_parser *p)
{
    auto *c = static_cast<HttpConnection *>(p->data);
    c->m_messageComplete = true;
    http_parser_pause(p, 1); // one request at a time: the rest stays buffered
    return 0;
}

} // namespace llmpool::gateway
