#include "ApiKeys.h"
#include "Crypto.h"

#include <QSet>
#include <QTest>

using llmpool::ApiKeys;

class TestApiKeys : public QObject
{
    Q_OBJECT

private slots:
    void format();
    void uniquenessAndDistribution();
    void hashKnownVector();
    void prefix();
    void looksLikeKey_data();
    void looksLikeKey();
    void constantTimeEquals_data();
    void constantTimeEquals();
    void randomBytes();
};

void TestApiKeys::format()
{
    for (int i = 0; i < 200; ++i) {
        const QString key = ApiKeys::generate();
        QCOMPARE(key.size(), 54);
        QVERIFY(key.startsWith(QLatin1StringView("sk-lp-")));
        for (const QChar c : key.mid(6)) {
            const bool base62 = (c >= u'0' && c <= u'9') || (c >= u'A' && c <= u'Z') || (c >= u'a' && c <= u'z');
            QVERIFY2(base62, qPrintable(key));
        }
        QVERIFY(ApiKeys::looksLikeKey(key));
        QVERIFY(ApiKeys::looksLikeKey(QByteArrayView(key.toLatin1())));
    }
}

void TestApiKeys::uniquenessAndDistribution()
{
    QSet<QString> seen;
    QHash<QChar, int> counts;
    constexpr int kKeys = 10'000;
    for (int i = 0; i < kKeys; ++i) {
        const QString key = ApiKeys::generate();
        QVERIFY2(!seen.contains(key), "duplicate key");
        seen.insert(key);
        for (const QChar c : key.mid(6))
            ++counts[c];
    }
    QCOMPARE(seen.size(), kKeys);
    // All 62 symbols appear, each close to its expected share (480,000 / 62 ~ 7742). The bounds are
    // wide (±10%, > 20 sigma) so the test never flakes, yet a modulo-biased generator (favouring the
    // first 8 symbols by ~25%) would fail.
    QCOMPARE(counts.size(), 62);
    const double expected = double(kKeys) * 48 / 62;
    for (auto it = counts.cbegin(); it != counts.cend(); ++it) {
        QVERIFY2(it.value() > expected * 0.9 && it.value() < expected * 1.1,
                 qPrintable(QStringLiteral("%1: %2").arg(it.key()).arg(it.value())));
    }
}

void TestApiKeys::hashKnownVector()
{
    // sha256("sk-lp-test"), computed with Python's hashlib.
    const QByteArray expected = "0cee98a9c802b94b72064a02dd652f54ce0c8fc1447440d05dbf38c1f2a794d8";
    QCOMPARE(ApiKeys::hash(QByteArrayView("sk-lp-test")), expected);
    QCOMPARE(ApiKeys::hash(QStringView(u"sk-lp-test")), expected);
    // FIPS 180-2 "abc".
    QCOMPARE(ApiKeys::hash(QByteArrayView("abc")),
             QByteArray("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    const QString key = ApiKeys::generate();
    QCOMPARE(ApiKeys::hash(key).size(), 64);
    QCOMPARE(ApiKeys::hash(key), ApiKeys::hash(QByteArrayView(key.toLatin1())));
    QVERIFY(ApiKeys::hash(key) == ApiKeys::hash(key).toLower());
}

void TestApiKeys::prefix()
{
    QCOMPARE(ApiKeys::prefix(u"sk-lp-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefghijkl"),
             QStringLiteral("sk-lp-AbCdEf"));
    QCOMPARE(ApiKeys::prefix(ApiKeys::generate()).size(), 12);
    QCOMPARE(ApiKeys::prefix(u"short"), QStringLiteral("short"));
}

void TestApiKeys::looksLikeKey_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<bool>("ok");
    const QString body32 = QString(32, u'a');
    QTest::newRow("generated") << ApiKeys::generate() << true;
    QTest::newRow("32 chars") << QStringLiteral("sk-lp-") + body32 << true;
    QTest::newRow("31 chars") << QStringLiteral("sk-lp-") + QString(31, u'a') << false;
    QTest::newRow("128 chars") << QStringLiteral("sk-lp-") + QString(128, u'Z') << true;
    QTest::newRow("129 chars") << QStringLiteral("sk-lp-") + QString(129, u'Z') << false;
    QTest::newRow("openai key") << QStringLiteral("sk-") + QString(48, u'a') << false;
    QTest::newRow("wrong case prefix") << QStringLiteral("SK-LP-") + body32 << false;
    QTest::newRow("dash in body") << QStringLiteral("sk-lp-") + body32 + u'-' << false;
    QTest::newRow("space") << QStringLiteral("sk-lp-") + body32 + u' ' << false;
    QTest::newRow("non-latin") << QStringLiteral("sk-lp-") + body32 + QChar(0x00e9) << false;
    QTest::newRow("empty") << QString() << false;
}

void TestApiKeys::looksLikeKey()
{
    QFETCH(QString, text);
    QFETCH(bool, ok);
    QCOMPARE(ApiKeys::looksLikeKey(text), ok);
}

void TestApiKeys::constantTimeEquals_data()
{
    QTest::addColumn<QByteArray>("a");
    QTest::addColumn<QByteArray>("b");
    QTest::addColumn<bool>("equal");
    QTest::newRow("equal") << QByteArray("secret") << QByteArray("secret") << true;
    QTest::newRow("both empty") << QByteArray() << QByteArray() << true;
    QTest::newRow("first byte") << QByteArray("Secret") << QByteArray("secret") << false;
    QTest::newRow("last byte") << QByteArray("secreT") << QByteArray("secret") << false;
    QTest::newRow("prefix of expected") << QByteArray("secr") << QByteArray("secret") << false;
    QTest::newRow("expected is prefix") << QByteArray("secret!") << QByteArray("secret") << false;
    QTest::newRow("empty given") << QByteArray() << QByteArray("secret") << false;
    QTest::newRow("empty expected") << QByteArray("x") << QByteArray() << false;
    QTest::newRow("given zero-padded") << QByteArray("ab\0", 3) << QByteArray("ab") << false;
    QTest::newRow("expected zero-padded") << QByteArray("ab") << QByteArray("ab\0", 3) << false;
    QTest::newRow("high bytes") << QByteArray("\xff\x80") << QByteArray("\xff\x80") << true;
    QTest::newRow("high bytes differ") << QByteArray("\xff\x80") << QByteArray("\xff\x81") << false;
}

void TestApiKeys::constantTimeEquals()
{
    QFETCH(QByteArray, a);
    QFETCH(QByteArray, b);
    QFETCH(bool, equal);
    QCOMPARE(llmpool::constantTimeEquals(a, b), equal);
    QCOMPARE(llmpool::constantTimeEquals(b, a), equal);
}

void TestApiKeys::randomBytes()
{
    QCOMPARE(llmpool::randomBytes(0).size(), 0);
    QCOMPARE(llmpool::randomBytes(7).size(), 7);
    QVERIFY(llmpool::randomBytes(32) != llmpool::randomBytes(32));
}

QTEST_GUILESS_MAIN(TestApiKeys)
#include "TestApiKeys.moc"
