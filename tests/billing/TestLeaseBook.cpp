// LeaseBook: a thread's bookkeeping of leases (reservations for many requests at a time) — when a
// key gets one, what fits in it, what a request's cost takes off it, and when it goes back.

#include "billing/LeaseBook.h"

#include <QTest>

using namespace llmpool;
using namespace llmpool::gateway::billing;

namespace {

Money m(const char *text)
{
    auto v = Money::parse(QString::fromLatin1(text));
    Q_ASSERT(v);
    return *v;
}

LeaseBook::Settings small()
{
    LeaseBook::Settings s;
    s.busyAfter = 3;
    s.windowMs = 1'000;
    s.requestsPerLease = 4;
    s.lifeMs = 30'000;
    s.idleMs = 1'000;
    s.refusedMs = 1'000;
    s.answerMs = 10'000;
    return s;
}

QByteArray rid(int n)
{
    return "r" + QByteArray::number(n);
}

// Key 7 of user 1 gets busy: three requests of `first` at `now`, the third asks for a lease.
void askForLease(LeaseBook &book, qint64 now, Money first)
{
    QCOMPARE(book.take(rid(1), 1, 7, first, now), LeaseBook::Take::None);
    QCOMPARE(book.take(rid(2), 1, 7, first, now), LeaseBook::Take::None);
    QCOMPARE(book.take(rid(3), 1, 7, first, now), LeaseBook::Take::Open);
}

// ...and its lease "L.1" of `amount` is granted, with rid(3) in flight on it.
void openLease(LeaseBook &book, qint64 now, Money amount, Money first)
{
    askForLease(book, now, first);
    QVERIFY(book.opened(1, 7, "L.1", amount, rid(3), first, now));
}

} // namespace

