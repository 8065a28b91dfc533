#pragma once

// LogUsageSink: the stand-in UsageSink until the billing pipeline (Redis Stream + spool + worker)
// lands: one debug line per event (category llmpool.usage) and running totals. It loses events on
// a crash, which is exactly why the billing issue replaces it.
//
// Thread-safe: record() is called from every event-loop thread.

#include "usage/UsageEvent.h"

#include <atomic>

namespace llmpool::gateway {

class LogUsageSink : public UsageSink
{
public:
    void record(UsageEvent event, QObject *context = nullptr, std::function<void()> durable = {}) override;
    qint64 recorded() const { return m_recorded.load(); }

private:
    std::atomic<qint64> m_recorded{0};
};

} // namespace llmpool::gateway
