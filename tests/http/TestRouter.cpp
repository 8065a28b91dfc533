// Router, percent-decoding and query parsing: pure unit tests, no sockets.

#include "http/HttpRequest.h"
#include "http/Router.h"

#include <QTest>

using namespace llmpool::gateway;

class TestRouter : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();
    void match_data();
    void match();
    void percentDecode_data();
    void percentDecode();
    void parseQuery();

private:
    Router m_router;
    QByteArray m_called; // the tag of the handler last invoked
};

void TestRouter::initTestCase()
{
    auto tag = [this](const char *name) { return [this, name](HttpRequest &, HttpResponder &) { m_called = name; }; };
    m_router.get("/v1/models", tag("models"));
    m_router.get("/v1/models/{id}", tag("model"));
    m_router.post("/v1/chat/completions", tag("chat"));
    m_router.get("/api/v1/users/{id}", tag("user.get"));
    m_router.put("/api/v1/users/{id}", tag("user.put"));
    m_router.del("/api/v1/users/{id}", tag("user.delete"));
    m_router.get("/api/v1/users/me", tag("user.me"));
    m_router.get("/api/v1/users/{id}/keys", tag("keys"));
    m_router.post("/api/v1/users/{id}/keys", tag("keys.post"));
    m_router.get("/files/{path...}", tag("files"));
    m_router.addRoute("HEAD", "/head-only", tag("head"));
    QCOMPARE(m_router.routeCount(), qsizetype(11));
}

void TestRouter::match_data()
{
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<QByteArray>("path");
    QTest::addColumn<int>("status");
    QTest::addColumn<QByteArray>("handler");
    QTest::addColumn<QByteArray>("params"); // "name=value;…" or the Allow header for 405

    QTest::newRow("exact") << QByteArray("GET") << QByteArray("/v1/models") << 200 << QByteArray("models")
                           << QByteArray();
    QTest::newRow("param") << QByteArray("GET") << QByteArray("/v1/models/gpt-4o") << 200 << QByteArray("model")
                           << QByteArray("id=gpt-4o");
    QTest::newRow("param decoded") << QByteArray("GET") << QByteArray("/v1/models/meta%2Fllama%203") << 200
                                   << QByteArray("model") << QByteArray("id=meta/llama 3");
    QTest::newRow("escaped literal") << QByteArray("GET") << QByteArray("/v1/mod%65ls") << 200 << QByteArray("models")
                                     << QByteArray();
    QTest::newRow("literal beats param") << QByteArray("GET") << QByteArray("/api/v1/users/me") << 200
                                         << QByteArray("user.me") << QByteArray();
    QTest::newRow("param other") << QByteArray("GET") << QByteArray("/api/v1/users/42") << 200 << QByteArray("user.get")
                                 << QByteArray("id=42");
    QTest::newRow("put") << QByteArray("PUT") << QByteArray("/api/v1/users/42") << 200 << QByteArray("user.put")
                         << QByteArray("id=42");
    QTest::newRow("nested") << QByteArray("POST") << QByteArray("/api/v1/users/7/keys") << 200
                            << QByteArray("keys.post") << QByteArray("id=7");
    QTest::newRow("rest") << QByteArray("GET") << QByteArray("/files/a/b%20c/d") << 200 << QByteArray("files")
                          << QByteArray("path=a/b c/d");
    QTest::newRow("rest needs a segment")
        << QByteArray("GET") << QByteArray("/files/") << 404 << QByteArray() << QByteArray();
    QTest::newRow("HEAD via GET") << QByteArray("HEAD") << QByteArray("/v1/models") << 200 << QByteArray("models")
                                  << QByteArray();
    QTest::newRow("explicit HEAD") << QByteArray("HEAD") << QByteArray("/head-only") << 200 << QByteArray("head")
                                   << QByteArray();
    QTest::newRow("404") << QByteArray("GET") << QByteArray("/v2/models") << 404 << QByteArray() << QByteArray();
    QTest::newRow("404 trailing slash") << QByteArray("GET") << QByteArray("/v1/models/") << 404 << QByteArray()
                                        << QByteArray();
    QTest::newRow("404 too deep") << QByteArray("GET") << QByteArray("/v1/models/a/b") << 404 << QByteArray()
                                  << QByteArray();
    QTest::newRow("405 exact") << QByteArray("POST") << QByteArray("/v1/models") << 405 << QByteArray()
                               << QByteArray("GET, HEAD");
    QTest::newRow("405 param") << QByteArray("PATCH") << QByteArray("/api/v1/users/5") << 405 << QByteArray()
                               << QByteArray("GET, HEAD, PUT, DELETE");
    QTest::newRow("405 literal and param") << QByteArray("POST") << QByteArray("/api/v1/users/me") << 405
                                           << QByteArray() << QByteArray("GET, HEAD, PUT, DELETE");
    QTest::newRow("405 for GET on POST route")
        << QByteArray("GET") << QByteArray("/v1/chat/completions") << 405 << QByteArray() << QByteArray("POST");
    QTest::newRow("method is case-sensitive")
        << QByteArray("get") << QByteArray("/v1/models") << 405 << QByteArray() << QByteArray("GET, HEAD");
}