class TestLeaseBook : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void aBusyKeyGetsALeaseAndItsRequestsTakeFromIt()
    {
        LeaseBook book(small());
        qint64 now = 10'000;
        QCOMPARE(book.take(rid(1), 1, 7, m("1"), now), LeaseBook::Take::None);
        QCOMPARE(book.take(rid(2), 1, 7, m("1"), now), LeaseBook::Take::None);
        QCOMPARE(book.take(rid(3), 1, 7, m("1"), now), LeaseBook::Take::Open); // third within a second
        // While it is being opened, the key's other requests are admitted on their own.
        QCOMPARE(book.take(rid(4), 1, 7, m("1"), now), LeaseBook::Take::None);
        QVERIFY(book.opened(1, 7, "L.1", m("4"), rid(3), m("1"), now));
        QCOMPARE(book.room(1, 7), m("3"));
        QCOMPARE(book.take(rid(5), 1, 7, m("1"), now), LeaseBook::Take::Taken);
        QCOMPARE(book.take(rid(6), 1, 7, m("2"), now), LeaseBook::Take::Taken);
        QCOMPARE(book.room(1, 7), m("0"));
        // Other users and other keys have leases of their own.
        QCOMPARE(book.room(1, 8), m("0"));
        QCOMPARE(book.take(rid(7), 2, 7, m("1"), now), LeaseBook::Take::None);

        // Costs come off the lease; the reservation of each finished request is free again.
        QCOMPARE(book.finished(rid(3), m("0.25")), QByteArray("L.1"));
        QCOMPARE(book.room(1, 7), m("0.75"));                     // 4 - 0.25 left, 1 + 2 in flight
        QCOMPARE(book.finished(rid(4), m("0.5")), QByteArray());  // admitted on its own: no lease
        QCOMPARE(book.finished(rid(3), m("0.25")), QByteArray()); // twice: the second is unknown
        QCOMPARE(book.finished(rid(5), m("1")), QByteArray("L.1"));
        QCOMPARE(book.room(1, 7), m("0.75")); // 2.75 left, 2 in flight
        QVERIFY(!book.hasReleases());
    }

    void aLeaseThatDoesNotFitIsClosedAndReleasedWhenItsRequestsAreDone()
    {
        LeaseBook book(small());
        qint64 now = 10'000;
        openLease(book, now, m("4"), m("1"));
        QCOMPARE(book.take(rid(4), 1, 7, m("2.5"), now), LeaseBook::Take::Taken);
        QCOMPARE(book.leaseRequests(1, 7), 4);
        // 3.5 in flight: a request of 1 does not fit. The lease closes; a new one is asked for,
        // with room for twice the requests the first had in flight (2 + this one).
        QCOMPARE(book.take(rid(5), 1, 7, m("1"), now), LeaseBook::Take::Open);
        QCOMPARE(book.leaseRequests(1, 7), 6);
        QVERIFY(book.opened(1, 7, "L.2", m("4"), rid(5), m("1"), now));
        QVERIFY(!book.hasReleases()); // L.1 still has requests in flight
        QCOMPARE(book.finished(rid(3), m("0.5")), QByteArray("L.1"));
        QVERIFY(!book.hasReleases());
        QCOMPARE(book.finished(rid(4), m("2")), QByteArray("L.1"));
        const auto released = book.takeReleases();
        QCOMPARE(released.size(), 1);
        QCOMPARE(released[0].leaseId, QByteArray("L.1"));
        QCOMPARE(released[0].userId, 1);
        QVERIFY(book.takeReleases().isEmpty()); // once
        QCOMPARE(book.room(1, 7), m("3"));
    }

    void aCostBeyondWhatIsLeftTakesTheLeaseToZero()
    {
        LeaseBook book(small());
        qint64 now = 10'000;
        openLease(book, now, m("4"), m("1"));
        QCOMPARE(book.finished(rid(3), m("9")), QByteArray("L.1")); // (usage beyond the reservation)
        QCOMPARE(book.room(1, 7), m("0"));
        QCOMPARE(book.take(rid(4), 1, 7, m("0.000000001"), now), LeaseBook::Take::Open);
    }

    void idleAndOldLeasesAreClosed()
    {
        LeaseBook book(small());
        qint64 now = 10'000;
        openLease(book, now, m("4"), m("1"));
        book.finished(rid(3), m("0.1"));
        book.expire(now + 999);
        QVERIFY(!book.hasReleases());
        book.expire(now + 1'000); // idle for idleMs
        auto released = book.takeReleases();
        QCOMPARE(released.size(), 1);
        QCOMPARE(released[0].leaseId, QByteArray("L.1"));
        QVERIFY(book.hasLeases()); // the key is remembered a little longer
        book.expire(now + 3'000);
        QVERIFY(!book.hasLeases());

        // Busy all along, a lease still ends after lifeMs; its requests in flight finish on it.
        now = 100'000;
        book.take(rid(11), 1, 7, m("0.1"), now);
        book.take(rid(12), 1, 7, m("0.1"), now);
        QCOMPARE(book.take(rid(13), 1, 7, m("0.1"), now), LeaseBook::Take::Open);
        QVERIFY(book.opened(1, 7, "L.2", m("0.4"), rid(13), m("0.1"), now));
        for (int i = 0; i < 29; ++i) {
            now += 1'000;
            QCOMPARE(book.take(rid(20 + i), 1, 7, m("0.1"), now), LeaseBook::Take::Taken);
            book.finished(rid(20 + i), m("0"));
            book.expire(now);
        }
        QVERIFY(!book.hasReleases());
        now += 1'000; // 30 s after it opened
        QCOMPARE(book.take(rid(60), 1, 7, m("0.1"), now), LeaseBook::Take::Open);
        QVERIFY(!book.hasReleases()); // rid(13) is still in flight on it
        QCOMPARE(book.finished(rid(13), m("0.1")), QByteArray("L.2"));
        QCOMPARE(book.takeReleases().size(), 1);
    }

    void aRefusedLeaseMeansRequestsOnTheirOwnForAWhile()
    {
        LeaseBook book(small());
        qint64 now = 10'000;
        askForLease(book, now, m("1"));
        book.refused(1, 7, now);
        QCOMPARE(book.leaseRequests(1, 7), 4);
        QCOMPARE(book.take(rid(4), 1, 7, m("1"), now + 500), LeaseBook::Take::None);
        QCOMPARE(book.take(rid(5), 1, 7, m("1"), now + 999), LeaseBook::Take::None);
        QCOMPARE(book.take(rid(6), 1, 7, m("1"), now + 1'000), LeaseBook::Take::None); // a new window: 1 seen
        book.take(rid(7), 1, 7, m("1"), now + 1'000);
        QCOMPARE(book.take(rid(8), 1, 7, m("1"), now + 1'000), LeaseBook::Take::Open);
    }

    void anUnansweredLeaseIsAskedForAgain()
    {
        LeaseBook book(small());
        qint64 now = 10'000;
        askForLease(book, now, m("1"));
        QCOMPARE(book.take(rid(4), 1, 7, m("1"), now + 100), LeaseBook::Take::None);
        book.expire(now + 100);
        QCOMPARE(book.take(rid(5), 1, 7, m("1"), now + 200), LeaseBook::Take::None);
        book.expire(now + 10'000);
        now += 10'000;
        book.take(rid(6), 1, 7, m("1"), now);
        book.take(rid(7), 1, 7, m("1"), now);
        QCOMPARE(book.take(rid(8), 1, 7, m("1"), now), LeaseBook::Take::Open);
    }

    void leasesGrowWithTheRequestsInFlightUpToTheLimit()
    {
        LeaseBook::Settings settings = small();
        settings.maxRequestsPerLease = 20;
        LeaseBook book(settings);
        qint64 now = 10'000;
        openLease(book, now, m("4"), m("1"));
        int n = 100;
        for (int i = 0; i < 3; ++i) {
            QCOMPARE(book.take(rid(n++), 1, 7, m("1"), now), LeaseBook::Take::Taken);
        }
        QCOMPARE(book.take(rid(n++), 1, 7, m("1"), now), LeaseBook::Take::Open);
        QCOMPARE(book.leaseRequests(1, 7), 10); // 2 x (4 in flight + 1)
        QVERIFY(book.opened(1, 7, "L.2", m("10"), rid(n - 1), m("1"), now));
        for (int i = 0; i < 9; ++i) {
            QCOMPARE(book.take(rid(n++), 1, 7, m("1"), now), LeaseBook::Take::Taken);
        }
        QCOMPARE(book.take(rid(n++), 1, 7, m("1"), now), LeaseBook::Take::Open);
        QCOMPARE(book.leaseRequests(1, 7), 20); // 2 x 11 = 22, capped
    }

    void untakeFreesTheAmount()
    {
        LeaseBook book(small());
        qint64 now = 10'000;
        openLease(book, now, m("2"), m("1"));
        QCOMPARE(book.take(rid(4), 1, 7, m("1"), now), LeaseBook::Take::Taken);
        QCOMPARE(book.room(1, 7), m("0"));
        book.untake(rid(4));
        QCOMPARE(book.room(1, 7), m("1"));
        QCOMPARE(book.finished(rid(4), m("1")), QByteArray()); // no longer on the lease
        // A request id already on the lease is not taken twice.
        QCOMPARE(book.take(rid(3), 1, 7, m("1"), now), LeaseBook::Take::Open);
    }
};

QTEST_GUILESS_MAIN(TestLeaseBook)
#include "TestLeaseBook.moc"
