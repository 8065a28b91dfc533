#pragma once

// HealthTracker: passive health of upstreams (SPEC §3 "Health").
//
//   healthy ──N consecutive failures──▶ ejected (cooldown) ──cooldown over──▶ probe due
//      ▲                                    ▲                                      │ takeDueProbes()
//      │                                    └──────── probe failed: cooldown ×2 ───┤ probing
//      └──────────────────────────── probe succeeded ──────────────────────────────┘
//
// The k-th ejection in a row lasts min(ejectBaseMs × 2^(k-1), ejectMaxMs). An ejected upstream
// takes no traffic — not even after its cooldown — until a probe (GET {api_base}/models, run by the
// caller) succeeds; so whoever owns a tracker must run the probes (every healthCheckIntervalMs:
// takeDueProbes() → probe → recordProbeResult()). A probe whose result never arrives is due again
// after probeTimeoutMs. Live successes while ejected clear the failure streak but do not end the
// ejection (requests that started before it may still finish well); live failures while ejected
// only update lastError. Upstreams never seen are healthy.
//
// Time is passed in (milliseconds, any monotonic or wall clock, as long as the caller is
// consistent); nothing here reads a clock, so it is pure and tests drive it directly.
//
// Thread: shared by every event-loop thread of a gateway (one tracker per process, not per
// thread: per-thread trackers would need N failures on each thread before ejecting and would probe
// each upstream once per thread). Every method is thread-safe; a mutex guards a small hash and is
// held only for a lookup or an update — no allocation beyond the first sight of an upstream,
// nothing that can block. isAvailable() does not take the mutex at all while no upstream is
// ejected (the common case), via an atomic count.

#include "Config.h"

#include <QHash>
#include <QString>

#include <atomic>
#include <mutex>
#include <vector>

namespace llmpool::gateway {

struct HealthPolicy
{
    int failureThreshold = 3; // consecutive failures that eject; ≥ 1
    qint64 ejectBaseMs = 5'000;
    qint64 ejectMaxMs = 300'000;
    qint64 probeTimeoutMs = 30'000; // a probe not reported by then is due again

    static HealthPolicy fromConfig(const UpstreamConfig &config);
    // min(base × 2^(ejections-1), max) for ejections ≥ 1, without overflow.
    qint64 cooldownMs(int ejections) const;
};

enum class HealthState { Healthy, Ejected, Probing };
QString healthStateName(HealthState state); // "healthy", "ejected", "probing"

struct UpstreamHealth
{
    qint64 upstreamId = 0;
    HealthState state = HealthState::Healthy;
    int consecutiveFailures = 0;
    int ejections = 0;          // ejections in a row (the current streak); 0 while healthy
    qint64 ejectedUntilMs = 0;  // end of the current cooldown; 0 while healthy
    qint64 probeDeadlineMs = 0; // while probing: when the probe counts as lost and is due again
    qint64 lastFailureMs = 0;   // 0 = never
    qint64 lastSuccessMs = 0;   // 0 = never
    QString lastError;          // sanitised text from the caller; never a secret
};

class HealthTracker
{
public:
    explicit HealthTracker(HealthPolicy policy = {});

    void setPolicy(const HealthPolicy &policy);
    HealthPolicy policy() const;

    void recordSuccess(qint64 upstreamId, qint64 nowMs);
    // Returns true when this failure ejected the upstream (for a log line or a metric).
    bool recordFailure(qint64 upstreamId, qint64 nowMs, const QString &error);

    // Whether live requests may go to the upstream. No time argument: only a probe ends an ejection.
    bool isAvailable(qint64 upstreamId) const;

    // Ejected upstreams whose cooldown is over (and probes that timed out), now marked probing.
    // The caller probes each and reports with recordProbeResult().
    std::vector<qint64> takeDueProbes(qint64 nowMs);
    // Success: healthy again, streaks cleared. Failure: ejected again with the next, longer cooldown.
    // Ignored unless the upstream is probing.
    void recordProbeResult(qint64 upstreamId, qint64 nowMs, bool ok, const QString &error = {});

    UpstreamHealth health(qint64 upstreamId) const;
    // Every upstream seen so far, ordered by id (admin API and /metrics).
    std::vector<UpstreamHealth> snapshot() const;
    // Drops upstreams not in `ids` (after a catalog change removed them).
    void retainOnly(const std::vector<qint64> &ids);

private:
    UpstreamHealth &entry(qint64 upstreamId);
    void ejectLocked(UpstreamHealth &h, qint64 nowMs);

    mutable std::mutex m_mutex;
    HealthPolicy m_policy;
    QHash<qint64, UpstreamHealth> m_entries;
    std::atomic<int> m_notHealthy{0}; // entries ejected or probing
};

} // namespace llmpool::gateway
