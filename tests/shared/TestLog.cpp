#include "Clock.h"
#include "Log.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryFile>
#include <QTest>

#include <cstdio>

using llmpool::Log;

namespace {
// 2026-11-23T01:02:03.456Z
constexpr qint64 kTs = 1795395723456;
} // namespace

class TestLog : public QObject
{
    Q_OBJECT

private slots:
    void text_data();
    void text();
    void json_data();
    void json();
    void handlerWritesOneLinePerMessage();
    void debugOffByDefault();
};

void TestLog::text_data()
{
    QTest::addColumn<int>("type");
    QTest::addColumn<QByteArray>("category");
    QTest::addColumn<QString>("message");
    QTest::addColumn<QByteArray>("expected");

    QTest::newRow("info") << int(QtInfoMsg) << QByteArray("llmpool.http") << "listening"
                          << QByteArray("2026-11-23T01:02:03.456Z INFO http: listening");
    QTest::newRow("warning") << int(QtWarningMsg) << QByteArray("llmpool.config") << "weak"
                             << QByteArray("2026-11-23T01:02:03.456Z WARN config: weak");
    QTest::newRow("critical") << int(QtCriticalMsg) << QByteArray("qt.network.ssl") << "x"
                              << QByteArray("2026-11-23T01:02:03.456Z ERROR qt.network.ssl: x");
    QTest::newRow("debug default") << int(QtDebugMsg) << QByteArray("default") << "d"
                                   << QByteArray("2026-11-23T01:02:03.456Z DEBUG default: d");
    QTest::newRow("newline injection") << int(QtInfoMsg) << QByteArray("llmpool.proxy")
                                       << "a\n2026-01-01T00:00:00.000Z ERROR admin: forged"
                                       << QByteArray("2026-11-23T01:02:03.456Z INFO proxy: a\\n2026-01-01T00:00:"
                                                     "00.000Z ERROR admin: forged");
    QTest::newRow("controls and utf8") << int(QtInfoMsg) << QByteArray("llmpool.cli") << QString::fromUtf8("\x01\\é")
                                       << QByteArray("2026-11-23T01:02:03.456Z INFO cli: \\x01\\\\\xc3\xa9");
}

void TestLog::text()
{
    QFETCH(int, type);
    QFETCH(QByteArray, category);
    QFETCH(QString, message);
    QFETCH(QByteArray, expected);
    QCOMPARE(Log::formatLine(Log::Format::Text, QtMsgType(type), category.constData(), message, kTs), expected);
}

void TestLog::json_data()
{
    QTest::addColumn<QString>("message");
    QTest::newRow("plain") << "hello";
    QTest::newRow("quotes and newlines") << "say \"hi\"\n\tbye\\";
    QTest::newRow("control") << QString::fromUtf8("\x01\x1f\x7f");
    QTest::newRow("unicode") << QString::fromUtf8("Zoë ✓");
}

void TestLog::json()
{
    QFETCH(QString, message);
    const QByteArray line = Log::formatLine(Log::Format::Json, QtWarningMsg, "llmpool.billing", message, kTs);
    QVERIFY(!line.contains('\n'));
    QVERIFY(
        line.startsWith("{\"ts\":\"2026-11-23T01:02:03.456Z\",\"level\":\"WARN\",\"category\":\"billing\",\"msg\":"));
    QJsonParseError err{};
    const QJsonObject o = QJsonDocument::fromJson(line, &err).object();
    QCOMPARE(err.error, QJsonParseError::NoError);
    QCOMPARE(o.value("msg").toString(), message);
    QCOMPARE(o.value("level").toString(), QStringLiteral("WARN"));
    QCOMPARE(o.value("category").toString(), QStringLiteral("billing"));
}

void TestLog::handlerWritesOneLinePerMessage()
{
    llmpool::FakeClock clock(kTs);
    llmpool::Clock::setInstance(&clock);
    FILE *out = std::tmpfile();
    QVERIFY(out);
    Log::install(Log::Format::Json, out);
    qCInfo(llmpool::lcHttp) << "first\nline";
    Log::install(Log::Format::Text, out);
    qCWarning(llmpool::lcStorage, "second");
    Log::uninstall();
    llmpool::Clock::setInstance(nullptr);

    std::rewind(out);
    char buf[1024];
    const size_t n = std::fread(buf, 1, sizeof(buf), out);
    std::fclose(out);
    const QList<QByteArray> lines = QByteArray(buf, qsizetype(n)).split('\n');
    QCOMPARE(lines.size(), 3); // two lines and the empty tail
    QCOMPARE(lines[0],
             QByteArray(R"({"ts":"2026-11-23T01:02:03.456Z","level":"INFO","category":"http","msg":"first\nline"})"));
    QCOMPARE(lines[1], QByteArray("2026-11-23T01:02:03.456Z WARN storage: second"));
    QVERIFY(lines[2].isEmpty());
}

void TestLog::debugOffByDefault()
{
    QVERIFY(!llmpool::lcServer().isDebugEnabled());
    QVERIFY(llmpool::lcServer().isInfoEnabled());
    QCOMPARE(QByteArray(llmpool::lcUpstream().categoryName()), QByteArray("llmpool.upstream"));
}

QTEST_GUILESS_MAIN(TestLog)
#include "TestLog.moc"
