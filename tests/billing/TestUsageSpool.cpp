// The usage spool (gateway/billing/UsageSpool): concurrent appends never interleave, rotation
// hands files to replay, a live writer's file is never replayed by anyone else, a line cut short
// by a crash is skipped, a failed delivery keeps the file for a later try.

#include "billing/UsageSpool.h"

#include <QDir>
#include <QFile>
#include <QSet>
#include <QTemporaryDir>
#include <QTest>

#include <atomic>
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
