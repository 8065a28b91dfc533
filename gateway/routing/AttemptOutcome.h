#pragma once

// AttemptOutcome: how one upstream attempt ended, and the pure decisions that follow from it —
// try the next upstream? count it against the upstream's health? which error does the client get
// when every attempt failed? (SPEC §3: failover on connection errors, timeouts before the first
// byte, 429 and 5xx; never after the first byte has gone to the client; 502 / 504.)
//
// The caller (proxy) classifies what libcurl reported into an AttemptOutcome; everything here is
// table-driven and unit-tested.
//
// Pure value types and functions; any thread.

#include "Result.h"

#include <QString>

namespace llmpool::gateway {

struct AttemptOutcome
{
    enum class Kind {
        Response,               // the upstream answered with an HTTP status (see httpStatus)
        ConnectFailed,          // DNS, refused, TLS handshake, reset before any response byte
        TimeoutBeforeFirstByte, // connect or first-byte timeout
        TimeoutAfterFirstByte,  // idle or total timeout once the response had started
        BrokenResponse,         // the connection died or the bytes were not HTTP after the response started
        ClientGone,             // our client disconnected; nothing to retry for
    };

    Kind kind = Kind::Response;
    int httpStatus = 0; // for Kind::Response

    static AttemptOutcome response(int status) { return {Kind::Response, status}; }
    static AttemptOutcome of(Kind kind) { return {kind, 0}; }

    bool isSuccess() const { return kind == Kind::Response && httpStatus >= 200 && httpStatus < 400; }
};

// The outcome itself calls for another upstream: connect errors, timeouts before the first byte,
// 429 and 5xx. (A 4xx other than 429 is the request's fault and is relayed as it is.)
bool isRetryable(const AttemptOutcome &outcome);

// The full decision: retryable, nothing has reached our client yet (not a status line, not a
// byte), and another attempt is planned. `attemptsMade` counts this one.
bool shouldTryNext(const AttemptOutcome &outcome, bool bytesSentToClient, int attemptsMade, int attemptsPlanned);

// Whether the outcome counts as a failure for HealthTracker (the upstream, not the request, is at
// fault): connect errors, every timeout, broken responses, 429 and 5xx. 4xx answers prove the
// upstream alive (recordSuccess); ClientGone says nothing either way.
enum class HealthVerdict { Success, Failure, Neutral };
HealthVerdict healthVerdict(const AttemptOutcome &outcome);

// A probe (GET {api_base}/models) proves the upstream alive when it answers at all with a status
// below 500 other than 429 — a 401 or 404 is a configuration problem, not an outage.
bool probeSucceeded(const AttemptOutcome &outcome);

// The client's error when no attempt succeeded and nothing was relayed: 504 "upstream_timeout" when
// the last attempt timed out before its first byte, otherwise 502 "upstream_error" naming the last
// upstream status or the kind of failure (never the upstream's own text, which may echo secrets).
Error exhaustedError(const AttemptOutcome &last, int attempts);

// Short stable text for logs, metrics labels and HealthTracker::lastError: "http 503",
// "connect_failed", "timeout_before_first_byte", …
QString outcomeLabel(const AttemptOutcome &outcome);

} // namespace llmpool::gateway
