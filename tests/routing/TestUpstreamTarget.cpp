// Upstream kinds, default base URLs and the URL + auth header of each upstream call.

#include "routing/UpstreamTarget.h"

#include <QDebug>
#include <QTest>

using namespace llmpool::gateway;

class TestUpstreamTarget : public QObject
{
    Q_OBJECT

private slots:
    void kinds_data();
    void kinds();
    void unknownKind();
    void resolveBase_data();
    void resolveBase();
    void build_data();
    void build();
    void debugRedactsKey();
};

void TestUpstreamTarget::kinds_data()
{
    QTest::addColumn<QString>("name");
    QTest::addColumn<int>("kind");
    QTest::addColumn<QString>("defaultBase");

    QTest::newRow("openai") << "openai" << int(UpstreamKind::OpenAI) << "https://api.openai.com/v1";
    QTest::newRow("azure") << "azure" << int(UpstreamKind::Azure) << "";
    QTest::newRow("openrouter") << "openrouter" << int(UpstreamKind::OpenRouter) << "https://openrouter.ai/api/v1";
    QTest::newRow("dashscope") << "dashscope" << int(UpstreamKind::DashScope)
                               << "https://dashscope.aliyuncs.com/compatible-mode/v1";
    QTest::newRow("ark") << "ark" << int(UpstreamKind::Ark) << "https://ark.cn-beijing.volces.com/api/v3";
}

void TestUpstreamTarget::kinds()
{
    QFETCH(QString, name);
    QFETCH(int, kind);
    QFETCH(QString, defaultBase);
    const auto k = UpstreamKind(kind);
    QCOMPARE(upstreamKindName(k), name);
    QCOMPARE(parseUpstreamKind(name), std::optional<UpstreamKind>(k));
    QCOMPARE(parseUpstreamKind(name.toUpper()), std::optional<UpstreamKind>(k));
    QCOMPARE(defaultApiBase(k), defaultBase);
}

void TestUpstreamTarget::unknownKind()
{
    QCOMPARE(parseUpstreamKind(u""), std::optional<UpstreamKind>(UpstreamKind::OpenAI));
    QVERIFY(!parseUpstreamKind(u"anthropic").has_value());
    QVERIFY(!parseUpstreamKind(u"open ai").has_value());
}

void TestUpstreamTarget::resolveBase_data()
{
    QTest::addColumn<int>("kind");
    QTest::addColumn<QString>("base");
    QTest::addColumn<QString>("expected"); // or the error code
    QTest::addColumn<bool>("ok");

    const int openai = int(UpstreamKind::OpenAI);
    const int azure = int(UpstreamKind::Azure);
    QTest::newRow("default") << openai << ""
                             << "https://api.openai.com/v1" << true;
    QTest::newRow("blank is default") << int(UpstreamKind::Ark) << "  "
                                      << "https://ark.cn-beijing.volces.com/api/v3" << true;
    QTest::newRow("trailing slashes") << openai << "http://127.0.0.1:8000/v1//"
                                      << "http://127.0.0.1:8000/v1" << true;
    QTest::newRow("host only") << openai << "http://localhost:11434"
                               << "http://localhost:11434" << true;
    QTest::newRow("azure needs base") << azure << ""
                                      << "api_base_required" << false;
    QTest::newRow("not a url") << openai << "api.openai.com/v1"
                               << "invalid_api_base" << false;
    QTest::newRow("ftp") << openai << "ftp://example.com/v1"
                         << "invalid_api_base" << false;
    QTest::newRow("user info") << openai << "https://user:secret@example.com/v1"
                               << "invalid_api_base" << false;
    QTest::newRow("query") << openai << "https://example.com/v1?x=1"
                           << "invalid_api_base" << false;
    QTest::newRow("fragment") << openai << "https://example.com/v1#x"
                              << "invalid_api_base" << false;
}

void TestUpstreamTarget::resolveBase()
{
    QFETCH(int, kind);
    QFETCH(QString, base);
    QFETCH(QString, expected);
    QFETCH(bool, ok);
    const auto r = UpstreamTarget::resolveApiBase(UpstreamKind(kind), base);
    QCOMPARE(r.ok(), ok);
    if (ok) {
        QCOMPARE(*r, expected);
    } else {
        QCOMPARE(r.error().code, expected);
        QCOMPARE(r.error().httpStatus, 400);
        QCOMPARE(r.error().param, QStringLiteral("api_base"));
        QVERIFY2(!r.error().message.contains(QLatin1String("secret")), qPrintable(r.error().message));
    }
}

