#pragma once

// UpstreamOutcome: how one upstream attempt ended, as a plain value handed to onFinished.
//
// `Ok` means the HTTP exchange completed — whatever the status (a 503 is an Ok outcome with
// httpStatus 503; failover on status is the caller's decision). Every other kind is a failure of
// the exchange itself. `message` is for logs and error replies: it never contains URL credentials
// or credential header values (sanitised here, not by the caller).

#include "Result.h"

#include <QByteArray>
#include <QList>
#include <QString>

namespace llmpool::gateway {

struct UpstreamOutcome
{
    enum class Kind {
        Ok,
        ConnectFailed,          // DNS, refused, unreachable, TLS handshake or verification, proxy, connect timeout
        TimeoutBeforeFirstByte, // connected and sent, but no response byte in time
        IdleTimeout,            // silence between response bytes
        TotalTimeout,           // the attempt as a whole took too long
        ConnectionLost,         // closed or reset by the upstream before the response was complete
        ProtocolError,          // not HTTP, malformed head, bad chunking, …
        ResponseTooLarge,       // head over maxHeaderBytes / maxHeaderCount, or body over maxBodyBytes
        ClientStalled,          // our consumer kept the transfer paused longer than stallMs
        Aborted,                // abort() or the CurlMulti went away (never reported through onFinished after abort())
    };

    Kind kind = Kind::Ok;
    QString message;    // sanitised, human readable; empty for Ok
    int curlCode = 0;   // CURLcode, for logs
    int httpStatus = 0; // final status if a head was received, else 0
    bool headReceived = false;
    qint64 bytesReceived = 0; // response body bytes handed to the consumer (encoded as sent)
    qint64 bytesSent = 0;     // request body bytes curl sent
    qint64 connectUs = -1;    // start → connected (TLS included); 0 on a reused connection; -1 unknown
    qint64 firstByteUs = -1;  // start → first response byte; -1 if none
    qint64 totalUs = 0;       // start → finish
    bool reusedConnection = false;

    bool ok() const { return kind == Kind::Ok; }
    bool isTimeout() const
    {
        return kind == Kind::TimeoutBeforeFirstByte || kind == Kind::IdleTimeout || kind == Kind::TotalTimeout;
    }

    // Stable lower_snake name ("connect_failed", …) for logs, metrics and error codes.
    static const char *kindName(Kind kind);

    // The failure as an Error for the single error function: timeouts → 504 "upstream_timeout",
    // everything else → 502 "upstream_error"; code = "upstream_" + kindName (client_stalled and
    // aborted keep their names). Only meaningful when !ok().
    Error toError() const;

    // Removes secrets from curl's error text: userinfo of any URL in it ("scheme://user:pw@" →
    // "scheme://***@") and every literal occurrence of `secrets` (empty ones ignored), then control
    // characters. Exposed for tests.
    static QString sanitize(const QByteArray &text, const QList<QByteArray> &secrets);
};

} // namespace llmpool::gateway
