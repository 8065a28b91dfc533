#pragma once

// UsageWorker: drains the usage stream into PostgreSQL (SPEC §5). Runs inside `llmpool serve`
// (default) or as `llmpool worker`; any number of workers, in any number of processes, share the
// work through the Redis consumer group `llmpool-workers`.
//
// Each of `concurrency` threads loops:
//   1. every few seconds, XAUTOCLAIM entries another consumer took but left unacknowledged for
//      longer than claim_idle_ms (that worker died);
//   2. its own unacknowledged entries first (after a failure), then new ones (XREADGROUP … >);
//   3. one transaction per batch: llmpool_settle_usage(events) inserts the usage events and charges
//      the ones really inserted (idempotent by request id: a redelivered entry changes nothing);
//   4. tells the admission cache the new wallet states and drops the settled "pending" amounts;
//   5. XACK and XDEL the batch.
// A crash anywhere before 5 redelivers the batch; 3 and 4 are idempotent, so nothing is lost or
// charged twice. An entry that cannot be read, or that PostgreSQL rejects on its own, is moved to
// the `llmpool:usage:dead` stream (logged) instead of blocking the queue.
//
// Threads: blocking Redis (RedisSyncClient) and Database::runSync on the worker's own threads.

#include "Config.h"
#include "Result.h"

#include <QString>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

namespace llmpool::gateway {

class Database;

namespace billing {

struct WorkerCounters
{
    std::atomic<qint64> settled{0};     // events written (or found already written)
    std::atomic<qint64> batches{0};
    std::atomic<qint64> claimed{0};     // taken over from dead consumers
    std::atomic<qint64> deadLettered{0};
    std::atomic<qint64> failures{0};    // batches retried after a Redis / PostgreSQL failure
};

struct WorkerOptions
{
    QString redisUrl;
    int concurrency = 2;
    int batchSize = 200;
    int claimIdleMs = 30'000;
    int blockMs = 1'000; // XREADGROUP BLOCK: also bounds how long stop() waits
    int lingerMs = 50;   // pause after a batch smaller than batchSize (fewer, fuller transactions)
    QString consumerPrefix; // default: <host>-<pid>
    bool maintainPartitions = true; // create next months' usage partitions, drop expired ones
};

class UsageWorker
{
public:
    UsageWorker(WorkerOptions options, Database *database);
    ~UsageWorker();
    UsageWorker(const UsageWorker &) = delete;
    UsageWorker &operator=(const UsageWorker &) = delete;

    static WorkerOptions optionsFrom(const Config &config);

    void start();
    // Finishes the batches in hand and stops; returns within about blockMs.
    void stop();

    const WorkerCounters &counters() const { return m_counters; }

private:
    void run(int index);

    WorkerOptions m_options;
    Database *m_database;
    std::atomic<bool> m_running{false};
    std::vector<std::thread> m_threads;
    WorkerCounters m_counters;
};

} // namespace billing
} // namespace llmpool::gateway
