#include "billing/BillingService.h"

#include "Clock.h"
#include "Log.h"
#include "billing/BillingRedis.h"
#include "billing/BillingScripts.h"
#include "billing/DeadlineQueue.h"
#include "billing/UsageSpool.h"
#include "storage/Database.h"
#include "storage/RedisClient.h"
#include "storage/RedisPool.h"
#include "storage/RedisSyncClient.h"
#include "storage/BillingRepository.h"
#include "usage/UsageEventJson.h"

#include <QMutex>
#include <QPointer>
#include <QRandomGenerator>
#include <QSet>
#include <QThread>
#include <QTimer>

#include <algorithm>
#include <vector>

namespace llmpool::gateway::billing {

namespace {

constexpr int kSpoolSyncMs = 20;    // the spool's fdatasync batch window
constexpr int kReplayEveryMs = 1'000;
constexpr int kRedisDeadlineMs = 2'000; // longest wait for an admission or usage script's answer

// One warning per few seconds for a failure that hits every request alike (Redis down).
bool shouldWarn()
{
    static std::atomic<qint64> last{0};
    const qint64 now = Clock::instance().nowMSecs();
    qint64 prev = last.load(std::memory_order_relaxed);
    return now - prev >= 5'000 && last.compare_exchange_strong(prev, now);
}

// A deadline that is cancelled as soon as the answer comes (disarm): this thread's queue of
// kRedisDeadlineMs deadlines, not a QTimer per wait (see DeadlineQueue).
DeadlineQueue::Id armDeadline(QObject *context, std::function<void()> onTimeout)
{
    return DeadlineQueue::forThread(kRedisDeadlineMs).arm(context, std::move(onTimeout));
}

void disarm(DeadlineQueue::Id &id)
{
    if (id != 0) {
        DeadlineQueue::forThread(kRedisDeadlineMs).cancel(std::exchange(id, 0));
    }
}

Error billingUnavailable(const QString &why)
{
    return Error::unavailable(QStringLiteral("billing_unavailable"),
                              QStringLiteral("Billing is temporarily unavailable (%1); the request was not "
                                             "sent. Retry shortly.")
                                  .arg(why));
}

Error insufficientBalance(Money amount, const QByteArray &available)
{
    auto avail = moneyFromNanosText(available);
    return Error{QStringLiteral("insufficient_quota"), QStringLiteral("insufficient_balance"), 402,
                 QStringLiteral("Your balance does not cover this request: it may cost up to %1 and %2 is available. "
                                "Add funds, or lower max_tokens.")
                     .arg(amount.toTrimmedString(), avail ? avail->toTrimmedString() : QStringLiteral("less")),
                 {}};
}

Error keyCapReached(Money amount, const QByteArray &room)
{
    auto left = moneyFromNanosText(room);
    return Error{QStringLiteral("insufficient_quota"), QStringLiteral("key_spend_limit_reached"), 402,
                 QStringLiteral("This API key's spending limit does not cover this request: it may cost up to %1 and "
                                "%2 of the limit is left.")
                     .arg(amount.toTrimmedString(), left ? left->toTrimmedString() : QStringLiteral("less")),
                 {}};
}

constexpr int kFinishBatchMax = 64; // events per `finish` call (each ~10 µs of Redis time)
constexpr int kFinishDelayMs = 2;   // events wait this long for others to go with them
constexpr int kLeaseCheckMs = 250;  // how often idle and old leases are looked for
constexpr qint64 kKeptLeaseQuietMs = 3'000; // see ThreadLeases::keep()

} // namespace

// The leases this process holds in Redis, on any thread: stop() gives back those still held.
class LeaseRegistry
{
public:
    void add(const QByteArray &id, qint64 userId)
    {
        QMutexLocker lock(&m_mutex);
        m_live.insert(id, userId);
    }
    void remove(const QByteArray &id)
    {
        QMutexLocker lock(&m_mutex);
        m_live.remove(id);
    }
    // The service stopped: the per-thread parts that outlive it (on a thread still running) do
    // nothing more with leases.
    QHash<QByteArray, qint64> stop()
    {
        QMutexLocker lock(&m_mutex);
        m_stopped.store(true, std::memory_order_relaxed);
        return std::exchange(m_live, {});
    }
    bool stopped() const { return m_stopped.load(std::memory_order_relaxed); } // (on every request)

private:
    QMutex m_mutex;
    QHash<QByteArray, qint64> m_live;
    std::atomic<bool> m_stopped{false};
};

namespace {

// The `finish` calls of one event-loop thread. Events recorded within kFinishDelayMs go to Redis
// together, as one script call (at most kFinishBatchMax events; sent at once when that many wait):
// one script run for all of them, each user's totals read and written once — 40% less Redis time
// per event than a call each at 16 events per call, and at one connection no Redis work between
// most requests. Admission on this thread sends what is queued first (send()), so a client's next
// request is still admitted after its previous one finished, as before. A child of the thread's
// RedisClient: it ends with the thread (events not sent by then stay in the journal and are
// replayed; the leases they name are then left to expire rather than given back at stop, so that
// their costs are never free before they are pending).
class FinishQueue : public QObject
{
public:
    struct Item
    {
        qint64 userId = 0;
        QByteArray requestId, cost, keyId, json, lease;
        std::function<void(bool)> settle; // true: Redis took the event
    };

