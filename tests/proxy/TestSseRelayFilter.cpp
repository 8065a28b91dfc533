// The SSE relay: events pass through unchanged and in order whatever the chunking, usage is read
// from chat and Responses streams, and the usage-only chunk is dropped only when the gateway asked
// for it.

#include "proxy/RequestBody.h"
#include "proxy/ResponseUsage.h"

#include <QJsonDocument>
#include <QTest>

using namespace llmpool::gateway;

namespace {
const QByteArray kChunk = R"(data: {"id":"c1","choices":[{"index":0,"delta":{"content":"Hi"}}],"usage":null})"
                          "\n\n";
const QByteArray kUsage = R"(data: {"id":"c1","choices":[],"usage":{"prompt_tokens":11,"completion_tokens":7,)"
                          R"("total_tokens":18,"prompt_tokens_details":{"cached_tokens":4}}})"
                          "\n\n";
const QByteArray kDone = "data: [DONE]\n\n";
} // namespace

class TestSseRelayFilter : public QObject
{
    Q_OBJECT

private:
    // Feeds `stream` in pieces of `piece` bytes and returns what the client would get.
    static QByteArray relay(SseRelayFilter &filter, const QByteArray &stream, int piece)
    {
        QByteArray out;
        for (qsizetype i = 0; i < stream.size(); i += piece) {
            bool ok = true;
            out += filter.feed(QByteArrayView(stream).sliced(i, std::min<qsizetype>(piece, stream.size() - i)), &ok);
            if (!ok) {
                qFatal("filter refused");
            }
        }
        return out + filter.flush();
    }

private Q_SLOTS:
    void dropsInjectedUsageChunk_data()
    {
        QTest::addColumn<int>("piece");
        for (int piece : {1, 3, 17, 64, 100000}) {
            QTest::addRow("pieces of %d", piece) << piece;
        }
    }

    void dropsInjectedUsageChunk()
    {
        QFETCH(int, piece);
        SseRelayFilter filter(true);
        const QByteArray out = relay(filter, kChunk + kChunk + kUsage + kDone, piece);
        QCOMPARE(out, kChunk + kChunk + kDone);
        QVERIFY(filter.usage().has_value());
        QCOMPARE(filter.usage()->promptTokens, 11);
        QCOMPARE(filter.usage()->completionTokens, 7);
        QCOMPARE(filter.usage()->cachedTokens, 4);
        QVERIFY(filter.sawDone());
    }

    void usageObjectFoundWhateverTheSpacing()
    {
        // Pretty-printed by some upstreams: blanks (even a newline inside one data line's JSON is
        // impossible, but spaces and tabs are not) around the colon.
        const QByteArray spaced = "data: {\"id\":\"c2\", \"choices\": [], \"usage\" :\t {\"prompt_tokens\": 3, "
                                  "\"completion_tokens\": 2}}\n\n";
        // Model output that talks about usage: the key only appears escaped inside a string.
        const QByteArray talky =
            "data: {\"id\":\"c2\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\\\"usage\\\": {\"}}],"
            "\"usage\":null}\n\n";
        SseRelayFilter filter(true);
        QCOMPARE(relay(filter, kChunk + talky + spaced + kDone, 9), kChunk + talky + kDone);
        QVERIFY(filter.usage().has_value());
        QCOMPARE(filter.usage()->promptTokens, 3);
        QCOMPARE(filter.usage()->completionTokens, 2);
        // Only "usage": null everywhere: nothing read, nothing dropped.
        SseRelayFilter none(true);
        QCOMPARE(relay(none, kChunk + talky + kDone, 4), kChunk + talky + kDone);
        QVERIFY(!none.usage().has_value());
    }

    void keepsUsageTheClientAskedFor()
    {
        SseRelayFilter filter(false);
        const QByteArray stream = kChunk + kUsage + kDone;
        QCOMPARE(relay(filter, stream, 5), stream);
        QCOMPARE(filter.usage()->totalTokens, 18);
    }

    void responsesApiUsage()
    {
        SseRelayFilter filter(true);
        const QByteArray completed =
            "event: response.completed\r\ndata: {\"type\":\"response.completed\",\"response\":"
            "{\"usage\":{\"input_tokens\":9,\"output_tokens\":3,\"total_tokens\":12}}}\r\n\r\n";
        QCOMPARE(relay(filter, completed, 7), completed); // not a chat chunk: never dropped
        QCOMPARE(filter.usage()->promptTokens, 9);
        QCOMPARE(filter.usage()->completionTokens, 3);
    }

    void untrustedNumbersAreClamped()
    {
        auto u = TokenUsage::fromJson({{"prompt_tokens", 1e30}, {"completion_tokens", -5}, {"total_tokens", 3}});
        QVERIFY(u.has_value());
        QCOMPARE(u->promptTokens, TokenUsage::kMaxTokens);
        QCOMPARE(u->completionTokens, 0);
        QCOMPARE(u->totalTokens, TokenUsage::kMaxTokens); // recomputed from the parts
        QVERIFY(!TokenUsage::fromJson({{"prompt_tokens", "many"}}).has_value());
    }