void TestUpstreamTarget::build_data()
{
    QTest::addColumn<int>("kind");
    QTest::addColumn<QString>("base");
    QTest::addColumn<QString>("path");
    QTest::addColumn<QString>("model");
    QTest::addColumn<QString>("key");
    QTest::addColumn<QString>("version");
    QTest::addColumn<QByteArray>("url"); // or the error code
    QTest::addColumn<QByteArray>("headerName");
    QTest::addColumn<QByteArray>("headerValue");

    const int openai = int(UpstreamKind::OpenAI);
    const int azure = int(UpstreamKind::Azure);
    QTest::newRow("openai default") << openai << ""
                                    << "chat/completions"
                                    << "gpt-4o"
                                    << "sk-1"
                                    << "" << QByteArray("https://api.openai.com/v1/chat/completions")
                                    << QByteArray("authorization") << QByteArray("Bearer sk-1");
    QTest::newRow("slashes both sides") << openai << "http://127.0.0.1:9/v1/"
                                        << "/embeddings"
                                        << ""
                                        << "k"
                                        << "" << QByteArray("http://127.0.0.1:9/v1/embeddings")
                                        << QByteArray("authorization") << QByteArray("Bearer k");
    QTest::newRow("path encoded") << openai << "http://127.0.0.1:9/v1/"
                                  << "models/ft:a b~c_d.e-f"
                                  << ""
                                  << "k"
                                  << "" << QByteArray("http://127.0.0.1:9/v1/models/ft%3Aa%20b~c_d.e-f")
                                  << QByteArray("authorization") << QByteArray("Bearer k");
    QTest::newRow("no key, no header") << openai << "http://10.0.0.5:8000/v1"
                                       << "models"
                                       << ""
                                       << ""
                                       << "" << QByteArray("http://10.0.0.5:8000/v1/models") << QByteArray()
                                       << QByteArray();
    QTest::newRow("openrouter") << int(UpstreamKind::OpenRouter) << ""
                                << "chat/completions"
                                << "openai/gpt-4o"
                                << "or-key"
                                << "" << QByteArray("https://openrouter.ai/api/v1/chat/completions")
                                << QByteArray("authorization") << QByteArray("Bearer or-key");
    QTest::newRow("dashscope") << int(UpstreamKind::DashScope) << ""
                               << "embeddings"
                               << "text-embedding-v3"
                               << "ds"
                               << "" << QByteArray("https://dashscope.aliyuncs.com/compatible-mode/v1/embeddings")
                               << QByteArray("authorization") << QByteArray("Bearer ds");
    QTest::newRow("ark") << int(UpstreamKind::Ark) << ""
                         << "chat/completions"
                         << "doubao"
                         << "ark"
                         << "" << QByteArray("https://ark.cn-beijing.volces.com/api/v3/chat/completions")
                         << QByteArray("authorization") << QByteArray("Bearer ark");
    QTest::newRow("azure chat") << azure << "https://res.openai.azure.com"
                                << "chat/completions"
                                << "gpt4o-prod"
                                << "az"
                                << "2024-06-01"
                                << QByteArray(
                                       "https://res.openai.azure.com/openai/deployments/gpt4o-prod/chat/completions"
                                       "?api-version=2024-06-01")
                                << QByteArray("api-key") << QByteArray("az");
    QTest::newRow("azure default version, base with /openai/")
        << azure << "https://res.openai.azure.com/openai/"
        << "embeddings"
        << "emb"
        << "az"
        << "" << QByteArray("https://res.openai.azure.com/openai/deployments/emb/embeddings?api-version=2024-10-21")
        << QByteArray("api-key") << QByteArray("az");
    QTest::newRow("azure deployment encoded")
        << azure << "https://res.openai.azure.com/"
        << "audio/transcriptions"
        << "my dep/1?x"
        << "az"
        << "2024-10-21"
        << QByteArray("https://res.openai.azure.com/openai/deployments/my%20dep%2F1%3Fx/audio/transcriptions"
                      "?api-version=2024-10-21")
        << QByteArray("api-key") << QByteArray("az");
    QTest::newRow("azure version encoded")
        << azure << "https://res.openai.azure.com"
        << "chat/completions"
        << "d"
        << "az"
        << "2025-01-01 preview&x"
        << QByteArray("https://res.openai.azure.com/openai/deployments/d/chat/completions"
                      "?api-version=2025-01-01%20preview%26x")
        << QByteArray("api-key") << QByteArray("az");
    QTest::newRow("azure models probe") << azure << "https://res.openai.azure.com"
                                        << "models"
                                        << ""
                                        << "az"
                                        << ""
                                        << QByteArray(
                                               "https://res.openai.azure.com/openai/models?api-version=2024-10-21")
                                        << QByteArray("api-key") << QByteArray("az");
    QTest::newRow("azure responses")
        << azure << "https://res.openai.azure.com"
        << "responses"
        << "dep"
        << "az"
        << "2025-03-01-preview"
        << QByteArray("https://res.openai.azure.com/openai/responses?api-version=2025-03-01-preview")
        << QByteArray("api-key") << QByteArray("az");
    QTest::newRow("azure v1 api") << azure << "https://res.openai.azure.com/openai/v1/"
                                  << "chat/completions"
                                  << "dep"
                                  << "az"
                                  << "" << QByteArray("https://res.openai.azure.com/openai/v1/chat/completions")
                                  << QByteArray("api-key") << QByteArray("az");
    QTest::newRow("azure v1 api pinned version")
        << azure << "https://res.openai.azure.com/openai/v1"
        << "chat/completions"
        << "dep"
        << "az"
        << "preview" << QByteArray("https://res.openai.azure.com/openai/v1/chat/completions?api-version=preview")
        << QByteArray("api-key") << QByteArray("az");
    QTest::newRow("azure without deployment")
        << azure << "https://res.openai.azure.com"
        << "chat/completions"
        << ""
        << "sk-hidden"
        << "" << QByteArray("deployment_required") << QByteArray() << QByteArray();
    QTest::newRow("azure without base") << azure << ""
                                        << "chat/completions"
                                        << "d"
                                        << "sk-hidden"
                                        << "" << QByteArray("api_base_required") << QByteArray() << QByteArray();
    QTest::newRow("key with newline") << openai << ""
                                      << "chat/completions"
                                      << "m"
                                      << "sk-hidden\r\nx: y"
                                      << "" << QByteArray("invalid_upstream_key") << QByteArray() << QByteArray();
}

