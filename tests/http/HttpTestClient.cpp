#include "HttpTestClient.h"

#include <QDeadlineTimer>

#include <http_parser.h>

#include <cerrno>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

struct ParseState
{
    HttpTestClient::Response response;
    QByteArray field;
    bool valueLast = false;
    bool headRequest = false;
};

int onHeaderField(http_parser *p, const char *at, size_t len)
{
    auto *s = static_cast<ParseState *>(p->data);
    if (s->valueLast || s->response.headers.isEmpty()) {
        s->response.headers.append({QByteArray(at, qsizetype(len)).toLower(), QByteArray()});
    } else {
        s->response.headers.back().first.append(QByteArray(at, qsizetype(len)).toLower());
    }
    s->valueLast = false;
    return 0;
}

int onHeaderValue(http_parser *p, const char *at, size_t len)
{
    auto *s = static_cast<ParseState *>(p->data);
    s->response.headers.back().second.append(at, qsizetype(len));
    s->valueLast = true;
    return 0;
}

int onHeadersComplete(http_parser *p)
{
    auto *s = static_cast<ParseState *>(p->data);
    s->response.status = int(p->status_code);
    return s->headRequest ? 1 : 0;
}

int onBody(http_parser *p, const char *at, size_t len)
{
    static_cast<ParseState *>(p->data)->response.body.append(at, qsizetype(len));
    return 0;
}

int onMessageComplete(http_parser *p)
{
    static_cast<ParseState *>(p->data)->response.complete = true;
    http_parser_pause(p, 1);
    return 0;
}

} // namespace

QByteArray HttpTestClient::Response::header(const QByteArray &lowerName) const
{
    for (const auto &h : headers) {
        if (h.first == lowerName)
            return h.second;
    }
    return {};
}

bool HttpTestClient::Response::hasHeader(const QByteArray &lowerName) const
{
    for (const auto &h : headers) {
        if (h.first == lowerName)
            return true;
    }
    return false;
}

HttpTestClient::HttpTestClient(quint16 port, int receiveBuffer)
{
    m_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (m_fd < 0)
        return;
    if (receiveBuffer > 0)
        ::setsockopt(m_fd, SOL_SOCKET, SO_RCVBUF, &receiveBuffer, sizeof receiveBuffer);
    const int one = 1;
    ::setsockopt(m_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in address = {};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(m_fd, reinterpret_cast<struct sockaddr *>(&address), sizeof address) != 0)
        close();
}

HttpTestClient::~HttpTestClient()
{
    close();
}

void HttpTestClient::close()
{
    if (m_fd >= 0)
        ::close(m_fd);
    m_fd = -1;
}

bool HttpTestClient::send(const QByteArray &bytes, int timeoutMs)
{
    QDeadlineTimer deadline(timeoutMs);
    qsizetype sent = 0;
    while (m_fd >= 0 && sent < bytes.size()) {
        struct pollfd pfd = {m_fd, POLLOUT, 0};
        if (::poll(&pfd, 1, int(std::max<qint64>(0, deadline.remainingTime()))) <= 0)
            return false;
        const ssize_t n = ::send(m_fd, bytes.constData() + sent, size_t(bytes.size() - sent), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return false;
        }
        sent += n;
    }
    return m_fd >= 0;
}

int HttpTestClient::receiveSome(int timeoutMs)
{
    if (m_fd < 0)
        return -1;
    struct pollfd pfd = {m_fd, POLLIN, 0};
    const int ready = ::poll(&pfd, 1, std::max(0, timeoutMs));
    if (ready <= 0)
        return -1;
    char buffer[65536];
    const ssize_t n = ::recv(m_fd, buffer, sizeof buffer, 0);
    if (n > 0) {
        m_buffer.append(buffer, qsizetype(n));
        return int(n);
    }
    if (n == 0 || errno == ECONNRESET)
        return 0;
    return -1;
}

std::optional<HttpTestClient::Response> HttpTestClient::readResponse(int timeoutMs, bool headRequest)
{
    static http_parser_settings settings = [] {
        http_parser_settings s{};
        s.on_header_field = onHeaderField;
        s.on_header_value = onHeaderValue;
        s.on_headers_complete = onHeadersComplete;
        s.on_body = onBody;
        s.on_message_complete = onMessageComplete;
        return s;
    }();
    ParseState state;
    state.headRequest = headRequest;
    http_parser parser;
    http_parser_init(&parser, HTTP_RESPONSE);
    parser.data = &state;
    QDeadlineTimer deadline(timeoutMs);
    for (;;) {
        if (!m_buffer.isEmpty()) {
            const size_t n = http_parser_execute(&parser, &settings, m_buffer.constData(), size_t(m_buffer.size()));
            m_buffer.remove(0, qsizetype(n));
            if (state.response.complete)
                return state.response;
            if (HTTP_PARSER_ERRNO(&parser) != HPE_OK)
                return std::nullopt;
        }
        const int got = receiveSome(int(deadline.remainingTime()));
        if (got == 0) {
            http_parser_execute(&parser, &settings, nullptr, 0); // EOF ends a close-delimited body
            if (state.response.complete)
                return state.response;
            return std::nullopt;
        }
        if (got < 0)
            return std::nullopt;
    }
}

bool HttpTestClient::readUntil(const QByteArray &needle, int timeoutMs)
{
    QDeadlineTimer deadline(timeoutMs);
    while (!m_buffer.contains(needle)) {
        if (receiveSome(int(deadline.remainingTime())) <= 0)
            return false;
    }
    return true;
}

bool HttpTestClient::waitForClose(int timeoutMs)
{
    QDeadlineTimer deadline(timeoutMs);
    for (;;) {
        const int got = receiveSome(int(deadline.remainingTime()));
        if (got == 0)
            return true;
        if (got < 0)
            return false;
        m_buffer.clear();
    }
}

qint64 HttpTestClient::drain(int quietMs, qint64 maxBytes)
{
    qint64 total = 0;
    while (total < maxBytes) {
        const int got = receiveSome(quietMs);
        if (got <= 0)
            break;
        total += got;
    }
    return total;
}
