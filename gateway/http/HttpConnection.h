#pragma once

// Private to the HTTP layer.
//
// HttpConnection: one accepted client socket (a raw non-blocking fd driven by QSocketNotifiers).
// Lives on the thread of the HttpWorker that accepted it, is its QObject child, and deletes itself
// (deleteLater) once closed. It reads into the worker's scratch buffer, checks the request head
// with HttpHeaderScanner, parses with http-parser, dispatches one request at a time (in-order
// pipelining: the next request is parsed only after the current response is complete, while read-
// ahead stays bounded), and writes responses with sendmsg straight from an output queue — once per
// event-loop pass (HttpWorker::flushSoon), or at once when the queue reaches the high-water mark.
//
// HttpExchange: the state of one request/response, shared with the HttpResponder handles a handler
// keeps. `connection` is cleared when the response is finished or the connection dies, which turns
// every responder call into a no-op. Same thread as its connection.

#include "Result.h"
#include "http/HttpHeaderScanner.h"
#include "http/HttpRequest.h"
#include "http/HttpResponder.h"

#include <QByteArray>
#include <QHostAddress>
#include <QObject>
#include <QPointer>

#include <http_parser.h>

#include <deque>
#include <functional>
#include <memory>
#include <optional>

class QSocketNotifier;
struct iovec;

namespace llmpool::gateway {

class HttpWorker;
class HttpConnection;

class HttpExchange
{
public:
    struct Callback
    {
        QPointer<QObject> context;
        std::function<void()> function;
        bool isSet() const { return bool(function); }
        void invoke()
        {
            if (function && context)
                function();
        }
    };

    void reset();

    HttpConnection *connection = nullptr; // null: finished or disconnected
    QObject *threadContext = nullptr;     // the HttpWorker
    Callback disconnected;
    Callback drained;
    bool finished = false;
    bool streaming = false;
    bool chunked = false;
    bool headOnly = false;
    bool wantDrain = false;
    bool forceClose = false;
    bool lost = false;     // the connection died before the response was finished
    qint64 remaining = -1; // bytes still owed by a fixed-length stream, -1 otherwise
};

// Bytes waiting for the socket: small pieces are copied into an owned tail buffer (so a response is
// one buffer and one sendmsg), large ones are queued as shared QByteArrays without copying.
class HttpOutputQueue
{
public:
    bool isEmpty() const { return m_size == 0; }
    qint64 size() const { return m_size; }
    void appendCopy(const char *data, qsizetype size);
    void appendCopy(QByteArrayView data) { appendCopy(data.data(), data.size()); }
    void appendShared(const QByteArray &data);
    int fill(struct iovec *iov, int max) const;
    void consume(qint64 bytes);
    void clear();

private:
    std::deque<QByteArray> m_chunks;
    qsizetype m_headOffset = 0;
    qint64 m_size = 0;
    bool m_tailOwned = false; // m_chunks.back() is ours to append to
};

class HttpConnection : public QObject
{
    Q_OBJECT
public:
    HttpConnection(HttpWorker *worker, int fd, const QHostAddress &peer, quint16 peerPort);
    ~HttpConnection() override;

    int index() const { return m_index; }
    void setIndex(int index) { m_index = index; }

    // Called by the worker's sweep timer with the monotonic time in ms.
    void checkTimeouts(qint64 nowMs);
    // Server shutdown: closes now (fires the disconnect callback of an unfinished response).
    void closeNow() { abortConnection(true); }
    // Draining: closes a connection that is between requests.
    void closeIfIdle();

    // HttpResponder's implementation.
    void respond(HttpExchange *exchange, int status, const HttpHeaders &headers, QByteArrayView contentType,
                 const QByteArray &body);
    bool beginStream(HttpExchange *exchange, int status, const HttpHeaders &headers, qint64 contentLength,
                     bool flushHead);
    bool write(HttpExchange *exchange, const QByteArray &data);
    void end(HttpExchange *exchange);
    void abort(HttpExchange *exchange);
    qint64 pendingBytes() const { return m_out.size(); }
    // The worker's end-of-pass flush (see HttpWorker::flushSoon).
    void flushQueued();