void TestUpstreamTarget::build()
{
    QFETCH(int, kind);
    QFETCH(QString, base);
    QFETCH(QString, path);
    QFETCH(QString, model);
    QFETCH(QString, key);
    QFETCH(QString, version);
    QFETCH(QByteArray, url);
    QFETCH(QByteArray, headerName);
    QFETCH(QByteArray, headerValue);

    const auto r = UpstreamTarget::build(UpstreamKind(kind), base, path, model, key, version);
    if (!url.startsWith("http")) {
        QVERIFY(!r.ok());
        QCOMPARE(r.error().code.toLatin1(), url);
        QVERIFY(!r.error().message.contains(QLatin1String("sk-hidden")));
        QVERIFY(!r.error().message.contains(QLatin1String("\r")));
        return;
    }
    QVERIFY2(r.ok(), qPrintable(r.ok() ? QString() : r.error().message));
    QCOMPARE(r->url, url);
    // Again: the thread's resolved base is reused, the answer is the same.
    const auto again = UpstreamTarget::build(UpstreamKind(kind), base, path, model, key, version);
    QVERIFY(again.ok());
    QCOMPARE(again->url, url);
    QCOMPARE(r->authHeaderName, headerName);
    QCOMPARE(r->authHeaderValue, headerValue);
}

void TestUpstreamTarget::debugRedactsKey()
{
    const auto r = UpstreamTarget::build(UpstreamKind::OpenAI, u"", u"chat/completions", u"m", u"sk-very-secret");
    QVERIFY(r.ok());
    QString text;
    QDebug(&text) << *r;
    QVERIFY2(!text.contains(QLatin1String("very-secret")), qPrintable(text));
    QVERIFY(text.contains(QLatin1String("api.openai.com")));
    QVERIFY(text.contains(QLatin1String("<redacted>")));
}

QTEST_APPLESS_MAIN(TestUpstreamTarget)
#include "TestUpstreamTarget.moc"
