// What storage adds to the shared URL parsers (tested in tests/shared/TestConfig): the error codes
// its callers depend on, and a DatabaseUrl applied to a QPSQL connection.

#include "storage/ConnectionUrls.h"

#include <QSqlDatabase>
#include <QTest>

using namespace llmpool;
using namespace llmpool::gateway;

class TestConnectionUrls : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void errorCodes_data()
    {
        QTest::addColumn<bool>("redis");
        QTest::addColumn<QString>("url");
        QTest::newRow("database scheme") << false << "mysql://u:hunter2-secret@h/d";
        QTest::newRow("database broken escape") << false << "postgres://u:hunter2%zz@h/d";
        QTest::newRow("database without name") << false << "postgres://u:hunter2-secret@h";
        QTest::newRow("redis tls") << true << "rediss://:hunter2-secret@h:6380";
        QTest::newRow("redis db") << true << "redis://:hunter2-secret@h/abc";
    }

    void errorCodes()
    {
        QFETCH(bool, redis);
        QFETCH(QString, url);
        const Error error = redis ? parseRedisUrl(url).error() : parseDatabaseUrl(url).error();
        QCOMPARE(error.code, redis ? QStringLiteral("redis_url_invalid") : QStringLiteral("database_url_invalid"));
        QCOMPARE(error.httpStatus, 500);
        QVERIFY2(error.message.startsWith(redis ? QStringLiteral("invalid Redis URL: ")
                                                : QStringLiteral("invalid database URL: ")),
                 qPrintable(error.message));
        QVERIFY(!error.message.contains(QStringLiteral("hunter2")));
    }

    void parsesLikeTheConfig()
    {
        const QString url = QStringLiteral("postgres://u:pw@h:7/d?sslmode=disable");
        QCOMPARE(parseDatabaseUrl(url).value(), DatabaseUrl::parse(url).value());
        const QString redis = QStringLiteral("unix://:pw@/run/redis.sock?db=2");
        QCOMPARE(parseRedisUrl(redis).value(), RedisUrl::parse(redis).value());
    }

    void appliesToQpsql()
    {
        Result<DatabaseUrl> url =
            DatabaseUrl::parse(QStringLiteral("postgres://u:pw@h:7/d?sslmode=disable&options=-c%20a%3Db"));
        QVERIFY(url.ok());
        {
            QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QPSQL"), QStringLiteral("apply"));
            applyDatabaseUrl(db, *url,
                             {{QStringLiteral("sslmode"), QStringLiteral("require")},
                              {QStringLiteral("connect_timeout"), QStringLiteral("3")},
                              {QStringLiteral("options"), QStringLiteral("-c x=y")}});
            QCOMPARE(db.hostName(), QStringLiteral("h"));
            QCOMPARE(db.port(), 7);
            QCOMPARE(db.userName(), QStringLiteral("u"));
            QCOMPARE(db.password(), QStringLiteral("pw"));
            QCOMPARE(db.databaseName(), QStringLiteral("d"));
            // The URL wins on sslmode; server options are combined, the URL's last (they win).
            QCOMPARE(db.connectOptions(),
                     QStringLiteral("sslmode='disable';options='-c x=y -c a=b';connect_timeout='3'"));
        }
        QSqlDatabase::removeDatabase(QStringLiteral("apply"));
    }

    void appliesASocketDirectory()
    {
        Result<DatabaseUrl> url = DatabaseUrl::parse(QStringLiteral("postgres://u@/d?host=/run/postgresql&port=6000"));
        QVERIFY(url.ok());
        {
            QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QPSQL"), QStringLiteral("socket"));
            applyDatabaseUrl(db, *url);
            QCOMPARE(db.hostName(), QStringLiteral("/run/postgresql"));
            QCOMPARE(db.port(), 6000);
            QCOMPARE(db.connectOptions(), QString());
        }
        QSqlDatabase::removeDatabase(QStringLiteral("socket"));
    }
};

QTEST_GUILESS_MAIN(TestConnectionUrls)
#include "TestConnectionUrls.moc"
