#pragma once

// HttpResponder: the handle a handler answers through.
//
// Thread: use it only on the event-loop thread that ran the handler (threadContext() is an object
// living there, for QTimer::singleShot / QMetaObject::invokeMethod from other threads).
//
// It is a cheap, copyable, ref-counted handle: a handler may keep copies beyond its call for async
// work. Once the connection is gone (client disconnect, error, server stop) or the response is
// finished, every call is a harmless no-op; isConnected() tells which. onDisconnected() fires at
// once, from the socket event that saw the client go (EOF, reset, a failed write — so possibly from
// inside write()), while a response is still unfinished: the moment to abort upstream work. (While
// a pipelining client has more than max_pipelined_bytes queued, reading pauses and a disconnect is
// seen at the next write or by the write timeout.) Callbacks name a context object (like a lambda connect): they do
// not run once it is destroyed. A response must be finished exactly once: respond(), or
// beginStream() … write() … end(), or abort().

#include "http/HttpRequest.h"

#include <QByteArray>
#include <QList>
#include <QObject>

#include <functional>
#include <memory>
#include <utility>

namespace llmpool::gateway {

using HttpHeaders = QList<std::pair<QByteArray, QByteArray>>;

class HttpResponder;
using HttpHandler = std::function<void(HttpRequest &, HttpResponder &)>;

class HttpExchange; // backend-private per-request state (HttpConnection.h)

class HttpResponder
{
public:
    HttpResponder() = default;

    // The client is still connected and the response not finished.
    bool isConnected() const;
    // respond(), end() or abort() was called (or the connection died).
    bool isFinished() const;
    // beginStream() was called.
    bool isStreaming() const;

    // A complete response. content-length, date, server and connection are set here; those names
    // in `headers` are ignored, as are headers with CR, LF or NUL. HEAD requests get no body.
    void respond(int status, const HttpHeaders &headers, const QByteArray &body);
    void respond(int status, QByteArrayView contentType, const QByteArray &body);

    // Starts a streamed response: chunked transfer encoding, or exactly `contentLength` bytes when
    // it is ≥ 0 (HTTP/1.0 clients get a close-delimited body). Returns false if the response had
    // already started or the connection is gone.
    // With `flushHead` false the head waits for the first write() or end(), so a small answer
    // that arrives whole leaves in one send (a proxy relaying a non-streamed body).
    bool beginStream(int status, const HttpHeaders &headers, qint64 contentLength = -1, bool flushHead = true);
    // Sends bytes when this pass of the event loop ends (every response written in one pass goes
    // out in one burst, before the loop waits again; at the high-water mark at once). Returns
    // whether the bytes queued for this client are below the high-water mark: on false, stop
    // producing until onDrained fires.
    bool write(const QByteArray &data);
    // Finishes the stream (the terminal chunk for chunked responses).
    void end();
    // Drops the connection without finishing the response, so a client cannot mistake a truncated
    // stream for a complete one. Does not call the disconnect callback.
    void abort();

    // Bytes accepted but not yet taken by the kernel.
    qint64 pendingBytes() const;
    // Forces "connection: close" on this response (e.g. while draining).
    void setCloseAfterResponse();

    // Called once, at once, when the client goes away before the response is finished.
    void onDisconnected(QObject *context, std::function<void()> callback);
    // Called each time the queued bytes fall to the low-water mark after write() returned false.
    void onDrained(QObject *context, std::function<void()> callback);

    // An object living on the connection's thread, for timers and queued calls; nullptr when the
    // connection is gone.
    QObject *threadContext() const;

private:
    friend class HttpConnection;
    explicit HttpResponder(std::shared_ptr<HttpExchange> exchange) : m_exchange(std::move(exchange)) {}

    std::shared_ptr<HttpExchange> m_exchange;
};

} // namespace llmpool::gateway
