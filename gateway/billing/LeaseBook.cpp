#include "billing/LeaseBook.h"

#include <algorithm>

namespace llmpool::gateway::billing {

namespace {

// Amounts here are sums of reservations that Redis accepted: far from Money's limits.
Money minus(Money a, Money b)
{
    auto r = a.sub(b);
    return r ? *r : Money::zero();
}

} // namespace

LeaseBook::LeaseBook(Settings settings) : m_settings(settings) {}

LeaseBook::Take LeaseBook::take(const QByteArray &requestId, qint64 userId, qint64 keyId, Money amount, qint64 nowMs)
{
    Slot &slot = m_slots[SlotKey{userId, keyId}];
    if (nowMs - slot.windowStartMs >= m_settings.windowMs) {
        slot.windowStartMs = nowMs;
        slot.seen = 0;
    }
    ++slot.seen;
    bool busy = slot.seen >= m_settings.busyAfter;
    if (slot.current) {
        if (nowMs - slot.current->openedMs < m_settings.lifeMs && takeFrom(slot, requestId, amount, nowMs)) {
            return Take::Taken;
        }
        // Too old, or used up for a request this size: the next one is opened afresh, with room for
        // twice the requests this one had in flight.
        slot.nextRequests = int(std::clamp<qint64>(2 * (qint64(slot.current->requests) + 1),
                                                   m_settings.requestsPerLease, m_settings.maxRequestsPerLease));
        close(slot);
        busy = true;
    }
    if (!busy || slot.opening || nowMs < slot.refusedUntilMs || amount <= Money::zero()) {
        return Take::None;
    }
    slot.opening = true;
    slot.openingSinceMs = nowMs;
    return Take::Open;
}

bool LeaseBook::opened(qint64 userId, qint64 keyId, QByteArray leaseId, Money amount, const QByteArray &requestId,
                       Money requestAmount, qint64 nowMs)
{
    Slot &slot = m_slots[SlotKey{userId, keyId}];
    slot.opening = false;
    if (slot.current) {
        close(slot); // (opened meanwhile another way: cannot happen while `opening`, kept safe)
    }
    auto lease = std::make_shared<Lease>();
    lease->id = std::move(leaseId);
    lease->userId = userId;
    lease->left = amount;
    lease->openedMs = nowMs;
    lease->lastUseMs = nowMs;
    slot.current = std::move(lease);
    return takeFrom(slot, requestId, requestAmount, nowMs);
}

int LeaseBook::leaseRequests(qint64 userId, qint64 keyId) const
{
    auto it = m_slots.constFind(SlotKey{userId, keyId});
    return it == m_slots.cend() || it->nextRequests == 0 ? m_settings.requestsPerLease : it->nextRequests;
}

void LeaseBook::refused(qint64 userId, qint64 keyId, qint64 nowMs)
{
    Slot &slot = m_slots[SlotKey{userId, keyId}];
    slot.opening = false;
    slot.nextRequests = 0; // (a smaller one may be granted next time)
    slot.refusedUntilMs = nowMs + m_settings.refusedMs;
}

bool LeaseBook::takeFrom(Slot &slot, const QByteArray &requestId, Money amount, qint64 nowMs)
{
    Lease &lease = *slot.current;
    auto after = lease.inFlight.add(amount);
    if (!after || *after > lease.left || m_requests.contains(requestId)) {
        return false;
    }
    lease.inFlight = *after;
    ++lease.requests;
    lease.lastUseMs = nowMs;
    m_requests.insert(requestId, Held{slot.current, amount});
    return true;
}

void LeaseBook::untake(const QByteArray &requestId)
{
    auto it = m_requests.find(requestId);
    if (it == m_requests.end()) {
        return;
    }
    Held held = std::move(*it);
    m_requests.erase(it);
    Lease &lease = *held.lease;
    lease.inFlight = minus(lease.inFlight, held.amount);
    --lease.requests;
    closeIfIdle(held.lease);
}

QByteArray LeaseBook::finished(const QByteArray &requestId, Money cost)
{
    auto it = m_requests.find(requestId);
    if (it == m_requests.end()) {
        return {};
    }
    Held held = std::move(*it);
    m_requests.erase(it);
    Lease &lease = *held.lease;
    lease.inFlight = minus(lease.inFlight, held.amount);
    --lease.requests;
    // As the `finish` script does: the cost comes off the lease, which never goes below zero.
    const Money taken = cost <= Money::zero() ? Money::zero() : std::min(cost, lease.left);
    lease.left = minus(lease.left, taken);
    closeIfIdle(held.lease);
    return lease.id;
}

void LeaseBook::expire(qint64 nowMs)
{
    for (auto it = m_slots.begin(); it != m_slots.end();) {
        Slot &slot = *it;
        if (slot.opening && nowMs - slot.openingSinceMs >= m_settings.answerMs) {
            slot.opening = false; // its answer is lost: a late one still finds the slot (opened())
        }
        if (slot.current && (nowMs - slot.current->lastUseMs >= m_settings.idleMs ||
                             nowMs - slot.current->openedMs >= m_settings.lifeMs)) {
            close(slot);
        }
        // A key quiet for a window, with no lease and none being opened: forget it.
        if (!slot.current && !slot.opening && nowMs - slot.windowStartMs >= 2 * m_settings.windowMs &&
            nowMs >= slot.refusedUntilMs) {
            it = m_slots.erase(it);
        } else {
            ++it;
        }
    }
}

void LeaseBook::close(Slot &slot)
{
    std::shared_ptr<Lease> lease = std::exchange(slot.current, {});
    lease->closed = true;
    closeIfIdle(lease);
}

void LeaseBook::closeIfIdle(const std::shared_ptr<Lease> &lease)
{
    if (lease->closed && lease->requests == 0 && !lease->released) {
        lease->released = true;
        m_releases.append(Release{lease->userId, lease->id});
    }
}

Money LeaseBook::room(qint64 userId, qint64 keyId) const
{
    auto it = m_slots.constFind(SlotKey{userId, keyId});
    if (it == m_slots.cend() || !it->current) {
        return Money::zero();
    }
    return minus(it->current->left, it->current->inFlight);
}

} // namespace llmpool::gateway::billing