    void oversizedEventIsRefused()
    {
        SseRelayFilter filter(true, 1024);
        bool ok = true;
        filter.feed(QByteArray(QByteArray("data: ") + QByteArray(2000, 'x')), &ok);
        QVERIFY(!ok);
    }

    void nonStreamBody()
    {
        auto u = usageFromResponseBody(R"({"id":"x","usage":{"prompt_tokens":5,"total_tokens":5}})");
        QVERIFY(u.has_value());
        QCOMPARE(u->promptTokens, 5);
        QVERIFY(!usageFromResponseBody("not json").has_value());
    }

    // usageFromResponseBody reads the common shape straight from the bytes and parses anything
    // else with QJsonDocument: both must give what the QJsonDocument reading alone gives.
    void nonStreamBodyMatchesTheJsonReading_data()
    {
        QTest::addColumn<QByteArray>("usage");
        const char *const cases[] = {
            R"({"prompt_tokens":5,"completion_tokens":7,"total_tokens":12})",
            R"({ "prompt_tokens" : 5 ,
                 "completion_tokens":7, "total_tokens": 999,
                 "prompt_tokens_details": {"cached_tokens": 3, "audio_tokens": 0},
                 "completion_tokens_details": {"reasoning_tokens": 2} })",
            R"({"input_tokens":9,"output_tokens":4,"total_tokens":13,"input_tokens_details":{"cached_tokens":20}})",
            R"({"prompt_tokens":5,"input_tokens":6,"completion_tokens":1,"output_tokens":2})",
            R"({"prompt_tokens":1,"prompt_tokens_details":{"cached_tokens":1},"input_tokens_details":{"cached_tokens":0}})",
            R"({"prompt_tokens":0})",
            R"({"total_tokens":40})",
            R"({})",
            R"({"other":1})",
            R"({"prompt_tokens":100000001,"completion_tokens":99999999999999999999})",
            R"({"prompt_tokens":5.0,"completion_tokens":2})",
            R"({"prompt_tokens":5.7,"completion_tokens":2e3})",
            R"({"prompt_tokens":-5,"completion_tokens":2})",
            R"({"prompt_tokens":"5","completion_tokens":2})",
            R"({"prompt_tokens":null,"completion_tokens":2})",
            R"({"prompt_tokens":true,"completion_tokens":[2]})",
            R"({"prompt_tokens":5,"prompt_tokens":9})",
            R"({"prompt_tokens":007})",
            R"({"pr\u006fmpt_tokens":5})",
            R"({"prompt_tokens":5,"prompt_tokens_details":7})",
            R"({"prompt_tokens":5,"prompt_tokens_details":{"cached_tokens":{"x":1}}})",
            R"({"prompt_tokens":5,})",
            R"({"prompt_tokens":5 "completion_tokens":2})",
            R"({"prompt_tokens":5)",
            R"({"prompt_tokens":5}})",
        };
        for (const char *c : cases)
            QTest::newRow(c) << QByteArray(c);
        QByteArray many = R"({"prompt_tokens":3)";
        for (int i = 0; i < 40; ++i)
            many += ",\"k" + QByteArray::number(i) + "\":" + QByteArray::number(i);
        QTest::newRow("40 more keys") << many + R"(,"completion_tokens":2})";
    }

    void nonStreamBodyMatchesTheJsonReading()
    {
        QFETCH(QByteArray, usage);
        const QByteArray body = R"({"id":"x","choices":[{"message":{"content":"usage"}}],"usage":)" + usage + "}";
        // The reading before the fast path: the `usage` member's span parsed alone, else the body.
        std::optional<TokenUsage> expected;
        const QJsonObject u = QJsonDocument::fromJson(RequestBody::topLevelValue(body, "usage").toByteArray()).object();
        if (!u.isEmpty()) {
            expected = TokenUsage::fromJson(u);
        } else {
            const QJsonObject o = QJsonDocument::fromJson(body).object();
            if (o.value(QLatin1String("usage")).isObject())
                expected = TokenUsage::fromJson(o.value(QLatin1String("usage")).toObject());
        }
        const std::optional<TokenUsage> got = usageFromResponseBody(body);
        QCOMPARE(got.has_value(), expected.has_value());
        if (got) {
            QCOMPARE(got->promptTokens, expected->promptTokens);
            QCOMPARE(got->cachedTokens, expected->cachedTokens);
            QCOMPARE(got->completionTokens, expected->completionTokens);
            QCOMPARE(got->totalTokens, expected->totalTokens);
        }
    }
};

QTEST_GUILESS_MAIN(TestSseRelayFilter)
#include "TestSseRelayFilter.moc"
