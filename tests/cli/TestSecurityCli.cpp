// `llmpool security rotate-key --new-key HEX` (SPEC §4, §9), in-process with injected stdio on a
// fresh, migrated database: every upstream key re-sealed under the new key in one transaction
// (plaintext rows included), a wrong current key refused with nothing changed, bad flags refused,
// the key read from stdin with `--new-key -`, never echoed.

#include "SharedServices.h"
#include "cli/Command.h"
#include "security/SecretBox.h"
#include "storage/Database.h"
#include "storage/Migrator.h"

#include <QFile>
#include <QSqlError>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>

using namespace llmpool;
using namespace llmpool::gateway;

namespace {

const QByteArray kKeyA = QByteArray(64, 'a');
const QByteArray kKeyB = QByteArrayLiteral("0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789abcdef");

struct CliRun
{
    int exitCode = -1;
    QString out;
    QString err;
};

struct StoredRow
{
    qint64 id;
    QString name;
    QByteArray stored;
    QString format;
};

} // namespace

class TestSecurityCli : public QObject
{
    Q_OBJECT

private:
    CliRun run(QStringList args, const QString &stdinText = {})
    {
        QProcessEnvironment env;
        env.insert(QStringLiteral("LLMPOOL_MIGRATIONS_DIR"), QStringLiteral(LLMPOOL_TEST_MIGRATIONS_DIR));
        QString outText, errText, inText = stdinText;
        QTextStream out(&outText), err(&errText), in(&inText);
        CliContext ctx{out, err, in, env, {}};
        Cli cli;
        args.prepend(QStringLiteral("llmpool"));
        CliRun r;
        r.exitCode = cli.run(args, ctx);
        out.flush();
        err.flush();
        r.out = outText;
        r.err = errText;
        return r;
    }

    QString writeConfig(const QByteArray &encryptionKeyHex)
    {
        const QString path = m_dir.filePath(QStringLiteral("cfg-%1.toml").arg(++m_configs));
        QFile f(path);
        if (!f.open(QIODevice::WriteOnly))
            qFatal("cannot write %s", qPrintable(path));
        f.write("[database]\nurl = \"" + m_url.toUtf8() + "\"\n[redis]\nurl = \"" + m_services->redisUrl().toUtf8() +
                "\"\n[security]\nencryption_key = \"" + encryptionKeyHex + "\"\n");
        return path;
    }

    QString exec(const QString &sql)
    {
        auto r = m_db->runSync([sql](QSqlDatabase &conn) -> Result<bool> {
            QSqlQuery q(conn);
            if (!q.exec(sql))
                return Error::internal(QStringLiteral("test"), q.lastError().text());
            return true;
        });
        return r ? QString() : r.error().message;
    }

    QList<StoredRow> stored()
    {
        auto r = m_db->runSync([](QSqlDatabase &conn) -> Result<QList<StoredRow>> {
            QSqlQuery q(conn);
            if (!q.exec(
                    QStringLiteral("SELECT id, name, api_key_encrypted, api_key_format FROM upstreams ORDER BY id")))
                return Error::internal(QStringLiteral("test"), q.lastError().text());
            QList<StoredRow> rows;
            while (q.next())
                rows.append({q.value(0).toLongLong(), q.value(1).toString(), q.value(2).toString().toUtf8(),
                             q.value(3).toString()});
            return rows;
        });
        return r ? *r : QList<StoredRow>();
    }

