#pragma once

// HttpWire: the byte-level pieces of HTTP/1.1 responses shared by the connection code: status
// lines, the cached date header, decimal and hex numbers without allocations.
//
// Thread: stateless except dateHeader(), whose cache is thread_local (one per event-loop thread).

#include <QByteArray>
#include <QByteArrayView>

namespace llmpool::gateway {

class HttpWire
{
public:
    // "HTTP/1.1 200 OK\r\n"; unknown codes get a generic reason phrase.
    static QByteArrayView statusLine(int status);
    static QByteArrayView reasonPhrase(int status);
    // "date: Sun, 06 Nov 1994 08:49:37 GMT\r\n", rebuilt once per second per thread from Clock.
    static QByteArrayView dateHeader();
    // Formats into buf (≥ 24 bytes); returns the number of bytes written.
    static int formatDecimal(char *buf, quint64 value);
    static int formatHex(char *buf, quint64 value);
    // A response header field must not carry CR, LF or NUL (response splitting); names must be tokens.
    static bool isSafeHeader(QByteArrayView name, QByteArrayView value);
};

} // namespace llmpool::gateway
