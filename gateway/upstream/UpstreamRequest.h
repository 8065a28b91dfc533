#pragma once

// UpstreamRequest: everything one upstream attempt needs, as a plain value (copy it freely: every
// buffer is implicitly shared, so the body is never copied byte by byte — the call keeps a
// reference to it and curl sends straight from it).
//
// Headers are passed through verbatim, with these exceptions that keep the framing ours:
// Content-Length, Transfer-Encoding and Expect are dropped (curl frames the body, and an empty
// `Expect:` is always sent so curl never waits for 100-continue); headers whose name is not a token
// or whose value holds CR, LF or NUL are dropped (no header injection through curl_slist).
// When the caller sends no Accept / Content-Type, none is sent (curl's defaults are suppressed).
// Accept-Encoding goes through unchanged and the body comes back as the upstream encoded it, unless
// `decompress` is set (then curl asks for every encoding it knows and decodes).

#include "Config.h"

#include <QByteArray>
#include <QList>

#include <utility>

namespace llmpool::gateway {

using UpstreamHeaders = QList<std::pair<QByteArray, QByteArray>>;

// All in milliseconds; 0 disables that limit (connectMs: 0 = curl's default, 300 s).
struct UpstreamTimeouts
{
    int connectMs = 10'000;    // DNS + TCP + TLS (+ proxy CONNECT), enforced by curl
    int firstByteMs = 300'000; // from the start of sending the request to the first response byte
    int idleMs = 120'000;      // longest silence between response bytes (not counted while paused)
    int totalMs = 600'000;     // the whole attempt, paused time included
    int stallMs = 60'000;      // longest time our consumer may keep the transfer paused (ClientStalled)

    static UpstreamTimeouts fromConfig(const UpstreamConfig &config)
    {
        UpstreamTimeouts t;
        t.connectMs = config.connectTimeoutMs;
        t.firstByteMs = config.firstByteTimeoutMs;
        t.idleMs = config.idleTimeoutMs;
        t.totalMs = config.totalTimeoutMs;
        return t;
    }
};

struct UpstreamRequest
{
    QByteArray method = QByteArrayLiteral("GET");
    QByteArray url; // http:// or https:// only; userinfo in it is used but never echoed in errors
    UpstreamHeaders headers;
    QByteArray body; // sent as is (Content-Length framing); empty = no body (POST sends length 0)

    UpstreamTimeouts timeouts;

    // Outbound proxy ("http://user:pass@proxy:3128", "socks5h://…"). Empty = connect directly; the
    // http_proxy / https_proxy environment variables are deliberately ignored, so where traffic goes
    // is decided by configuration only.
    QByteArray proxyUrl;
    // PEM bundle to verify upstream certificates with; empty = the system store. Verification of
    // peer and host name is always on.
    QByteArray caFile;
    bool decompress = false;

    // Limits on what the upstream may send (ResponseTooLarge beyond them).
    int maxHeaderBytes = 64 * 1024; // the final response head (status line + fields)
    int maxHeaderCount = 256;
    qint64 maxBodyBytes = -1; // -1 = unlimited; meant for callers that buffer the body
};

} // namespace llmpool::gateway
