// The admission scripts (gateway/billing/BillingScripts) against a real Redis: reservations,
// release into pending, wallet sync by version, expiry of a dead gateway's reservations, the key
// spending cap, and exact arithmetic far beyond what Lua's doubles hold.

#include "SharedServices.h"
#include "billing/BillingRedis.h"
#include "billing/BillingScripts.h"
#include "storage/RedisSyncClient.h"

#include <QRandomGenerator>
#include <QTest>

using namespace llmpool;
using namespace llmpool::gateway;
using namespace llmpool::gateway::billing;
using llmpool::test::SharedServices;

namespace {

Money m(const char *text)
{
    auto v = Money::parse(QString::fromLatin1(text));
    Q_ASSERT(v);
    return *v;
}

} // namespace

class TestBillingScripts : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<SharedServices> m_services;
    std::unique_ptr<RedisSyncClient> m_redis;
    qint64 m_user = 0;
    qint64 m_now = 1'000'000;

    struct Verdict
    {
        qint64 code = -99;
        QByteArray text;
    };

    Verdict admit(const QByteArray &rid, Money amount, qint64 keyId = 7, std::optional<Money> limit = {},
                  qint64 expiresAt = 0)
    {
        const UserKeys k = UserKeys::of(m_user);
        auto reply = runScriptSync(*m_redis, admitScript(),
                                   {k.wallet, k.reservations, k.totals, k.keySpend(keyId)},
                                   {rid, amount.nanosText(), QByteArray::number(keyId), QByteArray::number(m_now),
                                    QByteArray::number(expiresAt ? expiresAt : m_now + 60'000),
                                    limit ? limit->nanosText() : QByteArray()});
        if (!reply || !reply->isArray() || reply->elements.size() != 2) {
            qWarning() << (reply ? reply->describe() : reply.error().message);
            return {};
        }
        return {reply->elements[0].integer, reply->elements[1].string};
    }

    bool finish(const QByteArray &rid, Money cost, qint64 keyId = 7, const QByteArray &lease = {})
    {
        FinishBatch batch(streamKey());
        batch.add(m_user, rid, cost.nanosText(), QByteArray::number(keyId), "{\"request_id\":\"" + rid + "\"}",
                  lease);
        auto reply = runScriptSync(*m_redis, finishScript(), batch.keys(), batch.args());
        return reply && reply->isArray() && reply->elements.size() == 1 && reply->elements[0].isString();
    }

    QByteArray streamKey() const { return "test:usage:" + QByteArray::number(m_user); }

    QByteArray totals(const char *field)
    {
        auto reply = m_redis->command({"HGET", UserKeys::of(m_user).totals, field});
        return reply && reply->isString() ? reply->string : QByteArray("0");
    }

    void sync(Money balance, qint64 version, QList<QByteArray> settled = {}, QList<WalletState::KeySpend> keys = {})
    {
        WalletState state;
        state.userId = m_user;
        state.balance = balance;
        state.version = version;
        state.settledRequests = std::move(settled);
        state.keys = std::move(keys);
        QVERIFY(syncWalletSync(*m_redis, state).ok());
    }

private Q_SLOTS:
    void initTestCase()
    {
        auto services = SharedServices::fromEnv();
        QVERIFY2(services.ok(), services.ok() ? "" : qPrintable(services.error().message));
        m_services = std::move(*services);
        m_redis = std::make_unique<RedisSyncClient>(m_services->redisUrl());
        QVERIFY(m_redis->connect().ok());
    }

    void init()
    {
        // A user id of its own per test function: the shared Redis may hold other tests' keys.
        m_user = qint64(QRandomGenerator::global()->bounded(1'000'000'000)) + 1'000'000'000'000LL;
    }

    void nanosTextRoundTrips_data()
    {
        QTest::addColumn<QString>("money");
        QTest::addColumn<QByteArray>("nanos");
        QTest::newRow("zero") << "0" << QByteArray("0");
        QTest::newRow("one nano") << "0.000000001" << QByteArray("1");
        QTest::newRow("minus one nano") << "-0.000000001" << QByteArray("-1");
        QTest::newRow("one and a half") << "1.5" << QByteArray("1500000000");
        QTest::newRow("big") << "9000000000000.000000001" << QByteArray("9000000000000000000001");
        QTest::newRow("negative") << "-123.000000001" << QByteArray("-123000000001");
    }

    void nanosTextRoundTrips()
    {
        QFETCH(QString, money);
        QFETCH(QByteArray, nanos);
        const Money value = *Money::parse(money);
        QCOMPARE(value.nanosText(), nanos);
        auto back = moneyFromNanosText(nanos);
        QVERIFY(back.ok());
        QCOMPARE(*back, value);
        QVERIFY(!moneyFromNanosText("12a").ok());
        QVERIFY(!moneyFromNanosText("-").ok());
    }

    void admissionNeedsALoadedWallet()
    {
        QCOMPARE(admit("r1", m("0.1")).code, -1);
        sync(m("1"), 5);
        QCOMPARE(admit("r1", m("0.1")).code, 1);
    }

    void reservePendingAndSettle()
    {
        sync(m("1"), 5);
        auto a = admit("r1", m("0.4"));
        QCOMPARE(a.code, 1);
        QCOMPARE(a.text, QByteArray("600000000")); // available after
        auto b = admit("r2", m("0.7"));
        QCOMPARE(b.code, 0); // short: 0.6 available
        QCOMPARE(b.text, QByteArray("600000000"));
        QCOMPARE(admit("r1", m("0.4")).code, 1); // the same request again: already reserved, no double
        QCOMPARE(totals("res"), QByteArray("400000000"));

        // Finished: the reservation becomes the real cost, pending until PostgreSQL has it.
        QVERIFY(finish("r1", m("0.3")));
        QCOMPARE(totals("res"), QByteArray("0"));
        QCOMPARE(totals("pend"), QByteArray("300000000"));
        auto len = m_redis->command({"XLEN", streamKey()});
        QCOMPARE(len->integer, 1);
        QCOMPARE(admit("r2", m("0.7")).code, 1); // 1 - 0.3 pending = 0.7: exactly enough
        auto none = admit("r3", m("0.000000001"));
        QCOMPARE(none.code, 0);
        QCOMPARE(none.text, QByteArray("0"));

        // A finish replayed (spool + stream) adds its pending once.
        QVERIFY(finish("r1", m("0.3")));
        QCOMPARE(totals("pend"), QByteArray("300000000"));

        // The worker settled r1: wallet now 0.7 at version 6, r1 no longer pending.
        sync(m("0.7"), 6, {"r1"});
        QCOMPARE(totals("pend"), QByteArray("0"));
        QCOMPARE(admit("r3", m("0.000000001")).code, 0); // 0.7 - 0.7 reserved
        // An older state arriving late is ignored.
        sync(m("5"), 4);
        QCOMPARE(admit("r3", m("0.000000001")).code, 0);
        // A newer one (a deposit) is taken.
        sync(m("0.8"), 7);
        QCOMPARE(admit("r3", m("0.1")).code, 1);
        QCOMPARE(totals("res"), QByteArray("800000000"));
        (void)m_redis->command({"DEL", streamKey()});
    }

    void finishTakesEventsOfSeveralUsersInOneCall()
    {
        const qint64 first = m_user, second = m_user + 1;
        sync(m("10"), 1);
        QCOMPARE(admit("a", m("0.5"), 7).code, 1);
        QCOMPARE(admit("d", m("0.1"), 7).code, 1);
        m_user = second;
        sync(m("10"), 1);
        QCOMPARE(admit("b", m("0.4"), 9).code, 1);
        m_user = first;

        FinishBatch batch(streamKey());
        batch.add(first, "a", m("0.2").nanosText(), "7", R"({"request_id":"a"})");
        batch.add(second, "b", m("0.1").nanosText(), "9", R"({"request_id":"b"})");
        batch.add(first, "c", m("0.3").nanosText(), "8", R"({"request_id":"c"})"); // never reserved
        batch.add(first, "a", m("0.2").nanosText(), "7", R"({"request_id":"a"})"); // twice in one call
        batch.add(first, "d", m("0").nanosText(), "7", R"({"request_id":"d"})");   // free: nothing pending
        QCOMPARE(batch.keys().size(), 1 + 2 * 3);
        auto reply = runScriptSync(*m_redis, finishScript(), batch.keys(), batch.args());
        QVERIFY2(reply.ok(), reply.ok() ? "" : qPrintable(reply.error().message));
        QVERIFY(reply->isArray());
        QCOMPARE(reply->elements.size(), 5); // one stream entry per event, in order
        auto entries = m_redis->command({"XRANGE", streamKey(), "-", "+"});
        QVERIFY(entries.ok());
        QCOMPARE(entries->elements.size(), 5);
        for (int i = 0; i < 5; ++i) {
            QCOMPARE(entries->elements[i].elements[0].string, reply->elements[i].string);
        }
        QCOMPARE(entries->elements[1].elements[1].elements[1].string, QByteArray(R"({"request_id":"b"})"));

        // First user: both reservations released (fields gone), a + c pending once each.
        QCOMPARE(totals("res"), QByteArray("0"));
        QCOMPARE(totals("kr7"), QByteArray("0"));
        QCOMPARE(totals("pend"), QByteArray("500000000"));
        QCOMPARE(totals("kp7"), QByteArray("200000000"));
        QCOMPARE(totals("kp8"), QByteArray("300000000"));
        QCOMPARE(m_redis->command({"HLEN", UserKeys::of(first).pending})->integer, 2);
        QCOMPARE(m_redis->command({"HLEN", UserKeys::of(first).reservations})->integer, 0);
        // Second user: its own keys.
        m_user = second;
        QCOMPARE(totals("res"), QByteArray("0"));
        QCOMPARE(totals("kr9"), QByteArray("0"));
        QCOMPARE(totals("pend"), QByteArray("100000000"));
        QCOMPARE(totals("kp9"), QByteArray("100000000"));
        QCOMPARE(admit("e", m("9.9")).code, 1); // 10 - 0.1 pending
        m_user = first;
        (void)m_redis->command({"DEL", streamKey()});
    }

    void expiredReservationsAreSwept()
    {
        sync(m("1"), 1);
        QCOMPARE(admit("dead", m("1"), 7, {}, m_now + 10).code, 1); // a gateway that will die
        QCOMPARE(admit("r", m("0.5")).code, 0);
        m_now += 11; // its reservation expired, but the refusal just now looked: not again within 1 s
        QCOMPARE(admit("r", m("0.5")).code, 0);
        m_now += 1000;
        QCOMPARE(admit("r", m("0.5")).code, 1);
        QCOMPARE(totals("res"), QByteArray("500000000"));
        QCOMPARE(totals("kr7"), QByteArray("500000000"));
    }

    void manyAtOnceAndFieldsGoAway()
    {
        // 1,200 requests over two keys: more request ids than one sync call releases per chunk.
        sync(m("1000"), 1);
        QList<QByteArray> rids;
        for (int i = 0; i < 1200; ++i) {
            rids << "m" + QByteArray::number(i);
            QCOMPARE(admit(rids.last(), m("0.5"), 7 + i % 2).code, 1);
        }
        QCOMPARE(totals("res"), QByteArray("600000000000"));
        QCOMPARE(totals("kr7"), QByteArray("300000000000"));
        QCOMPARE(totals("kr8"), QByteArray("300000000000"));
        for (int i = 0; i < 1200; ++i) {
            QVERIFY(finish(rids[i], m("0.25"), 7 + i % 2));
        }
        QCOMPARE(totals("pend"), QByteArray("300000000000"));
        QCOMPARE(totals("kp8"), QByteArray("150000000000"));
        const UserKeys k = UserKeys::of(m_user);
        // Released totals are removed, not left at zero.
        auto fields = m_redis->command({"HKEYS", k.totals});
        QVERIFY(fields.ok());
        QCOMPARE(fields->elements.size(), 3); // pend, kp7, kp8
        // Settled, with some ids named twice and one never pending: each taken off once.
        QList<QByteArray> settled = rids;
        settled << rids.mid(0, 10) << "never-pending";
        settled.insert(600, rids[599]);
        sync(m("700"), 2, settled);
        auto left = m_redis->command({"EXISTS", k.totals, k.pending});
        QCOMPARE(left->integer, 0);
        QCOMPARE(admit("after", m("700")).code, 1);
        QCOMPARE(admit("after2", m("0.000000001")).code, 0);
        (void)m_redis->command({"DEL", streamKey()});
    }

    void sweepReleasesEveryKey()
    {
        sync(m("3"), 1);
        QCOMPARE(admit("d7", m("1"), 7, {}, m_now + 10).code, 1);
        QCOMPARE(admit("d8", m("1.5"), 8, {}, m_now + 10).code, 1);
        QCOMPARE(admit("live", m("0.25"), 8).code, 1);
        m_now += 11;
        QCOMPARE(admit("next", m("2.75")).code, 1); // 3 - 0.25: both dead ones released
        QCOMPARE(totals("kr8"), QByteArray("250000000"));
        QCOMPARE(totals("res"), QByteArray("3000000000"));
        auto kr7 = m_redis->command({"HEXISTS", UserKeys::of(m_user).totals, "kr7"});
        QCOMPARE(kr7->integer, 1); // "next" reserved on key 7 again
        QCOMPARE(totals("kr7"), QByteArray("2750000000"));
    }

    void releaseTakesBackAnUnusedReservation()
    {
        sync(m("1"), 1);
        QCOMPARE(admit("late", m("0.6"), 7).code, 1);
        QCOMPARE(admit("other", m("0.5")).code, 0);
        const UserKeys k = UserKeys::of(m_user);
        const auto release = [&](const QByteArray &rid) {
            auto reply = runScriptSync(*m_redis, releaseScript(), {k.reservations, k.totals}, {rid});
            QVERIFY(reply.ok());
        };
        release("late");
        QCOMPARE(totals("res"), QByteArray("0"));
        auto gone = m_redis->command({"EXISTS", k.reservations, k.totals});
        QCOMPARE(gone->integer, 0);
        release("late");    // twice: nothing more
        release("unknown"); // never reserved: nothing
        QCOMPARE(admit("other", m("1")).code, 1);
        // A finished request's reservation is not released again (its cost is pending now).
        QVERIFY(finish("other", m("0.25")));
        release("other");
        QCOMPARE(totals("pend"), QByteArray("250000000"));
        QCOMPARE(admit("rest", m("0.75")).code, 1);
        (void)m_redis->command({"DEL", streamKey()});
    }

    void finishTakesALeasedRequestsCostOffItsLease()
    {
        sync(m("10"), 1);
        const UserKeys k = UserKeys::of(m_user);
        const auto entry = [&](const QByteArray &id) {
            auto reply = m_redis->command({"HGET", k.reservations, id});
            return reply && reply->isString() ? reply->string : QByteArray();
        };
        QCOMPARE(admit("Lx.1", m("3"), 7, {}, m_now + 90'000).code, 1); // the lease: a reservation
        QVERIFY(finish("r1", m("0.5"), 7, "Lx.1"));
        QCOMPARE(entry("Lx.1"), QByteArray("2500000000 7 ") + QByteArray::number(m_now + 90'000)); // expiry kept
        QCOMPARE(totals("res"), QByteArray("2500000000"));
        QCOMPARE(totals("kr7"), QByteArray("2500000000"));
        QCOMPARE(totals("pend"), QByteArray("500000000"));
        QCOMPARE(totals("kp7"), QByteArray("500000000"));
        // The same event again (a replay carrying the lease): its cost is taken once.
        QVERIFY(finish("r1", m("0.5"), 7, "Lx.1"));
        QCOMPARE(totals("res"), QByteArray("2500000000"));
        QCOMPARE(totals("pend"), QByteArray("500000000"));
        // A cost beyond what is left takes the lease to zero, never below; pending gets all of it.
        QVERIFY(finish("r2", m("4"), 7, "Lx.1"));
        QCOMPARE(entry("Lx.1"), QByteArray("0 7 ") + QByteArray::number(m_now + 90'000));
        QCOMPARE(totals("res"), QByteArray("0"));
        QCOMPARE(totals("kr7"), QByteArray("0"));
        QCOMPARE(totals("pend"), QByteArray("4500000000"));
        QCOMPARE(admit("r3", m("5.5")).code, 1); // 10 - 4.5 pending: exactly
        // Released by its holder, then a late event naming it: pending only.
        QVERIFY(runScriptSync(*m_redis, releaseScript(), {k.reservations, k.totals}, {"Lx.1"}).ok());
        QCOMPARE(entry("Lx.1"), QByteArray());
        QVERIFY(finish("r4", m("0.25"), 7, "Lx.1"));
        QCOMPARE(totals("res"), QByteArray("5500000000"));
        QCOMPARE(totals("pend"), QByteArray("4750000000"));

        // Several events of one lease in one call: their costs together, clamped at what is left.
        QVERIFY(runScriptSync(*m_redis, releaseScript(), {k.reservations, k.totals}, {"r3"}).ok());
        QCOMPARE(admit("Lx.2", m("1"), 7, {}, m_now + 90'000).code, 1);
        FinishBatch batch(streamKey());
        const char *costs[] = {"0.3", "0.4", "0.5"};
        for (int i = 0; i < 3; ++i) {
            const QByteArray rid = "b" + QByteArray::number(i);
            batch.add(m_user, rid, m(costs[i]).nanosText(), "7", "{\"request_id\":\"" + rid + "\"}", "Lx.2");
        }
        QVERIFY(runScriptSync(*m_redis, finishScript(), batch.keys(), batch.args()).ok());
        QCOMPARE(entry("Lx.2"), QByteArray("0 7 ") + QByteArray::number(m_now + 90'000));
        QCOMPARE(totals("res"), QByteArray("0"));
        QCOMPARE(totals("kr7"), QByteArray("0"));
        QCOMPARE(totals("pend"), QByteArray("5950000000")); // 4.75 + 1.2
        (void)m_redis->command({"DEL", streamKey()});
    }

    void reservationsOfAnOlderVersionKeepTheirExpiry()
    {
        // A gateway from before the expiry moved into the entry: "<amount> <key>" in the hash, the
        // expiry in its sorted set (llmpool:{uU}:x), totals as its admit script left them.
        sync(m("1"), 1);
        const UserKeys k = UserKeys::of(m_user);
        const QByteArray x = "llmpool:{u" + QByteArray::number(m_user) + "}:x";
        QVERIFY(m_redis->command({"HSET", k.reservations, "old-live", "600000000 7"}).ok());
        QVERIFY(m_redis->command({"ZADD", x, QByteArray::number(m_now + 60'000), "old-live"}).ok());
        QVERIFY(m_redis->command({"HSET", k.reservations, "old-dead", "300000000 7"}).ok());
        QVERIFY(m_redis->command({"ZADD", x, QByteArray::number(m_now - 1), "old-dead"}).ok());
        QVERIFY(m_redis->command({"HSET", k.totals, "res", "900000000", "kr7", "900000000"}).ok());
        // 0.1 available; asking 0.3 sweeps: the dead one goes, the live one (still in flight on
        // the older gateway) stays reserved.
        QCOMPARE(admit("new", m("0.3")).code, 1);
        QCOMPARE(totals("res"), QByteArray("900000000")); // 0.6 old-live + 0.3 new
        auto live = m_redis->command({"HEXISTS", k.reservations, "old-live"});
        QCOMPARE(live->integer, 1);
        auto dead = m_redis->command({"ZSCORE", x, "old-dead"});
        QVERIFY(dead.ok() && dead->isNil());
        QCOMPARE(admit("more", m("0.1")).code, 1);
        QCOMPARE(admit("too-much", m("0.000000001")).code, 0);
        (void)m_redis->command({"DEL", x});
    }

    void keySpendingCap()
    {
        sync(m("100"), 3, {}, {{7, m("0.5")}});
        auto refused = admit("k1", m("0.2"), 7, m("0.6"));
        QCOMPARE(refused.code, -2);
        QCOMPARE(refused.text, QByteArray("100000000")); // 0.1 of the cap left
        QCOMPARE(admit("k1", m("0.1"), 7, m("0.6")).code, 1);
        QCOMPARE(admit("k2", m("0.000000001"), 7, m("0.6")).code, -2);
        // Another key of the same user is not limited by key 7's cap.
        sync(m("100"), 3, {}, {{8, m("0")}});
        QCOMPARE(admit("k3", m("1"), 8, m("2")).code, 1);
        // A key whose spend is not loaded yet asks for a load.
        QCOMPARE(admit("k4", m("1"), 9, m("2")).code, -1);
    }

    void exactBeyondDoublePrecision()
    {
        // 9,000,000,000.000000001 = 9 * 10^18 + 1 nanos: far past 2^53.
        sync(m("9000000000.000000001"), 1);
        auto a = admit("big", m("9000000000"));
        QCOMPARE(a.code, 1);
        QCOMPARE(a.text, QByteArray("1"));
        QCOMPARE(admit("big2", m("0.000000002")).code, 0);
        QCOMPARE(admit("big3", m("0.000000001")).code, 1);
        // A negative balance (debt beyond the credit line) admits nothing, not even a free request.
        init();
        sync(m("-0.000000005"), 1);
        auto neg = admit("n", m("0"));
        QCOMPARE(neg.code, 0);
        QCOMPARE(neg.text, QByteArray("-5"));
    }
};

QTEST_GUILESS_MAIN(TestBillingScripts)
#include "TestBillingScripts.moc"
