// Migrator and the schema of migrations/0001_init.sql, against a real PostgreSQL.

#include "SharedServices.h"
#include "StorageTestUtil.h"
#include "storage/Database.h"
#include "storage/Migrator.h"

#include <QDir>
#include <QFile>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <atomic>
#include <thread>

using namespace llmpool;
using namespace llmpool::gateway;
using namespace llmpool::test;

namespace {

// A $$-quoted body with semicolons, and a pause so that two migrators really overlap.
const char *kSlowFunction = R"sql(-- test migration: a function body and a pause
CREATE FUNCTION test_add(a integer, b integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    r integer;
BEGIN
    r := a + b; -- a semicolon inside the body
    RETURN r;
END
$$;
SELECT pg_sleep(0.3);
CREATE TABLE test_after_sleep (id integer);
)sql";

const char *kTaggedQuote = R"sql(CREATE TABLE test_three (id integer, note text);
INSERT INTO test_three VALUES (1, $tag$semi;colons; and 'quotes'$tag$), (2, 'x;y');
)sql";

bool writeFile(const QString &path, const QByteArray &content)
{
    QFile file(path);
    return file.open(QIODevice::WriteOnly | QIODevice::Truncate) && file.write(content) == content.size();
}

// The product's migrations plus `extra` files, in a temporary directory.
bool makeMigrationsDir(QTemporaryDir &dir, const QList<std::pair<QString, QByteArray>> &extra)
{
    if (!dir.isValid())
        return false;
    const QDir source(migrationsDir());
    for (const QString &name : source.entryList({QStringLiteral("*.sql")}, QDir::Files)) {
        if (!QFile::copy(source.filePath(name), dir.filePath(name)))
            return false;
    }
    for (const auto &[name, content] : extra) {
        if (!writeFile(dir.filePath(name), content))
            return false;
    }
    return true;
}

QList<int> productVersions()
{
    Result<QList<MigrationFile>> files = Migrator(migrationsDir()).scan();
    QList<int> out;
    if (files) {
        for (const MigrationFile &f : *files)
            out << f.version;
    }
    return out;
}

} // namespace

class TestMigrator : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<SharedServices> m_services;

    std::unique_ptr<Database> freshPool(int poolSize = 1)
    {
        Result<QString> url = m_services->createDatabase();
        if (!url)
            qFatal("%s", qPrintable(url.error().message));
        return openPool(*url, poolSize);
    }

    static Result<QList<int>> migrate(Database &db, const QString &dir)
    {
        return db.runSync([dir](QSqlDatabase &conn) { return Migrator(dir).migrate(conn); });
    }

