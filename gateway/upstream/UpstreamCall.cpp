#include "upstream/UpstreamCall.h"

#include "HttpToken.h"

#include "Log.h"
#include "upstream/CurlMulti.h"
#include "upstream/CurlTransfer.h"

#include <QThread>
#include <QTimerEvent>
#include <QUrl>

#include <cstring>
#include <limits>

namespace llmpool::gateway {

namespace {

constexpr qint64 kNoDeadline = std::numeric_limits<qint64>::max();

bool equalsIgnoreCase(QByteArrayView a, QByteArrayView b)
{
    return a.compare(b, Qt::CaseInsensitive) == 0;
}

bool isTokenChar(char c)
{
    return isHttpTokenChar(static_cast<unsigned char>(c));
}

bool isToken(QByteArrayView s)
{
    if (s.isEmpty())
        return false;
    for (char c : s) {
        if (!isTokenChar(c))
            return false;
    }
    return true;
}

// A value that could end the header line early or smuggle a second one.
bool hasForbiddenValueByte(QByteArrayView s)
{
    for (char c : s) {
        if (c == '\r' || c == '\n' || c == '\0')
            return true;
    }
    return false;
}

QByteArrayView trimmed(QByteArrayView s)
{
    while (!s.isEmpty() && (s.front() == ' ' || s.front() == '\t'))
        s = s.sliced(1);
    while (!s.isEmpty() && (s.back() == ' ' || s.back() == '\t'))
        s.chop(1);
    return s;
}

// "HTTP/1.1 200 OK", "HTTP/2 200 " → 200; 0 if it is not a status line we accept.
int parseStatusLine(QByteArrayView line)
{
    if (!line.startsWith("HTTP/"))
        return 0;
    const qsizetype space = line.indexOf(' ');
    if (space < 0 || line.size() < space + 4)
        return 0;
    int code = 0;
    for (qsizetype i = space + 1; i < space + 4; ++i) {
        const char c = line[i];
        if (c < '0' || c > '9')
            return 0;
        code = code * 10 + (c - '0');
    }
    if (line.size() > space + 4 && line[space + 4] != ' ')
        return 0;
    return (code >= 100 && code <= 599) ? code : 0;
}

bool isCredentialHeader(QByteArrayView name)
{
    return equalsIgnoreCase(name, "authorization") || equalsIgnoreCase(name, "proxy-authorization") ||
           equalsIgnoreCase(name, "api-key") || equalsIgnoreCase(name, "x-api-key") || equalsIgnoreCase(name, "cookie");
}

void addUserInfoSecrets(const QByteArray &url, QList<QByteArray> &secrets)
{
    if (url.isEmpty() || !url.contains('@'))
        return;
    const QUrl u = QUrl::fromEncoded(url);
    for (const QString &part : {u.userName(QUrl::FullyDecoded), u.password(QUrl::FullyDecoded)}) {
        if (!part.isEmpty())
            secrets << part.toUtf8();
    }
    for (const QString &part : {u.userName(QUrl::FullyEncoded), u.password(QUrl::FullyEncoded)}) {
        if (!part.isEmpty())
            secrets << part.toUtf8();
    }
}

// For debug logs: scheme, host, port and path only (queries may carry keys).
QString redactedUrl(const QByteArray &url)
{
    return QUrl::fromEncoded(url).toString(QUrl::RemoveUserInfo | QUrl::RemoveQuery | QUrl::RemoveFragment);
}

} // namespace

namespace detail {

// The easy callbacks. They run inside libcurl (called from CurlMulti::socketAction / runDeferred);
// userdata is the CurlTransfer, whose owner is null once the call was aborted or destroyed.
struct UpstreamCallbacks
{
    static size_t write(char *data, size_t size, size_t count, void *userdata)
    {
        auto *t = static_cast<CurlTransfer *>(userdata);
        const size_t length = size * count;
        UpstreamCall *call = t->owner;
        if (!call)
            return CURL_WRITEFUNC_ERROR;
        const qint64 cap = call->m_request.maxBodyBytes;
        if (cap >= 0 && call->m_bytesReceived + qint64(length) > cap) {
            call->m_pendingKind = UpstreamOutcome::Kind::ResponseTooLarge;
            call->m_pendingMessage = QStringLiteral("the upstream response body exceeds %1 bytes").arg(cap);
            return CURL_WRITEFUNC_ERROR;
        }
        if (!call->m_onBody) {
            call->m_body.append(data, qsizetype(length));
            call->noteBodyAccepted(length);
            return length;
        }
        const bool accepted = call->m_onBody(QByteArrayView(data, qsizetype(length)));
        if (t->owner != call)
            return CURL_WRITEFUNC_ERROR; // aborted or deleted inside the callback
        if (!accepted) {
            // curl keeps these bytes and hands them to us again after curl_easy_pause(CONT).
            call->notePaused();
            return CURL_WRITEFUNC_PAUSE;
        }
        call->noteBodyAccepted(length);
        return length;
    }

