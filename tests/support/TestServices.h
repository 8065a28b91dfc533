#pragma once

// TestServices: a PRIVATE PostgreSQL and Redis for tests, started directly (never through the
// system's services) in a fresh temporary directory, on free ports, and removed afterwards.
//
//   PostgreSQL: initdb into DIR/pgdata (superuser `postgres` with a random password; scram over
//   TCP, trust on the Unix socket in DIR/sock), then `postgres -p PORT -k DIR/sock
//   -c listen_addresses=127.0.0.1 -c fsync=off …`. When we run as root both run as the `postgres`
//   account (they refuse root) and DIR is handed to it.
//   Redis: `redis-server --port PORT --save '' --appendonly no --dir DIR/redis --requirepass …`,
//   plus a Unix socket DIR/redis.sock.
//
// Ports come from binding port 0; a server that loses its port to a racing process is restarted
// on another. Readiness is polled with a deadline (a real login / AUTH+PING), never slept for.
//
// Cleanup: stop() (also run by the destructor) kills the servers and removes DIR. If the test
// process dies instead, the servers get SIGKILL from the kernel (PR_SET_PDEATHSIG) and the next
// TestServices::start() on the machine removes the orphaned directory.
// Detached mode (the ctest fixture, `llmpool-test-services start`) is the exception: the servers
// run in their own session and outlive this process; stopDetached() ends them.
//
// Thread: create, start and stop it on one thread that lives as long as the servers should (the
// parent-death signal is tied to the forking thread): the test's main thread.

#include "Result.h"

#include <QString>

#include <memory>

namespace llmpool::test {

class SharedServices;

class TestServices
{
public:
    struct Options
    {
        bool postgres = true;
        bool redis = true;
        bool detached = false;        // servers outlive this process (ctest fixture)
        bool redisAppendOnly = false; // keep Redis data across stopRedis()/startRedis()
        bool redisPassword = true;    // requirepass (URLs then carry default:PASSWORD@)
        int startTimeoutMs = 60'000;  // per server start (initdb, first login, first PONG)
    };

    TestServices();
    explicit TestServices(Options options);
    // stop(), unless detached.
    ~TestServices();
    TestServices(const TestServices &) = delete;
    TestServices &operator=(const TestServices &) = delete;

    Status start();
    // Stops both servers and removes the directory.
    void stop();

    // Fast shutdown (clients get 57P01, as in a real restart) and start again on the same port.
    Status stopPostgres();
    Status startPostgres();
    Status restartPostgres();
    // SIGTERM / start again on the same port and password (data survives only with
    // Options::redisAppendOnly).
    Status stopRedis();
    Status startRedis();

    bool isPostgresRunning() const;
    bool isRedisRunning() const;

    // postgres://postgres:…@127.0.0.1:PORT/DATABASE
    QString databaseUrl(const QString &database = QStringLiteral("postgres")) const;
    // The same database over the Unix socket: postgres://postgres@/DATABASE?host=DIR/sock
    QString socketDatabaseUrl(const QString &database = QStringLiteral("postgres")) const;
    // redis://:…@127.0.0.1:PORT/0
    QString redisUrl(int db = 0) const;
    // unix://:…@DIR/redis.sock?db=N
    QString redisSocketUrl(int db = 0) const;

    QString directory() const { return m_dir; }
    int postgresPort() const { return m_pgPort; }
    int redisPort() const { return m_redisPort; }
    qint64 postgresPid() const { return m_pgPid; }
    qint64 redisPid() const { return m_redisPid; }
    QString postgresPassword() const { return m_pgPassword; }
    QString redisPassword() const { return m_redisPassword; }

    // CREATE DATABASE (a random test_… name when empty); returns its URL.
    Result<QString> createDatabase(const QString &name = {});
    Status dropDatabase(const QString &name);

    // KEY='VALUE' lines, shell-sourceable: DATABASE_URL, REDIS_URL, PGHOST, PGPORT, PGUSER,
    // PGPASSWORD, PGDATABASE, REDIS_HOST, REDIS_PORT, REDIS_PASSWORD, POSTGRES_PID, REDIS_PID,
    // SERVICES_DIR.
    QString envFileContents() const;
    Status writeEnvFile(const QString &path) const;
    // Ends the detached servers an env file describes and removes their directory and the file.
    // Idempotent: a missing file or dead servers are fine.
    static Status stopDetached(const QString &envFilePath);
    // Restarts the detached PostgreSQL an env file describes (fast shutdown, then the same server
    // on the same port and data), waits until it accepts logins and records its new pid there.
    static Status restartPostgresDetached(const QString &envFilePath);

    // The suite-wide services of the ctest fixture, or private ones (see SharedServices).
    static Result<std::unique_ptr<SharedServices>> shared();

private:
    Status createDirectory();
    Status initdb();
    Status startPostgresOnce(bool *portClash);
    Status startRedisOnce(bool *portClash);
    static void sweepOrphans();

    Options m_options;
    QString m_dir;
    QString m_pgBinDir;
    int m_pgPort = 0;
    int m_redisPort = 0;
    qint64 m_pgPid = 0;
    qint64 m_redisPid = 0;
    QString m_pgPassword;
    QString m_redisPassword;
    bool m_initialized = false;
};

} // namespace llmpool::test
