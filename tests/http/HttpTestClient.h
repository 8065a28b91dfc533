#pragma once

// HttpTestClient: a raw blocking TCP client for the HTTP server tests. It writes exactly the bytes
// a test gives it and reads with deadlines (poll), so tests can pipeline, stall, half-send, stop
// reading or vanish — things a real client library hides. Responses are parsed with http-parser.
// Lives on the test thread; the server under test runs on its own threads.

#include <QByteArray>
#include <QList>

#include <optional>
#include <utility>

class HttpTestClient
{
public:
    struct Response
    {
        int status = 0;
        QList<std::pair<QByteArray, QByteArray>> headers; // names lower-cased
        QByteArray body;
        bool complete = false;
        QByteArray header(const QByteArray &lowerName) const;
        bool hasHeader(const QByteArray &lowerName) const;
    };

    // Connects to 127.0.0.1:port. receiveBuffer > 0 sets SO_RCVBUF before connecting.
    explicit HttpTestClient(quint16 port, int receiveBuffer = 0);
    ~HttpTestClient();
    HttpTestClient(const HttpTestClient &) = delete;
    HttpTestClient &operator=(const HttpTestClient &) = delete;

    bool isOpen() const { return m_fd >= 0; }
    // Sends everything (blocking, with a deadline). False if the peer closed or the deadline passed.
    bool send(const QByteArray &bytes, int timeoutMs = 5000);
    // Reads one response. `headRequest`: the response to a HEAD has no body.
    std::optional<Response> readResponse(int timeoutMs = 5000, bool headRequest = false);
    // Reads until `needle` appears in the received bytes (kept in rawBuffer()).
    bool readUntil(const QByteArray &needle, int timeoutMs = 5000);
    // Reads and discards until EOF or reset. Returns whether the peer closed within the deadline.
    bool waitForClose(int timeoutMs = 5000);
    // Reads whatever arrives until no byte came for `quietMs` or `maxBytes` were read.
    qint64 drain(int quietMs, qint64 maxBytes);
    void close();
    QByteArray &rawBuffer() { return m_buffer; }

private:
    // One recv with a deadline: >0 bytes appended, 0 on EOF, -1 on timeout or error.
    int receiveSome(int timeoutMs);

    int m_fd = -1;
    QByteArray m_buffer;
};
