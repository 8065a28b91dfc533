#pragma once

// Helpers shared by the storage tests: a migrated fresh database per test and small SQL shortcuts
// run through a one-connection pool. Header-only; main thread of a test.

#include "SharedServices.h"
#include "storage/Database.h"
#include "storage/Migrator.h"

#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QTest>
#include <QVariant>

#include <memory>

namespace llmpool::test {

inline QString migrationsDir()
{
    return QStringLiteral(LLMPOOL_TEST_MIGRATIONS_DIR);
}

// The outcome of one statement: its first column of the first row, or its error.
struct SqlOutcome
{
    bool ok = false;
    QVariant value;
    QString sqlState;
    QString message;
};

inline Result<SqlOutcome> sqlOn(gateway::Database &db, const QString &sql)
{
    return db.runSync(
        [sql](QSqlDatabase &conn) -> Result<SqlOutcome> {
            QSqlQuery q(conn);
            SqlOutcome out;
            out.ok = q.exec(sql);
            if (!out.ok) {
                out.sqlState = q.lastError().nativeErrorCode();
                out.message = q.lastError().databaseText();
            } else if (q.next()) {
                out.value = q.value(0);
            }
            return out;
        },
        gateway::JobRetry::Never);
}

// A one-connection pool on `url`, started.
inline std::unique_ptr<gateway::Database> openPool(const QString &url, int poolSize = 1)
{
    gateway::DatabaseOptions options;
    options.url = url;
    options.poolSize = poolSize;
    auto db = std::make_unique<gateway::Database>(options);
    if (Status s = db->start(); !s)
        qFatal("cannot start the pool: %s", qPrintable(s.error().message));
    return db;
}

// A fresh database with every migration applied, and a pool on it.
inline std::unique_ptr<gateway::Database> migratedDatabase(SharedServices &services, QString *urlOut = nullptr,
                                                           int poolSize = 2)
{
    Result<QString> url = services.createDatabase();
    if (!url)
        qFatal("cannot create a database: %s", qPrintable(url.error().message));
    auto db = openPool(*url, poolSize);
    Result<QList<int>> applied =
        db->runSync([](QSqlDatabase &conn) { return gateway::Migrator(migrationsDir()).migrate(conn); });
    if (!applied)
        qFatal("cannot migrate: %s", qPrintable(applied.error().message));
    if (urlOut)
        *urlOut = *url;
    return db;
}

} // namespace llmpool::test
