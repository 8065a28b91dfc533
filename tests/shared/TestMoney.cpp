#include "Money.h"

#include <QTest>

using llmpool::Money;

class TestMoney : public QObject
{
    Q_OBJECT

private slots:
    void parseAndFormat_data();
    void parseAndFormat();
    void parseInvalid_data();
    void parseInvalid();
    void limits();
    void addSub();
    void compareAndNegate();
    void halfEven_data();
    void halfEven();
    void costForTokens_data();
    void costForTokens();
    void otherCosts();
    void largeSums();
    void overflow();
    void nanos64();
};

void TestMoney::parseAndFormat_data()
{
    QTest::addColumn<QString>("input");
    QTest::addColumn<QString>("canonical");
    QTest::addColumn<QString>("trimmed");

    QTest::newRow("integer") << "12"
                             << "12.000000000"
                             << "12";
    QTest::newRow("one decimal") << "1.5"
                                 << "1.500000000"
                                 << "1.5";
    QTest::newRow("nine decimals") << "0.000000001"
                                   << "0.000000001"
                                   << "0.000000001";
    QTest::newRow("negative") << "-3.25"
                              << "-3.250000000"
                              << "-3.25";
    QTest::newRow("negative nano") << "-0.000000001"
                                   << "-0.000000001"
                                   << "-0.000000001";
    QTest::newRow("zero") << "0"
                          << "0.000000000"
                          << "0";
    QTest::newRow("negative zero") << "-0.0"
                                   << "0.000000000"
                                   << "0";
    QTest::newRow("leading zeros") << "007.10"
                                   << "7.100000000"
                                   << "7.1";
    QTest::newRow("canonical round trip") << "1.500000000"
                                          << "1.500000000"
                                          << "1.5";
    QTest::newRow("max") << "99999999999999999999999999999.999999999"
                         << "99999999999999999999999999999.999999999"
                         << "99999999999999999999999999999.999999999";
    QTest::newRow("min") << "-99999999999999999999999999999.999999999"
                         << "-99999999999999999999999999999.999999999"
                         << "-99999999999999999999999999999.999999999";
}

void TestMoney::parseAndFormat()
{
    QFETCH(QString, input);
    QFETCH(QString, canonical);
    QFETCH(QString, trimmed);
    const auto m = Money::parse(input);
    QVERIFY2(m.ok(), qPrintable(m.ok() ? QString() : m.error().message));
    QCOMPARE(m->toString(), canonical);
    QCOMPARE(m->toTrimmedString(), trimmed);
    // The byte forms for hot paths say the same: canonical text, and the nanos as an integer.
    QByteArray appended("x=");
    m->appendTo(appended);
    QCOMPARE(appended, "x=" + canonical.toLatin1());
    QByteArray nanos = canonical.toLatin1();
    nanos.remove(nanos.indexOf('.'), 1);
    const bool negative = nanos.startsWith('-');
    while (nanos.size() > (negative ? 2 : 1) && nanos.at(negative ? 1 : 0) == '0')
        nanos.remove(negative ? 1 : 0, 1);
    QCOMPARE(m->nanosText(), nanos == "-0" ? QByteArray("0") : nanos);
    // Both printed forms parse back to the same value.
    QCOMPARE(Money::parse(m->toString()).value(), *m);
    QCOMPARE(Money::parse(m->toTrimmedString()).value(), *m);
}