    // (One per service and thread, matched by the service's registry: a registry lives as long as
    // anything that refers to it, so another service never picks up a stopped one's queue.)
    static FinishQueue *of(RedisClient *redis, const std::shared_ptr<LeaseRegistry> &leases)
    {
        for (QObject *child : redis->children()) {
            if (auto *queue = dynamic_cast<FinishQueue *>(child); queue && queue->m_leases == leases) {
                return queue;
            }
        }
        return new FinishQueue(redis, leases);
    }

    ~FinishQueue() override
    {
        for (const Item &item : m_items) {
            if (!item.lease.isEmpty()) {
                m_leases->remove(item.lease); // (see above)
            }
        }
    }

    void add(Item item)
    {
        m_items.push_back(std::move(item));
        if (m_items.size() >= size_t(kFinishBatchMax)) {
            send();
        } else if (!m_timer.isActive()) {
            m_timer.start();
        }
    }

    // Sends every queued event now (written to Redis when this pass ends).
    void send()
    {
        m_timer.stop();
        if (m_items.empty()) {
            return;
        }
        if (!m_redis->isConnected() && m_redis->state() == RedisClient::State::Connecting) {
            // This thread's connection is still starting: wait for it rather than spool needlessly.
            whenConnected(m_redis, this, [this](bool) { send(); });
            return;
        }
        std::vector<Item> items = std::exchange(m_items, {});
        for (size_t from = 0; from < items.size(); from += kFinishBatchMax) {
            const size_t to = std::min(items.size(), from + kFinishBatchMax);
            FinishBatch batch;
            std::vector<std::function<void(bool)>> settles;
            settles.reserve(to - from);
            for (size_t i = from; i < to; ++i) {
                Item &item = items[i];
                batch.add(item.userId, std::move(item.requestId), std::move(item.cost), std::move(item.keyId),
                          std::move(item.json), std::move(item.lease));
                settles.push_back(std::move(item.settle));
            }
            // Awaited with the connection as context, not a request's object: requests may be gone.
            runScript(m_redis, finishScript(), batch.keys(), batch.args(), m_redis,
                      [settles = std::move(settles)](Result<RedisReply> reply) {
                          for (const auto &settle : settles) {
                              settle(reply.ok());
                          }
                      });
        }
    }

private:
    FinishQueue(RedisClient *redis, std::shared_ptr<LeaseRegistry> leases)
        : QObject(redis), m_redis(redis), m_leases(std::move(leases))
    {
        m_timer.setSingleShot(true);
        m_timer.setTimerType(Qt::PreciseTimer);
        m_timer.setInterval(kFinishDelayMs);
        connect(&m_timer, &QTimer::timeout, this, [this] { send(); });
    }

