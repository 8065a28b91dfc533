#include "usage/LogUsageSink.h"

#include "Log.h"

namespace llmpool::gateway {

void LogUsageSink::record(UsageEvent event, QObject *context, std::function<void()> durable)
{
    Q_UNUSED(context);
    m_recorded.fetch_add(1, std::memory_order_relaxed);
    qCDebug(lcUsage).noquote() << event.requestId << "user" << event.userId << "key" << event.keyId << "model"
                               << event.model << "upstream" << event.upstreamId << event.endpoint << "status"
                               << event.status << "tokens" << event.promptTokens << "/" << event.completionTokens
                               << (event.usageEstimated ? "(estimated)" : "") << "cost" << event.cost.toString()
                               << "latency_ms" << event.latencyMs;
    if (durable) {
        durable(); // nothing to wait for: this sink keeps nothing
    }
}

} // namespace llmpool::gateway