    // One header line per call, CRLF included; the empty line ends a head.
    static size_t header(char *data, size_t size, size_t count, void *userdata)
    {
        auto *t = static_cast<CurlTransfer *>(userdata);
        const size_t length = size * count;
        UpstreamCall *call = t->owner;
        if (!call)
            return CURL_WRITEFUNC_ERROR;
        switch (call->headerLine(data, length)) {
        case UpstreamCall::HeaderResult::Continue:
            return length;
        case UpstreamCall::HeaderResult::Fail:
            return CURL_WRITEFUNC_ERROR;
        case UpstreamCall::HeaderResult::HeadComplete:
            call->deliverHead();
            return t->owner == call ? length : CURL_WRITEFUNC_ERROR;
        }
        return CURL_WRITEFUNC_ERROR;
    }

    // Connection ready (new or reused); the request is sent right after.
    static int prereq(void *clientp, char *, char *, int, int)
    {
        auto *t = static_cast<CurlTransfer *>(clientp);
        if (!t->owner)
            return CURL_PREREQFUNC_ABORT;
        t->owner->requestSent();
        return CURL_PREREQFUNC_OK;
    }
};

} // namespace detail

UpstreamCall::UpstreamCall(UpstreamRequest request, CurlMulti *multi, QObject *parent)
    : QObject(parent), m_request(std::move(request)), m_multi(multi ? multi : CurlMulti::forCurrentThread())
{
}

UpstreamCall::~UpstreamCall()
{
    if (m_state == State::Running) {
        m_state = State::Finished;
        releaseTransfer();
    }
}

void UpstreamCall::start()
{
    Q_ASSERT(QThread::currentThread() == thread());
    if (m_state != State::Idle)
        return;
    m_state = State::Running;
    m_clock.start();
    CurlMulti *multi = m_multi.data();
    if (!multi) {
        failLater(UpstreamOutcome::Kind::Aborted, QStringLiteral("the upstream client of this thread is gone"));
        return;
    }
    Q_ASSERT(multi->thread() == QThread::currentThread());
    m_transfer = multi->acquire(this);
    const QString error = configure(m_transfer);
    if (!error.isEmpty()) {
        failLater(UpstreamOutcome::Kind::ConnectFailed, error);
        return;
    }
    if (!multi->add(m_transfer)) {
        failLater(UpstreamOutcome::Kind::ConnectFailed, QStringLiteral("the upstream request could not be started"));
        return;
    }
    // One timer for the whole call as a rule: armed now for the earliest any deadline could be (each
    // counts from a moment at or after now), so the later phases' deadlines are never earlier than
    // it and need no restart (rearmDeadline is lazy). A call that outlives it re-arms when it fires.
    const UpstreamTimeouts &t = m_request.timeouts;
    qint64 earliest = kNoDeadline;
    for (qint64 ms : {t.totalMs, t.firstByteMs, t.idleMs}) {
        if (ms > 0)
            earliest = qMin(earliest, ms);
    }
    if (earliest != kNoDeadline)
        armDeadline(earliest);
}

void UpstreamCall::resume()
{
    if (m_state != State::Running || !m_paused || !m_transfer || !m_multi)
        return;
    m_multi->requestUnpause(m_transfer);
}

void UpstreamCall::abort()
{
    if (m_state == State::Finished)
        return;
    const bool wasRunning = m_state == State::Running;
    m_state = State::Finished;
    m_paused = false;
    m_outcome = UpstreamOutcome{};
    m_outcome.kind = UpstreamOutcome::Kind::Aborted;
    m_outcome.message = QStringLiteral("aborted by the caller");
    m_outcome.bytesReceived = m_bytesReceived;
    if (wasRunning)
        releaseTransfer();
}

QString UpstreamCall::configure(detail::CurlTransfer *t)
{
    CURL *e = t->easy;
    if (!e)
        return QStringLiteral("could not create a curl handle");
    CURLcode failure = CURLE_OK;
    const auto check = [&failure](CURLcode rc) {
        if (rc != CURLE_OK && failure == CURLE_OK)
            failure = rc;
    };

    const bool tls = m_request.url.size() >= 8 && equalsIgnoreCase(QByteArrayView(m_request.url).first(8), "https://");
    t->body = m_request.body; // shared, not copied: curl reads it in place until the handle is removed
    t->errorBuffer[0] = '\0';

    check(curl_easy_setopt(e, CURLOPT_URL, m_request.url.constData()));
    check(curl_easy_setopt(e, CURLOPT_PRIVATE, t));
    check(curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L)); // several threads use curl; no SIGALRM
    check(curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https"));
    check(curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errorBuffer));
    check(curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &detail::UpstreamCallbacks::write));
    check(curl_easy_setopt(e, CURLOPT_WRITEDATA, t));
    check(curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &detail::UpstreamCallbacks::header));
    check(curl_easy_setopt(e, CURLOPT_HEADERDATA, t));
    check(curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, &detail::UpstreamCallbacks::prereq));
    check(curl_easy_setopt(e, CURLOPT_PREREQDATA, t));
    // Cleartext HTTP/2 breaks on reused connections in curl 7.88 (curl#10634): h2 only via ALPN.
    check(curl_easy_setopt(e, CURLOPT_HTTP_VERSION, tls ? long(CURL_HTTP_VERSION_2TLS) : long(CURL_HTTP_VERSION_1_1)));
    if (tls)
        check(curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L)); // prefer multiplexing on an h2 connection being set up
    check(curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L));
    check(curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L));
    if (!m_request.caFile.isEmpty())
        check(curl_easy_setopt(e, CURLOPT_CAINFO, m_request.caFile.constData()));
    check(curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, long(qMax(0, m_request.timeouts.connectMs))));
    check(curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L)); // long silent streams behind NATs / LBs
    check(curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L));
    check(curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 15L));
    // "" disables proxies, including the environment's: only configuration decides.
    check(curl_easy_setopt(e, CURLOPT_PROXY, m_request.proxyUrl.constData()));
    check(curl_easy_setopt(e, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L)); // a proxy's CONNECT reply is not the response
    if (m_request.decompress)
        check(curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "")); // every encoding curl can decode

    const QByteArray &method = m_request.method;
    if (method == "HEAD") {
        check(curl_easy_setopt(e, CURLOPT_NOBODY, 1L));
    } else if (method == "GET" && t->body.isEmpty()) {
        check(curl_easy_setopt(e, CURLOPT_HTTPGET, 1L));
    } else {
        if (method == "POST" || method == "PUT" || method == "PATCH" || !t->body.isEmpty()) {
            check(curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(t->body.size())));
            check(curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->body.constData()));
        }
        if (method != "POST")
            check(curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method.constData()));
    }

    buildHeaderList(t);
    if (!t->headers)
        return QStringLiteral("out of memory building the request headers");
    check(curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers));

    if (failure != CURLE_OK)
        return QStringLiteral("invalid upstream request: %1").arg(QString::fromUtf8(curl_easy_strerror(failure)));
    return {};
}

