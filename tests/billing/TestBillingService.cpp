// BillingService against a real Redis and PostgreSQL: a reservation the request can no longer use
// (the request went away, or its deadline answered first) is taken back when the late answer
// comes, instead of holding the user's money until the reservation's TTL. A usage event is durable
// (journaled) when record() returns — the response does not wait for Redis — and then reaches the
// stream, releasing its reservation and holding its cost as pending. Events recorded within a few
// ms reach Redis together, but still before a later admission on the same thread. A busy key is
// admitted against a lease.

#include "SharedServices.h"
#include "StorageTestUtil.h"
#include "billing/BillingScripts.h"
#include "billing/BillingService.h"
#include "storage/RedisPool.h"
#include "storage/RedisSyncClient.h"
#include "storage/UserRepository.h"
#include "storage/WalletRepository.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QTemporaryDir>
#include <QTest>

#include <memory>
#include <optional>

using namespace llmpool;
using namespace llmpool::gateway;
using namespace llmpool::gateway::billing;
using namespace llmpool::test;

class TestBillingService : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<SharedServices> m_services;
    std::unique_ptr<Database> m_db;
    std::unique_ptr<RedisPool> m_pool;
    std::unique_ptr<RedisSyncClient> m_redis;
    std::unique_ptr<BillingService> m_billing;
    QTemporaryDir m_dir;
    qint64 m_user = 0;
    int m_requests = 0;

    AdmissionRequest request(const char *amount)
    {
        AdmissionRequest r;
        r.requestId = "req-test-" + QByteArray::number(++m_requests);
        r.userId = m_user;
        r.keyId = 1;
        r.amount = *Money::parse(QString::fromLatin1(amount));
        return r;
    }

    // reserve() with a live requester, waited for.
    Status reserveAndWait(BillingService &billing, const AdmissionRequest &r)
    {
        QObject requester;
        std::optional<Status> verdict;
        billing.reserve(r, &requester, [&](Status s) { verdict = std::move(s); });
        if (!QTest::qWaitFor([&] { return verdict.has_value(); }, 10'000)) {
            return Error::internal(QStringLiteral("test"), QStringLiteral("no verdict in 10 s"));
        }
        return *verdict;
    }
    Status reserveAndWait(const AdmissionRequest &r) { return reserveAndWait(*m_billing, r); }

    // The usage event of request `r`, costing `cost`.
    UsageEvent eventFor(const AdmissionRequest &r, const char *cost)
    {
        UsageEvent event;
        event.requestId = r.requestId;
        event.userId = r.userId;
        event.keyId = r.keyId;
        event.model = QStringLiteral("m");
        event.endpoint = QStringLiteral("chat/completions");
        event.status = 200;
        event.cost = *Money::parse(QString::fromLatin1(cost));
        return event;
    }

    // A user with `cash` deposited through the ledger; 0 on failure.
    qint64 newUserWithDeposit(const char *name, const char *cash)
    {
        NewUser user;
        user.name = QString::fromLatin1(name);
        auto created = m_db->runSync([user](QSqlDatabase &db) { return UserRepository::create(db, user); });
        if (!created) {
            return 0;
        }
        Movement deposit{created->id, MovementKind::Deposit, *Money::parse(QString::fromLatin1(cash)),
                         QStringLiteral("seed"), std::nullopt};
        if (!m_db->runSync([deposit](QSqlDatabase &db) { return WalletRepository::applyMovement(db, deposit); })) {
            return 0;
        }
        return created->id;
    }

    qint64 reservationsHeld()
    {
        auto reply = m_redis->command({"HLEN", UserKeys::of(m_user).reservations});
        return reply ? reply->integer : -1;
    }

private Q_SLOTS:
    void initTestCase()
    {
        auto services = SharedServices::fromEnv();
        QVERIFY2(services.ok(), services.ok() ? "" : qPrintable(services.error().message));
        m_services = std::move(*services);
        m_db = migratedDatabase(*m_services);
        m_user = newUserWithDeposit("billing-service", "10");
        QVERIFY(m_user > 0);

        RedisClient::Options options;
        options.url = m_services->redisUrl();
        m_pool = std::make_unique<RedisPool>(options);
        m_redis = std::make_unique<RedisSyncClient>(m_services->redisUrl());
        QVERIFY(m_redis->connect().ok());
        QVERIFY(m_dir.isValid());
        Config config;
        config.redis.url = m_services->redisUrl();
        config.billing.spoolDir = m_dir.path();
        m_billing = std::make_unique<BillingService>(config, m_db.get(), m_pool.get());
    }

    void cleanupTestCase()
    {
        m_billing.reset();
        m_pool.reset();
    }

    void admitsAndRefuses()
    {
        QVERIFY(reserveAndWait(request("4")).ok()); // loads the wallet from PostgreSQL first
        QCOMPARE(reservationsHeld(), 1);
        const Status refused = reserveAndWait(request("6.5")); // 10 - 4 = 6 available
        QVERIFY(!refused.ok());
        QCOMPARE(refused.error().code, QStringLiteral("insufficient_balance"));
        QCOMPARE(refused.error().httpStatus, 402);
        QCOMPARE(reservationsHeld(), 1);
    }

    void reservationOfAGoneRequestIsTakenBack()
    {
        const qint64 releasedBefore = m_billing->counters().releasedLate.load();
        const qint64 held = reservationsHeld();
        auto requester = std::make_unique<QObject>();
        bool answered = false;
        m_billing->reserve(request("1"), requester.get(), [&](Status) { answered = true; });
        // Gone before Redis could answer (the command is written on the next event-loop pass):
        // the script still reserves, and the gateway must give it back.
        requester.reset();
        // A second admission on the same connection is answered after the first: once it is, the
        // gone request's answer has come too.
        QVERIFY(reserveAndWait(request("0.5")).ok());
        QTRY_COMPARE_WITH_TIMEOUT(reservationsHeld(), held + 1, 10'000); // the 0.5 only
        QCOMPARE(m_billing->counters().releasedLate.load(), releasedBefore + 1);
        QVERIFY(!answered); // nothing was delivered to the gone requester
        // The money is available again: 10 - 4 (first test) - 0.5 = 5.5.
        QVERIFY(reserveAndWait(request("5.5")).ok());
    }

    void recordIsDurableAtOnceThenReachesTheStream()
    {
        const AdmissionRequest r = request("0"); // (the tests above left nothing available)
        QVERIFY(reserveAndWait(r).ok());
        const qint64 held = reservationsHeld();
        const qint64 recordedBefore = m_billing->counters().recorded.load();

        const UsageEvent event = eventFor(r, "0.25");
        QObject requester;
        bool durable = false;
        m_billing->record(event, &requester, [&] { durable = true; });
        // Journaled: the response may end now, before Redis has even been written to.
        QVERIFY(durable);
        QCOMPARE(reservationsHeld(), held);
        bool inJournal = false;
        for (const QFileInfo &f : QDir(m_dir.path()).entryInfoList({QStringLiteral("usage-*.spool")}, QDir::Files)) {
            QFile file(f.filePath());
            QVERIFY(file.open(QIODevice::ReadOnly));
            inJournal = inJournal || file.readAll().contains(r.requestId);
        }
        QVERIFY(inJournal);

        // Then Redis takes it: reservation released, cost pending, event on the stream.
        QTRY_COMPARE_WITH_TIMEOUT(reservationsHeld(), held - 1, 10'000);
        QTRY_COMPARE_WITH_TIMEOUT(m_billing->counters().recorded.load(), recordedBefore + 1, 10'000);
        auto pending = m_redis->command({"HGET", UserKeys::of(m_user).pending, r.requestId});
        QVERIFY(pending.ok());
        QCOMPARE(pending->string, QByteArray("250000000 1"));
        auto stream = m_redis->command({"XREVRANGE", QByteArray(kUsageStream), "+", "-", "COUNT", "1"});
        QVERIFY(stream.ok() && stream->isArray() && stream->elements.size() == 1);
        QVERIFY(stream->elements[0].elements[1].elements[1].string.contains(r.requestId));
        QCOMPARE(m_billing->counters().spooled.load(), 0);
    }

    void admissionAfterEventsOfTheSamePassSeesThemFinished()
    {
        // Events of one pass go to Redis together, one loop pass later; an admission on the same
        // thread in the meantime must still come after them (a client's next request on its
        // connection: its previous reservation must be released by then).
        m_user = newUserWithDeposit("billing-service-batch", "1");
        QVERIFY(m_user > 0);
        const AdmissionRequest all = request("1");
        QVERIFY(reserveAndWait(all).ok());
        QVERIFY(!reserveAndWait(request("0.000000001")).ok()); // nothing left

        const qint64 recordedBefore = m_billing->counters().recorded.load();
        QObject requester;
        int durable = 0;
        const char *costs[] = {"0.5", "0.1", "0.1"};
        for (int i = 0; i < 3; ++i) {
            UsageEvent event;
            event.requestId = i == 0 ? all.requestId : "req-test-unreserved-" + QByteArray::number(++m_requests);
            event.userId = m_user;
            event.keyId = 1;
            event.model = QStringLiteral("m");
            event.endpoint = QStringLiteral("chat/completions");
            event.status = 200;
            event.cost = *Money::parse(QString::fromLatin1(costs[i]));
            m_billing->record(event, &requester, [&] { ++durable; });
        }
        QCOMPARE(durable, 3);
        // No event-loop pass in between: 1 - 0.7 = 0.3 is available only if the three went first.
        QVERIFY(reserveAndWait(request("0.3")).ok());
        QTRY_COMPARE_WITH_TIMEOUT(m_billing->counters().recorded.load(), recordedBefore + 3, 10'000);
        auto pending = m_redis->command({"HLEN", UserKeys::of(m_user).pending});
        QVERIFY(pending.ok());
        QCOMPARE(pending->integer, 3);
        auto pend = m_redis->command({"HGET", UserKeys::of(m_user).totals, "pend"});
        QVERIFY(pend.ok());
        QCOMPARE(pend->string, QByteArray("700000000"));
        QCOMPARE(reservationsHeld(), 1); // the 0.3
    }

    // A key sending many requests is admitted against a lease: one Redis reservation for several
    // requests, each request's cost taken off it, what is left given back when it closes.
    void aBusyKeyIsAdmittedAgainstALease()
    {
        m_user = newUserWithDeposit("billing-service-lease", "10");
        QVERIFY(m_user > 0);
        auto billing = leasingService();
        const UserKeys k = UserKeys::of(m_user);
        const auto leaseIds = [&] {
            QList<QByteArray> ids;
            auto all = m_redis->command({"HKEYS", k.reservations});
            for (const RedisReply &id : all->elements) {
                if (id.string.startsWith('L')) {
                    ids << id.string;
                }
            }
            return ids;
        };
        const auto totals = [&](const char *field) {
            auto reply = m_redis->command({"HGET", k.totals, field});
            return reply && reply->isString() ? reply->string : QByteArray("0");
        };
        const auto finish = [&](const AdmissionRequest &r, const char *cost) {
            QObject requester;
            bool durable = false;
            billing->record(eventFor(r, cost), &requester, [&] { durable = true; });
            QVERIFY(durable);
        };

        QList<AdmissionRequest> rs;
        for (int i = 0; i < 6; ++i) {
            rs << request("0.5");
        }
        QVERIFY(reserveAndWait(*billing, rs[0]).ok()); // on its own: the key is not busy yet
        QVERIFY(leaseIds().isEmpty());
        QVERIFY(reserveAndWait(*billing, rs[1]).ok()); // the second within the window: a lease of 4 x 0.5
        QCOMPARE(leaseIds().size(), 1);
        const QByteArray first = leaseIds().first();
        QCOMPARE(billing->counters().leases.load(), 1);
        for (int i = 2; i < 5; ++i) {
            // Taken from the lease here and now: answered before reserve() returns, no Redis call.
            bool answered = false;
            QObject requester;
            billing->reserve(rs[i], &requester, [&](Status s) { answered = s.ok(); });
            QVERIFY(answered);
        }
        QCOMPARE(billing->counters().leased.load(), 4);
        QCOMPARE(reservationsHeld(), 2);                   // rs[0] and the lease
        QCOMPARE(totals("res"), QByteArray("2500000000")); // 0.5 + 2

        // A cost comes off the lease in Redis too.
        finish(rs[1], "0.25");
        QTRY_COMPARE_WITH_TIMEOUT(totals("res"), QByteArray("2250000000"), 10'000);
        QCOMPARE(totals("pend"), QByteArray("250000000"));

        // 1.5 in flight on 1.75 left: the next 0.5 needs a new lease; the first closes and is
        // released once its three requests are done.
        QVERIFY(reserveAndWait(*billing, rs[5]).ok());
        QCOMPARE(billing->counters().leases.load(), 2);
        QCOMPARE(leaseIds().size(), 2);
        finish(rs[2], "0.1");
        finish(rs[3], "0.1");
        QCOMPARE(leaseIds().size(), 2);
        finish(rs[4], "0.1");
        QTRY_VERIFY_WITH_TIMEOUT(!leaseIds().contains(first), 10'000);
        QCOMPARE(totals("pend"), QByteArray("550000000"));
        // rs[0] and the second lease, untouched: 8 x 0.5 (room for twice the 3 + 1 requests that
        // were in flight when the first ran out).
        QCOMPARE(totals("res"), QByteArray("4500000000"));

        // Idle: the second lease goes back too. Everything finished: nothing reserved, all pending.
        finish(rs[0], "0.1");
        finish(rs[5], "0.1");
        QTRY_COMPARE_WITH_TIMEOUT(reservationsHeld(), 0, 10'000);
        QCOMPARE(totals("res"), QByteArray("0"));
        QCOMPARE(totals("pend"), QByteArray("750000000"));
        QCOMPARE(billing->counters().spooled.load(), 0);
    }

    void aBalanceThatDoesNotCoverALeaseIsAdmittedPerRequest()
    {
        m_user = newUserWithDeposit("billing-service-no-lease", "1");
        QVERIFY(m_user > 0);
        auto billing = leasingService();
        QVERIFY(reserveAndWait(*billing, request("0.4")).ok());
        QVERIFY(reserveAndWait(*billing, request("0.4")).ok()); // a lease of 1.6 refused: on its own
        QCOMPARE(billing->counters().leases.load(), 0);
        QCOMPARE(reservationsHeld(), 2);
        const Status refused = reserveAndWait(*billing, request("0.4")); // 0.2 left
        QCOMPARE(refused.error().code, QStringLiteral("insufficient_balance"));
        QCOMPARE(reservationsHeld(), 2);
    }

    void leasesStillHeldAreGivenBackAtStop()
    {
        m_user = newUserWithDeposit("billing-service-lease-stop", "10");
        QVERIFY(m_user > 0);
        auto billing = leasingService();
        QVERIFY(reserveAndWait(*billing, request("0.5")).ok());
        QVERIFY(reserveAndWait(*billing, request("0.5")).ok());
        QCOMPARE(billing->counters().leases.load(), 1);
        QCOMPARE(reservationsHeld(), 2);
        // The lease goes back; the plain reservation stays until its request finishes or expires.
        billing->stop();
        QCOMPARE(reservationsHeld(), 1);
        auto res = m_redis->command({"HGET", UserKeys::of(m_user).totals, "res"});
        QCOMPARE(res->string, QByteArray("500000000"));
    }

private:
    // A service of its own whose keys are busy after two requests, with leases of four requests'
    // worth, idle after a second. (Generous windows: a loaded CI machine can take a while over a
    // new user's first admission, which loads its wallet from PostgreSQL.)
    std::unique_ptr<BillingService> leasingService()
    {
        Config config;
        config.redis.url = m_services->redisUrl();
        config.billing.spoolDir = m_dir.path();
        auto billing = std::make_unique<BillingService>(config, m_db.get(), m_pool.get());
        LeaseBook::Settings settings;
        settings.busyAfter = 2;
        settings.windowMs = 60'000;
        settings.requestsPerLease = 4;
        settings.idleMs = 1'000;
        billing->setLeaseSettings(settings);
        return billing;
    }

};

QTEST_GUILESS_MAIN(TestBillingService)
#include "TestBillingService.moc"
