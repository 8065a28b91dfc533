#pragma once

// HttpHeaderScanner: a strict byte-level check of a request head (request line + header fields)
// run before http-parser sees it. http-parser 2.9.4 tolerates a bare CR inside a header value,
// whitespace between a field name and its colon, bare LF line ends and obs-fold continuation
// lines; a front end that accepts them can be made to disagree with the upstream about where a
// request ends (request smuggling). This scanner rejects all of them and finds where the head ends,
// so the size limit is enforced before anything is buffered or parsed.
//
// Incremental: feed() may be called with successive pieces. Plain value type, any thread.

#include <QtGlobal>

namespace llmpool::gateway {

class HttpHeaderScanner
{
public:
    enum class Status { NeedMore, Done, Invalid, TooLarge };

    explicit HttpHeaderScanner(qsizetype maxHeadBytes = 32 * 1024) : m_max(maxHeadBytes) {}
    void reset()
    {
        m_state = State::Start;
        m_scanned = 0;
    }

    // Scans [data, data + size). On Done, *consumed is the number of bytes of this piece that belong
    // to the head (up to and including the final CRLF). Empty lines before the request line are
    // part of the head (RFC 9112 §2.2) and counted.
    Status feed(const char *data, qsizetype size, qsizetype *consumed);

    qsizetype scannedBytes() const { return m_scanned; }

private:
    enum class State : quint8 {
        Start,         // before the request line (leading CRLFs allowed)
        StartLf,       // saw CR of a leading empty line
        RequestLine,   // inside the request line
        RequestLineLf, // saw CR ending the request line
        LineStart,     // at the start of a header line (or the final empty line)
        FieldName,     // inside a field name
        Value,         // after the colon
        ValueLf,       // saw CR ending a header line
        FinalLf,       // saw CR of the final empty line
    };

    qsizetype m_max;
    qsizetype m_scanned = 0;
    State m_state = State::Start;
};

} // namespace llmpool::gateway