void UpstreamCall::buildHeaderList(detail::CurlTransfer *t)
{
    curl_slist *list = nullptr;
    bool failed = false;
    const auto append = [&list, &failed](const char *line) {
        if (failed)
            return;
        curl_slist *next = curl_slist_append(list, line);
        if (!next) {
            failed = true;
            return;
        }
        list = next;
    };

    bool sawAccept = false;
    bool sawContentType = false;
    QByteArray line;
    line.reserve(256);
    for (const auto &[name, value] : std::as_const(m_request.headers)) {
        if (!isToken(name) || hasForbiddenValueByte(value)) {
            qCDebug(lcUpstream) << "dropping an invalid request header" << name.left(64);
            continue;
        }
        // Framing is curl's: it sends the body with its own Content-Length, and never waits for
        // 100-continue (the client's Expect was answered by our own server already).
        if (equalsIgnoreCase(name, "content-length") || equalsIgnoreCase(name, "transfer-encoding") ||
            equalsIgnoreCase(name, "expect"))
            continue;
        if (m_request.decompress && equalsIgnoreCase(name, "accept-encoding"))
            continue; // curl sends what it can decode
        sawAccept = sawAccept || equalsIgnoreCase(name, "accept");
        sawContentType = sawContentType || equalsIgnoreCase(name, "content-type");
        line.resize(0);
        line.append(name);
        if (value.isEmpty()) {
            line.append(';'); // curl's syntax for "send this header with an empty value"
        } else {
            line.append(": ");
            line.append(value);
        }
        append(line.constData());
    }
    // An empty "Name:" removes the header curl would add on its own.
    if (!sawAccept)
        append("Accept:");
    if (!sawContentType)
        append("Content-Type:");
    append("Expect:");
    if (failed) {
        curl_slist_free_all(list);
        list = nullptr;
    }
    t->headers = list;
}

