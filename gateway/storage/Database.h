#pragma once

// Database: the PostgreSQL connection pool. It owns N dedicated database threads, each with one
// QSqlDatabase (QPSQL) connection that is created, used and closed only on that thread (QtSql
// requires it). Jobs wait in ONE shared FIFO queue, so whichever thread is free takes the next
// job; a slow job never holds up a queue of its own.
//
// Threads: a Database object is created, started and stopped on one thread (the main thread in
// practice); run() and ping() may be called from any thread; the work of a job runs on a database
// thread; its `done` callback runs on the thread of the `context` object given to run().
//
// Why this shape: QtSql is synchronous, and nothing may block an event-loop thread (STYLE §1).
//
// Lost connections (PostgreSQL restart, failover, network cut): libpq marks the connection bad;
// the thread notices after the job, closes it and reconnects (immediately, then with a backoff of
// 100 ms doubling to 2 s while the server stays away; meanwhile jobs fail fast with
// "database_unavailable"). Whether the job itself is re-run depends on what the caller declared:
//   - JobRetry::Idempotent: re-run once on the fresh connection. For reads, and for writes that
//     are safe to repeat (ON CONFLICT DO NOTHING, idempotency keys, UPSERTs).
//   - JobRetry::Never (default): never re-run, because the connection may have broken after
//     the server committed but before the reply arrived; the job reports "database_unavailable"
//     and the caller decides (the billing paths retry with their idempotency keys). To keep
//     a restart from failing such jobs needlessly, a connection that sat idle for more than
//     DatabaseOptions::validateIdleMs is checked with a cheap round trip before the job runs, so
//     the job only fails if the connection breaks while the job itself runs.
// A job must finish its own transaction; one it leaves open is rolled back (and logged) so the
// next job on that connection starts clean.
//
// Errors: "database_unavailable" (503) when the server cannot be reached, "database_error" (500)
// for other failures (see SqlErrors). No message contains the URL's password.

#include "Result.h"

#include <QMetaObject>
#include <QObject>
#include <QPointer>
#include <QSqlDatabase>
#include <QString>
#include <QThread>

#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

namespace llmpool::gateway {

struct DatabaseOptions
{
    QString url;                                         // postgres://… (secret inside: never logged as is)
    int poolSize = 4;                                    // database threads = connections
    int connectTimeoutSecs = 5;                          // libpq connect_timeout
    int statementTimeoutMs = 30'000;                     // server-side statement_timeout; 0 = none
    int validateIdleMs = 1'000;                          // see JobRetry::Never above
    int maxQueuedJobs = 10'000;                          // beyond this, run() fails fast with database_unavailable
    QString applicationName = QStringLiteral("llmpool"); // pg_stat_activity.application_name
};

enum class JobRetry {
    Never,      // may have committed: report a lost connection instead of re-running
    Idempotent, // safe to re-run once on a fresh connection
};

namespace detail {

template <class R> struct IsResult : std::false_type
{
};
template <class T> struct IsResult<Result<T>> : std::true_type
{
};

// One unit of work, type-erased. Created on the caller's thread; executed, and completed exactly
// once, on a database thread (or on the stopping thread when the pool shuts down first).
class DatabaseJob
{
public:
    explicit DatabaseJob(JobRetry retry) : m_retry(retry) {}
    virtual ~DatabaseJob() = default;
    DatabaseJob(const DatabaseJob &) = delete;
    DatabaseJob &operator=(const DatabaseJob &) = delete;

    JobRetry retry() const { return m_retry; }
    // Runs the work once; returns its error, or nullptr on success.
    virtual Error *execute(QSqlDatabase &db) = 0;
    // Makes the outcome this error (the work did not run, or its connection broke).
    virtual void fail(Error error) = 0;
    // The current outcome's error, if it is one.
    virtual Error *error() = 0;
    // Hands the outcome over: to the context's thread, or to a runSync() waiter.
    virtual void complete() = 0;

private:
    JobRetry m_retry;
};

template <class R> class TypedDatabaseJob final : public DatabaseJob
{
public:
    TypedDatabaseJob(std::function<R(QSqlDatabase &)> work, std::function<void(R)> deliver, JobRetry retry)
        : DatabaseJob(retry), m_work(std::move(work)), m_deliver(std::move(deliver))
    {
    }

    Error *execute(QSqlDatabase &db) override
    {
        m_outcome.emplace(m_work(db));
        return error();
    }
    void fail(Error e) override { m_outcome.emplace(std::move(e)); }
    Error *error() override
    {
        if (!m_outcome || m_outcome->ok())
            return nullptr;
        return const_cast<Error *>(&m_outcome->error());
    }
    void complete() override
    {
        if (!m_outcome)
            m_outcome.emplace(Error::internal(QStringLiteral("database_error"), QStringLiteral("job never ran")));
        // Moved out: `done` (and what it captured) is destroyed on the receiving thread.
        auto deliver = std::move(m_deliver);
        deliver(std::move(*m_outcome));
    }

private:
    std::function<R(QSqlDatabase &)> m_work;
    std::function<void(R)> m_deliver;
    std::optional<R> m_outcome;
};

// Receives one finished asynchronous job's result on the context's thread. It, not the context,
// is the target of the queued call: posting to a context that another thread may be deleting is
// a race, while the relay is deleted only by itself after the call. It checks the context through
// a QPointer read on the context's own thread, so a dead context just drops the callback.
class DatabaseRelay : public QObject
{
public:
    explicit DatabaseRelay(QObject *context) : m_context(context) {}
    bool contextAlive() const { return !m_context.isNull(); }

private:
    QPointer<QObject> m_context;
};

} // namespace detail

class Database
{
public:
    explicit Database(DatabaseOptions options);
    // Stops the pool (see stop()).
    ~Database();
    Database(const Database &) = delete;
    Database &operator=(const Database &) = delete;

