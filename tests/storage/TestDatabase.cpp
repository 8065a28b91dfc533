// Database: the pool of database threads, its asynchronous delivery, error mapping and
// reconnection, against a real PostgreSQL (the suite's, or a private one for restarts).

#include "SharedServices.h"
#include "StorageTestUtil.h"
#include "TestServices.h"
#include "storage/Database.h"
#include "storage/PgConnection.h"
#include "storage/SqlErrors.h"

#include <QMutex>
#include <QSet>
#include <QSqlQuery>
#include <QTest>
#include <QThread>

#include <atomic>
#include <memory>

using namespace llmpool;
using namespace llmpool::gateway;
using namespace llmpool::test;

namespace {

Result<int> backendPid(QSqlDatabase &db)
{
    QSqlQuery q(db);
    if (!q.exec(QStringLiteral("SELECT pg_backend_pid(), pg_sleep(0.002)")) || !q.next())
        return SqlErrors::fromQuery(q, db, u"backend pid");
    return q.value(0).toInt();
}

Status execSql(QSqlDatabase &db, const QString &sql)
{
    QSqlQuery q(db);
    if (!q.exec(sql))
        return SqlErrors::fromQuery(q, db, u"test statement");
    return Ok{};
}

// An event-loop thread with a context object living on it.
struct LoopThread
{
    QThread thread;
    QObject *context = new QObject;

    LoopThread()
    {
        context->moveToThread(&thread);
        QObject::connect(&thread, &QThread::finished, context, &QObject::deleteLater);
        thread.start();
    }
    ~LoopThread()
    {
        thread.quit();
        thread.wait();
    }
};

} // namespace

class TestDatabase : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<SharedServices> m_services;
    QString m_url;

