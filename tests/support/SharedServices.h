#pragma once

// SharedServices: what a test that needs PostgreSQL and Redis holds. Under ctest it uses the
// suite-wide servers of the `services` fixture (one PostgreSQL + Redis for every test, found
// through $LLMPOOL_TEST_SERVICES_FILE); run as a plain `./TestFoo` it starts private ones for
// this process instead (same for a stale env file whose servers no longer answer).
//
// Isolation: createDatabase() makes a fresh database per test (CREATE DATABASE test_<random>);
// every database made here is dropped (WITH FORCE) by the destructor or dropDatabase(). Redis is
// shared: use uniqueKeyPrefix() for key names.
//
// Thread: create and use it on the test's main thread; keep it as a member of the test object
// (destroyed before QCoreApplication), not as a static.

#include "PgAdmin.h"
#include "Result.h"

#include <QByteArray>
#include <QString>
#include <QStringList>

#include <memory>

namespace llmpool::test {

class TestServices;

class SharedServices
{
public:
    static Result<std::unique_ptr<SharedServices>> fromEnv();
    ~SharedServices();
    SharedServices(const SharedServices &) = delete;
    SharedServices &operator=(const SharedServices &) = delete;

    // The admin database ("postgres") of the server.
    QString databaseUrl() const;
    QString redisUrl() const { return m_redisUrl; }

    // A fresh, empty database; returns its URL. Its name is in lastDatabaseName().
    Result<QString> createDatabase();
    QString lastDatabaseName() const { return m_databases.isEmpty() ? QString() : m_databases.last(); }
    Status dropDatabase(const QString &name);

    // "test:<random>:" — prefix Redis keys with it so parallel tests never collide.
    static QByteArray uniqueKeyPrefix();

    // True when no fixture was found and this process runs its own servers.
    bool isPrivate() const { return m_private != nullptr; }
    TestServices *privateServices() const { return m_private.get(); }

private:
    SharedServices() = default;

    PgAdminParams m_admin;
    QString m_redisUrl;
    QStringList m_databases;
    std::unique_ptr<TestServices> m_private;
};

} // namespace llmpool::test