    // Parses the URL ("database_url_invalid" on a bad one) and starts the threads, which connect
    // right away in the background. An unreachable server is not an error here: jobs fail with
    // database_unavailable until it is back. Use pingSync() to wait for a working connection.
    Status start();
    // Fails every queued job with database_unavailable (their callbacks still run), lets each
    // thread finish its current job, closes the connections and joins the threads.
    void stop();
    bool isRunning() const;

    // Queues `work` (callable as Result<T>(QSqlDatabase &)); `done` (callable with Result<T>) runs
    // later on `context`'s thread, unless `context` was destroyed by then. A null context means
    // fire-and-forget. `work` must be copyable (it is held in a std::function).
    template <class Work, class Done> void run(QObject *context, Work work, Done done, JobRetry retry = JobRetry::Never)
    {
        using R = std::invoke_result_t<Work &, QSqlDatabase &>;
        static_assert(detail::IsResult<R>::value, "database work must return a Result<T>");
        std::function<void(R)> deliver;
        if (context) {
            auto *relay = new detail::DatabaseRelay(context);
            if (relay->thread() != context->thread())
                relay->moveToThread(context->thread());
            deliver = [relay, done = std::function<void(R)>(std::move(done))](R outcome) mutable {
                QMetaObject::invokeMethod(
                    relay,
                    [relay, done = std::move(done), outcome = std::move(outcome)]() mutable {
                        if (relay->contextAlive())
                            done(std::move(outcome));
                        relay->deleteLater();
                    },
                    Qt::QueuedConnection);
            };
        } else {
            deliver = [](R) {};
        }
        enqueue(std::make_unique<detail::TypedDatabaseJob<R>>(std::function<R(QSqlDatabase &)>(std::move(work)),
                                                              std::move(deliver), retry));
    }

    // Blocking variant for command-line tools: queues the work and waits for its result.
    // NEVER call it from an event-loop thread (it would stall every connection served there) nor
    // from inside a job (a database thread waiting for the pool can deadlock it; this case is
    // detected and refused with "database_error").
    template <class Work>
    auto runSync(Work work, JobRetry retry = JobRetry::Never) -> std::invoke_result_t<Work &, QSqlDatabase &>
    {
        using R = std::invoke_result_t<Work &, QSqlDatabase &>;
        static_assert(detail::IsResult<R>::value, "database work must return a Result<T>");
        // Debug builds catch the event-loop case (a running QEventLoop raises the loop level).
        Q_ASSERT_X(QThread::currentThread()->loopLevel() == 0, "Database::runSync",
                   "called from a running event loop; use run()");
        if (isDatabaseThread())
            return R(Error::internal(QStringLiteral("database_error"),
                                     QStringLiteral("runSync() called on a database thread")));
        std::promise<R> promise;
        std::future<R> future = promise.get_future();
        enqueue(std::make_unique<detail::TypedDatabaseJob<R>>(
            std::function<R(QSqlDatabase &)>(std::move(work)),
            [&promise](R outcome) { promise.set_value(std::move(outcome)); }, retry));
        return future.get();
    }

    // A `SELECT 1` round trip on a pooled connection (idempotent), for /readyz and `status`.
    void ping(QObject *context, std::function<void(Status)> done);
    Status pingSync();

    int poolSize() const;
    int queuedJobs() const;
    // The URL with its password masked, for logs.
    QString redactedUrl() const;

    // True on the threads of any Database pool.
    static bool isDatabaseThread();

    struct Shared; // state shared with the database threads (Database.cpp)

private:
    void enqueue(std::unique_ptr<detail::DatabaseJob> job);

    std::shared_ptr<Shared> m_shared;
    std::vector<std::unique_ptr<QThread>> m_threads;
};

} // namespace llmpool::gateway
