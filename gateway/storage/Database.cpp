#include "storage/Database.h"

#include "Log.h"
#include "storage/ConnectionUrls.h"
#include "storage/PgConnection.h"
#include "storage/SqlErrors.h"

#include <QAtomicInteger>
#include <QElapsedTimer>
#include <QSqlError>

#include <condition_variable>
#include <deque>
#include <mutex>

namespace llmpool::gateway {

namespace {

thread_local bool t_databaseThread = false;
QAtomicInteger<quint64> s_poolCounter;

constexpr int kFirstBackoffMs = 100;
constexpr int kMaxBackoffMs = 2'000;

} // namespace

struct Database::Shared
{
    DatabaseOptions options;
    DatabaseUrl url;
    QList<std::pair<QString, QString>> extraOptions;
    quint64 poolId = 0;

    mutable std::mutex mutex;
    std::condition_variable wake;
    std::deque<std::unique_ptr<detail::DatabaseJob>> queue; // guarded by mutex
    bool accepting = false;                                 // guarded by mutex
    bool stopping = false;                                  // guarded by mutex

    Error redacted(Error error) const
    {
        if (url.password.size() >= 3)
            error.message.replace(url.password, QStringLiteral("***"));
        return error;
    }
};

namespace {

// One pooled connection. Lives entirely on its database thread: the QSqlDatabase is added,
// opened, used, closed and removed there.
class PooledConnection
{
public:
    PooledConnection(const Database::Shared &shared, const QString &name) : m_shared(shared), m_name(name)
    {
        m_db = QSqlDatabase::addDatabase(QStringLiteral("QPSQL"), m_name);
        applyDatabaseUrl(m_db, m_shared.url, m_shared.extraOptions);
        // NUMERIC as exact text, never double (money).
        m_db.setNumericalPrecisionPolicy(QSql::HighPrecision);
    }

    ~PooledConnection()
    {
        m_db.close();
        m_db = QSqlDatabase(); // the last handle must be gone before removeDatabase()
        QSqlDatabase::removeDatabase(m_name);
    }

    PooledConnection(const PooledConnection &) = delete;
    PooledConnection &operator=(const PooledConnection &) = delete;

    void connectEagerly() { (void)ensureOpen(false); }

    void run(detail::DatabaseJob &job)
    {
        const int attempts = job.retry() == JobRetry::Idempotent ? 2 : 1;
        for (int attempt = 1;; ++attempt) {
            // The retry after a lost connection reconnects at once: the server is usually back.
            if (Status open = ensureOpen(attempt > 1); !open) {
                job.fail(open.error());
                break;
            }
            if (attempt == 1 && job.retry() == JobRetry::Never && m_idle.elapsed() > m_shared.options.validateIdleMs) {
                if (!PgConnection::execScript(m_db, "SELECT 1", QStringLiteral("validate"))) {
                    qCInfo(lcStorage) << "database connection found dead before a job; reconnecting";
                    close();
                    if (Status open = ensureOpen(true); !open) {
                        job.fail(open.error());
                        break;
                    }
                }
            }
            Error *error = job.execute(m_db);
            if (!error || !PgConnection::isBroken(m_db))
                break;
            const QString lost = error->message;
            close();
            if (attempt < attempts) {
                qCInfo(lcStorage) << "database connection lost; re-running an idempotent job on a new connection:"
                                  << lost;
                continue;
            }
            job.fail(SqlErrors::unavailable(
                job.retry() == JobRetry::Never
                    ? QStringLiteral("the database connection was lost; the operation was not retried because it "
                                     "may already have been applied: ") +
                          lost
                    : QStringLiteral("the database connection was lost again on retry: ") + lost));
            break;
        }
        afterJob();
    }

private:
    Status ensureOpen(bool immediately)
    {
        if (m_db.isOpen() && !PgConnection::isBroken(m_db))
            return Ok{};
        if (m_db.isOpen())
            close();
        if (m_failedAttempts > 0 && !immediately && m_sinceFailure.elapsed() < m_backoffMs)
            return *m_lastError;

        if (!m_db.open()) {
            Error error = m_shared.redacted(SqlErrors::unavailable(QStringLiteral("cannot connect to ") +
                                                                   m_shared.url.redacted() + QStringLiteral(": ") +
                                                                   SqlErrors::primaryMessage(m_db.lastError())));
            // Log the first failure of an outage, not every fail-fast job after it.
            if (m_failedAttempts == 0)
                qCWarning(lcStorage).noquote() << error.message;
            ++m_failedAttempts;
            m_backoffMs = m_failedAttempts == 1 ? kFirstBackoffMs : qMin(m_backoffMs * 2, kMaxBackoffMs);
            m_sinceFailure.start();
            m_lastError = error;
            return error;
        }
        PgConnection::routeNoticesToLog(m_db);
        if (m_failedAttempts > 0)
            qCInfo(lcStorage).noquote() << "database connection restored to" << m_shared.url.redacted();
        m_failedAttempts = 0;
        m_lastError.reset();
        m_idle.start();
        return Ok{};
    }

    void close()
    {
        m_db.close();
        m_idle.invalidate();
    }

    void afterJob()
    {
        if (m_db.isOpen() && PgConnection::isBroken(m_db)) {
            // The job swallowed the error; make the next job reconnect instead of failing.
            close();
        } else if (PgConnection::inTransaction(m_db)) {
            qCWarning(lcStorage) << "a database job left its transaction open; rolling it back";
            if (!PgConnection::rollbackIfInTransaction(m_db))
                close();
        }
        if (m_idle.isValid())
            m_idle.restart();
    }

