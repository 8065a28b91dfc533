#pragma once

// UsageEvent: one per proxied request — success, failure or cancel (SPEC §5). The data plane fills
// it as the request goes and hands it to a UsageSink when the response is finished. The billing
// issue makes the sink durable (Redis Stream + spool + worker); until then a logging sink stands in.
//
// Money is exact (Money), never floating point. `prices` holds the prices in force when the
// request started, so a price change mid-request does not change what it costs.

#include "Money.h"
#include "routing/Catalog.h"

#include <QByteArray>
#include <QString>

#include <functional>
#include <optional>

class QObject;

namespace llmpool::gateway {

struct UsageEvent
{
    QByteArray requestId;
    qint64 userId = 0;
    qint64 keyId = 0;
    QString model;         // the public name the client asked for
    qint64 upstreamId = 0; // 0 when no upstream was reached
    QString upstreamModel;
    QString endpoint; // "chat/completions", "embeddings", …
    int status = 0;   // the HTTP status the client got (499 = client went away first)
    bool stream = false;
    qint64 promptTokens = 0;
    qint64 cachedTokens = 0;
    qint64 completionTokens = 0;
    qint64 totalTokens = 0;
    qint64 images = 0;
    qint64 characters = 0;             // speech input
    qint64 audioMillis = 0;            // transcription
    bool usageEstimated = false;       // the upstream reported no usage (cut stream, disconnect)
    std::optional<ModelPrices> prices; // the snapshot taken when the request was routed
    Money cost;
    qint64 latencyMs = 0;
    qint64 ttfbMs = -1; // -1: no byte reached the client
    int attempts = 0;
    qint64 bytesIn = 0;  // request body
    qint64 bytesOut = 0; // relayed to the client
    QString errorCode;   // empty on success
    qint64 createdAtMs = 0;
};

// Where finished usage events go. Implementations must not block the calling event-loop thread.
// `durable`, when given, runs on the calling thread (guarded by `context`) once the event can no
// longer be lost — queued in Redis or written to the local spool. The data plane holds back the
// last bytes of a response until then, so a response the client received whole is always billed,
// even if the gateway is killed a moment later.
class UsageSink
{
public:
    virtual ~UsageSink() = default;
    virtual void record(UsageEvent event, QObject *context = nullptr, std::function<void()> durable = {}) = 0;
};

} // namespace llmpool::gateway