    // Replaces every upstream with `count` rows sealed by `box` (odd ones in plaintext when
    // `mixPlain`); the plaintext of row i is "sk-upstream-secret-<i>".
    void seed(const SecretBox &box, int count, bool mixPlain)
    {
        QCOMPARE(exec(QStringLiteral("DELETE FROM upstreams")), QString());
        const SecretBox plain{QByteArray()};
        for (int i = 0; i < count; ++i) {
            const QByteArray secret = "sk-upstream-secret-" + QByteArray::number(i);
            Result<SealedSecret> sealed = (mixPlain && i % 2 == 1 ? plain : box).seal(secret);
            QVERIFY(sealed.ok());
            QCOMPARE(exec(QStringLiteral("INSERT INTO upstreams (name, api_base, api_key_encrypted, api_key_format, "
                                         "api_key_preview) VALUES ('up-%1', 'http://127.0.0.1:1/v1', '%2', '%3', 'x')")
                              .arg(i)
                              .arg(QString::fromUtf8(sealed->stored), sealed->format)),
                     QString());
        }
    }

    QTemporaryDir m_dir;
    int m_configs = 0;
    std::unique_ptr<test::SharedServices> m_services;
    std::unique_ptr<Database> m_db;
    QString m_url;

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        auto services = test::SharedServices::fromEnv();
        QVERIFY2(services.ok(), qPrintable(services.ok() ? QString() : services.error().message));
        m_services = std::move(*services);
        auto url = m_services->createDatabase();
        QVERIFY(url.ok());
        m_url = *url;
        DatabaseOptions options;
        options.url = m_url;
        options.poolSize = 1;
        m_db = std::make_unique<Database>(options);
        QVERIFY(m_db->start().ok());
        auto migrated = m_db->runSync(
            [](QSqlDatabase &db) { return Migrator(QStringLiteral(LLMPOOL_TEST_MIGRATIONS_DIR)).migrate(db); });
        QVERIFY2(migrated.ok(), qPrintable(migrated.ok() ? QString() : migrated.error().message));
    }

    void cleanupTestCase()
    {
        if (m_db)
            m_db->stop();
        m_db.reset();
        m_services.reset();
    }

    void rotates()
    {
        const SecretBox a(QByteArray::fromHex(kKeyA));
        const SecretBox b(QByteArray::fromHex(kKeyB));
        seed(a, 5, true);
        const QList<StoredRow> before = stored();
        QCOMPARE(before.size(), 5);

        const CliRun r =
            run({"security", "rotate-key", "--new-key", QString::fromLatin1(kKeyB), "--config", writeConfig(kKeyA)});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        QVERIFY2(r.out.contains(QStringLiteral("re-encrypted 5 upstream keys")), qPrintable(r.out));
        QVERIFY(r.out.contains(QStringLiteral("encryption_key")));
        QVERIFY(!r.out.contains(QString::fromLatin1(kKeyB), Qt::CaseInsensitive));
        QVERIFY(!r.err.contains(QString::fromLatin1(kKeyB), Qt::CaseInsensitive));

        const QList<StoredRow> after = stored();
        QCOMPARE(after.size(), 5);
        for (int i = 0; i < after.size(); ++i) {
            const StoredRow &row = after[i];
            QCOMPARE(row.format, QString(SecretBox::kAesGcm));
            QVERIFY(row.stored != before[i].stored);
            const Result<QByteArray> opened = b.open(row.stored, row.format);
            QVERIFY2(opened.ok(), qPrintable(row.name));
            QCOMPARE(*opened, "sk-upstream-secret-" + QByteArray::number(i));
            QVERIFY(!a.open(row.stored, row.format).ok()); // the old key no longer opens it
        }
        // Recorded in the audit log.
        auto audited = m_db->runSync([](QSqlDatabase &conn) -> Result<qint64> {
            QSqlQuery q(conn);
            if (!q.exec(QStringLiteral("SELECT count(*) FROM audit_log WHERE action = 'security.rotate_key'")) ||
                !q.next())
                return Error::internal(QStringLiteral("test"), q.lastError().text());
            return q.value(0).toLongLong();
        });
        QVERIFY(audited.ok());
        QCOMPARE(*audited, 1);

        // Rotating again with the new key as the current one works (and from stdin).
        const CliRun again = run({"security", "rotate-key", "--new-key", "-", "--config", writeConfig(kKeyB)},
                                 QString::fromLatin1(kKeyA) + QLatin1Char('\n'));
        QVERIFY2(again.exitCode == 0, qPrintable(again.err));
        for (const StoredRow &row : stored())
            QVERIFY(a.open(row.stored, row.format).ok());
    }

    void fromPlaintext()
    {
        // No current key: plaintext rows are sealed for the first time.
        seed(SecretBox(QByteArray()), 3, false);
        const CliRun r = run(
            {"--config", writeConfig(QByteArray()), "security", "rotate-key", "--new-key", QString::fromLatin1(kKeyB)});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        QVERIFY(r.out.contains(QStringLiteral("re-encrypted 3 upstream keys")));
        const SecretBox b(QByteArray::fromHex(kKeyB));
        for (const StoredRow &row : stored()) {
            QCOMPARE(row.format, QString(SecretBox::kAesGcm));
            QVERIFY(b.open(row.stored, row.format).ok());
        }
    }

    void wrongCurrentKeyChangesNothing_data()
    {
        QTest::addColumn<QByteArray>("currentKey");
        QTest::newRow("another key") << QByteArray(64, 'f');
        QTest::newRow("no key configured") << QByteArray();
    }

    void wrongCurrentKeyChangesNothing()
    {
        QFETCH(QByteArray, currentKey);
        // Plaintext rows first: they would open with any key, so the failure comes mid-way.
        seed(SecretBox(QByteArray::fromHex(kKeyA)), 4, true);
        QCOMPARE(exec(QStringLiteral("UPDATE upstreams SET api_key_format = 'plain', api_key_encrypted = 'sk-p' "
                                     "WHERE name = 'up-0'")),
                 QString());
        const QList<StoredRow> before = stored();
        const CliRun r = run(
            {"security", "rotate-key", "--new-key", QString::fromLatin1(kKeyB), "--config", writeConfig(currentKey)});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains(QStringLiteral("cannot be decrypted")), qPrintable(r.err));
        QVERIFY(r.err.contains(QStringLiteral("nothing was changed")));
        QVERIFY(r.out.isEmpty());
        const QList<StoredRow> after = stored();
        QCOMPARE(after.size(), before.size());
        for (int i = 0; i < after.size(); ++i) {
            QCOMPARE(after[i].stored, before[i].stored);
            QCOMPARE(after[i].format, before[i].format);
        }
    }

    void badArguments_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::newRow("missing --new-key") << QStringList{"security", "rotate-key"};
        QTest::newRow("short key") << QStringList{"security", "rotate-key", "--new-key", "abcd"};
        QTest::newRow("not hex") << QStringList{"security", "rotate-key", "--new-key", QString(64, QLatin1Char('g'))};
        QTest::newRow("too long") << QStringList{"security", "rotate-key", "--new-key", QString(66, QLatin1Char('a'))};
        QTest::newRow("positional") << QStringList{"security", "rotate-key", "extra", "--new-key",
                                                   QString::fromLatin1(kKeyB)};
        QTest::newRow("unknown verb") << QStringList{"security", "rotate"};
    }

    void badArguments()
    {
        QFETCH(QStringList, args);
        args << "--config" << writeConfig(kKeyA);
        const CliRun r = run(args);
        QCOMPARE(r.exitCode, 2);
        QVERIFY(!r.err.isEmpty());
        QVERIFY(!r.err.contains(QString(64, QLatin1Char('g'))));
    }

    void help()
    {
        const CliRun r = run({"security", "rotate-key", "--help"});
        QCOMPARE(r.exitCode, 0);
        QVERIFY(r.out.contains(QStringLiteral("--new-key")));
        const CliRun top = run({"--help"});
        QVERIFY(top.out.contains(QStringLiteral("security")));
    }
};

QTEST_GUILESS_MAIN(TestSecurityCli)
#include "TestSecurityCli.moc"