void TestMoney::parseInvalid_data()
{
    QTest::addColumn<QString>("input");
    QTest::addColumn<QString>("code");
    QTest::addColumn<QString>("messagePart");

    const QString inv = QStringLiteral("invalid_amount");
    QTest::newRow("empty") << "" << inv << "empty";
    QTest::newRow("minus only") << "-" << inv << "decimal number";
    QTest::newRow("exponent") << "1e5" << inv << "position 2";
    QTest::newRow("NaN") << "NaN" << inv << "decimal number";
    QTest::newRow("Infinity") << "Infinity" << inv << "decimal number";
    QTest::newRow("leading space") << " 1" << inv << "decimal number";
    QTest::newRow("trailing space") << "1 " << inv << "position 2";
    QTest::newRow("inner space") << "1 000" << inv << "position 2";
    QTest::newRow("plus") << "+1" << inv << "decimal number";
    QTest::newRow("ten decimals") << "0.0000000001" << inv << "more than 9 decimal places";
    QTest::newRow("ten decimals zero") << "1.0000000000" << inv << "more than 9 decimal places";
    QTest::newRow("leading dot") << ".5" << inv << "before the decimal point";
    QTest::newRow("trailing dot") << "1." << inv << "after the decimal point";
    QTest::newRow("two dots") << "1.2.3" << inv << "position 4";
    QTest::newRow("comma") << "1,5" << inv << "position 2";
    QTest::newRow("hex") << "0x10" << inv << "position 2";
    QTest::newRow("double minus") << "--1" << inv << "decimal number";
    QTest::newRow("arabic digits") << QString::fromUtf8("\u0661") << inv << "decimal number";
    QTest::newRow("too large") << "100000000000000000000000000000"
                               << "amount_out_of_range"
                               << "29 integer digits";
    QTest::newRow("too small") << "-100000000000000000000000000000.5"
                               << "amount_out_of_range"
                               << "29 integer digits";
}

void TestMoney::parseInvalid()
{
    QFETCH(QString, input);
    QFETCH(QString, code);
    QFETCH(QString, messagePart);
    const auto m = Money::parse(input);
    QVERIFY(!m.ok());
    QCOMPARE(m.error().code, code);
    QCOMPARE(m.error().httpStatus, 400);
    QVERIFY2(m.error().message.contains(messagePart), qPrintable(m.error().message));
}

void TestMoney::limits()
{
    QVERIFY(Money::fromNanos128(Money::kMaxNanos).ok());
    QVERIFY(Money::fromNanos128(-Money::kMaxNanos).ok());
    QVERIFY(!Money::fromNanos128(Money::kMaxNanos + 1).ok());
    QVERIFY(!Money::fromNanos128(-Money::kMaxNanos - 1).ok());
    QCOMPARE(Money::fromUnits(3).toString(), QStringLiteral("3.000000000"));
    QCOMPARE(Money::fromNanos(-1500000000).toString(), QStringLiteral("-1.500000000"));
    QCOMPARE(Money().toString(), QStringLiteral("0.000000000"));
    QVERIFY(Money::zero().isZero());
}

void TestMoney::addSub()
{
    const Money a = Money::parse(u"10.5").value();
    const Money b = Money::parse(u"0.000000001").value();
    QCOMPARE(a.add(b)->toString(), QStringLiteral("10.500000001"));
    QCOMPARE(a.sub(b)->toString(), QStringLiteral("10.499999999"));
    QCOMPARE(b.sub(a)->toString(), QStringLiteral("-10.499999999"));
    QCOMPARE(a.sub(a)->toString(), QStringLiteral("0.000000000"));
    // 0.1 + 0.2 is exactly 0.3 (the floating-point classic).
    QCOMPARE(Money::parse(u"0.1")->add(Money::parse(u"0.2").value())->toString(), QStringLiteral("0.300000000"));
    QCOMPARE(Money::parse(u"2.5")->multiply(3)->toString(), QStringLiteral("7.500000000"));
    QCOMPARE(Money::parse(u"2.5")->multiply(-2)->toString(), QStringLiteral("-5.000000000"));
}

void TestMoney::compareAndNegate()
{
    const Money one = Money::fromUnits(1);
    const Money two = Money::fromUnits(2);
    QVERIFY(one < two);
    QVERIFY(two > one);
    QVERIFY(one <= one);
    QVERIFY(one != two);
    QVERIFY(one.negated() < Money::zero());
    QVERIFY(one.negated().isNegative());
    QCOMPARE(one.negated().abs(), one);
    QCOMPARE(one.negated().negated(), one);
    QVERIFY(one.isPositive());
    QCOMPARE(Money::parse(u"1.50").value(), Money::parse(u"1.5").value());
}