    RedisClient *m_redis;
    std::shared_ptr<LeaseRegistry> m_leases;
    std::vector<Item> m_items;
    QTimer m_timer;
};

} // namespace

// One event-loop thread's leases (LeaseBook) and the timer that closes idle ones. A child of the
// thread's RedisClient, like FinishQueue. The event-loop threads end before the service stops (the
// Gateway's order); should a thread outlive it (tests on the main thread), this stops at once.
class ThreadLeases : public QObject
{
public:
    static ThreadLeases *of(RedisClient *redis, BillingService *service)
    {
        for (QObject *child : redis->children()) {
            if (auto *leases = dynamic_cast<ThreadLeases *>(child);
                leases && leases->m_registry == service->m_leaseRegistry) {
                return leases;
            }
        }
        return new ThreadLeases(redis, service);
    }

    LeaseBook book;

    // After a change to the book: releases what it closed, keeps the timer running while needed.
    void changed()
    {
        if (m_registry->stopped()) {
            m_timer.stop();
            return;
        }
        if (book.hasReleases()) {
            for (const LeaseBook::Release &lease : book.takeReleases()) {
                release(lease);
            }
        }
        if (!book.hasLeases() && m_retry.isEmpty()) {
            m_timer.stop();
        } else if (!m_timer.isActive()) {
            m_timer.start();
        }
    }

    // A lease one of whose events went to the spool: that cost reaches Redis only with the replay
    // (which does not name the lease), so the lease is given back only kKeptLeaseQuietMs after the
    // last failure or reconnection seen here — the spool keeper replays every second — and never
    // at stop (it expires): its cost stays reserved until it is pending.
    void keep(const QByteArray &lease)
    {
        m_keep.insert(lease);
        m_troubleMs = Clock::instance().nowMSecs();
        m_registry->remove(lease);
    }

private:
    ThreadLeases(RedisClient *redis, BillingService *service)
        : QObject(redis), book(service->m_leaseSettings), m_redis(redis), m_registry(service->m_leaseRegistry)
    {
        // (Re)connected or lost: kept leases wait kKeptLeaseQuietMs from here (keep()).
        const auto trouble = [this] { m_troubleMs = Clock::instance().nowMSecs(); };
        connect(redis, &RedisClient::connected, this, trouble);
        connect(redis, &RedisClient::disconnected, this, trouble);
        m_timer.setInterval(kLeaseCheckMs);
        connect(&m_timer, &QTimer::timeout, this, [this] {
            book.expire(Clock::instance().nowMSecs());
            for (const LeaseBook::Release &lease : std::exchange(m_retry, {})) {
                release(lease);
            }
            changed();
        });
    }

    // Gives back what is left of a lease. A release that fails (Redis away) is tried again on the
    // next tick, so a lease never outlives an outage by more than that (stop() tries once more).
    void release(const LeaseBook::Release &lease)
    {
        if (m_keep.contains(lease.leaseId)) {
            if (Clock::instance().nowMSecs() - m_troubleMs < kKeptLeaseQuietMs) {
                m_retry.append(lease); // (the timer runs while there are retries)
                return;
            }
            m_keep.remove(lease.leaseId);
        }
        // The costs its requests finished with go first (the same connection keeps the order):
        // never a moment where they are neither reserved nor pending.
        FinishQueue::of(m_redis, m_registry)->send();
        const UserKeys k = UserKeys::of(lease.userId);
        runScript(m_redis, releaseScript(), {k.reservations, k.totals}, {lease.leaseId}, this,
                  [this, lease](Result<RedisReply> reply) {
                      if (!reply) {
                          if (shouldWarn()) {
                              qCWarning(lcUsage).noquote() << "lease" << lease.leaseId
                                                           << "not released yet:" << reply.error().message;
                          }
                          m_troubleMs = Clock::instance().nowMSecs();
                          m_retry.append(lease);
                          changed();
                          return;
                      }
                      m_registry->remove(lease.leaseId);
                  });
    }