void UpstreamCall::requestSent()
{
    if (m_phase != Phase::Connecting)
        return; // curl retried on a fresh connection; the first byte clock keeps running
    m_phase = Phase::AwaitingFirstByte;
    m_requestSentMs = nowMs();
    rearmDeadline();
}

UpstreamCall::HeaderResult UpstreamCall::headerLine(const char *data, size_t length)
{
    if (m_phase != Phase::Receiving) {
        m_firstByteUs = m_clock.nsecsElapsed() / 1000;
        m_phase = Phase::Receiving;
        m_lastActivityMs = nowMs();
        rearmDeadline();
    } else {
        m_lastActivityMs = nowMs();
    }
    if (m_headComplete)
        return HeaderResult::Continue; // trailers after a chunked body: not relayed

    // Interim heads count too: a server could otherwise send 1xx heads forever.
    m_headerBytes += qint64(length);
    if (m_headerBytes > m_request.maxHeaderBytes) {
        m_pendingKind = UpstreamOutcome::Kind::ResponseTooLarge;
        m_pendingMessage = QStringLiteral("the upstream response head exceeds %1 bytes").arg(m_request.maxHeaderBytes);
        return HeaderResult::Fail;
    }

    QByteArrayView line(data, qsizetype(length));
    if (line.endsWith('\n'))
        line.chop(1);
    if (line.endsWith('\r'))
        line.chop(1);

    const auto protocolError = [this](const QString &message) {
        m_pendingKind = UpstreamOutcome::Kind::ProtocolError;
        m_pendingMessage = message;
        return HeaderResult::Fail;
    };

    if (line.isEmpty()) {
        if (m_status == 0)
            return protocolError(QStringLiteral("malformed upstream response: a head without a status line"));
        if (m_status < 200) {
            // 100 Continue, 103 Early Hints: wait for the final head.
            m_status = 0;
            m_headers.clear();
            return HeaderResult::Continue;
        }
        m_headComplete = true;
        return HeaderResult::HeadComplete;
    }

    if (m_status == 0) {
        m_status = parseStatusLine(line);
        if (m_status == 0)
            return protocolError(QStringLiteral("malformed upstream response: bad status line"));
        return HeaderResult::Continue;
    }

    if (line.front() == ' ' || line.front() == '\t') {
        // obs-fold: a proxy must replace it with a space (RFC 9112 §5.2).
        if (m_headers.isEmpty())
            return protocolError(QStringLiteral("malformed upstream response: continuation without a header"));
        QByteArray &value = m_headers.last().second;
        value.append(' ');
        value.append(trimmed(line));
        return HeaderResult::Continue;
    }

    const qsizetype colon = line.indexOf(':');
    if (colon <= 0 || !isToken(line.first(colon)))
        return protocolError(QStringLiteral("malformed upstream response: bad header line"));
    if (m_headers.size() >= m_request.maxHeaderCount) {
        m_pendingKind = UpstreamOutcome::Kind::ResponseTooLarge;
        m_pendingMessage =
            QStringLiteral("the upstream response has more than %1 headers").arg(m_request.maxHeaderCount);
        return HeaderResult::Fail;
    }
    m_headers.append({line.first(colon).toByteArray(), trimmed(line.sliced(colon + 1)).toByteArray()});
    return HeaderResult::Continue;
}

