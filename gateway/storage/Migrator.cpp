#include "storage/Migrator.h"

#include "Log.h"
#include "storage/PgConnection.h"
#include "storage/SqlErrors.h"

#include <QCoreApplication>
#include <QCryptographicHash>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QHash>
#include <QProcessEnvironment>
#include <QRegularExpression>
#include <QSqlDatabase>
#include <QSqlQuery>

namespace llmpool::gateway {

namespace {

Error invalid(const QString &message)
{
    return Error::internal(QStringLiteral("migrations_invalid"), message);
}

Error failed(const QString &message, const Error &cause)
{
    // Keep "database_unavailable" (503) when the server went away: that is the actionable part.
    if (cause.code == u"database_unavailable")
        return SqlErrors::unavailable(message);
    return Error::internal(QStringLiteral("migration_failed"), message);
}

Status exec(QSqlDatabase &db, const QString &sql, QStringView action)
{
    QSqlQuery query(db);
    if (!query.exec(sql))
        return SqlErrors::fromQuery(query, db, action);
    return Ok{};
}

// Holds the migration lock for its lifetime and restores the session afterwards.
class MigrationSession
{
public:
    explicit MigrationSession(QSqlDatabase &db) : m_db(db) {}
    ~MigrationSession()
    {
        if (!m_locked)
            return;
        // A broken connection has released the lock already; a healthy one must not keep it.
        PgConnection::rollbackIfInTransaction(m_db);
        (void)exec(m_db, QStringLiteral("SELECT pg_advisory_unlock(%1)").arg(Migrator::kAdvisoryLockKey),
                   u"release the migration lock");
        (void)exec(m_db, QStringLiteral("RESET statement_timeout"), u"reset statement_timeout");
        (void)exec(m_db, QStringLiteral("RESET lock_timeout"), u"reset lock_timeout");
    }