void TestRouter::match()
{
    QFETCH(QByteArray, method);
    QFETCH(QByteArray, path);
    QFETCH(int, status);
    QFETCH(QByteArray, handler);
    QFETCH(QByteArray, params);

    QVarLengthArray<HttpRequest::Param, 4> found;
    const Router::Match m = m_router.match(method, path, found);
    QCOMPARE(m.status, status);
    if (status == 200) {
        QVERIFY(m.handler);
        HttpRequest request;
        HttpResponder responder; // detached: calls on it are no-ops
        m_called.clear();
        (*m.handler)(request, responder);
        QCOMPARE(m_called, handler);
        QByteArrayList pairs;
        for (const auto &p : found)
            pairs << p.first + '=' + p.second;
        QCOMPARE(pairs.join(';'), params);
    } else {
        QVERIFY(!m.handler);
        QCOMPARE(m.allow, params);
    }
}

void TestRouter::percentDecode_data()
{
    QTest::addColumn<QByteArray>("in");
    QTest::addColumn<bool>("plus");
    QTest::addColumn<QByteArray>("out");
    QTest::newRow("plain") << QByteArray("abc") << false << QByteArray("abc");
    QTest::newRow("escapes") << QByteArray("a%20b%2Fc%2f") << false << QByteArray("a b/c/");
    QTest::newRow("plus kept in paths") << QByteArray("a+b") << false << QByteArray("a+b");
    QTest::newRow("plus in queries") << QByteArray("a+b") << true << QByteArray("a b");
    QTest::newRow("malformed kept") << QByteArray("100%") << false << QByteArray("100%");
    QTest::newRow("malformed hex kept") << QByteArray("%zz%4") << false << QByteArray("%zz%4");
    QTest::newRow("utf8") << QByteArray("%C3%A9") << false << QByteArray("\xc3\xa9");
}

void TestRouter::percentDecode()
{
    QFETCH(QByteArray, in);
    QFETCH(bool, plus);
    QFETCH(QByteArray, out);
    QCOMPARE(HttpRequest::percentDecode(in, plus), out);
}

void TestRouter::parseQuery()
{
    const auto items = HttpRequest::parseQuery("a=1&b=x+y%21&&flag&a=2&=v&e=");
    QCOMPARE(items.size(), 6);
    QCOMPARE(items[0], HttpRequest::Param("a", "1"));
    QCOMPARE(items[1], HttpRequest::Param("b", "x y!"));
    QCOMPARE(items[2], HttpRequest::Param("flag", ""));
    QCOMPARE(items[3], HttpRequest::Param("a", "2"));
    QCOMPARE(items[4], HttpRequest::Param("", "v"));
    QCOMPARE(items[5], HttpRequest::Param("e", ""));
    QVERIFY(HttpRequest::parseQuery("").isEmpty());
}

QTEST_GUILESS_MAIN(TestRouter)
#include "TestRouter.moc"