void UpstreamCall::deliverHead()
{
    if (m_onHead)
        m_onHead(m_status, m_headers); // last: it may abort or delete us
}

void UpstreamCall::noteBodyAccepted(size_t length)
{
    m_bytesReceived += qint64(length);
    m_lastActivityMs = nowMs();
}

void UpstreamCall::notePaused()
{
    if (m_paused)
        return;
    m_paused = true;
    m_pausedAtMs = nowMs();
    rearmDeadline();
}

void UpstreamCall::beforeUnpause()
{
    m_paused = false;
    // The silence while paused was ours, not the upstream's.
    m_lastActivityMs = nowMs();
}

qint64 UpstreamCall::nextDeadlineMs() const
{
    const UpstreamTimeouts &t = m_request.timeouts;
    qint64 deadline = kNoDeadline;
    if (t.totalMs > 0)
        deadline = t.totalMs;
    if (m_paused) {
        if (t.stallMs > 0)
            deadline = qMin(deadline, m_pausedAtMs + t.stallMs);
    } else if (m_phase == Phase::AwaitingFirstByte) {
        if (t.firstByteMs > 0)
            deadline = qMin(deadline, m_requestSentMs + t.firstByteMs);
    } else if (m_phase == Phase::Receiving) {
        if (t.idleMs > 0)
            deadline = qMin(deadline, m_lastActivityMs + t.idleMs);
    }
    return deadline;
}

void UpstreamCall::rearmDeadline()
{
    // Lazy: a deadline that moved later (bytes arrived) does not restart the timer; it fires early,
    // finds nothing expired and re-arms. Only an earlier deadline restarts it. Per body chunk this
    // costs a clock read instead of a timer re-registration.
    const qint64 deadline = nextDeadlineMs();
    if (deadline == kNoDeadline) {
        m_deadline.stop();
        m_deadlineArmedForMs = -1;
        return;
    }
    if (m_deadline.isActive() && m_deadlineArmedForMs <= deadline)
        return;
    armDeadline(deadline);
}

void UpstreamCall::armDeadline(qint64 deadlineMs)
{
    m_deadlineArmedForMs = deadlineMs;
    const qint64 delay = qBound(qint64(0), deadlineMs - nowMs(), qint64(std::numeric_limits<int>::max()));
    m_deadline.start(int(delay), Qt::PreciseTimer, this);
}

