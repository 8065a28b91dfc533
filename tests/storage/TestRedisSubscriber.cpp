// RedisSubscriber (pub/sub on a dedicated hiredis connection) against a private Redis, which the
// outage test stops and starts; RedisClient::publish() is the publisher.

#include "SharedServices.h"
#include "TestServices.h"
#include "storage/RedisClient.h"
#include "storage/RedisSubscriber.h"

#include <QPointer>
#include <QSignalSpy>
#include <QTest>

#include <memory>
#include <optional>

using namespace llmpool;
using namespace llmpool::gateway;
using namespace llmpool::test;

class TestRedisSubscriber : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<TestServices> m_server;
    std::unique_ptr<RedisClient> m_publisher;

    RedisClient::Options options(const QString &url) const
    {
        RedisClient::Options o;
        o.url = url;
        return o;
    }

    std::unique_ptr<RedisSubscriber> subscribedTo(QList<QByteArray> channels, QList<QByteArray> patterns = {})
    {
        auto subscriber =
            std::make_unique<RedisSubscriber>(options(m_server->redisUrl()), std::move(channels), std::move(patterns));
        QSignalSpy subscribed(subscriber.get(), &RedisSubscriber::subscribed);
        if (!subscriber->start().ok() || !subscribed.wait(5'000))
            return nullptr;
        return subscriber;
    }

    // PUBLISH through the publisher connection; the number of subscribers that got it.
    qint64 publish(const QByteArray &channel, const QByteArray &payload)
    {
        std::optional<Result<qint64>> receivers;
        QObject context;
        m_publisher->publish(channel, payload, &context, [&](Result<qint64> r) { receivers.emplace(std::move(r)); });
        if (!QTest::qWaitFor([&] { return receivers.has_value(); }, 5'000) || !receivers->ok())
            return -1;
        return receivers->value();
    }

    static QList<QByteArray> received(const QSignalSpy &spy, int i)
    {
        return {spy.at(i).at(0).toByteArray(), spy.at(i).at(1).toByteArray()};
    }

private Q_SLOTS:
    void initTestCase()
    {
        // Private: the restart test stops this Redis, which must not disturb parallel tests.
        TestServices::Options serverOptions;
        serverOptions.postgres = false;
        m_server = std::make_unique<TestServices>(serverOptions);
        Status started = m_server->start();
        QVERIFY2(started.ok(), started.ok() ? "" : qPrintable(started.error().message));
        m_publisher = std::make_unique<RedisClient>(options(m_server->redisUrl()));
        QSignalSpy connected(m_publisher.get(), &RedisClient::connected);
        QVERIFY(m_publisher->start().ok());
        QVERIFY(connected.wait(5'000));
    }

    void cleanupTestCase()
    {
        m_publisher.reset();
        m_server.reset();
    }

    void deliversMessagesOfSeveralChannels()
    {
        const QByteArray p = SharedServices::uniqueKeyPrefix();
        auto subscriber = subscribedTo({p + "keys", p + "prices", p + "keys"});
        QVERIFY(subscriber);
        QCOMPARE(subscriber->channels().size(), 2); // the duplicate is dropped
        QSignalSpy messages(subscriber.get(), &RedisSubscriber::message);

        QCOMPARE(publish(p + "keys", "revoked:k1"), 1);
        QCOMPARE(publish(p + "other", "not for us"), 0);
        QCOMPARE(publish(p + "prices", "gpt-4o"), 1);
        QCOMPARE(publish(p + "keys", "revoked:k2"), 1);
        QTRY_COMPARE(messages.size(), 3);
        QCOMPARE(received(messages, 0), QList<QByteArray>({p + "keys", "revoked:k1"}));
        QCOMPARE(received(messages, 1), QList<QByteArray>({p + "prices", "gpt-4o"}));
        QCOMPARE(received(messages, 2), QList<QByteArray>({p + "keys", "revoked:k2"}));

        // Fire-and-forget publishing reaches it too.
        m_publisher->publish(p + "prices", "fire-and-forget");
        QTRY_COMPARE(messages.size(), 4);
        QCOMPARE(received(messages, 3).at(1), QByteArray("fire-and-forget"));
    }

    void deliversPatternMessages()
    {
        const QByteArray p = SharedServices::uniqueKeyPrefix();
        auto subscriber = subscribedTo({p + "exact"}, {p + "inv.*"});
        QVERIFY(subscriber);
        QSignalSpy messages(subscriber.get(), &RedisSubscriber::message);
        QCOMPARE(publish(p + "inv.keys", "a"), 1);
        QCOMPARE(publish(p + "exact", "b"), 1);
        QCOMPARE(publish(p + "invalid", "not matched"), 0);
        QTRY_COMPARE(messages.size(), 2);
        // The channel published to, not the pattern.
        QCOMPARE(received(messages, 0), QList<QByteArray>({p + "inv.keys", "a"}));
        QCOMPARE(received(messages, 1), QList<QByteArray>({p + "exact", "b"}));
    }

    void isBinarySafe()
    {
        const QByteArray channel = SharedServices::uniqueKeyPrefix() + QByteArray("bin\0\r\n\xff", 7);
        auto subscriber = subscribedTo({channel});
        QVERIFY(subscriber);
        QSignalSpy messages(subscriber.get(), &RedisSubscriber::message);

        const QByteArray small("a\0b\r\nc\xff", 8);
        // Larger than hiredis's read buffer: arrives over several reads.
        QByteArray large(3 * 1024 * 1024, '\0');
        for (qsizetype i = 0; i < large.size(); ++i)
            large[i] = char(i * 7 % 256);
        QCOMPARE(publish(channel, small), 1);
        QCOMPARE(publish(channel, QByteArray()), 1);
        QCOMPARE(publish(channel, large), 1);
        QTRY_COMPARE(messages.size(), 3);
        QCOMPARE(received(messages, 0), QList<QByteArray>({channel, small}));
        QCOMPARE(received(messages, 1).at(1), QByteArray());
        QCOMPARE(received(messages, 2).at(1), large);
    }

    void isSubscribedTransitions()
    {
        const QByteArray p = SharedServices::uniqueKeyPrefix();
        RedisSubscriber subscriber(options(m_server->redisUrl()), {p + "t"});
        QSignalSpy subscribed(&subscriber, &RedisSubscriber::subscribed);
        QSignalSpy down(&subscriber, &RedisSubscriber::unsubscribedDown);
        QSignalSpy disconnected(&subscriber, &RedisSubscriber::disconnected);
        QVERIFY(!subscriber.isSubscribed());

        QVERIFY(subscriber.start().ok());
        QVERIFY(!subscriber.isSubscribed()); // start() returns before Redis confirmed anything
        QVERIFY(subscribed.wait(5'000));
        QVERIFY(subscriber.isSubscribed());
        QVERIFY(subscriber.isConnected());
        QVERIFY(subscriber.start().ok()); // already running: no second subscription
        QTest::qWait(50);
        QCOMPARE(subscribed.size(), 1);

        subscriber.stop();
        QVERIFY(!subscriber.isSubscribed());
        QCOMPARE(down.size(), 1);
        QCOMPARE(disconnected.size(), 1);
        QCOMPARE(disconnected.first().at(0).toString(), QStringLiteral("stopped"));
        QTRY_COMPARE(publish(p + "t", "nobody listens"), 0);

        // And again after a stop.
        QVERIFY(subscriber.start().ok());
        QVERIFY(subscribed.wait(5'000));
        QVERIFY(subscriber.isSubscribed());
        QCOMPARE(publish(p + "t", "back"), 1);
    }

    void refusesBadSetups()
    {
        RedisSubscriber badUrl(options(QStringLiteral("rediss://h:6380")), {"c"});
        Status s = badUrl.start();
        QVERIFY(!s.ok());
        QCOMPARE(s.error().code, QStringLiteral("redis_url_invalid"));

        RedisSubscriber nothing(options(m_server->redisUrl()), {});
        s = nothing.start();
        QVERIFY(!s.ok());
        QCOMPARE(s.error().code, QStringLiteral("redis_subscribe_invalid"));
    }

    void wrongPasswordNeverSubscribes()
    {
        const QString secret = QStringLiteral("not-the-password-456");
        RedisSubscriber subscriber(
            options(QStringLiteral("redis://default:%1@127.0.0.1:%2/0").arg(secret).arg(m_server->redisPort())), {"c"});
        QSignalSpy subscribed(&subscriber, &RedisSubscriber::subscribed);
        QSignalSpy scheduled(&subscriber, &RedisSubscriber::reconnectScheduled);
        QVERIFY(subscriber.start().ok());
        QTRY_VERIFY(scheduled.size() >= 2);
        const QString reason = scheduled.first().at(1).toString();
        QVERIFY2(reason.contains(QStringLiteral("AUTH")), qPrintable(reason));
        QVERIFY(!reason.contains(secret));
        // Backing off as RedisClient does.
        QCOMPARE(scheduled.at(0).at(0).toInt(), 100);
        QCOMPARE(scheduled.at(1).at(0).toInt(), 200);
        QVERIFY(subscribed.isEmpty());
        QVERIFY(!subscriber.isSubscribed());
    }

    void refusedSubscriptionIsRetriedWithBackoff()
    {
        // An ACL user that may not use the channel: Redis answers SUBSCRIBE with -NOPERM and
        // hiredis closes the connection, right after a successful connect and AUTH.
        const QByteArray user = "sub-" + SharedServices::uniqueKeyPrefix().toHex();
        std::optional<Result<RedisReply>> created;
        QObject context;
        m_publisher->command({"ACL", "SETUSER", user, "on", ">limited-pw", "~*", "&allowed", "+@all"}, &context,
                             [&](Result<RedisReply> r) { created.emplace(std::move(r)); });
        QTRY_VERIFY(created.has_value());
        QVERIFY2(created->ok() && !created->value().isError(), qPrintable(created->value().describe()));

        RedisClient::Options o = options(QStringLiteral("redis://%1:limited-pw@127.0.0.1:%2/0")
                                             .arg(QString::fromLatin1(user))
                                             .arg(m_server->redisPort()));
        o.connectTimeoutMs = 300;
        RedisSubscriber subscriber(o, {"denied"});
        QSignalSpy subscribed(&subscriber, &RedisSubscriber::subscribed);
        QSignalSpy scheduled(&subscriber, &RedisSubscriber::reconnectScheduled);
        QVERIFY(subscriber.start().ok());
        QTRY_VERIFY_WITH_TIMEOUT(scheduled.size() >= 2, 5'000);
        // Connected each time, but never counted as good: the backoff keeps growing.
        QCOMPARE(scheduled.at(0).at(0).toInt(), 100);
        QCOMPARE(scheduled.at(1).at(0).toInt(), 200);
        QVERIFY(subscribed.isEmpty());
        QVERIFY(!subscriber.isSubscribed());
        m_publisher->command({"ACL", "DELUSER", user}, nullptr, {});
    }

    void resubscribesAfterRedisRestart()
    {
        const QByteArray p = SharedServices::uniqueKeyPrefix();
        auto subscriber = subscribedTo({p + "a", p + "b"}, {p + "pat.*"});
        QVERIFY(subscriber);
        QSignalSpy messages(subscriber.get(), &RedisSubscriber::message);
        QSignalSpy subscribed(subscriber.get(), &RedisSubscriber::subscribed);
        QSignalSpy down(subscriber.get(), &RedisSubscriber::unsubscribedDown);
        QSignalSpy disconnected(subscriber.get(), &RedisSubscriber::disconnected);
        QSignalSpy scheduled(subscriber.get(), &RedisSubscriber::reconnectScheduled);

        QVERIFY(m_server->stopRedis().ok());
        QTRY_COMPARE(down.size(), 1);
        QCOMPARE(disconnected.size(), 1);
        QVERIFY(!subscriber->isSubscribed());
        QVERIFY(!subscriber->isConnected());
        QTRY_VERIFY_WITH_TIMEOUT(scheduled.size() >= 3, 5'000);
        QCOMPARE(scheduled.at(0).at(0).toInt(), 100);
        QCOMPARE(scheduled.at(1).at(0).toInt(), 200);

        QVERIFY(m_server->startRedis().ok());
        QVERIFY(subscribed.wait(8'000));
        QVERIFY(subscriber->isSubscribed());
        QCOMPARE(down.size(), 1);
        QTRY_VERIFY_WITH_TIMEOUT(m_publisher->isConnected(), 8'000);

        // Every channel and the pattern are live again.
        QCOMPARE(publish(p + "a", "after-1"), 1);
        QCOMPARE(publish(p + "b", "after-2"), 1);
        QCOMPARE(publish(p + "pat.x", "after-3"), 1);
        QTRY_COMPARE(messages.size(), 3);
        QCOMPARE(received(messages, 0), QList<QByteArray>({p + "a", "after-1"}));
        QCOMPARE(received(messages, 1), QList<QByteArray>({p + "b", "after-2"}));
        QCOMPARE(received(messages, 2), QList<QByteArray>({p + "pat.x", "after-3"}));

        // The backoff started over once the subscription was confirmed.
        scheduled.clear();
        QVERIFY(m_server->stopRedis().ok());
        QTRY_VERIFY(!scheduled.isEmpty());
        QCOMPARE(scheduled.first().at(0).toInt(), 100);
        QVERIFY(m_server->startRedis().ok());
        QTRY_VERIFY_WITH_TIMEOUT(subscriber->isSubscribed(), 8'000);
        QTRY_VERIFY_WITH_TIMEOUT(m_publisher->isConnected(), 8'000);
    }

    void deletingTheSubscriberInsideMessageIsSafe()
    {
        const QByteArray p = SharedServices::uniqueKeyPrefix();
        auto owned = subscribedTo({p + "d"});
        QVERIFY(owned);
        QPointer<RedisSubscriber> subscriber = owned.release();
        int seen = 0;
        QObject context;
        connect(subscriber.data(), &RedisSubscriber::message, &context, [&] {
            ++seen;
            delete subscriber.data(); // inside hiredis's read loop
        });
        // Several messages in one read: the ones after the deletion must not be delivered.
        for (int i = 0; i < 5; ++i)
            m_publisher->publish(p + "d", QByteArray::number(i));
        QTRY_VERIFY(subscriber.isNull());
        QTest::qWait(100);
        QCOMPARE(seen, 1);
        // Its connection is closed: Redis drops the subscription.
        QTRY_COMPARE(publish(p + "d", "gone"), 0);
    }
};

QTEST_GUILESS_MAIN(TestRedisSubscriber)
#include "TestRedisSubscriber.moc"
