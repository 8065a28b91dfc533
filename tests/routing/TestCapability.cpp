// Capability names and the endpoint → capability table (SPEC §3, §9).

#include "routing/Capability.h"

#include <QTest>

using namespace llmpool::gateway;

class TestCapability : public QObject
{
    Q_OBJECT

private slots:
    void parse_data();
    void parse();
    void roundTrip();
    void parseList_data();
    void parseList();
    void endpoints_data();
    void endpoints();
    void unknownEndpoint();
};

void TestCapability::parse_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<int>("expected"); // 0 = rejected

    QTest::newRow("chat") << "chat" << int(Capability::Chat);
    QTest::newRow("completions") << "completions" << int(Capability::Completions);
    QTest::newRow("embeddings") << "embeddings" << int(Capability::Embeddings);
    QTest::newRow("images") << "images" << int(Capability::Images);
    QTest::newRow("speech") << "speech" << int(Capability::Speech);
    QTest::newRow("transcriptions") << "transcriptions" << int(Capability::Transcriptions);
    QTest::newRow("responses") << "responses" << int(Capability::Responses);
    QTest::newRow("case and spaces") << " Chat " << int(Capability::Chat);
    QTest::newRow("singular embedding") << "embedding" << int(Capability::Embeddings);
    QTest::newRow("singular image") << "image" << int(Capability::Images);
    QTest::newRow("singular transcription") << "transcription" << int(Capability::Transcriptions);
    QTest::newRow("unknown") << "video" << 0;
    QTest::newRow("empty") << "" << 0;
}

void TestCapability::parse()
{
    QFETCH(QString, text);
    QFETCH(int, expected);
    const std::optional<Capability> c = parseCapability(text);
    QCOMPARE(c.has_value(), expected != 0);
    if (c)
        QCOMPARE(int(*c), expected);
}

void TestCapability::roundTrip()
{
    QStringList all;
    for (Capability c : kAllCapabilities) {
        QCOMPARE(parseCapability(capabilityName(c)), std::optional<Capability>(c));
        all.append(capabilityName(c));
    }
    QCOMPARE(all,
             QStringList({"chat", "completions", "embeddings", "images", "speech", "transcriptions", "responses"}));
    QCOMPARE(capabilityNames(allCapabilities()), all);
}

void TestCapability::parseList_data()
{
    QTest::addColumn<QStringList>("names");
    QTest::addColumn<QStringList>("canonical"); // empty with errorCode set = rejected
    QTest::addColumn<QString>("errorCode");

    QTest::newRow("empty") << QStringList() << QStringList() << QString();
    QTest::newRow("ordered") << QStringList{"responses", "chat"} << QStringList{"chat", "responses"} << QString();
    QTest::newRow("duplicates") << QStringList{"chat", "Chat", "embedding"} << QStringList{"chat", "embeddings"}
                                << QString();
    QTest::newRow("unknown") << QStringList{"chat", "telepathy"} << QStringList() << "invalid_capability";
}

void TestCapability::parseList()
{
    QFETCH(QStringList, names);
    QFETCH(QStringList, canonical);
    QFETCH(QString, errorCode);
    const auto r = parseCapabilities(names);
    if (!errorCode.isEmpty()) {
        QVERIFY(!r.ok());
        QCOMPARE(r.error().code, errorCode);
        QCOMPARE(r.error().httpStatus, 400);
        QCOMPARE(r.error().param, QStringLiteral("capabilities"));
        QVERIFY(r.error().message.contains(QLatin1String("telepathy")));
        return;
    }
    QVERIFY(r.ok());
    QCOMPARE(capabilityNames(*r), canonical);
}

void TestCapability::endpoints_data()
{
    QTest::addColumn<QString>("path");
    QTest::addColumn<int>("endpoint");
    QTest::addColumn<int>("capability"); // 0 = none needed

    QTest::newRow("chat") << "chat/completions" << int(Endpoint::ChatCompletions) << int(Capability::Chat);
    QTest::newRow("leading slash") << "/chat/completions" << int(Endpoint::ChatCompletions) << int(Capability::Chat);
    QTest::newRow("completions") << "completions" << int(Endpoint::Completions) << int(Capability::Completions);
    QTest::newRow("embeddings") << "embeddings" << int(Endpoint::Embeddings) << int(Capability::Embeddings);
    QTest::newRow("images") << "images/generations" << int(Endpoint::ImagesGenerations) << int(Capability::Images);
    QTest::newRow("speech") << "audio/speech" << int(Endpoint::AudioSpeech) << int(Capability::Speech);
    QTest::newRow("transcriptions") << "audio/transcriptions" << int(Endpoint::AudioTranscriptions)
                                    << int(Capability::Transcriptions);
    QTest::newRow("responses") << "responses" << int(Endpoint::Responses) << int(Capability::Responses);
    QTest::newRow("models") << "models" << int(Endpoint::Models) << 0;
    QTest::newRow("models/{id}") << "models/gpt-4o" << int(Endpoint::Models) << 0;
}

void TestCapability::endpoints()
{
    QFETCH(QString, path);
    QFETCH(int, endpoint);
    QFETCH(int, capability);
    const std::optional<Endpoint> e = parseEndpoint(path);
    QVERIFY(e.has_value());
    QCOMPARE(int(*e), endpoint);
    if (!path.contains(QLatin1String("models/")))
        QCOMPARE(endpointPath(*e), path.startsWith(u'/') ? path.mid(1) : path);
    const std::optional<Capability> c = requiredCapability(*e);
    QCOMPARE(c.has_value(), capability != 0);
    if (c)
        QCOMPARE(int(*c), capability);
}

void TestCapability::unknownEndpoint()
{
    QVERIFY(!parseEndpoint(u"files").has_value());
    QVERIFY(!parseEndpoint(u"models/").has_value());
    QVERIFY(!parseEndpoint(u"chat/completions/x").has_value());
    QVERIFY(!parseEndpoint(u"").has_value());
}

QTEST_APPLESS_MAIN(TestCapability)
#include "TestCapability.moc"