private Q_SLOTS:
    void initTestCase()
    {
        Result<std::unique_ptr<SharedServices>> services = SharedServices::fromEnv();
        QVERIFY2(services.ok(), services.ok() ? "" : qPrintable(services.error().message));
        m_services = std::move(services.value());
        Result<QString> url = m_services->createDatabase();
        QVERIFY(url.ok());
        m_url = *url;
    }

    void cleanupTestCase() { m_services.reset(); }

    void asyncDeliversOnTheContextThread()
    {
        auto db = openPool(m_url, 2);
        LoopThread loop;
        std::atomic<QThread *> deliveredOn{nullptr};
        std::atomic<QThread *> workedOn{nullptr};
        std::atomic<bool> workedOnDatabaseThread{false};
        std::atomic<int> result{0};
        QMetaObject::invokeMethod(loop.context, [&] {
            db->run(
                loop.context,
                [&](QSqlDatabase &conn) {
                    workedOn = QThread::currentThread();
                    workedOnDatabaseThread = Database::isDatabaseThread();
                    return backendPid(conn);
                },
                [&](Result<int> pid) {
                    result = pid.ok() ? *pid : -1;
                    deliveredOn = QThread::currentThread();
                });
        });
        QTRY_VERIFY(deliveredOn.load() != nullptr);
        QCOMPARE(deliveredOn.load(), &loop.thread);
        QVERIFY(workedOn.load() != &loop.thread);
        QVERIFY(workedOnDatabaseThread.load());
        QVERIFY(result.load() > 0);
    }

    void manyConcurrentJobsUseEveryThread()
    {
        constexpr int kJobs = 400;
        auto db = openPool(m_url, 4);
        QObject context;
        QSet<int> pids;
        int done = 0;
        int failed = 0;
        for (int i = 0; i < kJobs; ++i) {
            db->run(
                &context, backendPid,
                [&](Result<int> pid) {
                    ++done;
                    if (pid.ok())
                        pids.insert(*pid);
                    else
                        ++failed;
                },
                JobRetry::Idempotent);
        }
        QTRY_COMPARE_WITH_TIMEOUT(done, kJobs, 30'000);
        QCOMPARE(failed, 0);
        QCOMPARE(pids.size(), 4); // one connection per thread, all of them busy
        QCOMPARE(db->queuedJobs(), 0);
    }

    void deadContextDropsTheCallback()
    {
        auto db = openPool(m_url, 1);
        auto *context = new QObject;
        bool called = false;
        db->run(
            context, [](QSqlDatabase &conn) { return execSql(conn, QStringLiteral("SELECT pg_sleep(0.2)")); },
            [&](Status) { called = true; });
        delete context; // while the job runs
        QObject alive;
        bool second = false;
        db->run(
            &alive, [](QSqlDatabase &conn) { return execSql(conn, QStringLiteral("SELECT 1")); },
            [&](Status s) { second = s.ok(); });
        QTRY_VERIFY(second); // the first job's result was posted before this one's
        QTest::qWait(50);
        QVERIFY(!called);
    }

    void runSyncAndItsGuard()
    {
        auto db = openPool(m_url, 1);
        Result<int> pid = db->runSync(backendPid);
        QVERIFY(pid.ok() && *pid > 0);
        QVERIFY(db->pingSync().ok());

        // From inside a job, runSync would wait for the pool it occupies: refused.
        Result<QString> nested = db->runSync([&](QSqlDatabase &) -> Result<QString> {
            Status inner = db->runSync([](QSqlDatabase &) -> Status { return Ok{}; });
            return inner.ok() ? QString() : inner.error().message;
        });
        QVERIFY(nested.ok());
        QVERIFY(nested->contains(QStringLiteral("database thread")));
    }

    void asyncPing()
    {
        auto db = openPool(m_url, 1);
        QObject context;
        std::optional<Status> ping;
        db->ping(&context, [&](Status s) { ping = s; });
        QTRY_VERIFY(ping.has_value());
        QVERIFY(ping->ok());
    }

    void errorsAreMapped()
    {
        auto db = openPool(m_url, 1);
        Status syntax = db->runSync([](QSqlDatabase &conn) { return execSql(conn, QStringLiteral("SELEC 1")); });
        QVERIFY(!syntax.ok());
        QCOMPARE(syntax.error().code, QStringLiteral("database_error"));
        QCOMPARE(syntax.error().httpStatus, 500);
        QVERIFY2(syntax.error().message.contains(QStringLiteral("42601")), qPrintable(syntax.error().message));

        // The connection is fine after a statement error.
        QVERIFY(db->pingSync().ok());
    }

    void unreachableServerIsUnavailableWithoutPassword()
    {
        // A port nobody listens on (a just-closed private server would do too).
        DatabaseOptions options;
        options.url = QStringLiteral("postgres://app:s3cret-Passw0rd@127.0.0.1:1/app");
        options.poolSize = 1;
        options.connectTimeoutSecs = 1;
        Database db(options);
        QVERIFY(db.start().ok());
        Status ping = db.pingSync();
        QVERIFY(!ping.ok());
        QCOMPARE(ping.error().code, QStringLiteral("database_unavailable"));
        QCOMPARE(ping.error().httpStatus, 503);
        QVERIFY(!ping.error().message.contains(QStringLiteral("s3cret-Passw0rd")));
        QVERIFY(ping.error().message.contains(QStringLiteral("***")) ||
                !ping.error().message.contains(QStringLiteral("app:")));
        QVERIFY(!db.redactedUrl().contains(QStringLiteral("s3cret")));

        Database invalid(DatabaseOptions{QStringLiteral("mysql://x"), 1});
        Status started = invalid.start();
        QVERIFY(!started.ok());
        QCOMPARE(started.error().code, QStringLiteral("database_url_invalid"));
        // Not running: jobs fail at once instead of waiting forever.
        QCOMPARE(invalid.pingSync().error().code, QStringLiteral("database_unavailable"));
    }

    void leakedTransactionIsRolledBack()
    {
        auto db = openPool(m_url, 1);
        QVERIFY(db->runSync([](QSqlDatabase &conn) {
                      return execSql(conn, QStringLiteral("CREATE TABLE IF NOT EXISTS leak (id int)"));
                  }).ok());
        QVERIFY(db->runSync([](QSqlDatabase &conn) -> Status {
                      if (Status s = execSql(conn, QStringLiteral("BEGIN")); !s)
                          return s;
                      return execSql(conn, QStringLiteral("INSERT INTO leak VALUES (1)"));
                  }).ok());
        Result<bool> clean = db->runSync([](QSqlDatabase &conn) -> Result<bool> {
            QSqlQuery q(conn);
            if (!q.exec(QStringLiteral("SELECT count(*) FROM leak")) || !q.next())
                return SqlErrors::fromQuery(q, conn, u"count");
            return !PgConnection::inTransaction(conn) && q.value(0).toInt() == 0;
        });
        QVERIFY(clean.ok() && *clean);
    }

    void lostConnectionRetriesOnlyIdempotentJobs()
    {
        auto db = openPool(m_url, 1);
        // The job's own backend dies under it on its first run (as in a server restart mid-job).
        auto makeJob = [](std::shared_ptr<std::atomic<int>> runs) {
            return [runs](QSqlDatabase &conn) -> Result<int> {
                if (++*runs == 1) {
                    Status killed = execSql(conn, QStringLiteral("SELECT pg_terminate_backend(pg_backend_pid())"));
                    if (!killed)
                        return killed.takeError();
                    return Error::internal(QStringLiteral("unexpected"), QStringLiteral("survived termination"));
                }
                return backendPid(conn);
            };
        };

        auto idempotentRuns = std::make_shared<std::atomic<int>>(0);
        Result<int> retried = db->runSync(makeJob(idempotentRuns), JobRetry::Idempotent);
        QVERIFY2(retried.ok(), retried.ok() ? "" : qPrintable(retried.error().message));
        QCOMPARE(idempotentRuns->load(), 2);

        auto onceRuns = std::make_shared<std::atomic<int>>(0);
        Result<int> notRetried = db->runSync(makeJob(onceRuns), JobRetry::Never);
        QVERIFY(!notRetried.ok());
        QCOMPARE(notRetried.error().code, QStringLiteral("database_unavailable"));
        QCOMPARE(onceRuns->load(), 1);

        // The pool has reconnected for the next job.
        QVERIFY(db->pingSync().ok());
    }

    void stopFailsQueuedJobs()
    {
        auto db = openPool(m_url, 1);
        QObject context;
        std::optional<Status> first;
        std::optional<Status> second;
        std::optional<Status> third;
        std::atomic<bool> running{false};
        db->run(
            &context,
            [&running](QSqlDatabase &conn) {
                running = true;
                return execSql(conn, QStringLiteral("SELECT pg_sleep(0.3)"));
            },
            [&](Status s) { first = s; });
        QTRY_VERIFY(running.load()); // the only thread is busy with it now
        db->run(
            &context, [](QSqlDatabase &conn) { return execSql(conn, QStringLiteral("SELECT 1")); },
            [&](Status s) { second = s; });
        db->run(
            &context, [](QSqlDatabase &conn) { return execSql(conn, QStringLiteral("SELECT 1")); },
            [&](Status s) { third = s; });
        db->stop();
        QTRY_VERIFY(first && second && third);
        QVERIFY(first->ok());
        QCOMPARE(second->error().code, QStringLiteral("database_unavailable"));
        QCOMPARE(third->error().code, QStringLiteral("database_unavailable"));
        QVERIFY(!db->isRunning());
    }

    void reconnectsAfterPostgresRestart()
    {
        TestServices::Options options;
        options.redis = false;
        TestServices server(options);
        Status started = server.start();
        QVERIFY2(started.ok(), started.ok() ? "" : qPrintable(started.error().message));

        DatabaseOptions dbOptions;
        dbOptions.url = server.databaseUrl();
        dbOptions.poolSize = 2;
        dbOptions.validateIdleMs = 0; // non-idempotent jobs check their connection first
        Database db(dbOptions);
        QVERIFY(db.start().ok());
        QVERIFY(db.pingSync().ok());
        QVERIFY(db.runSync([](QSqlDatabase &conn) {
                      return execSql(conn, QStringLiteral("CREATE TABLE t (id int)"));
                  }).ok());

        QVERIFY(server.restartPostgres().ok());
        // Idempotent: re-run on a fresh connection, transparently.
        Status ping = db.pingSync();
        QVERIFY2(ping.ok(), ping.ok() ? "" : qPrintable(ping.error().message));
        // Not idempotent: its connection was validated before it ran, so it did not fail either.
        for (int i = 0; i < 4; ++i) {
            Status insert = db.runSync(
                [](QSqlDatabase &conn) { return execSql(conn, QStringLiteral("INSERT INTO t VALUES (1)")); });
            QVERIFY2(insert.ok(), insert.ok() ? "" : qPrintable(insert.error().message));
        }

        // While the server is down: fail fast, 503, no password in the message.
        QVERIFY(server.stopPostgres().ok());
        Status down = db.runSync([](QSqlDatabase &conn) { return execSql(conn, QStringLiteral("SELECT 1")); });
        QVERIFY(!down.ok());
        QCOMPARE(down.error().code, QStringLiteral("database_unavailable"));
        QVERIFY(!down.error().message.contains(server.postgresPassword()));
        QVERIFY(server.startPostgres().ok());
        // The backoff is short (100 ms, doubling to 2 s): the pool recovers on its own.
        QTRY_VERIFY_WITH_TIMEOUT(db.pingSync().ok(), 10'000);

        // The same pool over the Unix socket URL form (?host=/dir).
        Database socketDb(DatabaseOptions{server.socketDatabaseUrl(), 1});
        QVERIFY(socketDb.start().ok());
        Status socketPing = socketDb.pingSync();
        QVERIFY2(socketPing.ok(), socketPing.ok() ? "" : qPrintable(socketPing.error().message));
    }
};

QTEST_GUILESS_MAIN(TestDatabase)
#include "TestDatabase.moc"