    RedisClient *m_redis;
    std::shared_ptr<LeaseRegistry> m_registry;
    QList<LeaseBook::Release> m_retry;
    QSet<QByteArray> m_keep; // leases with events in the spool (keep())
    qint64 m_troubleMs = 0;  // when Redis last failed an event or release, or (re)connected
    QTimer m_timer;
};

// Keeps the spool on disk (fdatasync in small batches) and replays spooled events into Redis.
// Lives on its own thread; the blocking Redis connection is used on that thread only.
class SpoolKeeper : public QObject
{
public:
    SpoolKeeper(UsageSpool *spool, QString redisUrl, BillingCounters *counters)
        : m_spool(spool), m_redisUrl(std::move(redisUrl)), m_counters(counters)
    {
    }

    void begin()
    {
        m_syncTimer = new QTimer(this);
        m_syncTimer->setTimerType(Qt::PreciseTimer);
        connect(m_syncTimer, &QTimer::timeout, this, [this] { m_spool->sync(); });
        m_syncTimer->start(kSpoolSyncMs);
        m_replayTimer = new QTimer(this);
        connect(m_replayTimer, &QTimer::timeout, this, [this] { replay(); });
        m_replayTimer->start(kReplayEveryMs);
        replay(); // what an earlier run left behind
    }

