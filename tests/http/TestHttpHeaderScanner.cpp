// HttpHeaderScanner: the strict request-head check that runs before http-parser.

#include "http/HttpHeaderScanner.h"
#include "http/SseWriter.h"

#include <QTest>

using namespace llmpool::gateway;
using Status = HttpHeaderScanner::Status;

Q_DECLARE_METATYPE(HttpHeaderScanner::Status)

class TestHttpHeaderScanner : public QObject
{
    Q_OBJECT

private slots:
    void scan_data();
    void scan();
    void byteByByte();
    void sizeLimit();
    void sseFormat();
};

void TestHttpHeaderScanner::scan_data()
{
    QTest::addColumn<QByteArray>("head");
    QTest::addColumn<Status>("status");
    QTest::addColumn<int>("consumed"); // for Done: bytes of the head (-1: whole input)

    const QByteArray ok = "GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Tab:\tv\xff\r\n\r\n";
    QTest::newRow("valid") << ok << Status::Done << int(ok.size());
    QTest::newRow("valid + body") << QByteArray(ok + "BODY") << Status::Done << int(ok.size());
    QTest::newRow("leading empty lines") << QByteArray("\r\n\r\n" + ok) << Status::Done << int(ok.size() + 4);
    QTest::newRow("no headers") << QByteArray("GET / HTTP/1.1\r\n\r\n") << Status::Done << 18;
    QTest::newRow("incomplete") << QByteArray("GET / HTTP/1.1\r\nHost: a\r\n") << Status::NeedMore << -1;
    QTest::newRow("bare CR in value") << QByteArray("GET / HTTP/1.1\r\nA: x\ry\r\n\r\n") << Status::Invalid << 0;
    QTest::newRow("bare LF in value line") << QByteArray("GET / HTTP/1.1\r\nA: x\n\r\n") << Status::Invalid << 0;
    QTest::newRow("bare LF request line") << QByteArray("GET / HTTP/1.1\nA: x\r\n\r\n") << Status::Invalid << 0;
    QTest::newRow("bare LF final") << QByteArray("GET / HTTP/1.1\r\nA: x\r\n\n") << Status::Invalid << 0;
    QTest::newRow("space before colon") << QByteArray("GET / HTTP/1.1\r\nA : x\r\n\r\n") << Status::Invalid << 0;
    QTest::newRow("space in name") << QByteArray("GET / HTTP/1.1\r\nA B: x\r\n\r\n") << Status::Invalid << 0;
    QTest::newRow("empty name") << QByteArray("GET / HTTP/1.1\r\n: x\r\n\r\n") << Status::Invalid << 0;
    QTest::newRow("no colon") << QByteArray("GET / HTTP/1.1\r\nABC\r\n\r\n") << Status::Invalid << 0;
    QTest::newRow("obs-fold") << QByteArray("GET / HTTP/1.1\r\nA: x\r\n y\r\n\r\n") << Status::Invalid << 0;
    QTest::newRow("control in value") << QByteArray("GET / HTTP/1.1\r\nA: x\x01y\r\n\r\n") << Status::Invalid << 0;
    QTest::newRow("DEL in value") << QByteArray("GET / HTTP/1.1\r\nA: x\x7fy\r\n\r\n") << Status::Invalid << 0;
    QTest::newRow("leading space") << QByteArray(" GET / HTTP/1.1\r\n\r\n") << Status::Invalid << 0;
    QTest::newRow("lone CR start") << QByteArray("\rGET / HTTP/1.1\r\n\r\n") << Status::Invalid << 0;
}

void TestHttpHeaderScanner::scan()
{
    QFETCH(QByteArray, head);
    QFETCH(Status, status);
    QFETCH(int, consumed);
    HttpHeaderScanner scanner(1024);
    qsizetype used = -2;
    QCOMPARE(scanner.feed(head.constData(), head.size(), &used), status);
    if (status == Status::Done)
        QCOMPARE(used, qsizetype(consumed));
    if (status == Status::NeedMore)
        QCOMPARE(used, head.size());
}

void TestHttpHeaderScanner::byteByByte()
{
    const QByteArray head = "POST /x HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc";
    HttpHeaderScanner scanner;
    qsizetype total = 0;
    for (qsizetype i = 0; i < head.size(); ++i) {
        qsizetype used = 0;
        const Status s = scanner.feed(head.constData() + i, 1, &used);
        total += used;
        if (s == Status::Done) {
            QCOMPARE(total, head.size() - 3);
            return;
        }
        QCOMPARE(s, Status::NeedMore);
    }
    QFAIL("head end not found");
}

void TestHttpHeaderScanner::sizeLimit()
{
    HttpHeaderScanner scanner(64);
    const QByteArray head = "GET / HTTP/1.1\r\nX: " + QByteArray(100, 'a') + "\r\n\r\n";
    qsizetype used = 0;
    QCOMPARE(scanner.feed(head.constData(), head.size(), &used), Status::TooLarge);
    scanner.reset();
    const QByteArray small = "GET / HTTP/1.1\r\n\r\n";
    QCOMPARE(scanner.feed(small.constData(), small.size(), &used), Status::Done);
}

void TestHttpHeaderScanner::sseFormat()
{
    QCOMPARE(SseWriter::format("hello"), QByteArray("data: hello\n\n"));
    QCOMPARE(SseWriter::format("a\nb\r\nc"), QByteArray("data: a\ndata: b\ndata: c\n\n"));
    QCOMPARE(SseWriter::format("{}", "message", "7"), QByteArray("event: message\nid: 7\ndata: {}\n\n"));
    QCOMPARE(SseWriter::format("x", "bad\nname"), QByteArray("event: bad\ndata: x\n\n"));
    QCOMPARE(SseWriter::format(""), QByteArray("data: \n\n"));
}

QTEST_GUILESS_MAIN(TestHttpHeaderScanner)
#include "TestHttpHeaderScanner.moc"