    const Database::Shared &m_shared;
    const QString m_name;
    QSqlDatabase m_db;
    QElapsedTimer m_idle; // since the connection's last use; invalid while closed
    QElapsedTimer m_sinceFailure;
    int m_failedAttempts = 0;
    int m_backoffMs = 0;
    std::optional<Error> m_lastError;
};

// A database thread: no event loop, just the queue.
class DatabaseThread final : public QThread
{
public:
    DatabaseThread(std::shared_ptr<Database::Shared> shared, int index) : m_shared(std::move(shared)), m_index(index)
    {
        setObjectName(QStringLiteral("llmpool-db-%1").arg(index));
    }

protected:
    void run() override
    {
        t_databaseThread = true;
        Database::Shared &shared = *m_shared;
        PooledConnection connection(shared, QStringLiteral("llmpool-db-%1-%2").arg(shared.poolId).arg(m_index));
        connection.connectEagerly();
        for (;;) {
            std::unique_ptr<detail::DatabaseJob> job;
            {
                std::unique_lock lock(shared.mutex);
                shared.wake.wait(lock, [&] { return shared.stopping || !shared.queue.empty(); });
                if (shared.queue.empty())
                    break; // stopping, nothing left
                job = std::move(shared.queue.front());
                shared.queue.pop_front();
            }
            connection.run(*job);
            if (Error *error = job->error())
                *error = shared.redacted(std::move(*error));
            job->complete();
        }
    }

private:
    std::shared_ptr<Database::Shared> m_shared;
    const int m_index;
};

} // namespace

Database::Database(DatabaseOptions options) : m_shared(std::make_shared<Shared>())
{
    m_shared->options = std::move(options);
    m_shared->options.poolSize = qMax(1, m_shared->options.poolSize);
    m_shared->poolId = s_poolCounter.fetchAndAddRelaxed(1) + 1;
}

Database::~Database()
{
    stop();
}

Status Database::start()
{
    if (isRunning())
        return Ok{};
    Result<DatabaseUrl> url = parseDatabaseUrl(m_shared->options.url);
    if (!url)
        return url.takeError();
    m_shared->url = std::move(url.value());

    const DatabaseOptions &o = m_shared->options;
    QString serverOptions = QStringLiteral("-c TimeZone=UTC");
    if (o.statementTimeoutMs > 0)
        serverOptions += QStringLiteral(" -c statement_timeout=%1").arg(o.statementTimeoutMs);
    // Keepalives find a silently dead server (host gone, network cut) in about a minute instead
    // of the kernel's two hours.
    m_shared->extraOptions = {
        {QStringLiteral("connect_timeout"), QString::number(qMax(1, o.connectTimeoutSecs))},
        {QStringLiteral("application_name"), o.applicationName},
        {QStringLiteral("keepalives_idle"), QStringLiteral("30")},
        {QStringLiteral("keepalives_interval"), QStringLiteral("10")},
        {QStringLiteral("keepalives_count"), QStringLiteral("3")},
        {QStringLiteral("options"), serverOptions},
    };

    {
        std::lock_guard lock(m_shared->mutex);
        m_shared->accepting = true;
        m_shared->stopping = false;
    }
    for (int i = 0; i < o.poolSize; ++i) {
        auto thread = std::make_unique<DatabaseThread>(m_shared, i);
        thread->start();
        m_threads.push_back(std::move(thread));
    }
    qCInfo(lcStorage).noquote() << "database pool of" << o.poolSize << "connections to" << m_shared->url.redacted();
    return Ok{};
}

void Database::stop()
{
    std::deque<std::unique_ptr<detail::DatabaseJob>> dropped;
    {
        std::lock_guard lock(m_shared->mutex);
        if (m_threads.empty())
            return;
        m_shared->accepting = false;
        m_shared->stopping = true;
        dropped.swap(m_shared->queue);
    }
    m_shared->wake.notify_all();
    for (auto &job : dropped) {
        job->fail(SqlErrors::unavailable(QStringLiteral("the database pool is shutting down")));
        job->complete();
    }
    for (auto &thread : m_threads)
        thread->wait();
    m_threads.clear();
}

bool Database::isRunning() const
{
    std::lock_guard lock(m_shared->mutex);
    return m_shared->accepting;
}

void Database::enqueue(std::unique_ptr<detail::DatabaseJob> job)
{
    QString refusal;
    {
        std::lock_guard lock(m_shared->mutex);
        if (!m_shared->accepting)
            refusal = QStringLiteral("the database pool is not running");
        else if (int(m_shared->queue.size()) >= m_shared->options.maxQueuedJobs)
            refusal = QStringLiteral("the database queue is full (%1 jobs waiting)").arg(m_shared->queue.size());
        else
            m_shared->queue.push_back(std::move(job));
    }
    if (!refusal.isEmpty()) {
        job->fail(SqlErrors::unavailable(refusal));
        job->complete();
        return;
    }
    m_shared->wake.notify_one();
}

void Database::ping(QObject *context, std::function<void(Status)> done)
{
    run(
        context, [](QSqlDatabase &db) { return PgConnection::execScript(db, "SELECT 1", QStringLiteral("ping")); },
        std::move(done), JobRetry::Idempotent);
}

Status Database::pingSync()
{
    return runSync([](QSqlDatabase &db) { return PgConnection::execScript(db, "SELECT 1", QStringLiteral("ping")); },
                   JobRetry::Idempotent);
}

int Database::poolSize() const
{
    return m_shared->options.poolSize;
}

int Database::queuedJobs() const
{
    std::lock_guard lock(m_shared->mutex);
    return int(m_shared->queue.size());
}

QString Database::redactedUrl() const
{
    if (Result<DatabaseUrl> url = DatabaseUrl::parse(m_shared->options.url))
        return url->redacted();
    return QStringLiteral("(invalid database URL)");
}

bool Database::isDatabaseThread()
{
    return t_databaseThread;
}

} // namespace llmpool::gateway
