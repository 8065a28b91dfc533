#pragma once

// SseWriter: Server-Sent Events over an HttpResponder (text/event-stream, chunked, each event sent
// at once). write results and backpressure are the responder's: a false return means "stop
// producing until responder().onDrained fires".
//
// Thread: the responder's (the connection's event-loop thread). A small value type.

#include "http/HttpResponder.h"

namespace llmpool::gateway {

class SseWriter
{
public:
    explicit SseWriter(HttpResponder responder) : m_responder(std::move(responder)) {}

    // Sends the status and headers: content-type text/event-stream, cache-control no-cache,
    // x-accel-buffering no (so a proxy in front does not buffer either), plus `extraHeaders`.
    bool begin(int status = 200, const HttpHeaders &extraHeaders = {});
    // One event: "event: …\n" (optional), "id: …\n" (optional), a "data: …\n" line per line of
    // `data`, then the blank line.
    bool send(QByteArrayView data, QByteArrayView event = {}, QByteArrayView id = {});
    // Bytes already framed as SSE (relaying an upstream stream as it arrives).
    bool sendRaw(const QByteArray &bytes) { return m_responder.write(bytes); }
    // A comment line (": text\n\n"), used as a keep-alive.
    bool comment(QByteArrayView text = {});
    void end() { m_responder.end(); }

    HttpResponder &responder() { return m_responder; }

    // The bytes send() writes, exposed for tests and for building a final error event.
    static QByteArray format(QByteArrayView data, QByteArrayView event = {}, QByteArrayView id = {});

private:
    HttpResponder m_responder;
};

} // namespace llmpool::gateway
