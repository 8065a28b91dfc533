// The usage spool (gateway/billing/UsageSpool): concurrent appends never interleave, rotation
// hands files to replay, a live writer's file is never replayed by anyone else, a line cut short
// by a crash is skipped, a failed delivery keeps the file for a later try. As the journal every
// event goes through: a segment whose events Redis all took is deleted once they are settled; one
// with an event Redis did not take is kept for replay — never offered while an event of it still
// waits for Redis; and what a killed writer journaled is there to replay.

#include "billing/UsageSpool.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QSet>
#include <QTemporaryDir>
#include <QTest>

#include <atomic>
#include <csignal>
#include <sys/wait.h>
#include <unistd.h>
#include <thread>
#include <vector>

using namespace llmpool;
using namespace llmpool::gateway::billing;

class TestUsageSpool : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void concurrentAppendsRotateAndReplay()
    {
        QTemporaryDir dir;
        UsageSpool spool(dir.filePath(QStringLiteral("spool")));
        QVERIFY(spool.open().ok());
        std::atomic<int> failures{0};
        std::vector<std::thread> writers;
        for (int t = 0; t < 4; ++t) {
            writers.emplace_back([&spool, &failures, t] {
                for (int i = 0; i < 1000; ++i) {
                    const QByteArray line = "{\"t\":" + QByteArray::number(t) + ",\"i\":" + QByteArray::number(i) +
                                            ",\"pad\":\"" + QByteArray(200, 'x') + "\"}";
                    if (!spool.append(line).ok()) {
                        ++failures;
                    }
                }
            });
        }
        for (auto &w : writers) {
            w.join();
        }
        QCOMPARE(failures.load(), 0);
        spool.sync();
        QCOMPARE(spool.appendedSinceRotate(), 4000);
        QVERIFY(spool.replayableFiles().isEmpty()); // the live file is never offered

        spool.rotate();
        const QStringList files = spool.replayableFiles();
        QCOMPARE(files.size(), 1);
        QSet<QByteArray> seen;
        auto delivered = UsageSpool::replayFile(files.first(), [&seen](QByteArrayView line) -> Status {
            seen.insert(line.toByteArray());
            return Ok{};
        });
        QVERIFY(delivered.ok());
        QCOMPARE(*delivered, 4000);
        QCOMPARE(seen.size(), 4000); // whole, distinct lines: no interleaving
        QVERIFY(!QFile::exists(files.first()));
        QVERIFY(spool.replayableFiles().isEmpty());
    }

    void aLiveWritersFileIsNotReplayed()
    {
        QTemporaryDir dir;
        UsageSpool a(dir.path());
        UsageSpool b(dir.path());
        QVERIFY(a.open().ok());
        QVERIFY(b.open().ok());
        QVERIFY(b.append("{\"b\":1}").ok());
        // a sees b's file, but b holds it: replaying it delivers nothing and keeps it.
        const QStringList files = a.replayableFiles();
        QCOMPARE(files.size(), 1);
        int calls = 0;
        auto delivered = UsageSpool::replayFile(files.first(), [&calls](QByteArrayView) -> Status {
            ++calls;
            return Ok{};
        });
        QVERIFY(delivered.ok());
        QCOMPARE(*delivered, 0);
        QCOMPARE(calls, 0);
        QVERIFY(QFile::exists(files.first()));
    }

    void aCutLineIsSkippedAndAFailureKeepsTheFile()
    {
        QTemporaryDir dir;
        const QString path = QDir(dir.path()).filePath(QStringLiteral("usage-1-1-1.spool"));
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("{\"n\":1}\n{\"n\":2}\n{\"n\":3, \"cut");
        f.close();

        // A delivery failing at the second line: the file stays, nothing is lost.
        int calls = 0;
        auto failed = UsageSpool::replayFile(path, [&calls](QByteArrayView) -> Status {
            if (++calls == 2) {
                return Error::unavailable(QStringLiteral("redis_unavailable"), QStringLiteral("down"));
            }
            return Ok{};
        });
        QVERIFY(!failed.ok());
        QVERIFY(QFile::exists(path));

        QList<QByteArray> lines;
        auto replayed = UsageSpool::replayFile(path, [&lines](QByteArrayView line) -> Status {
            lines.append(line.toByteArray());
            return Ok{};
        });
        QVERIFY(replayed.ok());
        QCOMPARE(*replayed, 2);
        QCOMPARE(lines, (QList<QByteArray>{"{\"n\":1}", "{\"n\":2}"}));
        QVERIFY(!QFile::exists(path));
    }

    void replayInChunks()
    {
        QTemporaryDir dir;
        const QString path = QDir(dir.path()).filePath(QStringLiteral("usage-1-1-2.spool"));
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        for (int i = 0; i < 150; ++i) {
            f.write("{\"n\":" + QByteArray::number(i) + "}\n");
        }
        f.close();

        // The second chunk fails: the file stays.
        QList<qsizetype> sizes;
        auto failed = UsageSpool::replayFile(path, 64, [&sizes](const QList<QByteArrayView> &lines) -> Status {
            sizes << lines.size();
            if (sizes.size() == 2) {
                return Error::unavailable(QStringLiteral("redis_unavailable"), QStringLiteral("down"));
            }
            return Ok{};
        });
        QVERIFY(!failed.ok());
        QCOMPARE(sizes, (QList<qsizetype>{64, 64}));
        QVERIFY(QFile::exists(path));

        // Then all of it, in order, the last chunk short; the file goes.
        QList<QByteArray> seen;
        sizes.clear();
        auto replayed = UsageSpool::replayFile(path, 64, [&](const QList<QByteArrayView> &lines) -> Status {
            sizes << lines.size();
            for (QByteArrayView line : lines) {
                seen << line.toByteArray();
            }
            return Ok{};
        });
        QVERIFY(replayed.ok());
        QCOMPARE(*replayed, 150);
        QCOMPARE(sizes, (QList<qsizetype>{64, 64, 22}));
        QCOMPARE(seen.size(), 150);
        QCOMPARE(seen.first(), QByteArray("{\"n\":0}"));
        QCOMPARE(seen.last(), QByteArray("{\"n\":149}"));
        QVERIFY(!QFile::exists(path));
    }

    void aDeliveredSegmentIsDeletedOnceSettled()
    {
        QTemporaryDir dir;
        UsageSpool spool(dir.path());
        QVERIFY(spool.open().ok());
        QList<UsageSpool::Ticket> tickets;
        for (int i = 0; i < 3; ++i) {
            auto t = spool.journal(QByteArray("{\"n\":" + QByteArray::number(i) + "}"));
            QVERIFY(t.ok());
            tickets.append(*t);
        }
        QCOMPARE(spool.unsettled(), 3);
        spool.settle(tickets[0], true);
        spool.rotate(); // two events still wait for Redis: the segment stays, held
        QCOMPARE(QDir(dir.path()).entryList(QDir::Files).size(), 2);
        QVERIFY(spool.replayableFiles().isEmpty());
        QCOMPARE(UsageSpool::backlog(dir.path()).files, 0);
        spool.settle(tickets[1], true);
        spool.settle(tickets[2], true);
        QCOMPARE(spool.unsettled(), 0);
        // Redis took all three: the old segment is gone; only the fresh, empty one is left.
        const QStringList left = QDir(dir.path()).entryList(QDir::Files);
        QCOMPARE(left.size(), 1);
        QCOMPARE(QFileInfo(QDir(dir.path()).filePath(left.first())).size(), 0);
        QCOMPARE(UsageSpool::backlog(dir.path()).files, 0);
    }

    void anUndeliveredEventKeepsItsSegmentForReplay()
    {
        QTemporaryDir dir;
        UsageSpool spool(dir.path());
        QVERIFY(spool.open().ok());
        auto a = spool.journal("{\"n\":1}");
        auto b = spool.journal("{\"n\":2}");
        QVERIFY(a.ok() && b.ok());
        spool.settle(*a, false); // Redis did not take it
        spool.rotate();
        QVERIFY(spool.replayableFiles().isEmpty()); // b still waits for Redis: not offered yet
        spool.settle(*b, true);
        const QStringList files = spool.replayableFiles();
        QCOMPARE(files.size(), 1);
        const UsageSpool::Backlog backlog = UsageSpool::backlog(dir.path());
        QCOMPARE(backlog.files, 1);
        QCOMPARE(backlog.bytes, qint64(2 * 8));
        QList<QByteArray> lines;
        auto replayed = UsageSpool::replayFile(files.first(), [&lines](QByteArrayView line) -> Status {
            lines.append(line.toByteArray());
            return Ok{};
        });
        QVERIFY(replayed.ok());
        // Both: the one Redis took is replayed as well (idempotent by request id downstream).
        QCOMPARE(lines, (QList<QByteArray>{"{\"n\":1}", "{\"n\":2}"}));
        QCOMPARE(UsageSpool::backlog(dir.path()).files, 0);
    }

    void segmentsRotateByCount()
    {
        QTemporaryDir dir;
        UsageSpool spool(dir.path());
        QVERIFY(spool.open().ok());
        UsageSpool::Ticket first;
        for (qint64 i = 0; i <= UsageSpool::kSegmentEvents; ++i) {
            auto t = spool.journal("{}");
            QVERIFY(t.ok());
            if (i == 0) {
                first = *t;
            } else {
                spool.settle(*t, true);
            }
        }
        QCOMPARE(spool.appendedSinceRotate(), 1); // the last one opened a new segment
        QCOMPARE(QDir(dir.path()).entryList(QDir::Files).size(), 2);
        spool.settle(first, true);
        QCOMPARE(QDir(dir.path()).entryList(QDir::Files).size(), 1);
    }

    void aKilledWritersJournalIsReplayed()
    {
        // A child process journals, is told Redis took nothing yet, and dies by SIGKILL: everything
        // journal() returned for is in its file, offered for replay once the writer is gone.
        QTemporaryDir dir;
        const pid_t child = ::fork();
        if (child == 0) {
            UsageSpool spool(dir.path());
            if (!spool.open().ok()) {
                ::_exit(1);
            }
            for (int i = 0; i < 100; ++i) {
                if (!spool.journal(QByteArray("{\"n\":" + QByteArray::number(i) + "}")).ok()) {
                    ::_exit(1);
                }
            }
            ::kill(::getpid(), SIGKILL);
            ::_exit(2);
        }
        QVERIFY(child > 0);
        int status = 0;
        QCOMPARE(::waitpid(child, &status, 0), child);
        QVERIFY(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        UsageSpool replayer(dir.filePath(QStringLiteral("mine")));
        QVERIFY(replayer.open().ok());
        const QStringList files = QDir(dir.path()).entryList({QStringLiteral("usage-*.spool")}, QDir::Files);
        QCOMPARE(files.size(), 1);
        qint64 lines = 0;
        auto replayed = UsageSpool::replayFile(QDir(dir.path()).filePath(files.first()), [&lines](QByteArrayView) -> Status {
            ++lines;
            return Ok{};
        });
        QVERIFY(replayed.ok());
        QCOMPARE(lines, 100);
    }

    void anEmptySpoolLeavesNoFileBehind()
    {
        QTemporaryDir dir;
        {
            UsageSpool spool(dir.path());
            QVERIFY(spool.open().ok());
        }
        QVERIFY(QDir(dir.path()).entryList(QDir::Files).isEmpty());
    }
};

QTEST_GUILESS_MAIN(TestUsageSpool)
#include "TestUsageSpool.moc"