void TestMoney::halfEven_data()
{
    // mulDiv(price, numerator, denominator) == expected: the rounding boundary in the 10th decimal.
    QTest::addColumn<QString>("price");
    QTest::addColumn<qint64>("numerator");
    QTest::addColumn<qint64>("denominator");
    QTest::addColumn<QString>("expected");

    // 0.000000001 * 1 / 2 = 0.0000000005 -> 0 (tie, 0 is even)
    QTest::newRow("0.5 nano -> 0") << "0.000000001" << qint64(1) << qint64(2) << "0.000000000";
    // 0.000000003 / 2 = 0.0000000015 -> 0.000000002 (tie, 2 is even)
    QTest::newRow("1.5 nanos -> 2") << "0.000000003" << qint64(1) << qint64(2) << "0.000000002";
    // 2.5 nanos -> 2, 3.5 -> 4
    QTest::newRow("2.5 nanos -> 2") << "0.000000005" << qint64(1) << qint64(2) << "0.000000002";
    QTest::newRow("3.5 nanos -> 4") << "0.000000007" << qint64(1) << qint64(2) << "0.000000004";
    QTest::newRow("below half") << "0.000000001" << qint64(4) << qint64(10) << "0.000000000";
    QTest::newRow("above half") << "0.000000001" << qint64(6) << qint64(10) << "0.000000001";
    QTest::newRow("negative tie -> even") << "-0.000000005" << qint64(1) << qint64(2) << "-0.000000002";
    QTest::newRow("negative 1.5 -> -2") << "-0.000000003" << qint64(1) << qint64(2) << "-0.000000002";
    QTest::newRow("negative above half") << "-0.000000001" << qint64(6) << qint64(10) << "-0.000000001";
    QTest::newRow("exact") << "3" << qint64(1) << qint64(3) << "1.000000000";
    QTest::newRow("thirds") << "1" << qint64(1) << qint64(3) << "0.333333333";
    QTest::newRow("two thirds") << "2" << qint64(1) << qint64(3) << "0.666666667";
}

void TestMoney::halfEven()
{
    QFETCH(QString, price);
    QFETCH(qint64, numerator);
    QFETCH(qint64, denominator);
    QFETCH(QString, expected);
    const auto r = Money::parse(price)->mulDiv(numerator, denominator);
    QVERIFY(r.ok());
    QCOMPARE(r->toString(), expected);
}

void TestMoney::costForTokens_data()
{
    QTest::addColumn<QString>("pricePer1M");
    QTest::addColumn<qint64>("tokens");
    QTest::addColumn<QString>("expected");

    QTest::newRow("gpt-4o input 1000 tokens") << "2.5" << qint64(1000) << "0.002500000";
    QTest::newRow("one token at 10/M") << "10" << qint64(1) << "0.000010000";
    QTest::newRow("zero tokens") << "10" << qint64(0) << "0.000000000";
    QTest::newRow("1M tokens") << "0.15" << qint64(1'000'000) << "0.150000000";
    // 0.0005 * 1 / 1e6 = 0.0000000005 -> tie -> 0
    QTest::newRow("tie down to even 0") << "0.0005" << qint64(1) << "0.000000000";
    // 0.0015 / 1e6 = 0.0000000015 -> tie -> 0.000000002
    QTest::newRow("tie up to even 2") << "0.0015" << qint64(1) << "0.000000002";
    // 0.0025 / 1e6 = 0.0000000025 -> 0.000000002
    QTest::newRow("tie down to even 2") << "0.0025" << qint64(1) << "0.000000002";
    QTest::newRow("just over tie") << "0.000500001" << qint64(1) << "0.000000001";
    // 0.123456789 * 7 / 1e6 = 0.000000864197523 -> 0.000000864
    QTest::newRow("odd price") << "0.123456789" << qint64(7) << "0.000000864";
    QTest::newRow("big count") << "60" << qint64(123'456'789) << "7407.407340000";
}

void TestMoney::costForTokens()
{
    QFETCH(QString, pricePer1M);
    QFETCH(qint64, tokens);
    QFETCH(QString, expected);
    const auto cost = Money::costForTokens(Money::parse(pricePer1M).value(), tokens);
    QVERIFY(cost.ok());
    QCOMPARE(cost->toString(), expected);
}

