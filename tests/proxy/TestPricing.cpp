// A request's cost: components summed exactly, rounded half-even to 9 places once.

#include "billing/Pricing.h"

#include <QTest>

using namespace llmpool;
using namespace llmpool::gateway;

class TestPricing : public QObject
{
    Q_OBJECT

private:
    static Money m(const char *text) { return *Money::parse(QString::fromLatin1(text)); }

private Q_SLOTS:
    void cost_data()
    {
        QTest::addColumn<QString>("input");
        QTest::addColumn<QString>("cached");
        QTest::addColumn<QString>("output");
        QTest::addColumn<qint64>("prompt");
        QTest::addColumn<qint64>("cachedTokens");
        QTest::addColumn<qint64>("completion");
        QTest::addColumn<QString>("expected");
        QTest::newRow("chat") << "2.5"
                              << "1.25"
                              << "10" << qint64(10) << qint64(0) << qint64(8) << "0.000105000";
        QTest::newRow("cached part priced apart") << "2.5"
                                                  << "1.25"
                                                  << "10" << qint64(1000) << qint64(400) << qint64(0) << "0.002000000";
        // 500,000 input and 500,000 output tokens at 0.000000001 per 1M: each part is exactly
        // 0.0000000005, which alone rounds (half-even) to 0; the exact sum is 0.000000001. Rounding
        // the parts first would bill 0.
        QTest::newRow("rounded once") << "0.000000001"
                                      << "0"
                                      << "0.000000001" << qint64(500'000) << qint64(0) << qint64(500'000)
                                      << "0.000000001";
        QTest::newRow("half-even at the end") << "0.000000001"
                                              << "0"
                                              << "0" << qint64(1'500'000) << qint64(0) << qint64(0) << "0.000000002";
        QTest::newRow("zero prices") << "0"
                                     << "0"
                                     << "0" << qint64(123) << qint64(0) << qint64(456) << "0.000000000";
    }

    void cost()
    {
        QFETCH(QString, input);
        QFETCH(QString, cached);
        QFETCH(QString, output);
        QFETCH(qint64, prompt);
        QFETCH(qint64, cachedTokens);
        QFETCH(qint64, completion);
        QFETCH(QString, expected);
        ModelPrices prices;
        prices.inputPer1M = *Money::parse(input);
        prices.cachedInputPer1M = *Money::parse(cached);
        prices.outputPer1M = *Money::parse(output);
        auto c = Pricing::cost(prices, BillableUsage{prompt, cachedTokens, completion, 0, 0, 0});
        QVERIFY(c.ok());
        QCOMPARE(c->toString(), expected);
    }

    void otherUnits()
    {
        ModelPrices prices;
        prices.perImage = m("0.04");
        prices.speechPer1MChars = m("15");
        prices.transcriptionPerMinute = m("0.006");
        BillableUsage usage;
        usage.images = 3;
        usage.characters = 1000;    // 0.015
        usage.audioMillis = 90'000; // 1.5 min → 0.009
        auto c = Pricing::cost(prices, usage);
        QVERIFY(c.ok());
        QCOMPARE(c->toString(), QStringLiteral("0.144000000"));
    }

    void refusesNonsense()
    {
        ModelPrices prices;
        prices.inputPer1M = m("1");
        QVERIFY(!Pricing::cost(prices, BillableUsage{-1, 0, 0, 0, 0, 0}).ok());
        prices.inputPer1M = *Money::parse(QStringLiteral("99999999999999999999.000000000"));
        QVERIFY(!Pricing::cost(prices, BillableUsage{qint64(1) << 39, 0, 0, 0, 0, 0}).ok());
    }
};

QTEST_GUILESS_MAIN(TestPricing)
#include "TestPricing.moc"
