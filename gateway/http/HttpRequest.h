#pragma once

// One parsed HTTP/1.x request, handed to a handler with its body fully read.
//
// Thread: created and filled on the event-loop thread that owns the connection. A handler may copy
// or move it freely (every byte buffer is implicitly shared, so a copy costs a few reference counts)
// and keep the copy beyond the call, also on another thread; the object itself is not synchronised.
//
// Headers are kept as bytes: one buffer with all names and values plus offsets, so a request costs
// no allocation per header and lookups are case-insensitive without QString conversions.

#include <QByteArray>
#include <QByteArrayView>
#include <QHostAddress>
#include <QList>
#include <QVarLengthArray>

#include <utility>

namespace llmpool::gateway {

class HttpConnection;

class HttpRequest
{
public:
    using Param = std::pair<QByteArray, QByteArray>;

    // "GET", "POST", … (a static string; never empty for a dispatched request).
    QByteArrayView method() const { return m_method; }
    bool isHead() const { return m_method == QByteArrayView("HEAD"); }

    // The request-target exactly as received (e.g. "/v1/models/x%2Fy?limit=5"; absolute-form targets
    // such as "http://host/v1/models" are accepted and their path used).
    const QByteArray &target() const { return m_target; }
    // The path part of the target, not decoded ("/v1/models/x%2Fy"). Routing works on this.
    QByteArrayView rawPath() const;
    // The percent-decoded path ("/v1/models/x/y"), for logs and simple handlers.
    const QByteArray &path() const { return m_path; }
    // The query string without '?', not decoded ("limit=5").
    QByteArrayView rawQuery() const;
    // Decoded query items in order ('+' means space); parsed on first use.
    const QList<Param> &queryItems() const;
    // First value of a query parameter (decoded), or a null QByteArray if absent.
    QByteArray queryParam(QByteArrayView name) const;
    bool hasQueryParam(QByteArrayView name) const;

    // Path parameters filled by the router: "/v1/models/{id}" gives pathParam("id"), decoded.
    QByteArray pathParam(QByteArrayView name) const;
    const QVarLengthArray<Param, 4> &pathParams() const { return m_pathParams; }

    // Headers, case-insensitive names, repeated headers kept in order, values trimmed.
    // header() returns the first value, or a null view if absent.
    QByteArrayView header(QByteArrayView name) const;
    bool hasHeader(QByteArrayView name) const;
    QList<QByteArrayView> headerValues(QByteArrayView name) const;
    qsizetype headerCount() const { return m_headers.size(); }
    QByteArrayView headerName(qsizetype i) const;
    QByteArrayView headerValue(qsizetype i) const;

    const QByteArray &body() const { return m_body; }
    QByteArray takeBody() { return std::exchange(m_body, QByteArray()); }

    int versionMajor() const { return m_versionMajor; }
    int versionMinor() const { return m_versionMinor; }
    // Whether the connection stays open after this request's response (HTTP/1.1 default, or
    // HTTP/1.0 with "Connection: keep-alive"; false after "Connection: close").
    bool keepAlive() const { return m_keepAlive; }

    const QHostAddress &peerAddress() const { return m_peerAddress; }
    quint16 peerPort() const { return m_peerPort; }

    // Monotonic milliseconds (QDeadlineTimer clock) when the first byte of the request arrived.
    qint64 receivedAtMSecs() const { return m_receivedAtMSecs; }

    // A per-request id; empty until the proxy layer assigns one (x-llmpool-request-id).
    const QByteArray &requestId() const { return m_requestId; }
    void setRequestId(QByteArray id) { m_requestId = std::move(id); }

    // Utilities shared with the router; exposed for tests.
    static QByteArray percentDecode(QByteArrayView in, bool plusIsSpace = false);
    static QList<Param> parseQuery(QByteArrayView query);

private:
    friend class HttpConnection;
    struct HeaderSpan
    {
        int nameOffset;
        int nameLength;
        int valueOffset;
        int valueLength;
    };

    // Used by HttpConnection to recycle one object across the requests of a connection: buffers
    // keep their capacity unless a handler kept a copy.
    void reset();

    const char *m_method = "";
    QByteArray m_target;
    QByteArray m_path;
    // Where the raw path and query sit inside m_target (absolute-form targets have a prefix).
    qsizetype m_pathOffset = 0;
    qsizetype m_pathLength = 0;
    qsizetype m_queryOffset = 0;
    qsizetype m_queryLength = 0;
    QByteArray m_headerData;
    QVarLengthArray<HeaderSpan, 24> m_headers;
    QVarLengthArray<Param, 4> m_pathParams;
    QByteArray m_body;
    QHostAddress m_peerAddress;
    QByteArray m_requestId;
    mutable QList<Param> m_queryItems;
    mutable bool m_queryParsed = false;
    quint16 m_peerPort = 0;
    int m_versionMajor = 1;
    int m_versionMinor = 1;
    bool m_keepAlive = true;
    qint64 m_receivedAtMSecs = 0;
};

// ASCII case-insensitive equality, for header names and tokens.
bool asciiEqualsIgnoreCase(QByteArrayView a, QByteArrayView b) noexcept;

} // namespace llmpool::gateway