void TestMoney::otherCosts()
{
    const Money perImage = Money::parse(u"0.04").value();
    QCOMPARE(Money::costForCount(perImage, 3)->toString(), QStringLiteral("0.120000000"));
    const Money perMinute = Money::parse(u"0.006").value();
    QCOMPARE(Money::costForSeconds(perMinute, 90)->toString(), QStringLiteral("0.009000000"));
    // 0.006 * 1 / 60 = 0.0001 exactly
    QCOMPARE(Money::costForSeconds(perMinute, 1)->toString(), QStringLiteral("0.000100000"));
    // 0.006 * 12345 ms / 60000 = 0.0012345
    QCOMPARE(Money::costForMilliseconds(perMinute, 12'345)->toString(), QStringLiteral("0.001234500"));
    // 0.000000001 per minute * 30 s = 0.0000000005 -> 0 (half-even)
    QCOMPARE(Money::costForSeconds(Money::fromNanos(1), 30)->toString(), QStringLiteral("0.000000000"));
    QCOMPARE(Money::costForSeconds(Money::fromNanos(3), 30)->toString(), QStringLiteral("0.000000002"));
    const Money per1MChars = Money::parse(u"15").value();
    QCOMPARE(Money::costForCharacters(per1MChars, 1000)->toString(), QStringLiteral("0.015000000"));

    const auto negative = Money::costForTokens(per1MChars, -1);
    QVERIFY(!negative.ok());
    QCOMPARE(negative.error().code, QStringLiteral("invalid_quantity"));
    QVERIFY(!Money::fromUnits(1).mulDiv(1, 0).ok());
}

void TestMoney::largeSums()
{
    // Ten million requests at a worst-case realistic cost: exact, no drift, no overflow.
    const Money cost = Money::costForTokens(Money::parse(u"75").value(), 128'000).value(); // 9.6 per request
    Money total;
    for (int i = 0; i < 10'000'000; ++i)
        total = total.add(cost).value();
    QCOMPARE(total.toString(), QStringLiteral("96000000.000000000"));

    // Sums far beyond qint64 nanos (9.2e9 units) stay exact.
    Money big = Money::parse(u"9000000000").value();
    Money acc;
    for (int i = 0; i < 1000; ++i)
        acc = acc.add(big).value();
    QCOMPARE(acc.toString(), QStringLiteral("9000000000000.000000000"));
    QVERIFY(!acc.toNanos64().has_value());

    // Many tiny costs: 1e6 * 0.000000001 = 0.001 exactly.
    Money tiny;
    for (int i = 0; i < 1'000'000; ++i)
        tiny = tiny.add(Money::fromNanos(1)).value();
    QCOMPARE(tiny.toString(), QStringLiteral("0.001000000"));
}

void TestMoney::overflow()
{
    const Money max = Money::fromNanos128(Money::kMaxNanos).value();
    const auto sum = max.add(Money::fromNanos(1));
    QVERIFY(!sum.ok());
    QCOMPARE(sum.error().code, QStringLiteral("amount_out_of_range"));
    QVERIFY(!max.negated().sub(Money::fromNanos(1)).ok());
    QVERIFY(max.sub(max).ok());
    QVERIFY(!max.multiply(2).ok());
    QVERIFY(!max.multiply(std::numeric_limits<qint64>::max()).ok());
    QVERIFY(!Money::costForTokens(max, std::numeric_limits<qint64>::max()).ok());
    // Division brings a big product back into range: still fine.
    QCOMPARE(Money::fromUnits(1'000'000).mulDiv(1'000'000'000'000, 1'000'000)->toString(),
             QStringLiteral("1000000000000.000000000"));
}

void TestMoney::nanos64()
{
    QCOMPARE(Money::parse(u"1.5")->toNanos64().value(), qint64(1'500'000'000));
    QCOMPARE(Money::fromNanos(std::numeric_limits<qint64>::min()).toNanos64().value(),
             std::numeric_limits<qint64>::min());
    QCOMPARE(Money::parse(u"0.25")->toDouble(), 0.25);
}

QTEST_GUILESS_MAIN(TestMoney)
#include "TestMoney.moc"