    static qint64 monotonicMs();

private:
    enum class Phase : quint8 {
        Idle,     // between requests (or before the first)
        Head,     // receiving a request head (HttpHeaderScanner)
        Body,     // head checked, http-parser running (body, if any)
        Handling, // request dispatched, response not finished
        Closing,  // final response queued; flush, then linger
        Linger,   // write side shut; reading and discarding until EOF or lingerMs
        Dead,
    };

    void onReadable();
    void onWritable();
    void processInput();
    void beginRequest();
    void dispatch();
    void flush();
    // Output is written once per event-loop pass, before the loop waits again (see HttpWorker).
    void flushSoon();
    void compactInput();
    void updateReadInterest();
    void setWriteInterest(bool enabled);
    void peerClosed();
    void startLinger();
    // Closes the socket; `notify` fires the disconnect callback of an unfinished response.
    void abortConnection(bool notify);

    // Protocol errors answered by the server itself (through errorBody()).
    void sendError(const Error &error, const HttpHeaders &extraHeaders, bool close);
    void failAndClose(const Error &error, const HttpHeaders &extraHeaders = {});
    void rejectNow(const Error &error, const HttpHeaders &extraHeaders = {});

    void writeHead(int status, const HttpHeaders &headers, QByteArrayView contentType, qint64 contentLength,
                   bool chunked, bool close);
    bool responseMustClose(const HttpExchange *exchange) const;
    void finishExchange(bool close);
    HttpExchange *activeExchange(HttpExchange *exchange) const;

    // http-parser callbacks.
    static int onUrl(http_parser *p, const char *at, size_t length);
    static int onHeaderField(http_parser *p, const char *at, size_t length);
    static int onHeaderValue(http_parser *p, const char *at, size_t length);
    static int onHeadersComplete(http_parser *p);
    static int onBody(http_parser *p, const char *at, size_t length);
    static int onMessageComplete(http_parser *p);
    static const http_parser_settings s_settings;
    int headersComplete();
    bool parseTarget();

    HttpWorker *m_worker;
    int m_fd;
    int m_index = -1;
    QSocketNotifier *m_readNotifier = nullptr;  // child
    QSocketNotifier *m_writeNotifier = nullptr; // child, created on the first EAGAIN
    QHostAddress m_peer;
    quint16 m_peerPort;
    Phase m_phase = Phase::Idle;

    // Input: m_in[m_inPos..] is unparsed; during Head, m_in[m_inPos..m_scanPos) has been scanned.
    QByteArray m_in;
    qsizetype m_inPos = 0;
    qsizetype m_scanPos = 0;
    HttpHeaderScanner m_scanner;
    http_parser m_parser;

    // The request being read or handled.
    HttpRequest m_request;
    const HttpHandler *m_handler = nullptr;
    std::optional<Error> m_pendingError; // answered at message complete (404/405 with the body skipped)
    HttpHeaders m_pendingErrorHeaders;
    qint64 m_bodyBytes = 0;
    bool m_headerValueLast = false;
    bool m_messageComplete = false;
    bool m_rejected = false; // rejectNow() paused the parser
    bool m_discardBody = false;
    bool m_expectContinue = false;

    std::shared_ptr<HttpExchange> m_exchange;

    HttpOutputQueue m_out;
    bool m_writeEnabled = false;
    bool m_readEnabled = true;
    bool m_inProcess = false;
    bool m_inFlush = false;
    bool m_flushQueued = false;
    bool m_peerEof = false;

    // Timestamps (monotonic ms) for the sweep.
    qint64 m_idleSinceMs = 0;
    qint64 m_idleLimitMs = 0;
    qint64 m_requestStartMs = 0;
    qint64 m_lastBodyMs = 0;
    qint64 m_lastWriteMs = 0;
    qint64 m_lingerUntilMs = 0;
};

} // namespace llmpool::gateway