void UpstreamCall::timerEvent(QTimerEvent *event)
{
    if (event->timerId() != m_deadline.timerId()) {
        QObject::timerEvent(event);
        return;
    }
    m_deadline.stop();
    m_deadlineArmedForMs = -1;
    if (m_state != State::Running)
        return;
    const UpstreamTimeouts &t = m_request.timeouts;
    const qint64 now = nowMs();
    if (m_paused && t.stallMs > 0 && now >= m_pausedAtMs + t.stallMs) {
        fail(UpstreamOutcome::Kind::ClientStalled,
             QStringLiteral("the client did not take the response for %1 ms").arg(t.stallMs));
    } else if (t.totalMs > 0 && now >= t.totalMs) {
        fail(UpstreamOutcome::Kind::TotalTimeout,
             QStringLiteral("the upstream did not finish within %1 ms").arg(t.totalMs));
    } else if (!m_paused && m_phase == Phase::AwaitingFirstByte && t.firstByteMs > 0 &&
               now >= m_requestSentMs + t.firstByteMs) {
        fail(UpstreamOutcome::Kind::TimeoutBeforeFirstByte,
             QStringLiteral("the upstream sent no response within %1 ms").arg(t.firstByteMs));
    } else if (!m_paused && m_phase == Phase::Receiving && t.idleMs > 0 && now >= m_lastActivityMs + t.idleMs) {
        fail(UpstreamOutcome::Kind::IdleTimeout,
             QStringLiteral("the upstream sent nothing for %1 ms mid-response").arg(t.idleMs));
    } else {
        rearmDeadline();
    }
}

void UpstreamCall::curlDone(int curlCode)
{
    const auto code = CURLcode(curlCode);
    m_outcome.curlCode = curlCode;
    if (m_pendingKind != UpstreamOutcome::Kind::Ok) {
        m_outcome.kind = m_pendingKind;
        m_outcome.message = m_pendingMessage;
    } else if (code == CURLE_OK) {
        if (m_headComplete) {
            m_outcome.kind = UpstreamOutcome::Kind::Ok;
        } else {
            m_outcome.kind = UpstreamOutcome::Kind::ProtocolError;
            m_outcome.message = QStringLiteral("malformed upstream response: no response head");
        }
    } else {
        m_outcome.kind = classify(curlCode);
        m_outcome.message = describeCurlError(curlCode);
    }
    collectTimings();
    releaseTransfer();
    finish();
}

UpstreamOutcome::Kind UpstreamCall::classify(int curlCode) const
{
    using Kind = UpstreamOutcome::Kind;
    const bool connected = m_phase != Phase::Connecting;
    switch (CURLcode(curlCode)) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_PROXY:
    case CURLE_URL_MALFORMAT:
    case CURLE_QUIC_CONNECT_ERROR:
        return Kind::ConnectFailed;
    case CURLE_OPERATION_TIMEDOUT: // only the connect timeout is curl's; ours are our own timers
        return connected ? Kind::TotalTimeout : Kind::ConnectFailed;
    case CURLE_RECV_ERROR:
        // curl 7.88 reports a malformed chunked body as a receive error too; only its text differs.
        if (m_transfer && std::strstr(m_transfer->errorBuffer, "chunked-encoding"))
            return Kind::ProtocolError;
        return connected ? Kind::ConnectionLost : Kind::ConnectFailed;
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SEND_ERROR:
    case CURLE_HTTP2_STREAM:
        return connected ? Kind::ConnectionLost : Kind::ConnectFailed;
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_HTTP2:
    case CURLE_HTTP3:
        return Kind::ProtocolError;
    case CURLE_UNSUPPORTED_PROTOCOL: // a scheme we refuse, or an HTTP/0.9 reply
        return connected ? Kind::ProtocolError : Kind::ConnectFailed;
    case CURLE_OUT_OF_MEMORY:
        // Also how curl refuses a single response header line over its 100 KiB limit.
        return (connected && !m_headComplete) ? Kind::ResponseTooLarge : Kind::ProtocolError;
    case CURLE_ABORTED_BY_CALLBACK:
    case CURLE_WRITE_ERROR:
        return Kind::Aborted;
    default:
        return connected ? Kind::ProtocolError : Kind::ConnectFailed;
    }
}