    void end()
    {
        delete m_syncTimer;
        delete m_replayTimer;
        m_syncTimer = m_replayTimer = nullptr;
        m_spool->sync();
        m_redis.reset();
    }

private:
    void replay()
    {
        m_spool->rotate(); // (nothing to do if the current segment is empty)
        const QStringList files = m_spool->replayableFiles();
        if (files.isEmpty()) {
            return;
        }
        if (!m_redis) {
            m_redis = std::make_unique<RedisSyncClient>(m_redisUrl, 2'000);
        }
        for (const QString &path : files) {
            // kFinishBatchMax events per `finish` call: a backlog left by an outage drains in
            // few round trips.
            auto replayed = UsageSpool::replayFile(path, kFinishBatchMax, [this](const QList<QByteArrayView> &lines) -> Status {
                FinishBatch batch;
                for (QByteArrayView line : lines) {
                    auto header = UsageEventJson::header(line);
                    if (!header) {
                        qCWarning(lcUsage).noquote() << "usage spool: skipping an unreadable event:" << header.error().message;
                        continue;
                    }
                    batch.add(header->userId, header->requestId, header->cost.nanosText(),
                              QByteArray::number(header->keyId), line.toByteArray());
                }
                if (batch.size() == 0) {
                    return Ok{};
                }
                auto reply = runScriptSync(*m_redis, finishScript(), batch.keys(), batch.args());
                if (!reply) {
                    return reply.error();
                }
                return Ok{};
            });
            if (!replayed) {
                if (!m_warned) {
                    qCWarning(lcUsage).noquote() << "usage spool: replay waits for Redis:" << replayed.error().message;
                    m_warned = true;
                }
                return;
            }
            m_warned = false;
            if (*replayed > 0) {
                m_counters->replayed.fetch_add(*replayed, std::memory_order_relaxed);
                qCInfo(lcUsage).noquote() << "usage spool: replayed" << *replayed << "events from" << path;
            }
        }
    }

    UsageSpool *m_spool;
    QString m_redisUrl;
    BillingCounters *m_counters;
    std::unique_ptr<RedisSyncClient> m_redis;
    QTimer *m_syncTimer = nullptr;
    QTimer *m_replayTimer = nullptr;
    bool m_warned = false;
};

BillingService::BillingService(const Config &config, Database *database, RedisPool *redis)
    : m_config(config), m_database(database), m_redis(redis),
      // A request lives at most the upstream's total timeout (times the attempts) plus the time
      // to read its body; a reservation outliving that belongs to a gateway that died.
      m_reservationTtlMs(qint64(config.upstream.totalTimeoutMs) * qMax(1, config.upstream.maxAttempts) + 60'000),
      m_spool(std::make_unique<UsageSpool>(config.billing.spoolDir)),
      m_leasePrefix("L" + QByteArray::number(QRandomGenerator::system()->generate64(), 16) + "."),
      m_leasing(config.billing.reservation && config.billing.reservationLease),
      m_leaseRegistry(std::make_shared<LeaseRegistry>())
{
}

BillingService::~BillingService()
{
    stop();
}

Status BillingService::start()
{
    if (auto opened = m_spool->open(); !opened) {
        return opened;
    }
    m_keeperThread = new QThread;
    m_keeperThread->setObjectName(QStringLiteral("usage-spool"));
    m_keeper = new SpoolKeeper(m_spool.get(), m_config.redis.url, &m_counters);
    m_keeper->moveToThread(m_keeperThread);
    m_keeperThread->start();
    QMetaObject::invokeMethod(m_keeper, [keeper = m_keeper] { keeper->begin(); });
    return Ok{};
}

void BillingService::stop()
{
    if (m_keeperThread) {
        QMetaObject::invokeMethod(m_keeper, [keeper = m_keeper] { keeper->end(); }, Qt::BlockingQueuedConnection);
        m_keeperThread->quit();
        m_keeperThread->wait();
        delete m_keeper;
        delete m_keeperThread;
        m_keeper = nullptr;
        m_keeperThread = nullptr;
        m_spool->sync();
    }
    // Leases still held (the event-loop threads have ended): what is left of them goes back now
    // rather than when they expire. Those named by events not yet in Redis are not in the registry
    // (FinishQueue), so they keep their amounts until they expire.
    const QHash<QByteArray, qint64> leases = m_leaseRegistry->stop();
    if (!leases.isEmpty()) {
        RedisSyncClient redis(m_config.redis.url, kRedisDeadlineMs);
        int released = 0;
        for (auto it = leases.cbegin(); it != leases.cend(); ++it) {
            const UserKeys k = UserKeys::of(it.value());
            if (!runScriptSync(redis, releaseScript(), {k.reservations, k.totals}, {it.key()})) {
                break; // Redis is away: the rest expire
            }
            ++released;
        }
        qCInfo(lcUsage).noquote() << "released" << released << "of" << leases.size() << "leases";
    }
}

void BillingService::reserve(const AdmissionRequest &request, QObject *context, std::function<void(Status)> doneOnce)
{
    RedisClient *redis = m_redis->local();
    LeaseBook::Take lease = LeaseBook::Take::None;
    if (m_leasing) {
        ThreadLeases *leases = ThreadLeases::of(redis, this);
        lease = leases->book.take(request.requestId, request.userId, request.keyId, request.amount,
                                  Clock::instance().nowMSecs());
        if (lease == LeaseBook::Take::Taken) {
            m_counters.leased.fetch_add(1, std::memory_order_relaxed);
            leases->changed();
            doneOnce(Ok{});
            return;
        }
    }
    // One answer, whichever comes first: the scripts' verdict or the deadline (a silent Redis must
    // not hold requests forever). A reservation granted after the deadline, or after the request
    // went away, is taken back at once (releaseUnused).
    struct Answer
    {
        std::function<void(Status)> done;
        QPointer<QObject> requester;
        bool guarded = false;
        DeadlineQueue::Id deadline = 0;
    };
    auto answer = std::make_shared<Answer>();
    answer->done = std::move(doneOnce);
    answer->requester = context;
    answer->guarded = context != nullptr;
    Verdict done = [answer](Status s) {
        if (!answer->done || (answer->guarded && !answer->requester)) {
            return false;
        }
        disarm(answer->deadline);
        std::exchange(answer->done, {})(std::move(s));
        return true;
    };
    answer->deadline = armDeadline(context, [this, done, requestId = request.requestId] {
        m_counters.unavailable.fetch_add(1, std::memory_order_relaxed);
        if (shouldWarn()) {
            qCWarning(lcUsage).noquote() << requestId << "admission: no answer within" << kRedisDeadlineMs << "ms";
        }
        done(billingUnavailable(QStringLiteral("no answer in time")));
    });
    auto go = [this, request, context, lease](Verdict done) {
        if (lease == LeaseBook::Take::Open) {
            openLease(request, context, std::move(done));
        } else {
            admit(request, context, std::move(done), 0);
        }
    };
    if (redis->isConnected()) {
        go(std::move(done));
        return;
    }
    // This thread's connection may still be starting (clients start on first use).
    whenConnected(redis, context, [go = std::move(go), done = std::move(done)](bool) mutable { go(std::move(done)); });
}

void BillingService::openLease(const AdmissionRequest &request, QObject *context, Verdict done)
{
    RedisClient *redis = m_redis->local();
    AdmissionRequest lease = request;
    lease.requestId = m_leasePrefix + QByteArray::number(m_leaseSeq.fetch_add(1, std::memory_order_relaxed) + 1);
    ThreadLeases *leases = ThreadLeases::of(redis, this);
    auto amount = Money::costForCount(request.amount, leases->book.leaseRequests(request.userId, request.keyId));
    if (!amount) {
        leases->book.refused(request.userId, request.keyId, Clock::instance().nowMSecs());
        admit(request, context, std::move(done), 0);
        return;
    }
    lease.amount = *amount;
    // Asked for with the connection as context: the lease serves the key's later requests even if
    // this one is gone by the answer. This request waits for it (or is admitted on its own if the
    // balance or the key's cap does not cover a lease).
    admit(lease, redis,
          [this, redis, request, lease, context = QPointer<QObject>(context), guarded = context != nullptr,
           done = std::move(done)](Status granted) mutable {
              ThreadLeases *leases = ThreadLeases::of(redis, this);
              const qint64 now = Clock::instance().nowMSecs();
              if (!granted) {
                  leases->book.refused(request.userId, request.keyId, now);
                  if (granted.error().httpStatus == 402 && !(guarded && !context)) {
                      admit(request, context, std::move(done), 0);
                  } else {
                      done(std::move(granted));
                  }
                  return true;
              }
              m_counters.leases.fetch_add(1, std::memory_order_relaxed);
              m_leaseRegistry->add(lease.requestId, lease.userId);
              const bool taken = leases->book.opened(request.userId, request.keyId, lease.requestId, lease.amount,
                                                     request.requestId, request.amount, now);
              if (!taken) {
                  leases->changed();
                  admit(request, context, std::move(done), 0);
                  return true;
              }
              if (done(Ok{})) {
                  m_counters.leased.fetch_add(1, std::memory_order_relaxed);
              } else {
                  leases->book.untake(request.requestId);
              }
              leases->changed();
              return true;
          },
          0);
}

void BillingService::admit(const AdmissionRequest &request, QObject *context, Verdict done, int attempt)
{
    const UserKeys k = UserKeys::of(request.userId);
    const qint64 now = Clock::instance().nowMSecs();
    QList<QByteArray> keys{k.wallet, k.reservations, k.totals, k.keySpend(request.keyId)};
    QList<QByteArray> args{request.requestId,
                           request.amount.nanosText(),
                           QByteArray::number(request.keyId),
                           QByteArray::number(now),
                           QByteArray::number(now + m_reservationTtlMs),
                           request.keySpendLimit ? request.keySpendLimit->nanosText() : QByteArray()};
    // The reply is awaited with the connection as context, not the request's object: a
    // reservation granted after the request went away must still be taken back.
    RedisClient *redis = m_redis->local();
    FinishQueue::of(redis, m_leaseRegistry)->send(); // events finished on this thread go first (see FinishQueue)
    runScript(redis, admitScript(), std::move(keys), std::move(args), redis,
              [this, request, context = QPointer<QObject>(context), guarded = context != nullptr,
               done = std::move(done), attempt](Result<RedisReply> reply) mutable {
                  if (!reply) {
                      m_counters.unavailable.fetch_add(1, std::memory_order_relaxed);
                      if (shouldWarn()) {
                          qCWarning(lcUsage).noquote() << request.requestId << "admission failed (requests are refused "
                                                       << "with 503 until Redis answers):" << reply.error().message;
                      }
                      done(billingUnavailable(QStringLiteral("Redis")));
                      return;
                  }
                  if (!reply->isArray() || reply->elements.size() != 2 || !reply->elements[0].isInteger()) {
                      done(billingUnavailable(QStringLiteral("unexpected admission reply")));
                      return;
                  }
                  const qint64 code = reply->elements[0].integer;
                  const QByteArray &text = reply->elements[1].string;
                  switch (code) {
                  case 1:
                      if (!done(Ok{})) {
                          releaseUnused(request);
                          return;
                      }
                      m_counters.reservations.fetch_add(1, std::memory_order_relaxed);
                      return;
                  case 0:
                      m_counters.refused.fetch_add(1, std::memory_order_relaxed);
                      done(insufficientBalance(request.amount, text));
                      return;
                  case -2:
                      m_counters.refused.fetch_add(1, std::memory_order_relaxed);
                      done(keyCapReached(request.amount, text));
                      return;
                  default:
                      if (attempt >= 2) {
                          done(billingUnavailable(QStringLiteral("wallet state not loadable")));
                          return;
                      }
                      if (guarded && !context) {
                          return; // the request is gone: nothing to load the wallet for
                      }
                      loadWallet(request, context, std::move(done), attempt + 1);
                      return;
                  }
              });
}

void BillingService::loadWallet(const AdmissionRequest &request, QObject *context, Verdict done, int attempt)
{
    const qint64 userId = request.userId;
    const qint64 keyId = request.keyId;
    m_database->run(
        context,
        [userId, keyId](QSqlDatabase &db) -> Result<WalletState> {
            auto snapshot = BillingRepository::admissionState(db, userId, keyId);
            if (!snapshot) {
                return snapshot.error();
            }
            WalletState state;
            state.userId = userId;
            state.balance = snapshot->balance;
            state.version = snapshot->version;
            state.keys.append({keyId, snapshot->keySpent});
            return state;
        },
        [this, request, context, done = std::move(done), attempt](Result<WalletState> state) mutable {
            if (!state) {
                m_counters.unavailable.fetch_add(1, std::memory_order_relaxed);
                if (shouldWarn()) {
                    qCWarning(lcUsage).noquote() << request.requestId << "cannot load the wallet:" << state.error().message;
                }
                done(billingUnavailable(QStringLiteral("database")));
                return;
            }
            syncWallet(m_redis->local(), *state, context,
                       [this, request, context, done = std::move(done), attempt](Status synced) mutable {
                           if (!synced) {
                               m_counters.unavailable.fetch_add(1, std::memory_order_relaxed);
                               done(billingUnavailable(QStringLiteral("Redis")));
                               return;
                           }
                           admit(request, context, std::move(done), attempt);
                       });
        },
        JobRetry::Idempotent);
}

void BillingService::releaseUnused(const AdmissionRequest &request)
{
    m_counters.releasedLate.fetch_add(1, std::memory_order_relaxed);
    const UserKeys k = UserKeys::of(request.userId);
    RedisClient *redis = m_redis->local();
    runScript(redis, releaseScript(), {k.reservations, k.totals}, {request.requestId}, redis,
              [requestId = request.requestId](Result<RedisReply> reply) {
                  // Best effort: if this fails too, the reservation expires with its TTL.
                  if (!reply && shouldWarn()) {
                      qCWarning(lcUsage).noquote() << requestId << "could not release an unused reservation:"
                                                   << reply.error().message;
                  }
              });
}

void BillingService::record(UsageEvent event, QObject *context, std::function<void()> durable)
{
    if (event.usageEstimated) {
        m_counters.estimated.fetch_add(1, std::memory_order_relaxed);
    }
    QByteArray json = UsageEventJson::encode(event);
    // Journaled first: from here on a crash of this process cannot lose the event (the file is
    // replayed), so the response's last bytes need not wait for Redis — one Redis round trip less
    // on every request. If the journal cannot take it (disk full, directory gone), the response
    // waits for Redis's answer instead, as the only copy.
    auto journaled = m_spool->journal(json);
    if (!journaled && shouldWarn()) {
        qCWarning(lcUsage).noquote() << event.requestId << "usage journal unavailable, responses wait for Redis:"
                                     << journaled.error().message;
    }
    struct Pending
    {
        QByteArray json;
        QByteArray requestId;
        UsageSpool::Ticket ticket;
        QPointer<QObject> requester;
        std::function<void()> durable;
        DeadlineQueue::Id deadline = 0;
        bool settled = false;
        QByteArray lease;             // the lease it was admitted against, if any
        QPointer<ThreadLeases> leases;
    };
    auto pending = std::make_shared<Pending>();
    pending->requestId = event.requestId;
    if (journaled) {
        pending->ticket = std::move(*journaled);
    } else {
        pending->json = json;
        pending->requester = context;
        pending->durable = std::move(durable);
    }
    // Whichever comes first settles the event: Redis's answer, or the deadline (a Redis that is
    // connected but silent — frozen, partitioned — must not hold responses' last bytes, nor keep a
    // journal segment open). An event Redis did not take stays in the journal for replay; if Redis
    // answers later as well, the copy on the stream and the replayed one are the same event
    // (idempotent by request id).
    auto settle = [this, pending](bool queued) {
        if (pending->settled) {
            return;
        }
        pending->settled = true;
        disarm(pending->deadline);
        if (queued) {
            m_counters.recorded.fetch_add(1, std::memory_order_relaxed);
        }
        if (pending->ticket) {
            m_spool->settle(pending->ticket, queued);
            if (!queued) {
                m_counters.spooled.fetch_add(1, std::memory_order_relaxed);
            }
        } else if (!queued) {
            spool(pending->json, pending->requestId); // counts it (spooled or lost)
        }
        if (!queued && pending->leases) {
            pending->leases->keep(pending->lease); // (its cost is neither reserved nor pending otherwise)
        }
        if (pending->durable && pending->requester) {
            std::exchange(pending->durable, {})();
        }
    };
    RedisClient *redis = m_redis->local();
    pending->deadline = armDeadline(redis, [this, settle, pending] {
        if (shouldWarn()) {
            qCWarning(lcUsage).noquote() << pending->requestId << "Redis did not answer within" << kRedisDeadlineMs
                                         << "ms: usage events go to the spool";
        }
        settle(false);
    });
    // Sent with the other events of the next few ms (FinishQueue). The client's next request on the same
    // connection is admitted on this thread's Redis connection, after this event's `finish`; one
    // on another connection, landing on another thread at about the same time, could be admitted
    // while this reservation is still held — a refusal only for a balance that covers only one
    // reservation at a time, never an overspend.
    QByteArray lease;
    ThreadLeases *leases = nullptr;
    if (m_leasing) {
        leases = ThreadLeases::of(redis, this);
        lease = leases->book.finished(event.requestId, event.cost);
        if (!lease.isEmpty()) {
            pending->lease = lease;
            pending->leases = leases;
        }
    }
    FinishQueue *queue = FinishQueue::of(redis, m_leaseRegistry);
    queue->add({event.userId, event.requestId, event.cost.nanosText(), QByteArray::number(event.keyId),
                std::move(json), std::move(lease), std::move(settle)});
    if (leases) {
        leases->changed(); // its lease, closed and done, is released after this event (ThreadLeases::release)
    }
    if (!pending->ticket) {
        queue->send(); // not journaled: the response waits for this answer
    }
    if (pending->ticket && durable) {
        durable(); // journaled: nothing to wait for
    }
}

void BillingService::spool(const QByteArray &json, const QByteArray &requestId)
{
    if (auto appended = m_spool->append(json); !appended) {
        m_counters.lost.fetch_add(1, std::memory_order_relaxed);
        qCCritical(lcUsage).noquote() << requestId << "usage event LOST: Redis refused it and the spool failed:"
                                      << appended.error().message;
        return;
    }
    m_counters.spooled.fetch_add(1, std::memory_order_relaxed);
}

} // namespace llmpool::gateway::billing
