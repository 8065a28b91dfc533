// RedisReply's value semantics.

#include "storage/RedisReply.h"

#include <QTest>

using namespace llmpool::gateway;

class TestRedisReply : public QObject
{
    Q_OBJECT

private Q_SLOTS:
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

QTEST_GUILESS_MAIN(TestRedisReply)
#include "TestRedisReply.moc"
