#pragma once

// ProxyExchange: one data-plane request from start to finish — authenticate, read the body, route,
// try upstreams in the failover plan's order, relay the chosen upstream's answer to the client as
// it arrives (with backpressure both ways), and hand one UsageEvent to the sink at the end.
//
// Rules it enforces (SPEC §3):
//   - failover to the next distinct upstream on connect errors, timeouts before the first byte,
//     429 and 5xx — never once a byte went to the client;
//   - the upstream is read only as fast as the client drains (curl pauses while the client's
//     socket buffer is over the high-water mark);
//   - a client that disconnects aborts the upstream at once;
//   - a stream that fails midway ends with an SSE error event (or, for non-SSE bodies, a dropped
//     connection), never a clean end that looks like success;
//   - the upstream's own credentials problems (401/403) are not relayed: they would show the
//     client a masked form of the upstream key.
//
// Thread: lives on the event-loop thread of its connection and deletes itself when done.

#include "http/HttpRequest.h"
#include "http/HttpResponder.h"
#include "proxy/KeyCache.h"
#include "proxy/RequestBody.h"
#include "proxy/ResponseUsage.h"
#include "routing/AttemptOutcome.h"
#include "routing/Capability.h"
#include "routing/RouteSelector.h"
#include "upstream/UpstreamCall.h"
#include "usage/UsageEvent.h"

#include <QElapsedTimer>
#include <QObject>

#include <memory>
#include <optional>

namespace llmpool::gateway {

class ProxyService;

class ProxyExchange : public QObject
{
    Q_OBJECT
public:
    static void start(ProxyService *service, Endpoint endpoint, HttpRequest &request, HttpResponder &responder);

    // Client headers that never reach the upstream (SPEC §9).
    static bool isForwardableRequestHeader(QByteArrayView name);
    // Upstream headers the client gets.
    static bool isRelayedResponseHeader(QByteArrayView name);
    static QByteArray newRequestId();

private:
    ProxyExchange(ProxyService *service, Endpoint endpoint, const HttpRequest &request, HttpResponder responder);

    void authenticated(Result<KeyCache::Entry> key);
    void route();
    void admit();
    Money reservationAmount() const;
    void startAttempt();
    void attemptFailed(const AttemptOutcome &outcome, const QString &detail);
    void onHead(int status, const UpstreamHeaders &headers);
    bool onBody(QByteArrayView chunk);
    void onFinished(const UpstreamOutcome &outcome);
    void clientGone();

    void fail(const Error &error);
    // Records the usage event and ends the exchange. With `completeResponse`, the held-back end of
    // a successful response goes to the client only once the event is durable (UsageSink).
    void finish(int status, const QString &errorCode, bool completeResponse = false);
    void writeOut(QByteArray bytes);
    void fillUsage();

    QByteArray upstreamBody(const RouteAttempt &attempt);

    ProxyService *m_service;
    Endpoint m_endpoint;
    HttpRequest m_request;
    HttpResponder m_responder;
    QElapsedTimer m_clock;

    KeyCache::Entry m_key;
    JsonRequestFields m_fields;
    QByteArray m_multipartBoundary;
    FailoverPlan m_plan;
    int m_attempt = -1;
    std::unique_ptr<UpstreamCall> m_call;
    AttemptOutcome m_lastOutcome;
    QString m_lastDetail;

    bool m_headSent = false;
    int m_upstreamStatus = 0; // the relayed answer's status (m_event.status ends as the client's)
    bool m_sse = false;
    bool m_injectedUsage = false;
    bool m_clientFull = false;
    bool m_finished = false;
    std::optional<SseRelayFilter> m_filter;
    QByteArray m_held;   // the response's last bytes, sent once its usage event is durable
    bool m_holding = false; // SSE: the final event was seen; everything after it is held too
    QByteArray m_bodyCopy; // a bounded copy of a non-streamed JSON answer, for its usage
    bool m_bodyCopyComplete = true;

    UsageEvent m_event;
};

} // namespace llmpool::gateway