private Q_SLOTS:
    void initTestCase()
    {
        Result<std::unique_ptr<SharedServices>> services = SharedServices::fromEnv();
        QVERIFY2(services.ok(), services.ok() ? "" : qPrintable(services.error().message));
        m_services = std::move(services.value());
    }

    void cleanupTestCase() { m_services.reset(); }

    void scanOrdersAndChecksums()
    {
        Result<QList<MigrationFile>> files = Migrator(migrationsDir()).scan();
        QVERIFY2(files.ok(), files.ok() ? "" : qPrintable(files.error().message));
        QVERIFY(!files->isEmpty());
        QCOMPARE(files->first().name, QStringLiteral("0001_init.sql"));
        QCOMPARE(files->first().version, 1);
        QCOMPARE(files->first().checksum.size(), 64);
        QVERIFY(std::is_sorted(files->cbegin(), files->cend(),
                               [](const auto &a, const auto &b) { return a.version < b.version; }));
    }

    void rejectsBadDirectories_data()
    {
        QTest::addColumn<QString>("fileName");
        QTest::addColumn<QString>("secondName");
        QTest::newRow("no number") << QStringLiteral("init.sql") << QString();
        QTest::newRow("short number") << QStringLiteral("01_init.sql") << QString();
        QTest::newRow("space") << QStringLiteral("0001_in it.sql") << QString();
        QTest::newRow("version zero") << QStringLiteral("0000_zero.sql") << QString();
        QTest::newRow("duplicate version") << QStringLiteral("0001_a.sql") << QStringLiteral("0001_b.sql");
    }

    void rejectsBadDirectories()
    {
        QFETCH(QString, fileName);
        QFETCH(QString, secondName);
        QTemporaryDir dir;
        QVERIFY(writeFile(dir.filePath(fileName), "SELECT 1;"));
        if (!secondName.isEmpty())
            QVERIFY(writeFile(dir.filePath(secondName), "SELECT 1;"));
        Result<QList<MigrationFile>> files = Migrator(dir.path()).scan();
        QVERIFY(!files.ok());
        QCOMPARE(files.error().code, QStringLiteral("migrations_invalid"));

        QVERIFY(!Migrator(dir.filePath(QStringLiteral("missing"))).scan().ok());
    }

    void appliesOnFreshDatabase()
    {
        auto db = freshPool();
        Result<QList<int>> applied = migrate(*db, migrationsDir());
        QVERIFY2(applied.ok(), applied.ok() ? "" : qPrintable(applied.error().message));
        QCOMPARE(*applied, productVersions());

        const QStringList tables = {"users",     "wallets",  "ledger_entries",   "api_keys",
                                    "upstreams", "models",   "usage_events",     "usage_events_default",
                                    "audit_log", "settings", "schema_migrations"};
        for (const QString &table : tables) {
            Result<SqlOutcome> exists = sqlOn(*db, QStringLiteral("SELECT to_regclass('%1') IS NOT NULL").arg(table));
            QVERIFY(exists.ok() && exists->ok);
            QVERIFY2(exists->value.toBool(), qPrintable(table));
        }
        Result<QList<AppliedMigration>> recorded =
            db->runSync([](QSqlDatabase &conn) { return Migrator::applied(conn); });
        QVERIFY(recorded.ok());
        QCOMPARE(recorded->size(), productVersions().size());
        QCOMPARE(recorded->first().name, QStringLiteral("0001_init.sql"));
        QCOMPARE(recorded->first().checksum, Migrator(migrationsDir()).scan()->first().checksum);

        Result<QList<int>> pending =
            db->runSync([](QSqlDatabase &conn) { return Migrator(migrationsDir()).pending(conn); });
        QVERIFY(pending.ok());
        QVERIFY(pending->isEmpty());
    }

    void secondRunIsNoop()
    {
        auto db = freshPool();
        QVERIFY(migrate(*db, migrationsDir()).ok());
        Result<QList<int>> again = migrate(*db, migrationsDir());
        QVERIFY2(again.ok(), again.ok() ? "" : qPrintable(again.error().message));
        QVERIFY(again->isEmpty());
        // The session is left as it was found: no transaction, no lock, timeout restored.
        Result<SqlOutcome> locks =
            sqlOn(*db, QStringLiteral("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"));
        QVERIFY(locks.ok() && locks->ok);
        QCOMPARE(locks->value.toInt(), 0);
        Result<SqlOutcome> timeout = sqlOn(*db, QStringLiteral("SHOW statement_timeout"));
        QVERIFY(timeout.ok() && timeout->ok);
        QCOMPARE(timeout->value.toString(), QStringLiteral("30s"));
    }

    void concurrentMigratorsApplyEachVersionOnce()
    {
        QTemporaryDir dir;
        QVERIFY(makeMigrationsDir(dir, {{QStringLiteral("0900_slow_function.sql"), kSlowFunction},
                                        {QStringLiteral("0901_tagged_quote.sql"), kTaggedQuote}}));
        Result<QString> url = m_services->createDatabase();
        QVERIFY(url.ok());
        // Two pools = two hosts: separate connections, started at the same moment.
        auto first = openPool(*url);
        auto second = openPool(*url);
        QVERIFY(first->pingSync().ok() && second->pingSync().ok());

        std::atomic<int> ready{0};
        std::optional<Result<QList<int>>> a;
        std::optional<Result<QList<int>>> b;
        auto runner = [&](Database *db, std::optional<Result<QList<int>>> *out) {
            ++ready;
            while (ready.load() < 2) {
            }
            out->emplace(migrate(*db, dir.path()));
        };
        std::thread ta(runner, first.get(), &a);
        std::thread tb(runner, second.get(), &b);
        ta.join();
        tb.join();

        QVERIFY2(a->ok(), a->ok() ? "" : qPrintable(a->error().message));
        QVERIFY2(b->ok(), b->ok() ? "" : qPrintable(b->error().message));
        QList<int> all = a->value() + b->value();
        std::sort(all.begin(), all.end());
        QList<int> expected = productVersions() << 900 << 901;
        QCOMPARE(all, expected); // each version exactly once, by one of them
        // The loser waited for the winner and found nothing left to do.
        QVERIFY(a->value().isEmpty() || b->value().isEmpty());

        Result<SqlOutcome> sum = sqlOn(*first, QStringLiteral("SELECT test_add(2, 3)"));
        QVERIFY(sum.ok() && sum->ok);
        QCOMPARE(sum->value.toInt(), 5);
        Result<SqlOutcome> note = sqlOn(*first, QStringLiteral("SELECT note FROM test_three WHERE id = 1"));
        QVERIFY(note.ok() && note->ok);
        QCOMPARE(note->value.toString(), QStringLiteral("semi;colons; and 'quotes'"));
    }

    void checksumChangeIsDetected()
    {
        QTemporaryDir dir;
        QVERIFY(makeMigrationsDir(dir, {{QStringLiteral("0900_extra.sql"), "CREATE TABLE test_extra (id int);\n"}}));
        auto db = freshPool();
        QVERIFY(migrate(*db, dir.path()).ok());

        QVERIFY(writeFile(dir.filePath(QStringLiteral("0900_extra.sql")), "CREATE TABLE test_extra (id bigint);\n"));
        Result<QList<int>> again = migrate(*db, dir.path());
        QVERIFY(!again.ok());
        QCOMPARE(again.error().code, QStringLiteral("migration_checksum_mismatch"));
        QVERIFY(again.error().message.contains(QStringLiteral("0900_extra.sql")));
        Result<QList<int>> pending =
            db->runSync([&](QSqlDatabase &conn) { return Migrator(dir.path()).pending(conn); });
        QVERIFY(!pending.ok());
        QCOMPARE(pending.error().code, QStringLiteral("migration_checksum_mismatch"));
    }

    void failingMigrationRollsBackAndNamesTheLine()
    {
        QTemporaryDir dir;
        QVERIFY(makeMigrationsDir(
            dir, {{QStringLiteral("0900_bad.sql"),
                   "CREATE TABLE test_partial (id integer);\n-- the next line is wrong\nSELEC 1;\n"}}));
        auto db = freshPool();
        Result<QList<int>> applied = migrate(*db, dir.path());
        QVERIFY(!applied.ok());
        QCOMPARE(applied.error().code, QStringLiteral("migration_failed"));
        QVERIFY2(applied.error().message.contains(QStringLiteral("0900_bad.sql:3")),
                 qPrintable(applied.error().message));

        // The product's migrations went in, the bad file left nothing behind and no record.
        Result<SqlOutcome> partial = sqlOn(*db, QStringLiteral("SELECT to_regclass('test_partial') IS NULL"));
        QVERIFY(partial.ok() && partial->ok && partial->value.toBool());
        Result<QList<AppliedMigration>> recorded =
            db->runSync([](QSqlDatabase &conn) { return Migrator::applied(conn); });
        QVERIFY(recorded.ok());
        QCOMPARE(recorded->size(), productVersions().size());

        // Fixed (never applied, so editing it is fine): it goes in now.
        QVERIFY(writeFile(dir.filePath(QStringLiteral("0900_bad.sql")), "CREATE TABLE test_partial (id integer);\n"));
        Result<QList<int>> retried = migrate(*db, dir.path());
        QVERIFY2(retried.ok(), retried.ok() ? "" : qPrintable(retried.error().message));
        QCOMPARE(*retried, QList<int>{900});
    }

    void fileThatCommitsItselfIsRefused()
    {
        QTemporaryDir dir;
        QVERIFY(
            makeMigrationsDir(dir, {{QStringLiteral("0900_commits.sql"), "CREATE TABLE test_c (id int);\nCOMMIT;\n"}}));
        auto db = freshPool();
        Result<QList<int>> applied = migrate(*db, dir.path());
        QVERIFY(!applied.ok());
        QCOMPARE(applied.error().code, QStringLiteral("migration_failed"));
    }

    // ---- the schema's own guarantees ------------------------------------------------------

    void walletAmountsCannotBeNegative_data()
    {
        QTest::addColumn<QString>("column");
        QTest::newRow("cash") << QStringLiteral("cash");
        QTest::newRow("credit_limit") << QStringLiteral("credit_limit");
        QTest::newRow("debt") << QStringLiteral("debt");
    }

    void walletAmountsCannotBeNegative()
    {
        QFETCH(QString, column);
        auto db = migratedDatabase(*m_services);
        QVERIFY(sqlOn(*db, QStringLiteral("INSERT INTO users (name) VALUES ('w')"))->ok);
        QVERIFY(sqlOn(*db, QStringLiteral("INSERT INTO wallets (user_id) SELECT id FROM users"))->ok);
        Result<SqlOutcome> negative = sqlOn(*db, QStringLiteral("UPDATE wallets SET %1 = -0.000000001").arg(column));
        QVERIFY(negative.ok());
        QVERIFY(!negative->ok);
        QCOMPARE(negative->sqlState, QStringLiteral("23514"));
        // Exact decimals with 9 places survive the round trip.
        QVERIFY(sqlOn(*db, QStringLiteral("UPDATE wallets SET %1 = 12345678901234567890.123456789").arg(column))->ok);
        Result<SqlOutcome> value = sqlOn(*db, QStringLiteral("SELECT %1::text FROM wallets").arg(column));
        QCOMPARE(value->value.toString(), QStringLiteral("12345678901234567890.123456789"));
    }

    void ledgerIsAppendOnly()
    {
        auto db = migratedDatabase(*m_services);
        QVERIFY(sqlOn(*db, QStringLiteral("INSERT INTO users (name) VALUES ('l')"))->ok);
        QVERIFY(sqlOn(*db, QStringLiteral("INSERT INTO ledger_entries (user_id, kind, amount, cash_after, "
                                          "credit_limit_after, debt_after, unique_request_id) SELECT id, 'deposit', "
                                          "10, 10, 0, 0, 'r1' FROM users"))
                    ->ok);
        for (const QString &sql :
             {QStringLiteral("UPDATE ledger_entries SET amount = 11"), QStringLiteral("DELETE FROM ledger_entries"),
              QStringLiteral("TRUNCATE ledger_entries")}) {
            Result<SqlOutcome> change = sqlOn(*db, sql);
            QVERIFY(change.ok());
            QVERIFY2(!change->ok, qPrintable(sql));
            QCOMPARE(change->sqlState, QStringLiteral("23001"));
        }
        // Idempotency key: unique per user.
        Result<SqlOutcome> replay = sqlOn(*db, QStringLiteral("INSERT INTO ledger_entries (user_id, kind, amount, "
                                                              "cash_after, credit_limit_after, debt_after, "
                                                              "unique_request_id) SELECT id, 'deposit', 10, 20, 0, 0, "
                                                              "'r1' FROM users"));
        QVERIFY(!replay->ok);
        QCOMPARE(replay->sqlState, QStringLiteral("23505"));
        // Direction lives in `kind`: a negative deposit is refused.
        Result<SqlOutcome> negative = sqlOn(*db, QStringLiteral("INSERT INTO ledger_entries (user_id, kind, amount, "
                                                                "cash_after, credit_limit_after, debt_after, "
                                                                "unique_request_id) SELECT id, 'deposit', -1, 9, 0, 0, "
                                                                "'r2' FROM users"));
        QVERIFY(!negative->ok);
        QCOMPARE(negative->sqlState, QStringLiteral("23514"));
    }

    void keyHashIsUniqueAndWellFormed()
    {
        auto db = migratedDatabase(*m_services);
        QVERIFY(sqlOn(*db, QStringLiteral("INSERT INTO users (name) VALUES ('k')"))->ok);
        const QString hash = QString(64, QLatin1Char('a'));
        const QString insert = QStringLiteral("INSERT INTO api_keys (user_id, prefix, key_hash) SELECT id, 'sk-lp-x', "
                                              "'%1' FROM users");
        QVERIFY(sqlOn(*db, insert.arg(hash))->ok);
        Result<SqlOutcome> duplicate = sqlOn(*db, insert.arg(hash));
        QVERIFY(!duplicate->ok);
        QCOMPARE(duplicate->sqlState, QStringLiteral("23505"));
        Result<SqlOutcome> malformed = sqlOn(*db, insert.arg(QStringLiteral("not-a-hash")));
        QVERIFY(!malformed->ok);
        QCOMPARE(malformed->sqlState, QStringLiteral("23514"));
        Result<SqlOutcome> emptyModels =
            sqlOn(*db, QStringLiteral(
                           "INSERT INTO api_keys (user_id, prefix, key_hash, allowed_models) SELECT id, 'p', '%1', "
                           "'{}' FROM users")
                           .arg(QString(64, QLatin1Char('b'))));
        QVERIFY(!emptyModels->ok);
        QCOMPARE(emptyModels->sqlState, QStringLiteral("23514"));
    }

    void modelCapabilitiesAndPricesAreChecked()
    {
        auto db = migratedDatabase(*m_services);
        QVERIFY(
            sqlOn(*db, QStringLiteral("INSERT INTO upstreams (name, api_base) VALUES ('u', 'https://x.test/v1')"))->ok);
        const QString insert = QStringLiteral("INSERT INTO models (name, upstream_id, upstream_model, capabilities, "
                                              "output_price_per_1m) SELECT 'm%1', id, 'gpt', %2, %3 FROM upstreams");
        QVERIFY(
            sqlOn(*db, insert.arg(1).arg(QStringLiteral("'{chat,embeddings,responses}'"), QStringLiteral("15.5")))->ok);
        Result<SqlOutcome> unknown =
            sqlOn(*db, insert.arg(2).arg(QStringLiteral("'{chat,telepathy}'"), QStringLiteral("1")));
        QVERIFY(!unknown->ok);
        QCOMPARE(unknown->sqlState, QStringLiteral("23514"));
        Result<SqlOutcome> negative = sqlOn(*db, insert.arg(3).arg(QStringLiteral("'{chat}'"), QStringLiteral("-1")));
        QVERIFY(!negative->ok);
        QCOMPARE(negative->sqlState, QStringLiteral("23514"));
        Result<SqlOutcome> duplicate = sqlOn(*db, insert.arg(1).arg(QStringLiteral("'{chat}'"), QStringLiteral("1")));
        QVERIFY(!duplicate->ok);
        QCOMPARE(duplicate->sqlState, QStringLiteral("23505"));
        Result<SqlOutcome> weight = sqlOn(*db, QStringLiteral("UPDATE upstreams SET weight = -1"));
        QVERIFY(!weight->ok);
        QCOMPARE(weight->sqlState, QStringLiteral("23514"));
    }

    void usageEventsArePartitionedAndIdempotent()
    {
        auto db = migratedDatabase(*m_services);
        // The current month's partition exists from the first migration on.
        Result<SqlOutcome> current = sqlOn(
            *db, QStringLiteral(
                     "SELECT count(*) FROM pg_inherits WHERE inhparent = 'usage_events'::regclass AND "
                     "inhrelid::regclass::text = 'usage_events_p' || to_char(now() AT TIME ZONE 'UTC', 'YYYYMM')"));
        QVERIFY(current.ok() && current->ok);
        QCOMPARE(current->value.toInt(), 1);

        const QString insert =
            QStringLiteral("INSERT INTO usage_events (created_at, request_id, model, endpoint, status) "
                           "VALUES (%1, '%2', 'gpt', 'chat/completions', 200) ON CONFLICT DO NOTHING "
                           "RETURNING tableoid::regclass::text");
        // Far beyond the months created ahead: the default partition takes it.
        Result<SqlOutcome> future =
            sqlOn(*db, insert.arg(QStringLiteral("'2099-12-31T23:59:59Z'"), QStringLiteral("req-future")));
        QVERIFY(future.ok() && future->ok);
        QCOMPARE(future->value.toString(), QStringLiteral("usage_events_default"));
        Result<SqlOutcome> thisMonth = sqlOn(*db, insert.arg(QStringLiteral("now()"), QStringLiteral("req-now")));
        QVERIFY(thisMonth->value.toString().startsWith(QStringLiteral("usage_events_p")));

        Result<SqlOutcome> old =
            sqlOn(*db, insert.arg(QStringLiteral("'2020-03-05T10:00:00Z'"), QStringLiteral("req-old")));
        QCOMPARE(old->value.toString(), QStringLiteral("usage_events_default"));

        // Maintenance creates the month and moves the row out of the default partition.
        Result<SqlOutcome> maintain =
            sqlOn(*db, QStringLiteral("SELECT string_agg(action || ':' || partition_name, ',') "
                                      "FROM usage_events_maintain('2020-03-10T00:00:00Z')"));
        QVERIFY(maintain.ok() && maintain->ok);
        QVERIFY2(maintain->value.toString().contains(QStringLiteral("created:usage_events_p202003")),
                 qPrintable(maintain->value.toString()));
        Result<SqlOutcome> moved = sqlOn(
            *db, QStringLiteral("SELECT tableoid::regclass::text FROM usage_events WHERE request_id = 'req-old'"));
        QCOMPARE(moved->value.toString(), QStringLiteral("usage_events_p202003"));

        // Redelivery of the same event (same request id, same event time) is a no-op.
        Result<SqlOutcome> again =
            sqlOn(*db, insert.arg(QStringLiteral("'2020-03-05T10:00:00Z'"), QStringLiteral("req-old")));
        QVERIFY(again.ok() && again->ok);
        QVERIFY(again->value.isNull()); // nothing returned: the conflict was skipped
        Result<SqlOutcome> count =
            sqlOn(*db, QStringLiteral("SELECT count(*) FROM usage_events WHERE request_id = 'req-old'"));
        QCOMPARE(count->value.toInt(), 1);

        // Retention drops whole months (and old default rows), never recent ones.
        QVERIFY(sqlOn(*db, QStringLiteral("UPDATE settings SET value = '3' WHERE key = 'usage_retention_months'"))->ok);
        Result<SqlOutcome> dropped = sqlOn(*db, QStringLiteral("SELECT string_agg(partition_name, ',') FROM "
                                                               "usage_events_maintain() WHERE action = 'dropped'"));
        QVERIFY(dropped.ok() && dropped->ok);
        QVERIFY(dropped->value.toString().contains(QStringLiteral("usage_events_p202003")));
        Result<SqlOutcome> left = sqlOn(*db, QStringLiteral("SELECT count(*) FROM usage_events"));
        QCOMPARE(left->value.toInt(), 2); // req-now and req-future stay
    }

    void auditLogIsAChain()
    {
        auto db = migratedDatabase(*m_services);
        for (int i = 0; i < 3; ++i)
            QVERIFY(sqlOn(*db, QStringLiteral("INSERT INTO audit_log (actor, action, resource, resource_id, after) "
                                              "VALUES ('admin', 'user.create', 'user', '%1', '{\"name\":\"u%1\"}')")
                                   .arg(i))
                        ->ok);
        Result<SqlOutcome> verify = sqlOn(*db, QStringLiteral("SELECT audit_log_verify()"));
        QVERIFY(verify.ok() && verify->ok);
        QVERIFY(verify->value.isNull());
        Result<SqlOutcome> linked = sqlOn(*db, QStringLiteral("SELECT count(*) FROM audit_log a JOIN audit_log b ON "
                                                              "b.prev_hash = a.hash AND b.id > a.id"));
        QCOMPARE(linked->value.toInt(), 2);
        Result<SqlOutcome> edit = sqlOn(*db, QStringLiteral("UPDATE audit_log SET actor = 'mallory'"));
        QVERIFY(!edit->ok);
        QCOMPARE(edit->sqlState, QStringLiteral("23001"));
    }
};

QTEST_GUILESS_MAIN(TestMigrator)
#include "TestMigrator.moc"
