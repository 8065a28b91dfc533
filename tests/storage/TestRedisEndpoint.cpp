// RedisEndpoint URL parsing and RedisReply's value semantics.

#include "storage/RedisEndpoint.h"
#include "storage/RedisReply.h"

#include <QTest>

using namespace llmpool;
using namespace llmpool::gateway;

class TestRedisEndpoint : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void parses_data()
    {
        QTest::addColumn<QString>("url");
        QTest::addColumn<QString>("host");
        QTest::addColumn<int>("port");
        QTest::addColumn<QString>("socket");
        QTest::addColumn<QString>("user");
        QTest::addColumn<QString>("password");
        QTest::addColumn<int>("db");

        QTest::newRow("plain") << "redis://127.0.0.1:6379/0"
                               << "127.0.0.1" << 6379 << ""
                               << ""
                               << "" << 0;
        QTest::newRow("defaults") << "redis://cache"
                                  << "cache" << 6379 << ""
                                  << ""
                                  << "" << 0;
        QTest::newRow("password only") << "redis://:s%40cret@h:7000/2"
                                       << "h" << 7000 << ""
                                       << ""
                                       << "s@cret" << 2;
        QTest::newRow("acl user") << "redis://default:pw@h/1"
                                  << "h" << 6379 << ""
                                  << "default"
                                  << "pw" << 1;
        QTest::newRow("lone userinfo is the password") << "redis://pw@h"
                                                       << "h" << 6379 << ""
                                                       << ""
                                                       << "pw" << 0;
        QTest::newRow("ipv6") << "redis://[::1]:6380/3"
                              << "::1" << 6380 << ""
                              << ""
                              << "" << 3;
        QTest::newRow("unix") << "unix:///run/redis/redis.sock?db=4"
                              << "127.0.0.1" << 6379 << "/run/redis/redis.sock"
                              << ""
                              << "" << 4;
        QTest::newRow("unix with auth") << "unix://u:s3cr3t@/tmp/r.sock"
                                        << "127.0.0.1" << 6379 << "/tmp/r.sock"
                                        << "u"
                                        << "s3cr3t" << 0;
    }

    void parses()
    {
        QFETCH(QString, url);
        QFETCH(QString, host);
        QFETCH(int, port);
        QFETCH(QString, socket);
        QFETCH(QString, user);
        QFETCH(QString, password);
        QFETCH(int, db);
        Result<RedisEndpoint> e = RedisEndpoint::parse(url);
        QVERIFY2(e.ok(), e.ok() ? "" : qPrintable(e.error().message));
        QCOMPARE(e->host, host);
        QCOMPARE(e->port, port);
        QCOMPARE(e->socketPath, socket);
        QCOMPARE(e->username, user);
        QCOMPARE(e->password, password);
        QCOMPARE(e->db, db);
        if (!password.isEmpty())
            QVERIFY(!e->redacted().contains(password));
        Result<RedisEndpoint> again = RedisEndpoint::parse(e->redacted());
        QVERIFY2(again.ok(), qPrintable(e->redacted()));
        QCOMPARE(again->db, db);
        QCOMPARE(again->socketPath, socket);
    }

    void rejects_data()
    {
        QTest::addColumn<QString>("url");
        QTest::newRow("tls") << "rediss://h:6380";
        QTest::newRow("scheme") << "http://h";
        QTest::newRow("db") << "redis://h/abc";
        QTest::newRow("port") << "redis://h:0";
        QTest::newRow("relative socket") << "unix://redis.sock";
        QTest::newRow("unknown parameter") << "redis://h?timeout=1";
    }

    void rejects()
    {
        QFETCH(QString, url);
        Result<RedisEndpoint> e = RedisEndpoint::parse(url);
        QVERIFY(!e.ok());
        QCOMPARE(e.error().code, QStringLiteral("redis_url_invalid"));
    }

    void replies()
    {
        const RedisReply array =
            RedisReply::fromArray({RedisReply::fromInteger(1), RedisReply::nil(), RedisReply::fromString("x"),
                                   RedisReply::fromString("ERR no", RedisReply::Type::Error)});
        QVERIFY(array.isArray());
        QCOMPARE(array.describe(), QStringLiteral("[(integer) 1, (nil), \"x\", (error) ERR no]"));
        QVERIFY(array == RedisReply(array));
        QVERIFY(RedisReply::nil().isNil());
        QVERIFY(RedisReply::fromHiredis(nullptr).isNil());
    }
};

QTEST_GUILESS_MAIN(TestRedisEndpoint)
#include "TestRedisEndpoint.moc"
