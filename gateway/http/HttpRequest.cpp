#include "http/HttpRequest.h"

namespace llmpool::gateway {

namespace {

inline char asciiLower(char c) noexcept
{
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c;
}

inline int hexValue(char c) noexcept
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

} // namespace

bool asciiEqualsIgnoreCase(QByteArrayView a, QByteArrayView b) noexcept
{
    if (a.size() != b.size())
        return false;
    const char *pa = a.data();
    const char *pb = b.data();
    for (qsizetype i = 0, n = a.size(); i < n; ++i) {
        if (pa[i] != pb[i] && asciiLower(pa[i]) != asciiLower(pb[i]))
            return false;
    }
    return true;
}

QByteArray HttpRequest::percentDecode(QByteArrayView in, bool plusIsSpace)
{
    // Fast path: nothing to decode, share nothing, one copy.
    bool needs = false;
    for (char c : in) {
        if (c == '%' || (plusIsSpace && c == '+')) {
            needs = true;
            break;
        }
    }
    if (!needs)
        return in.toByteArray();
    QByteArray out;
    out.reserve(in.size());
    for (qsizetype i = 0, n = in.size(); i < n; ++i) {
        const char c = in[i];
        if (c == '%' && i + 2 < n) {
            const int hi = hexValue(in[i + 1]);
            const int lo = hexValue(in[i + 2]);
            if (hi >= 0 && lo >= 0) {
                out.append(static_cast<char>(hi * 16 + lo));
                i += 2;
                continue;
            }
        }
        // A malformed escape is kept literally, like most servers do.
        out.append(plusIsSpace && c == '+' ? ' ' : c);
    }
    return out;
}

QList<HttpRequest::Param> HttpRequest::parseQuery(QByteArrayView query)
{
    QList<Param> items;
    qsizetype start = 0;
    while (start <= query.size()) {
        qsizetype end = query.indexOf('&', start);
        if (end < 0)
            end = query.size();
        const QByteArrayView part = query.sliced(start, end - start);
        if (!part.isEmpty()) {
            const qsizetype eq = part.indexOf('=');
            if (eq < 0)
                items.append({percentDecode(part, true), QByteArray("")});
            else
                items.append({percentDecode(part.first(eq), true), percentDecode(part.sliced(eq + 1), true)});
        }
        start = end + 1;
    }
    return items;
}

QByteArrayView HttpRequest::rawPath() const
{
    return QByteArrayView(m_target).sliced(m_pathOffset, m_pathLength);
}

QByteArrayView HttpRequest::rawQuery() const
{
    return QByteArrayView(m_target).sliced(m_queryOffset, m_queryLength);
}

const QList<HttpRequest::Param> &HttpRequest::queryItems() const
{
    if (!m_queryParsed) {
        m_queryItems = parseQuery(rawQuery());
        m_queryParsed = true;
    }
    return m_queryItems;
}

QByteArray HttpRequest::queryParam(QByteArrayView name) const
{
    for (const Param &p : queryItems()) {
        if (p.first == name)
            return p.second;
    }
    return {};
}

bool HttpRequest::hasQueryParam(QByteArrayView name) const
{
    for (const Param &p : queryItems()) {
        if (p.first == name)
            return true;
    }
    return false;
}

QByteArray HttpRequest::pathParam(QByteArrayView name) const
{
    for (const Param &p : m_pathParams) {
        if (p.first == name)
            return p.second;
    }
    return {};
}

QByteArrayView HttpRequest::headerName(qsizetype i) const
{
    const HeaderSpan &h = m_headers[i];
    return QByteArrayView(m_headerData.constData() + h.nameOffset, h.nameLength);
}

QByteArrayView HttpRequest::headerValue(qsizetype i) const
{
    const HeaderSpan &h = m_headers[i];
    return QByteArrayView(m_headerData.constData() + h.valueOffset, h.valueLength);
}

QByteArrayView HttpRequest::header(QByteArrayView name) const
{
    for (qsizetype i = 0, n = m_headers.size(); i < n; ++i) {
        if (asciiEqualsIgnoreCase(headerName(i), name))
            return headerValue(i);
    }
    return {};
}

bool HttpRequest::hasHeader(QByteArrayView name) const
{
    for (qsizetype i = 0, n = m_headers.size(); i < n; ++i) {
        if (asciiEqualsIgnoreCase(headerName(i), name))
            return true;
    }
    return false;
}

QList<QByteArrayView> HttpRequest::headerValues(QByteArrayView name) const
{
    QList<QByteArrayView> values;
    for (qsizetype i = 0, n = m_headers.size(); i < n; ++i) {
        if (asciiEqualsIgnoreCase(headerName(i), name))
            values.append(headerValue(i));
    }
    return values;
}

void HttpRequest::reset()
{
    m_method = "";
    // resize(0) keeps the capacity when nobody else holds the buffer.
    m_target.resize(0);
    m_path.resize(0);
    m_pathOffset = m_pathLength = m_queryOffset = m_queryLength = 0;
    m_headerData.resize(0);
    m_headers.clear();
    m_pathParams.clear();
    m_body = QByteArray();
    m_requestId = QByteArray();
    if (m_queryParsed) {
        m_queryItems.clear();
        m_queryParsed = false;
    }
    m_versionMajor = 1;
    m_versionMinor = 1;
    m_keepAlive = true;
    m_receivedAtMSecs = 0;
}

} // namespace llmpool::gateway
