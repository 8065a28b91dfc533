// The usage event's wire form (Redis Stream, spool, llmpool_settle_usage): written by hand for
// speed, so it is checked here against Qt's JSON parser field by field, including names that need
// escaping.

#include "usage/UsageEventJson.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QTest>

using namespace llmpool;
using namespace llmpool::gateway;

class TestUsageEventJson : public QObject
{
    Q_OBJECT

private:
    static Money m(const char *text) { return *Money::parse(QString::fromLatin1(text)); }

    static UsageEvent sample()
    {
        UsageEvent e;
        e.requestId = "req-0123456789abcdef";
        e.userId = 42;
        e.keyId = 7;
        e.model = QStringLiteral("gpt-4o-mini");
        e.upstreamId = 3;
        e.upstreamModel = QStringLiteral("gpt-4o-mini-2024-07-18");
        e.endpoint = QStringLiteral("chat/completions");
        e.status = 200;
        e.stream = true;
        e.promptTokens = 1'000'000'000'000;
        e.cachedTokens = 5;
        e.completionTokens = 8;
        e.totalTokens = 1'000'000'000'008;
        e.images = 1;
        e.characters = 2;
        e.audioMillis = 3;
        e.usageEstimated = true;
        ModelPrices prices;
        prices.inputPer1M = m("0.15");
        prices.cachedInputPer1M = m("0.075");
        prices.outputPer1M = m("0.6");
        prices.perImage = m("0.04");
        prices.speechPer1MChars = m("15");
        prices.transcriptionPerMinute = m("0.006");
        e.prices = prices;
        e.cost = m("12345678901234567890.000000001");
        e.latencyMs = 12;
        e.ttfbMs = -1;
        e.attempts = 2;
        e.bytesIn = 100;
        e.bytesOut = 2000;
        e.createdAtMs = 1'790'000'000'123;
        return e;
    }

private Q_SLOTS:
    void everyField()
    {
        const UsageEvent e = sample();
        const QByteArray json = UsageEventJson::encode(e);
        QVERIFY(!json.contains('\n'));
        QJsonParseError error{};
        const QJsonObject o = QJsonDocument::fromJson(json, &error).object();
        QCOMPARE(error.error, QJsonParseError::NoError);
        QCOMPARE(o.value("request_id").toString(), QStringLiteral("req-0123456789abcdef"));
        QCOMPARE(o.value("created_at_ms").toInteger(), e.createdAtMs);
        QCOMPARE(o.value("user_id").toInteger(), 42);
        QCOMPARE(o.value("key_id").toInteger(), 7);
        QCOMPARE(o.value("model").toString(), e.model);
        QCOMPARE(o.value("upstream_id").toInteger(), 3);
        QCOMPARE(o.value("upstream_model").toString(), e.upstreamModel);
        QCOMPARE(o.value("endpoint").toString(), e.endpoint);
        QCOMPARE(o.value("status").toInteger(), 200);
        QCOMPARE(o.value("stream").toBool(false), true);
        QCOMPARE(o.value("prompt_tokens").toInteger(), e.promptTokens);
        QCOMPARE(o.value("cached_tokens").toInteger(), 5);
        QCOMPARE(o.value("completion_tokens").toInteger(), 8);
        QCOMPARE(o.value("total_tokens").toInteger(), e.totalTokens);
        QCOMPARE(o.value("images").toInteger(), 1);
        QCOMPARE(o.value("characters").toInteger(), 2);
        QCOMPARE(o.value("audio_ms").toInteger(), 3);
        const QJsonObject p = o.value("prices").toObject();
        QCOMPARE(p.size(), 6);
        QCOMPARE(p.value("input_price_per_1m").toString(), QStringLiteral("0.150000000"));
        QCOMPARE(p.value("cached_input_price_per_1m").toString(), QStringLiteral("0.075000000"));
        QCOMPARE(p.value("output_price_per_1m").toString(), QStringLiteral("0.600000000"));
        QCOMPARE(p.value("image_price").toString(), QStringLiteral("0.040000000"));
        QCOMPARE(p.value("speech_price_per_1m_chars").toString(), QStringLiteral("15.000000000"));
        QCOMPARE(p.value("transcription_price_per_minute").toString(), QStringLiteral("0.006000000"));
        QCOMPARE(o.value("cost").toString(), QStringLiteral("12345678901234567890.000000001"));
        QCOMPARE(o.value("usage_estimated").toBool(false), true);
        QCOMPARE(o.value("latency_ms").toInteger(), 12);
        QCOMPARE(o.value("ttfb_ms").toInteger(), -1);
        QCOMPARE(o.value("attempts").toInteger(), 2);
        QCOMPARE(o.value("bytes_in").toInteger(), 100);
        QCOMPARE(o.value("bytes_out").toInteger(), 2000);
        QVERIFY(!o.contains("error"));
        QCOMPARE(o.size(), 25);

        const auto header = UsageEventJson::header(json);
        QVERIFY(header.ok());
        QCOMPARE(header->requestId, e.requestId);
        QCOMPARE(header->userId, 42);
        QCOMPARE(header->keyId, 7);
        QCOMPARE(header->cost, e.cost);
    }

    void optionalPartsAndNegatives()
    {
        UsageEvent e = sample();
        e.prices.reset();
        e.stream = false;
        e.usageEstimated = false;
        e.cost = m("-0.000000001");
        e.errorCode = QStringLiteral("upstream_timeout");
        const QJsonObject o = QJsonDocument::fromJson(UsageEventJson::encode(e)).object();
        QVERIFY(!o.contains("prices"));
        QCOMPARE(o.value("stream").toBool(true), false);
        QCOMPARE(o.value("usage_estimated").toBool(true), false);
        QCOMPARE(o.value("cost").toString(), QStringLiteral("-0.000000001"));
        QCOMPARE(o.value("error").toString(), QStringLiteral("upstream_timeout"));
        e.cost = Money::zero();
        QCOMPARE(QJsonDocument::fromJson(UsageEventJson::encode(e)).object().value("cost").toString(),
                 QStringLiteral("0.000000000"));
    }

    void stringsAreEscaped()
    {
        UsageEvent e = sample();
        // Operator-chosen names may hold anything: quotes, backslashes, control characters,
        // non-ASCII text (one line per event in the spool, so no raw newline either).
        e.model = QStringLiteral("we\"ird\\model\n\t\r\x01\x1f\x7f \u00e9\u4e2d \U0001F600");
        e.upstreamModel = QStringLiteral("\"");
        e.endpoint = QString();
        e.errorCode = QStringLiteral("\\");
        e.requestId = "id\"with\\quote";
        const QByteArray json = UsageEventJson::encode(e);
        QVERIFY(!json.contains('\n'));
        QVERIFY(!json.contains('\x01'));
        QJsonParseError error{};
        const QJsonObject o = QJsonDocument::fromJson(json, &error).object();
        QCOMPARE(error.error, QJsonParseError::NoError);
        QCOMPARE(o.value("model").toString(), e.model);
        QCOMPARE(o.value("upstream_model").toString(), e.upstreamModel);
        QCOMPARE(o.value("endpoint").toString(), QString());
        QCOMPARE(o.value("error").toString(), e.errorCode);
        QCOMPARE(o.value("request_id").toString(), QString::fromLatin1(e.requestId));
    }
};

QTEST_GUILESS_MAIN(TestUsageEventJson)
#include "TestUsageEventJson.moc"
