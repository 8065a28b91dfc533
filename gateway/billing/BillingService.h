#pragma once

// BillingService: the data plane's side of billing (SPEC §5).
//   - Admission: reserve() runs the `admit` script on the calling thread's Redis connection; a
//     wallet Redis does not hold yet is read from PostgreSQL and stored first (`sync`). A busy
//     key's requests are admitted against a lease instead (LeaseBook): one `admit` for 32
//     requests' worth, then none per request.
//   - Usage: record() journals the event in the local spool (UsageSpool, one write(2)) — which is
//     when the response may end — and runs the `finish` script: release the reservation, append
//     the event to the `llmpool:usage` stream, hold its cost as pending, in one atomic step (one
//     call for all the events a thread recorded in one pass of its loop, sent before any later
//     admission on that thread). An event Redis cannot take stays in the journal and a background
//     thread replays it later.
// The worker (UsageWorker) turns stream entries into usage rows and ledger charges.
//
// Threads: reserve() and record() are called on event-loop threads and never block them (Redis
// and PostgreSQL calls are asynchronous; a spool append is one write(2)). The spool keeper runs
// on its own thread.

#include "Config.h"
#include "billing/LeaseBook.h"
#include "usage/Admission.h"
#include "usage/UsageEvent.h"

#include <QObject>

#include <atomic>
#include <memory>

class QThread;

namespace llmpool::gateway {

class Database;
class RedisPool;

namespace billing {

class UsageSpool;
class SpoolKeeper;
class LeaseRegistry;
class ThreadLeases;

struct BillingCounters
{
    std::atomic<qint64> reservations{0};  // admitted with a reservation
    std::atomic<qint64> leased{0};        // admitted against a lease (no Redis call of their own)
    std::atomic<qint64> leases{0};        // leases granted
    std::atomic<qint64> refused{0};       // 402
    std::atomic<qint64> unavailable{0};   // 503: Redis or PostgreSQL unreachable at admission
    std::atomic<qint64> releasedLate{0};  // reservations granted after their request gave up, taken back
    std::atomic<qint64> recorded{0};      // events queued on the stream directly
    std::atomic<qint64> spooled{0};       // events Redis did not take, left in the spool for replay
    std::atomic<qint64> replayed{0};      // spooled events later put on the stream
    std::atomic<qint64> estimated{0};     // events whose usage was estimated
    std::atomic<qint64> lost{0};          // neither stream nor spool took it (logged loudly)
};

class BillingService : public UsageSink, public Admission
{
public:
    BillingService(const Config &config, Database *database, RedisPool *redis);
    ~BillingService() override;

    // Opens the spool and starts its keeper thread (which also replays what earlier runs left).
    Status start();
    void stop();

    void reserve(const AdmissionRequest &request, QObject *context, std::function<void(Status)> done) override;
    void record(UsageEvent event, QObject *context, std::function<void()> durable) override;

    const BillingCounters &counters() const { return m_counters; }
    // How leases are sized and kept ([billing] reservation_lease); tests shorten them. Set before
    // the first request.
    void setLeaseSettings(const LeaseBook::Settings &settings) { m_leaseSettings = settings; }
    // How long a reservation lives if its request never finishes (a crashed gateway).
    qint64 reservationTtlMs() const { return m_reservationTtlMs; }

private:
    // `done` delivers the verdict and says whether the request still wanted it (false: the
    // deadline answered first, or the requester is gone).
    using Verdict = std::function<bool(Status)>;
    friend class ThreadLeases;
    void admit(const AdmissionRequest &request, QObject *context, Verdict done, int attempt);
    void openLease(const AdmissionRequest &request, QObject *context, Verdict done);
    void loadWallet(const AdmissionRequest &request, QObject *context, Verdict done, int attempt);
    void releaseUnused(const AdmissionRequest &request);
    void spool(const QByteArray &json, const QByteArray &requestId);

    Config m_config;
    Database *m_database;
    RedisPool *m_redis;
    qint64 m_reservationTtlMs;
    std::unique_ptr<UsageSpool> m_spool;
    QThread *m_keeperThread = nullptr;
    SpoolKeeper *m_keeper = nullptr;
    BillingCounters m_counters;
    LeaseBook::Settings m_leaseSettings;
    QByteArray m_leasePrefix; // "L<random instance id>."
    bool m_leasing;           // [billing] reservation and reservation_lease
    std::atomic<quint64> m_leaseSeq{0};
    std::shared_ptr<LeaseRegistry> m_leaseRegistry;
};

} // namespace billing
} // namespace llmpool::gateway
