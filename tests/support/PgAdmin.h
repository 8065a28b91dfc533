#pragma once

// PgAdmin: superuser statements against a test PostgreSQL (CREATE/DROP DATABASE, readiness
// checks), through a short-lived QPSQL connection opened on the calling thread. Kept apart from
// gateway/storage so the harness does not depend on the code it tests.

#include "Result.h"

#include <QString>

namespace llmpool::test {

struct PgAdminParams
{
    QString host = QStringLiteral("127.0.0.1");
    int port = 5432;
    QString user = QStringLiteral("postgres");
    QString password;
    QString database = QStringLiteral("postgres");

    // postgres://user:password@host:port/database, every part percent-encoded.
    QString url(const QString &databaseName = {}) const;
};

class PgAdmin
{
public:
    // One connection attempt (connect_timeout seconds); Ok when the server accepts queries.
    static Status ping(const PgAdminParams &params, int connectTimeoutSecs = 2);
    // Runs one statement (no result rows needed).
    static Status exec(const PgAdminParams &params, const QString &sql);
    // CREATE DATABASE; `name` must be a plain identifier ([a-z0-9_]).
    static Status createDatabase(const PgAdminParams &params, const QString &name);
    // DROP DATABASE IF EXISTS … WITH (FORCE): open connections (a test's pool) are terminated.
    static Status dropDatabase(const PgAdminParams &params, const QString &name);
    // "test_" + 16 random lowercase letters and digits.
    static QString randomDatabaseName();
};

} // namespace llmpool::test
