#pragma once

// Migrator: applies the forward-only numbered SQL files of a directory (`NNNN_name.sql`, e.g.
// 0001_init.sql) to a PostgreSQL database, each at most once, in version order.
//
// Guarantees:
//   - Each file runs in its own transaction together with its row in
//     schema_migrations(version, name, checksum, applied_at): it is applied completely or not at
//     all. A file must therefore not contain BEGIN/COMMIT or statements that refuse to run in a
//     transaction (CREATE INDEX CONCURRENTLY); one that ends the transaction itself is reported.
//   - A session-level pg_advisory_lock serialises migrators: two hosts running `llmpool migrate`
//     at once are safe — the second waits, then finds everything applied and does nothing. The
//     lock dies with the connection, so a crashed migrator never blocks the next one.
//   - Running twice is a no-op. An applied file whose SHA-256 changed is an error
//     ("migration_checksum_mismatch"): released migrations are immutable, fix forward instead.
//   - A file is sent in one PQexec (all statements, $$-quoted bodies included, are parsed by the
//     server); a failure names the file and line ("migration_failed").
//
// Stateless apart from the directory; migrate() runs on the calling thread with the connection
// it is given (typically inside Database::runSync from `llmpool migrate`). It lifts that
// session's statement_timeout while it works, as a migration may legitimately run long.

#include "Result.h"

#include <QByteArray>
#include <QList>
#include <QString>

class QSqlDatabase;

namespace llmpool::gateway {

struct MigrationFile
{
    int version = 0;
    QString name; // file name, e.g. "0001_init.sql"
    QString path;
    QByteArray sql;
    QString checksum; // SHA-256 of the file's bytes, lowercase hex
};

struct AppliedMigration
{
    int version = 0;
    QString name;
    QString checksum;
};

class Migrator
{
public:
    // Key of the pg_advisory_lock held while migrating ("LLMPOOLM" in ASCII).
    static constexpr qint64 kAdvisoryLockKey = 0x4c4c4d504f4f4c4dLL;

    explicit Migrator(QString directory);

    QString directory() const { return m_directory; }

    // Reads and orders the directory's migration files. Errors ("migrations_invalid"): missing
    // directory, a .sql file not named NNNN_name.sql, two files with one version, unreadable file.
    Result<QList<MigrationFile>> scan() const;

    // Applies every file the database lacks; returns the versions applied by this call (ascending;
    // empty when up to date).
    Result<QList<int>> migrate(QSqlDatabase &db) const;

    // What schema_migrations records (empty list on a database never migrated).
    static Result<QList<AppliedMigration>> applied(QSqlDatabase &db);

    // The versions migrate() would apply, without applying anything (and without the lock).
    Result<QList<int>> pending(QSqlDatabase &db) const;

    // A default place to look for the files: $LLMPOOL_MIGRATIONS_DIR, then
    // <executable>/../share/llmpool/migrations (installed), then the source tree the library was
    // built from. Returns the first existing directory, or an empty string.
    static QString defaultDirectory();

private:
    QString m_directory;
};

} // namespace llmpool::gateway
