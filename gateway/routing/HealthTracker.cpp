#include "routing/HealthTracker.h"

#include <algorithm>

namespace llmpool::gateway {

HealthPolicy HealthPolicy::fromConfig(const UpstreamConfig &config)
{
    HealthPolicy p;
    p.ejectBaseMs = config.ejectBaseMs;
    p.ejectMaxMs = config.ejectMaxMs;
    // A probe gets as long as a connection and a first byte could take, bounded so that a lost
    // probe does not keep an upstream out for long.
    p.probeTimeoutMs = std::clamp<qint64>(qint64(config.connectTimeoutMs) + 10'000, 5'000, 60'000);
    return p;
}

qint64 HealthPolicy::cooldownMs(int ejections) const
{
    const qint64 base = std::max<qint64>(ejectBaseMs, 0);
    const qint64 cap = std::max(ejectMaxMs, base);
    qint64 cooldown = base;
    for (int i = 1; i < ejections && cooldown < cap; ++i)
        cooldown *= 2; // stops once at the cap, so it cannot overflow
    return std::min(cooldown, cap);
}

QString healthStateName(HealthState state)
{
    switch (state) {
    case HealthState::Healthy:
        return QStringLiteral("healthy");
    case HealthState::Ejected:
        return QStringLiteral("ejected");
    case HealthState::Probing:
        return QStringLiteral("probing");
    }
    Q_UNREACHABLE();
    return QString();
}

HealthTracker::HealthTracker(HealthPolicy policy) : m_policy(policy) {}

void HealthTracker::setPolicy(const HealthPolicy &policy)
{
    const std::lock_guard lock(m_mutex);
    m_policy = policy;
}

HealthPolicy HealthTracker::policy() const
{
    const std::lock_guard lock(m_mutex);
    return m_policy;
}

UpstreamHealth &HealthTracker::entry(qint64 upstreamId)
{
    auto it = m_entries.find(upstreamId);
    if (it == m_entries.end()) {
        UpstreamHealth h;
        h.upstreamId = upstreamId;
        it = m_entries.insert(upstreamId, h);
    }
    return *it;
}

void HealthTracker::ejectLocked(UpstreamHealth &h, qint64 nowMs)
{
    if (h.state == HealthState::Healthy)
        m_notHealthy.fetch_add(1, std::memory_order_relaxed);
    h.state = HealthState::Ejected;
    h.ejections += 1;
    h.ejectedUntilMs = nowMs + m_policy.cooldownMs(h.ejections);
}

void HealthTracker::recordSuccess(qint64 upstreamId, qint64 nowMs)
{
    const std::lock_guard lock(m_mutex);
    UpstreamHealth &h = entry(upstreamId);
    h.consecutiveFailures = 0;
    h.lastSuccessMs = nowMs;
}

bool HealthTracker::recordFailure(qint64 upstreamId, qint64 nowMs, const QString &error)
{
    const std::lock_guard lock(m_mutex);
    UpstreamHealth &h = entry(upstreamId);
    h.lastFailureMs = nowMs;
    h.lastError = error;
    if (h.state != HealthState::Healthy)
        return false; // already out; requests that started before the ejection are still ending
    h.consecutiveFailures += 1;
    if (h.consecutiveFailures < std::max(m_policy.failureThreshold, 1))
        return false;
    ejectLocked(h, nowMs);
    return true;
}

bool HealthTracker::isAvailable(qint64 upstreamId) const
{
    if (m_notHealthy.load(std::memory_order_relaxed) == 0)
        return true;
    const std::lock_guard lock(m_mutex);
    const auto it = m_entries.constFind(upstreamId);
    return it == m_entries.cend() || it->state == HealthState::Healthy;
}

std::vector<qint64> HealthTracker::takeDueProbes(qint64 nowMs)
{
    std::vector<qint64> due;
    if (m_notHealthy.load(std::memory_order_relaxed) == 0)
        return due;
    const std::lock_guard lock(m_mutex);
    for (UpstreamHealth &h : m_entries) {
        const bool cooled = h.state == HealthState::Ejected && nowMs >= h.ejectedUntilMs;
        const bool probeLost = h.state == HealthState::Probing && nowMs >= h.probeDeadlineMs;
        if (cooled || probeLost) {
            h.state = HealthState::Probing;
            h.probeDeadlineMs = nowMs + m_policy.probeTimeoutMs;
            due.push_back(h.upstreamId);
        }
    }
    std::sort(due.begin(), due.end());
    return due;
}

void HealthTracker::recordProbeResult(qint64 upstreamId, qint64 nowMs, bool ok, const QString &error)
{
    const std::lock_guard lock(m_mutex);
    const auto it = m_entries.find(upstreamId);
    if (it == m_entries.end() || it->state != HealthState::Probing)
        return;
    UpstreamHealth &h = *it;
    if (ok) {
        h.state = HealthState::Healthy;
        h.consecutiveFailures = 0;
        h.ejections = 0;
        h.ejectedUntilMs = 0;
        h.probeDeadlineMs = 0;
        h.lastSuccessMs = nowMs;
        m_notHealthy.fetch_sub(1, std::memory_order_relaxed);
        return;
    }
    h.lastFailureMs = nowMs;
    h.lastError = error;
    h.probeDeadlineMs = 0;
    ejectLocked(h, nowMs);
}

UpstreamHealth HealthTracker::health(qint64 upstreamId) const
{
    const std::lock_guard lock(m_mutex);
    const auto it = m_entries.constFind(upstreamId);
    if (it != m_entries.cend())
        return *it;
    UpstreamHealth h;
    h.upstreamId = upstreamId;
    return h;
}

std::vector<UpstreamHealth> HealthTracker::snapshot() const
{
    std::vector<UpstreamHealth> all;
    {
        const std::lock_guard lock(m_mutex);
        all.reserve(size_t(m_entries.size()));
        for (const UpstreamHealth &h : m_entries)
            all.push_back(h);
    }
    std::sort(all.begin(), all.end(),
              [](const UpstreamHealth &a, const UpstreamHealth &b) { return a.upstreamId < b.upstreamId; });
    return all;
}

void HealthTracker::retainOnly(const std::vector<qint64> &ids)
{
    const std::lock_guard lock(m_mutex);
    for (auto it = m_entries.begin(); it != m_entries.end();) {
        if (std::find(ids.begin(), ids.end(), it.key()) == ids.end()) {
            if (it->state != HealthState::Healthy)
                m_notHealthy.fetch_sub(1, std::memory_order_relaxed);
            it = m_entries.erase(it);
        } else {
            ++it;
        }
    }
}

} // namespace llmpool::gateway
