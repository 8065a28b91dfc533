// RedisClient (hiredis on the Qt event loop) and RedisSyncClient against a private Redis, which
// the outage tests stop and start.

#include "SharedServices.h"
#include "TestServices.h"
#include "storage/RedisClient.h"
#include "storage/RedisSyncClient.h"

#include <QElapsedTimer>
#include <QPointer>
#include <QSignalSpy>
#include <QTest>

#include <memory>
#include <optional>

using namespace llmpool;
using namespace llmpool::gateway;
using namespace llmpool::test;

namespace {

QList<QByteArray> cmd(std::initializer_list<QByteArray> args)
{
    return QList<QByteArray>(args);
}

} // namespace

class TestRedisClient : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<TestServices> m_server;

    std::unique_ptr<RedisClient> connectedClient(const QString &url)
    {
        RedisClient::Options options;
        options.url = url;
        auto client = std::make_unique<RedisClient>(options);
        QSignalSpy connected(client.get(), &RedisClient::connected);
        if (!client->start().ok())
            return nullptr;
        if (!client->isConnected() && !connected.wait(5'000))
            return nullptr;
        return client;
    }

    // Sends one command and waits for its reply.
    static Result<RedisReply> call(RedisClient &client, QList<QByteArray> args)
    {
        std::optional<Result<RedisReply>> reply;
        QObject context;
        client.command(std::move(args), &context, [&](Result<RedisReply> r) { reply.emplace(std::move(r)); });
        QElapsedTimer timer;
        timer.start();
        while (!reply && timer.elapsed() < 5'000)
            QTest::qWait(1);
        if (!reply)
            return Error::internal(QStringLiteral("test_timeout"), QStringLiteral("no reply"));
        return std::move(*reply);
    }

private Q_SLOTS:
    void initTestCase()
    {
        // Private: the outage tests stop this Redis, which must not disturb parallel tests.
        TestServices::Options options;
        options.postgres = false;
        m_server = std::make_unique<TestServices>(options);
        Status started = m_server->start();
        QVERIFY2(started.ok(), started.ok() ? "" : qPrintable(started.error().message));
    }

    void cleanupTestCase() { m_server.reset(); }

    void replyTypes()
    {
        auto client = connectedClient(m_server->redisUrl());
        QVERIFY(client);
        const QByteArray p = SharedServices::uniqueKeyPrefix();

        Result<RedisReply> set = call(*client, cmd({"SET", p + "k", "v"}));
        QVERIFY(set.ok());
        QCOMPARE(set->type, RedisReply::Type::Status);
        QCOMPARE(set->string, QByteArray("OK"));

        Result<RedisReply> get = call(*client, cmd({"GET", p + "k"}));
        QCOMPARE(get->type, RedisReply::Type::String);
        QCOMPARE(get->string, QByteArray("v"));

        QVERIFY(call(*client, cmd({"GET", p + "missing"}))->isNil());

        Result<RedisReply> incr = call(*client, cmd({"INCRBY", p + "n", "41"}));
        QCOMPARE(incr->type, RedisReply::Type::Integer);
        QCOMPARE(incr->integer, 41);

        QVERIFY(call(*client, cmd({"RPUSH", p + "l", "a", "b", "c"})).ok());
        Result<RedisReply> range = call(*client, cmd({"LRANGE", p + "l", "0", "-1"}));
        QCOMPARE(range->type, RedisReply::Type::Array);
        QCOMPARE(range->elements.size(), 3);
        QCOMPARE(range->elements.at(2).string, QByteArray("c"));

        // A Redis error is a reply, not a transport failure.
        Result<RedisReply> wrongType = call(*client, cmd({"INCR", p + "l"}));
        QVERIFY(wrongType.ok());
        QVERIFY(wrongType->isError());
        QVERIFY(wrongType->string.startsWith("WRONGTYPE"));

        // Binary-safe both ways.
        const QByteArray binary("a\0b\r\nc\xff", 8);
        QVERIFY(call(*client, cmd({"SET", p + "bin", binary})).ok());
        QCOMPARE(call(*client, cmd({"GET", p + "bin"}))->string, binary);

        std::optional<Status> ping;
        QObject context;
        client->ping(&context, [&](Status s) { ping = s; });
        QTRY_VERIFY(ping.has_value());
        QVERIFY(ping->ok());
    }

    void pipelinesManyCommandsInOrder()
    {
        constexpr int kCommands = 20'000;
        auto client = connectedClient(m_server->redisUrl());
        QVERIFY(client);
        const QByteArray key = SharedServices::uniqueKeyPrefix() + "counter";
        QObject context;
        int received = 0;
        bool inOrder = true;
        for (int i = 0; i < kCommands; ++i) {
            client->command(cmd({"INCR", key}), &context, [&, i](Result<RedisReply> reply) {
                inOrder = inOrder && reply.ok() && reply->integer == i + 1;
                ++received;
            });
        }
        QVERIFY(client->pendingCommands() > 0);
        QTRY_COMPARE_WITH_TIMEOUT(received, kCommands, 20'000);
        QVERIFY(inOrder);
        QCOMPARE(client->pendingCommands(), 0);
    }

    void selectsTheDatabaseAndUsesTheUnixSocket()
    {
        auto client = connectedClient(m_server->redisSocketUrl(3));
        QVERIFY(client);
        const QByteArray key = SharedServices::uniqueKeyPrefix() + "db3";
        QVERIFY(call(*client, cmd({"SET", key, "three"})).ok());

        RedisSyncClient db3(m_server->redisUrl(3));
        Result<RedisReply> there = db3.command(cmd({"GET", key}));
        QVERIFY2(there.ok(), there.ok() ? "" : qPrintable(there.error().message));
        QCOMPARE(there->string, QByteArray("three"));
        RedisSyncClient db0(m_server->redisUrl(0));
        QVERIFY(db0.command(cmd({"GET", key}))->isNil());
        QVERIFY(db0.ping().ok());
    }

    void connectsWithoutPassword()
    {
        // No AUTH/SELECT handshake: ready as soon as the TCP connection is.
        TestServices::Options options;
        options.postgres = false;
        options.redisPassword = false;
        TestServices open(options);
        QVERIFY(open.start().ok());
        QVERIFY(!open.redisUrl().contains(QLatin1Char('@')));
        auto client = connectedClient(open.redisUrl());
        QVERIFY(client);
        QCOMPARE(call(*client, cmd({"PING"}))->string, QByteArray("PONG"));
        client.reset();
    }

    void wrongPasswordNeverConnectsAndIsNotLogged()
    {
        const QString secret = QStringLiteral("not-the-password-123");
        RedisClient::Options options;
        options.url = QStringLiteral("redis://default:%1@127.0.0.1:%2/0").arg(secret).arg(m_server->redisPort());
        RedisClient client(options);
        QSignalSpy connected(&client, &RedisClient::connected);
        QSignalSpy scheduled(&client, &RedisClient::reconnectScheduled);
        QVERIFY(client.start().ok());
        QTRY_VERIFY(!scheduled.isEmpty());
        const QString reason = scheduled.first().at(1).toString();
        QVERIFY2(reason.contains(QStringLiteral("AUTH")), qPrintable(reason));
        QVERIFY(!reason.contains(secret));
        QVERIFY(connected.isEmpty());
        Result<RedisReply> reply = call(client, cmd({"PING"}));
        QVERIFY(!reply.ok());
        QCOMPARE(reply.error().code, QStringLiteral("redis_unavailable"));

        RedisSyncClient sync(options.url);
        Status s = sync.connect();
        QVERIFY(!s.ok());
        QVERIFY(!s.error().message.contains(secret));
    }

    void failsFastWhileDownAndReconnectsWithBackoff()
    {
        auto client = connectedClient(m_server->redisUrl());
        QVERIFY(client);
        QSignalSpy disconnected(client.get(), &RedisClient::disconnected);
        QSignalSpy scheduled(client.get(), &RedisClient::reconnectScheduled);
        QSignalSpy connected(client.get(), &RedisClient::connected);

        // A command in flight when the server goes away fails, it does not hang.
        QObject context;
        std::optional<Result<RedisReply>> blocked;
        client->command(cmd({"BLPOP", SharedServices::uniqueKeyPrefix() + "never", "30"}), &context,
                        [&](Result<RedisReply> r) { blocked.emplace(std::move(r)); });
        QTest::qWait(50);
        QVERIFY(m_server->stopRedis().ok());
        QTRY_VERIFY(blocked.has_value());
        QVERIFY(!blocked->ok());
        QCOMPARE(blocked->error().code, QStringLiteral("redis_unavailable"));
        QTRY_COMPARE(disconnected.size(), 1);
        QVERIFY(!client->isConnected());

        // Fail fast: no waiting for a connect timeout.
        QElapsedTimer timer;
        timer.start();
        Result<RedisReply> down = call(*client, cmd({"PING"}));
        QVERIFY(!down.ok());
        QCOMPARE(down.error().code, QStringLiteral("redis_unavailable"));
        QCOMPARE(down.error().httpStatus, 503);
        QVERIFY(timer.elapsed() < 500);

        // Exponential backoff: 100, 200, 400, 800 ms …
        QTRY_VERIFY_WITH_TIMEOUT(scheduled.size() >= 4, 5'000);
        QList<int> delays;
        for (const QList<QVariant> &args : std::as_const(scheduled))
            delays << args.at(0).toInt();
        QCOMPARE(delays.first(), 100);
        for (qsizetype i = 1; i < delays.size(); ++i) {
            QVERIFY(delays[i] >= delays[i - 1]);
            QVERIFY(delays[i] <= 5'000);
        }
        QCOMPARE(delays[1], 200);
        QCOMPARE(delays[2], 400);

        QVERIFY(m_server->startRedis().ok());
        QVERIFY(connected.wait(8'000));
        QVERIFY(client->isConnected());
        Result<RedisReply> up = call(*client, cmd({"PING"}));
        QVERIFY(up.ok());
        QCOMPARE(up->string, QByteArray("PONG"));

        // The backoff starts over after a successful connection.
        scheduled.clear();
        QVERIFY(m_server->stopRedis().ok());
        QTRY_VERIFY(!scheduled.isEmpty());
        QCOMPARE(scheduled.first().at(0).toInt(), 100);
        QVERIFY(m_server->startRedis().ok());
        QTRY_VERIFY_WITH_TIMEOUT(client->isConnected(), 8'000);
    }

    void deletingTheClientInsideACallbackIsSafe()
    {
        auto owned = connectedClient(m_server->redisUrl());
        QVERIFY(owned);
        QPointer<RedisClient> client = owned.release();
        QObject context;
        int replies = 0;
        int failures = 0;
        for (int i = 0; i < 100; ++i) {
            client->command(cmd({"PING"}), &context, [&, i](Result<RedisReply> r) {
                r.ok() ? ++replies : ++failures;
                if (i == 10)
                    delete client.data(); // inside hiredis's read loop
            });
        }
        QTRY_VERIFY(client.isNull());
        QTest::qWait(100);
        // Up to the deletion the replies arrived; the rest failed (queued) or were answered
        // before the deferred teardown — but every callback ran exactly once.
        QVERIFY(replies >= 11);
        QCOMPARE(replies + failures, 100);
    }

    void stopFailsPendingAndIsQuietAfterwards()
    {
        auto client = connectedClient(m_server->redisUrl());
        QVERIFY(client);
        QObject context;
        std::optional<Result<RedisReply>> pending;
        client->command(cmd({"BLPOP", SharedServices::uniqueKeyPrefix() + "x", "30"}), &context,
                        [&](Result<RedisReply> r) { pending.emplace(std::move(r)); });
        QTest::qWait(20);
        QSignalSpy scheduled(client.get(), &RedisClient::reconnectScheduled);
        client->stop();
        QCOMPARE(client->state(), RedisClient::State::Stopped);
        QTRY_VERIFY(pending.has_value());
        QCOMPARE(pending->error().code, QStringLiteral("redis_unavailable"));
        QTest::qWait(300);
        QVERIFY(scheduled.isEmpty()); // no reconnect after stop()
    }
};

QTEST_GUILESS_MAIN(TestRedisClient)
#include "TestRedisClient.moc"
