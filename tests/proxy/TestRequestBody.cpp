// The only edits the gateway makes to a request body (SPEC §3), done by splicing bytes: everything
// else — unknown fields, key order, white space, integers beyond 2^53 — must reach the upstream
// exactly as sent.

#include "proxy/RequestBody.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QTest>

using namespace llmpool::gateway;

class TestRequestBody : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void readJson_data()
    {
        QTest::addColumn<QByteArray>("body");
        QTest::addColumn<QString>("errorCode");
        QTest::addColumn<QString>("model");
        QTest::newRow("ok") << QByteArray(R"({"model":"gpt-4o","messages":[]})") << QString() << "gpt-4o";
        QTest::newRow("not json") << QByteArray("{model:") << "invalid_json" << QString();
        QTest::newRow("array") << QByteArray("[1]") << "invalid_json" << QString();
        QTest::newRow("no model") << QByteArray(R"({"messages":[]})") << "missing_model" << QString();
        QTest::newRow("null model") << QByteArray(R"({"model":null})") << "missing_model" << QString();
        QTest::newRow("number model") << QByteArray(R"({"model":3})") << "invalid_field" << QString();
        QTest::newRow("empty model") << QByteArray(R"({"model":""})") << "invalid_field" << QString();
        QTest::newRow("bad stream") << QByteArray(R"({"model":"m","stream":"yes"})") << "invalid_field" << QString();
        QTest::newRow("bad max_tokens") << QByteArray(R"({"model":"m","max_tokens":-1})") << "invalid_field"
                                        << QString();
        QTest::newRow("fraction max_tokens")
            << QByteArray(R"({"model":"m","max_tokens":1.5})") << "invalid_field" << QString();
    }

    void readJson()
    {
        QFETCH(QByteArray, body);
        QFETCH(QString, errorCode);
        QFETCH(QString, model);
        auto fields = RequestBody::readJson(body);
        if (errorCode.isEmpty()) {
            QVERIFY(fields.ok());
            QCOMPARE(fields->model, model);
        } else {
            QVERIFY(!fields.ok());
            QCOMPARE(fields.error().code, errorCode);
            QCOMPARE(fields.error().httpStatus, 400);
        }
    }

    void readsStreamAndLimits()
    {
        auto f = RequestBody::readJson(R"({"model":"m","stream":true,"max_completion_tokens":77,
            "stream_options":{"include_usage":true},"input":"héllo"})");
        QVERIFY(f.ok());
        QVERIFY(f->stream);
        QCOMPARE(f->maxTokens, 77);
        QVERIFY(f->includeUsage);
        QCOMPARE(f->inputChars, 5);
    }

    void rewritePreservesEverythingElse()
    {
        const QByteArray body =
            "{ \"messages\" : [ {\"role\":\"user\",\"content\":\"say \\\"model\\\": x\"} ],\n"
            "  \"model\" : \"public-name\", \"seed\": 12345678901234567890, \"x_custom\": {\"model\":\"inner\"} }";
        auto out = RequestBody::rewriteJson(body, QStringLiteral("upstream/model-1"), false);
        QVERIFY(out.ok());
        QByteArray expected = body;
        expected.replace("\"public-name\"", "\"upstream/model-1\"");
        QCOMPARE(*out, expected); // byte for byte, the big integer and the nested "model" untouched
    }

    void rewriteEscapesTheNewName()
    {
        auto out = RequestBody::rewriteJson(R"({"model":"a"})", QStringLiteral("we\"ird\\name"), false);
        QVERIFY(out.ok());
        QCOMPARE(QJsonDocument::fromJson(*out).object().value("model").toString(), QStringLiteral("we\"ird\\name"));
    }

    void addIncludeUsage_data()
    {
        QTest::addColumn<QByteArray>("body");
        QTest::addColumn<QByteArray>("expected");
        QTest::newRow("absent") << QByteArray(R"({"model":"a","stream":true})")
                                << QByteArray(R"({"model":"b","stream":true,"stream_options":{"include_usage":true}})");
        QTest::newRow("absent, trailing space")
            << QByteArray("{\"model\":\"a\" \n}")
            << QByteArray("{\"model\":\"b\" \n,\"stream_options\":{\"include_usage\":true}}");
        QTest::newRow("null") << QByteArray(R"({"model":"a","stream_options":null})")
                              << QByteArray(R"({"model":"b","stream_options":{"include_usage":true}})");
        QTest::newRow("false, merged") << QByteArray(R"({"model":"a","stream_options":{"include_usage":false}})")
                                       << QByteArray(R"({"model":"b","stream_options":{"include_usage":true}})");
        QTest::newRow("other option kept")
            << QByteArray(R"({"stream_options":{"x":1},"model":"a"})")
            << QByteArray(R"({"stream_options":{"include_usage":true,"x":1},"model":"b"})");
    }

    void addIncludeUsage()
    {
        QFETCH(QByteArray, body);
        QFETCH(QByteArray, expected);
        QVERIFY(RequestBody::readJson(body).ok());
        auto out = RequestBody::rewriteJson(body, QStringLiteral("b"), true);
        QVERIFY(out.ok());
        QCOMPARE(*out, expected);
        QVERIFY(!QJsonDocument::fromJson(*out).isNull());
    }

    void multipart()
    {
        const QByteArray boundary = RequestBody::boundary("multipart/form-data; boundary=\"XyZ\"");
        QCOMPARE(boundary, QByteArray("XyZ"));
        QCOMPARE(RequestBody::boundary("application/json"), QByteArray());
        const QByteArray body =
            "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"model\"\r\n\r\n"
            "name=\"model\" bytes\r\n--XyZ\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\n"
            "whisper-public\r\n--XyZ--\r\n";
        auto field = RequestBody::multipartField(body, boundary, "model");
        QVERIFY(field.has_value());
        QCOMPARE(field->value, QByteArray("whisper-public"));
        const QByteArray out = RequestBody::replaceRange(body, field->valueBegin, field->valueEnd, "whisper-1");
        QByteArray expected = body;
        expected.replace("whisper-public", "whisper-1");
        QCOMPARE(out, expected);
        QVERIFY(!RequestBody::multipartField(body, boundary, "language").has_value());
    }
};

QTEST_GUILESS_MAIN(TestRequestBody)
#include "TestRequestBody.moc"
