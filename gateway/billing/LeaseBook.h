#pragma once

// LeaseBook: one event-loop thread's leases — reservations (SPEC §5) made for many requests at a
// time, so that a busy key's requests are admitted without a Redis round trip each.
//
// A key that sends busyAfter requests within a second on this thread gets a lease: one `admit`
// of requestsPerLease times the request's amount, under an id of its own ("L<instance>.<n>"), in
// Redis like any reservation — other instances see it as reserved, the user's available amount and
// the key's spending cap cover it, a dead gateway's lease expires like its reservations. Requests
// then take their amount from it here: admitted while the amounts in flight fit in what is left.
// Each request's `finish` names the lease and takes the request's real cost off it, in Redis (the
// script) and here, so money its requests spent is counted once (pending), never also as leased.
// A lease that does not fit the next request, is older than lifeMs or idle for idleMs is closed (no
// new requests) and released — what is left of it goes back to the user — once its requests are
// finished. A key for which Redis refuses a lease (a balance or cap that does not cover it) is
// admitted per request, as without leases, for a second before it asks again.
//
// Plain bookkeeping, no I/O and no clock of its own: the caller (BillingService) runs the scripts
// and passes the time; tests drive it directly. Not thread-safe: one per event-loop thread.

#include "Money.h"

#include <QByteArray>
#include <QHash>
#include <QList>

#include <memory>
#include <utility>

namespace llmpool::gateway::billing {

class LeaseBook
{
public:
    struct Settings
    {
        int busyAfter = 8; // requests of a key within windowMs that make it worth a lease
        qint64 windowMs = 1'000;
        int requestsPerLease = 32;       // a lease's amount: this many times the amount of the request opening it,
        int maxRequestsPerLease = 1'024; // or twice the requests in flight on the lease before, up to this
        qint64 lifeMs = 30'000;          // admits requests this long after it opened, at most
        qint64 idleMs = 1'000;           // closed when no request took from it for this long
        qint64 refusedMs = 1'000;        // after a refused lease: per-request admission this long
        qint64 answerMs = 10'000;        // a lease asked for and neither opened() nor refused() by then: asked again
    };

    struct Release
    {
        qint64 userId = 0;
        QByteArray leaseId;
    };

    enum class Take {
        Taken, // admitted against a lease (`leaseId`): nothing to ask Redis
        Open,  // no lease fits, and the key is busy: open one (then opened() or refused())
        None,  // admit this request on its own
    };

    explicit LeaseBook(Settings settings);
    LeaseBook() : LeaseBook(Settings{}) {}

    const Settings &settings() const { return m_settings; }

    Take take(const QByteArray &requestId, qint64 userId, qint64 keyId, Money amount, qint64 nowMs);
    // After Take::Open: how many times the request's amount to ask for (requestsPerLease, more if
    // the key's last lease was too small for the requests it had in flight).
    int leaseRequests(qint64 userId, qint64 keyId) const;
    // The lease asked for after Take::Open is granted (`amount`, in Redis under `leaseId`); takes
    // `requestId`'s `requestAmount` from it (true) unless it does not fit (then admit it on its own).
    bool opened(qint64 userId, qint64 keyId, QByteArray leaseId, Money amount, const QByteArray &requestId,
                Money requestAmount, qint64 nowMs);
    // ...or refused (or unanswered): no lease for this key for a while.
    void refused(qint64 userId, qint64 keyId, qint64 nowMs);
    // A request that was Taken but will not run (its requester gave up): its amount is free again.
    void untake(const QByteArray &requestId);
    // A request's usage event, with its real cost: the lease it was admitted against (empty if
    // none), with the cost taken off it.
    QByteArray finished(const QByteArray &requestId, Money cost);
    // Closes leases that are idle or too old (call every few hundred ms while hasLeases()); a lease
    // asked for more than answerMs ago and neither opened() nor refused() is given up on.
    void expire(qint64 nowMs);
    // Leases closed with no request in flight: to release in Redis now (each returned once).
    QList<Release> takeReleases() { return std::exchange(m_releases, {}); }
    bool hasReleases() const { return !m_releases.isEmpty(); }
    bool hasLeases() const { return !m_slots.isEmpty() || !m_requests.isEmpty(); }

    // For tests and status: what the lease of a key still has room for (zero if none).
    Money room(qint64 userId, qint64 keyId) const;

private:
    struct Lease
    {
        QByteArray id;
        qint64 userId = 0;
        Money left;     // what the lease holds in Redis, after the costs taken off it
        Money inFlight; // amounts of its requests not finished yet
        int requests = 0;
        qint64 openedMs = 0;
        qint64 lastUseMs = 0;
        bool closed = false;
        bool released = false; // handed to takeReleases()
    };
    struct Slot
    {
        std::shared_ptr<Lease> current;
        qint64 windowStartMs = 0;
        int seen = 0;
        bool opening = false;
        qint64 openingSinceMs = 0;
        int nextRequests = 0; // the next lease's size in requests (0: requestsPerLease)
        qint64 refusedUntilMs = 0;
    };
    struct Held
    {
        std::shared_ptr<Lease> lease;
        Money amount;
    };
    using SlotKey = std::pair<qint64, qint64>; // user, key

    bool takeFrom(Slot &slot, const QByteArray &requestId, Money amount, qint64 nowMs);
    void close(Slot &slot);
    void closeIfIdle(const std::shared_ptr<Lease> &lease);

    Settings m_settings;
    QHash<SlotKey, Slot> m_slots;
    QHash<QByteArray, Held> m_requests;
    QList<Release> m_releases;
};

} // namespace llmpool::gateway::billing