    Status begin()
    {
        if (PgConnection::inTransaction(m_db))
            return Error::internal(QStringLiteral("migration_failed"),
                                   QStringLiteral("migrate() needs a connection outside any transaction"));
        PgConnection::routeNoticesToLog(m_db);
        // Waiting for another migrator (and applying a long migration) must not hit the pool's
        // statement_timeout; lock_timeout 0 = wait as long as the other migrator works.
        if (Status s = exec(m_db, QStringLiteral("SET statement_timeout = 0"), u"prepare migration session"); !s)
            return s;
        if (Status s = exec(m_db, QStringLiteral("SET lock_timeout = 0"), u"prepare migration session"); !s)
            return s;
        if (Status s = exec(m_db, QStringLiteral("SELECT pg_advisory_lock(%1)").arg(Migrator::kAdvisoryLockKey),
                            u"take the migration lock");
            !s)
            return s;
        m_locked = true;
        return exec(m_db,
                    QStringLiteral("CREATE TABLE IF NOT EXISTS schema_migrations ("
                                   " version integer PRIMARY KEY,"
                                   " name text NOT NULL,"
                                   " checksum text NOT NULL,"
                                   " applied_at timestamptz NOT NULL DEFAULT now())"),
                    u"create schema_migrations");
    }

private:
    QSqlDatabase &m_db;
    bool m_locked = false;
};

Result<QList<AppliedMigration>> readApplied(QSqlDatabase &db, bool tableMayBeMissing)
{
    QSqlQuery query(db);
    if (tableMayBeMissing) {
        if (!query.exec(QStringLiteral("SELECT to_regclass('schema_migrations') IS NOT NULL")) || !query.next())
            return SqlErrors::fromQuery(query, db, u"read schema_migrations");
        if (!query.value(0).toBool())
            return QList<AppliedMigration>{};
    }
    if (!query.exec(QStringLiteral("SELECT version, name, checksum FROM schema_migrations ORDER BY version")))
        return SqlErrors::fromQuery(query, db, u"read schema_migrations");
    QList<AppliedMigration> out;
    while (query.next())
        out.append({query.value(0).toInt(), query.value(1).toString(), query.value(2).toString()});
    return out;
}

// The checksum check shared by migrate() and pending().
Status verifyChecksums(const QList<MigrationFile> &files, const QList<AppliedMigration> &applied)
{
    QHash<int, const MigrationFile *> byVersion;
    for (const MigrationFile &file : files)
        byVersion.insert(file.version, &file);
    for (const AppliedMigration &done : applied) {
        const MigrationFile *file = byVersion.value(done.version);
        if (!file) {
            // Applied by a newer release, or a file removed from the tree: nothing to do here.
            qCWarning(lcStorage).noquote() << "migration" << done.name << "is applied but has no file here";
            continue;
        }
        if (file->checksum != done.checksum)
            return Error::internal(
                QStringLiteral("migration_checksum_mismatch"),
                QStringLiteral("%1 was changed after it was applied (applied checksum %2, file now %3); released "
                               "migrations must not be edited: add a new migration instead")
                    .arg(file->name, done.checksum.left(12), file->checksum.left(12)));
    }
    return Ok{};
}

} // namespace

Migrator::Migrator(QString directory) : m_directory(std::move(directory)) {}

Result<QList<MigrationFile>> Migrator::scan() const
{
    const QDir dir(m_directory);
    if (m_directory.isEmpty() || !dir.exists())
        return invalid(QStringLiteral("migrations directory \"%1\" does not exist").arg(m_directory));

    static const QRegularExpression pattern(QStringLiteral("^(\\d{4})_([A-Za-z0-9_]+)\\.sql$"));
    QList<MigrationFile> files;
    QHash<int, QString> seen;
    const QStringList names = dir.entryList({QStringLiteral("*.sql")}, QDir::Files, QDir::Name);
    for (const QString &name : names) {
        const QRegularExpressionMatch match = pattern.match(name);
        if (!match.hasMatch())
            return invalid(QStringLiteral("%1: migration files must be named NNNN_name.sql").arg(name));
        const int version = match.captured(1).toInt();
        if (version <= 0)
            return invalid(QStringLiteral("%1: versions start at 0001").arg(name));
        if (seen.contains(version))
            return invalid(QStringLiteral("%1 and %2 have the same version").arg(seen.value(version), name));
        seen.insert(version, name);

        QFile file(dir.filePath(name));
        if (!file.open(QIODevice::ReadOnly))
            return invalid(QStringLiteral("%1: cannot read: %2").arg(name, file.errorString()));
        MigrationFile m;
        m.version = version;
        m.name = name;
        m.path = file.fileName();
        m.sql = file.readAll();
        if (m.sql.contains('\0'))
            return invalid(QStringLiteral("%1: contains a NUL byte").arg(name));
        m.checksum = QString::fromLatin1(QCryptographicHash::hash(m.sql, QCryptographicHash::Sha256).toHex());
        files.append(std::move(m));
    }
    std::sort(files.begin(), files.end(), [](const auto &a, const auto &b) { return a.version < b.version; });
    return files;
}

Result<QList<AppliedMigration>> Migrator::applied(QSqlDatabase &db)
{
    return readApplied(db, true);
}

Result<QList<int>> Migrator::pending(QSqlDatabase &db) const
{
    Result<QList<MigrationFile>> files = scan();
    if (!files)
        return files.takeError();
    Result<QList<AppliedMigration>> done = readApplied(db, true);
    if (!done)
        return done.takeError();
    if (Status s = verifyChecksums(*files, *done); !s)
        return s.takeError();
    QList<int> out;
    for (const MigrationFile &file : *files) {
        const bool isApplied =
            std::any_of(done->cbegin(), done->cend(), [&](const auto &a) { return a.version == file.version; });
        if (!isApplied)
            out.append(file.version);
    }
    return out;
}

Result<QList<int>> Migrator::migrate(QSqlDatabase &db) const
{
    Result<QList<MigrationFile>> files = scan();
    if (!files)
        return files.takeError();

    MigrationSession session(db);
    if (Status s = session.begin(); !s)
        return s.takeError();

    // Read under the lock: whatever another migrator applied before we got it is seen here.
    Result<QList<AppliedMigration>> done = readApplied(db, false);
    if (!done)
        return done.takeError();
    if (Status s = verifyChecksums(*files, *done); !s)
        return s.takeError();

    QList<int> appliedNow;
    for (const MigrationFile &file : *files) {
        const bool isApplied =
            std::any_of(done->cbegin(), done->cend(), [&](const auto &a) { return a.version == file.version; });
        if (isApplied)
            continue;

        QElapsedTimer timer;
        timer.start();
        if (Status s = exec(db, QStringLiteral("BEGIN"), u"begin migration"); !s)
            return s.takeError();
        if (Status s = PgConnection::execScript(db, file.sql, file.name); !s) {
            PgConnection::rollbackIfInTransaction(db);
            return failed(QStringLiteral("migration failed, nothing of it was applied: ") + s.error().message,
                          s.error());
        }
        if (!PgConnection::inTransaction(db))
            return Error::internal(QStringLiteral("migration_failed"),
                                   QStringLiteral("%1 ended the migration's transaction itself (COMMIT/ROLLBACK in "
                                                  "the file?); it was not recorded, fix the file and check the "
                                                  "schema by hand")
                                       .arg(file.name));

        QSqlQuery record(db);
        record.prepare(QStringLiteral(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES (:version, :name, :checksum)"));
        record.bindValue(QStringLiteral(":version"), file.version);
        record.bindValue(QStringLiteral(":name"), file.name);
        record.bindValue(QStringLiteral(":checksum"), file.checksum);
        if (!record.exec()) {
            const Error error = SqlErrors::fromQuery(record, db, u"record the migration");
            PgConnection::rollbackIfInTransaction(db);
            return failed(file.name + QStringLiteral(": ") + error.message, error);
        }
        record.finish();
        if (Status s = exec(db, QStringLiteral("COMMIT"), u"commit migration"); !s) {
            PgConnection::rollbackIfInTransaction(db);
            return failed(file.name + QStringLiteral(": ") + s.error().message, s.error());
        }
        qCInfo(lcStorage).noquote() << "applied migration" << file.name << "in" << timer.elapsed() << "ms";
        appliedNow.append(file.version);
    }
    return appliedNow;
}

QString Migrator::defaultDirectory()
{
    QStringList candidates;
    const QString fromEnv = QProcessEnvironment::systemEnvironment().value(QStringLiteral("LLMPOOL_MIGRATIONS_DIR"));
    if (!fromEnv.isEmpty())
        candidates << fromEnv;
    if (QCoreApplication::instance())
        candidates << QCoreApplication::applicationDirPath() + QStringLiteral("/../share/llmpool/migrations");
#ifdef LLMPOOL_SOURCE_MIGRATIONS_DIR
    candidates << QStringLiteral(LLMPOOL_SOURCE_MIGRATIONS_DIR);
#endif
    for (const QString &candidate : std::as_const(candidates)) {
        if (QFileInfo(candidate).isDir())
            return QDir(candidate).canonicalPath();
    }
    return {};
}

} // namespace llmpool::gateway