QString UpstreamCall::describeCurlError(int curlCode) const
{
    QByteArray text;
    if (m_transfer && m_transfer->errorBuffer[0] != '\0')
        text = QByteArray(m_transfer->errorBuffer);
    else
        text = curl_easy_strerror(CURLcode(curlCode));

    QList<QByteArray> secrets;
    addUserInfoSecrets(m_request.url, secrets);
    addUserInfoSecrets(m_request.proxyUrl, secrets);
    for (const auto &[name, value] : m_request.headers) {
        if (!isCredentialHeader(name) || value.isEmpty())
            continue;
        secrets << value;
        const qsizetype space = value.lastIndexOf(' ');
        if (space >= 0 && space + 1 < value.size())
            secrets << value.mid(space + 1); // the token of "Bearer <token>"
    }
    return QStringLiteral("upstream request failed: ") + UpstreamOutcome::sanitize(text, secrets);
}

void UpstreamCall::collectTimings()
{
    m_outcome.httpStatus = m_headComplete ? m_status : 0;
    m_outcome.headReceived = m_headComplete;
    m_outcome.bytesReceived = m_bytesReceived;
    m_outcome.firstByteUs = m_firstByteUs;
    m_outcome.totalUs = m_clock.nsecsElapsed() / 1000;
    if (!m_transfer)
        return;
    CURL *e = m_transfer->easy;
    curl_off_t uploaded = 0;
    if (curl_easy_getinfo(e, CURLINFO_SIZE_UPLOAD_T, &uploaded) == CURLE_OK)
        m_outcome.bytesSent = qint64(uploaded);
    if (m_phase == Phase::Connecting)
        return; // never connected: connectUs stays -1
    long connects = 0;
    curl_off_t connectUs = 0;
    curl_off_t appConnectUs = 0;
    curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &connects);
    curl_easy_getinfo(e, CURLINFO_CONNECT_TIME_T, &connectUs);
    curl_easy_getinfo(e, CURLINFO_APPCONNECT_TIME_T, &appConnectUs); // TLS done
    m_outcome.reusedConnection = connects == 0;
    m_outcome.connectUs = m_outcome.reusedConnection ? 0 : qint64(qMax(connectUs, appConnectUs));
}

void UpstreamCall::fail(UpstreamOutcome::Kind kind, const QString &message)
{
    Q_ASSERT(!m_multi || !m_multi->insideCurl());
    m_outcome.kind = kind;
    m_outcome.message = message;
    collectTimings();
    releaseTransfer();
    finish();
}

void UpstreamCall::failLater(UpstreamOutcome::Kind kind, const QString &message)
{
    // Never call back from inside start() (or from inside curl): the caller's next line, or the
    // curl call in progress, runs first.
    QMetaObject::invokeMethod(
        this,
        [this, kind, message] {
            if (m_state == State::Running)
                fail(kind, message);
        },
        Qt::QueuedConnection);
}

void UpstreamCall::releaseTransfer()
{
    m_deadline.stop();
    m_deadlineArmedForMs = -1;
    detail::CurlTransfer *t = std::exchange(m_transfer, nullptr);
    if (!t)
        return;
    if (CurlMulti *multi = m_multi.data())
        multi->remove(t); // clears t->owner; removal now or right after the current curl call
    else
        t->owner = nullptr;
}

void UpstreamCall::detachFromMulti()
{
    m_deadline.stop();
    m_deadlineArmedForMs = -1;
    m_transfer = nullptr;
    if (m_state != State::Running)
        return;
    m_state = State::Finished;
    m_paused = false;
    m_outcome.kind = UpstreamOutcome::Kind::Aborted;
    m_outcome.message = QStringLiteral("the upstream client of this thread shut down");
    m_outcome.bytesReceived = m_bytesReceived;
}

void UpstreamCall::finish()
{
    m_state = State::Finished;
    m_paused = false;
    qCDebug(lcUpstream).noquote() << m_request.method << redactedUrl(m_request.url) << "→"
                                  << UpstreamOutcome::kindName(m_outcome.kind) << m_outcome.httpStatus
                                  << m_outcome.bytesReceived << "bytes" << m_outcome.totalUs << "µs"
                                  << m_outcome.message;
    if (!m_onFinished)
        return;
    // Moved out and the outcome copied: the callback may delete this call.
    const FinishedCallback callback = std::move(m_onFinished);
    const UpstreamOutcome outcome = m_outcome;
    callback(outcome);
}

} // namespace llmpool::gateway
