// The console core without a server: the command-line parser, server URL normalisation, table and
// record output, the DTO parsers (shared/Dto.h) and the profile file.

#include "Dto.h"
#include "api/ApiClient.h"
#include "api/ApiJob.h"
#include "cli/ArgParser.h"
#include "cli/Output.h"
#include "session/ProfileStore.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QTemporaryDir>
#include <QTest>

using namespace llmpool;
using namespace llmpool::console;

class TestConsoleCore : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void parseArguments()
    {
        Result<ParsedArgs> parsed =
            ArgParser::parse({QStringLiteral("--format"), QStringLiteral("json"), QStringLiteral("wallet"),
                              QStringLiteral("credit"), QStringLiteral("alice"), QStringLiteral("-5.5"),
                              QStringLiteral("--note=a b"), QStringLiteral("--"), QStringLiteral("--not-an-option")});
        QVERIFY(parsed.ok());
        QCOMPARE(parsed->positionals,
                 (QStringList{QStringLiteral("wallet"), QStringLiteral("credit"), QStringLiteral("alice"),
                              QStringLiteral("-5.5"), QStringLiteral("--not-an-option")}));
        QCOMPARE(parsed->value(QStringLiteral("format")).value_or(QString()), QStringLiteral("json"));
        QCOMPARE(parsed->value(QStringLiteral("note")).value_or(QString()), QStringLiteral("a b"));
        QCOMPARE(parsed->firstNotAllowed({QStringLiteral("note")}), std::nullopt);
        QCOMPARE(parsed->firstNotAllowed({}).value_or(QString()), QStringLiteral("note"));

        Result<ParsedArgs> flags = ArgParser::parse(
            {QStringLiteral("user"), QStringLiteral("list"), QStringLiteral("--all"), QStringLiteral("-h")});
        QVERIFY(flags.ok());
        QVERIFY(flags->has(QStringLiteral("all")));
        QVERIFY(flags->has(QStringLiteral("help")));
        QVERIFY(flags->value(QStringLiteral("page")) == std::nullopt);
    }

    void parseErrors_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("message");
        QTest::newRow("unknown") << QStringList{"--frob"} << "unknown option --frob";
        QTest::newRow("short") << QStringList{"-v"} << "unknown option -v (options are spelled --name)";
        QTest::newRow("no value") << QStringList{"user", "--name"} << "--name needs a value";
        QTest::newRow("flag value") << QStringList{"--no-detect=1"} << "--no-detect takes no value";
        QTest::newRow("twice") << QStringList{"--url", "a", "--url", "b"} << "--url given twice";
    }

    void parseErrors()
    {
        QFETCH(QStringList, args);
        QFETCH(QString, message);
        Result<ParsedArgs> parsed = ArgParser::parse(args);
        QVERIFY(!parsed.ok());
        QCOMPARE(parsed.error().message, message);
    }

    void serverUrl_data()
    {
        QTest::addColumn<QString>("input");
        QTest::addColumn<QString>("expected"); // empty: rejected
        QTest::newRow("plain") << "http://127.0.0.1:19324"
                               << "http://127.0.0.1:19324";
        QTest::newRow("slash") << "http://gw:1/"
                               << "http://gw:1";
        QTest::newRow("api path") << "https://gw.example.com/api/v1/"
                                  << "https://gw.example.com";
        QTest::newRow("prefix") << "https://example.com/llm/api/v1"
                                << "https://example.com/llm";
        QTest::newRow("query") << "http://gw/?x=1#f"
                               << "http://gw";
        QTest::newRow("spaces") << "  http://gw:2  "
                                << "http://gw:2";
        QTest::newRow("ftp") << "ftp://gw"
                             << "";
        QTest::newRow("relative") << "gw:19324"
                                  << "";
        QTest::newRow("empty") << ""
                               << "";
        QTest::newRow("credentials") << "http://user:pw@gw"
                                     << "";
    }

    void serverUrl()
    {
        QFETCH(QString, input);
        QFETCH(QString, expected);
        Result<QUrl> url = ApiClient::normalizeServerUrl(input);
        if (expected.isEmpty()) {
            QVERIFY(!url.ok());
            QCOMPARE(url.error().code, QStringLiteral("invalid_url"));
        } else {
            QVERIFY2(url.ok(), qPrintable(url.ok() ? QString() : url.error().message));
            QCOMPARE(url->toString(), expected);
        }
        ApiClient client;
        client.setServer(QUrl(QStringLiteral("https://example.com/llm")));
        QCOMPARE(client.endpoint(QStringLiteral("/users/3")).toString(),
                 QStringLiteral("https://example.com/llm/api/v1/users/3"));
    }

    void errorText()
    {
        ApiError http{ApiError::Kind::Http,        404, {},
                      QStringLiteral("not_found"), {},  QStringLiteral("user 7 does not exist")};
        QCOMPARE(http.text(), QStringLiteral("HTTP 404: user 7 does not exist"));
        QVERIFY(http.isRefusal());
        ApiError failure{ApiError::Kind::Http, 502, {}, {}, {}, {}};
        QCOMPARE(failure.text(), QStringLiteral("HTTP 502"));
        QVERIFY(!failure.isRefusal());
        ApiError connection{ApiError::Kind::Connection, 0, {}, {}, {}, QStringLiteral("cannot reach x")};
        QVERIFY(!connection.isRefusal());
    }

    void table()
    {
        QString text;
        QTextStream out(&text);
        const QJsonArray rows{
            QJsonObject{{QStringLiteral("id"), 1},
                        {QStringLiteral("name"), QStringLiteral("alice")},
                        {QStringLiteral("tags"), QJsonArray{QStringLiteral("a"), QStringLiteral("b")}},
                        {QStringLiteral("on"), true},
                        {QStringLiteral("lat"), QJsonObject{{QStringLiteral("p95"), 12}}}},
            QJsonObject{{QStringLiteral("id"), 22},
                        {QStringLiteral("name"), QStringLiteral("line\nbreak")},
                        {QStringLiteral("tags"), QJsonArray{}},
                        {QStringLiteral("on"), QJsonValue::Null}}};
        Output::table(out,
                      {{QStringLiteral("ID"), QStringLiteral("id")},
                       {QStringLiteral("NAME"), QStringLiteral("name")},
                       {QStringLiteral("TAGS"), QStringLiteral("tags")},
                       {QStringLiteral("ON"), QStringLiteral("on")},
                       {QStringLiteral("P95"), QStringLiteral("lat.p95")}},
                      rows);
        out.flush();
        QCOMPARE(text, QStringLiteral("ID  NAME        TAGS  ON   P95\n"
                                      "1   alice       a,b   yes  12\n"
                                      "22  line break  -     -    -\n"));

        const QList<Column> columns = Output::columnsOf(rows, {QStringLiteral("name")});
        QCOMPARE(columns.first().key, QStringLiteral("name"));
        QVERIFY(std::any_of(columns.begin(), columns.end(),
                            [](const Column &c) { return c.key == QLatin1String("lat.p95"); }));

        QString record;
        QTextStream recordOut(&record);
        Output::record(recordOut, QJsonObject{{QStringLiteral("a"), 1},
                                              {QStringLiteral("nested"), QJsonObject{{QStringLiteral("b"), false}}}});
        recordOut.flush();
        QCOMPARE(record, QStringLiteral("a:        1\nnested.b: no\n"));
        QCOMPARE(Output::cell(QJsonValue(2.5)), QStringLiteral("2.5"));
        QCOMPARE(Output::cell(QJsonValue(qint64(9007199254740991))), QStringLiteral("9007199254740991"));
    }

    void dtos()
    {
        const QJsonObject key = QJsonDocument::fromJson(R"({"id":4,"user_id":1,"name":"ci","prefix":"sk-lp-abcd",
            "enabled":true,"expires_at":null,"allowed_models":["a","b"],"rpm_limit":60,"tpm_limit":null,
            "spend_limit":"2.500000000","last_used_at":null,"created_at":"2026-11-23T01:02:03.456Z",
            "key":"sk-lp-secret"})")
                                    .object();
        Result<dto::ApiKey> parsed = dto::ApiKey::fromJson(key);
        QVERIFY2(parsed.ok(), qPrintable(parsed.ok() ? QString() : parsed.error().message));
        QCOMPARE(parsed->allowedModels.value_or(QStringList()).size(), 2);
        QCOMPARE(parsed->rpmLimit.value_or(0), 60);
        QVERIFY(!parsed->tpmLimit);
        QCOMPARE(parsed->spendLimit->toString(), QStringLiteral("2.500000000"));
        QCOMPARE(parsed->key.value_or(QString()), QStringLiteral("sk-lp-secret"));
        QCOMPARE(parsed->createdAt, QDateTime(QDate(2026, 11, 23), QTime(1, 2, 3, 456), Qt::UTC));

        QJsonObject broken = key;
        broken.insert(QStringLiteral("rpm_limit"), QStringLiteral("sixty"));
        Result<dto::ApiKey> bad = dto::ApiKey::fromJson(broken);
        QVERIFY(!bad.ok());
        QCOMPARE(bad.error().param, QStringLiteral("rpm_limit"));
        QVERIFY(bad.error().message.contains(QStringLiteral("rpm_limit")));
        broken = key;
        broken.remove(QStringLiteral("prefix"));
        QCOMPARE(dto::ApiKey::fromJson(broken).error().message,
                 QStringLiteral("the server's API key member \"prefix\" is missing"));

        const QJsonObject wallet = QJsonDocument::fromJson(R"({"user_id":1,"cash":"1.5","credit_limit":"0",
            "debt":"0","reserved":"0.25","available":"1.25","currency":"USD","reserved_unavailable":false})")
                                       .object();
        Result<dto::Wallet> w = dto::Wallet::fromJson(wallet);
        QVERIFY(w.ok());
        QCOMPARE(w->available.toString(), QStringLiteral("1.250000000"));
        QJsonObject floatCash = wallet;
        floatCash.insert(QStringLiteral("cash"), 1.5);
        QVERIFY(!dto::Wallet::fromJson(floatCash).ok());

        const QJsonObject page = QJsonDocument::fromJson(R"({"data":[{"id":1,"name":"a","email":null,"enabled":true,
            "created_at":"2026-11-23T01:02:03.000Z","updated_at":"2026-11-23T01:02:03.000Z"}],
            "pagination":{"page":2,"page_size":1,"total":3,"total_pages":3}})")
                                     .object();
        Result<dto::Page<dto::User>> users = dto::Page<dto::User>::fromJson(page);
        QVERIFY(users.ok());
        QCOMPARE(users->items.size(), 1);
        QVERIFY(!users->items.first().email);
        QVERIFY(users->pagination.hasMore());
        QVERIFY(!dto::Page<dto::User>::fromJson(QJsonObject{{QStringLiteral("data"), 1}}).ok());
    }

    void profiles()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("nested/llmpool/console.json"));
        ProfileStore store(path);
        QVERIFY(store.load().ok()); // missing: empty
        QVERIFY(store.profiles().isEmpty());
        store.put(Profile{QStringLiteral("prod"), QUrl(QStringLiteral("https://gw.example.com"))});
        store.put(Profile{QStringLiteral("dev"), QUrl(QStringLiteral("http://127.0.0.1:19324"))});
        QCOMPARE(store.current(), QStringLiteral("prod"));
        QVERIFY(store.save().ok());
        QCOMPARE(QFile(path).permissions() &
                     (QFileDevice::ReadGroup | QFileDevice::ReadOther | QFileDevice::WriteOther),
                 QFileDevice::Permissions());

        ProfileStore again(path);
        QVERIFY(again.load().ok());
        QCOMPARE(again.profiles().size(), 2);
        QCOMPARE(again.find(QStringLiteral("dev"))->url.toString(), QStringLiteral("http://127.0.0.1:19324"));
        QVERIFY(again.setCurrent(QStringLiteral("dev")));
        QVERIFY(!again.setCurrent(QStringLiteral("nope")));
        QVERIFY(again.remove(QStringLiteral("dev")));
        QVERIFY(again.current().isEmpty());
        QVERIFY(!again.remove(QStringLiteral("dev")));

        QFile broken(path);
        QVERIFY(broken.open(QIODevice::WriteOnly | QIODevice::Truncate));
        broken.write("{not json");
        broken.close();
        Status loaded = ProfileStore(path).load();
        QVERIFY(!loaded.ok());
        QVERIFY(loaded.error().message.contains(path));

        QVERIFY(ProfileStore::isValidName(QStringLiteral("prod-eu.1_a")));
        QVERIFY(!ProfileStore::isValidName(QStringLiteral("a b")));
        QVERIFY(!ProfileStore::isValidName(QString()));
        QVERIFY(!ProfileStore::isValidName(QString(65, QLatin1Char('a'))));

        QProcessEnvironment env;
        env.insert(QStringLiteral("HOME"), QStringLiteral("/home/op"));
        QCOMPARE(ProfileStore::defaultPath(env), QStringLiteral("/home/op/.config/llmpool/console.json"));
        env.insert(QStringLiteral("XDG_CONFIG_HOME"), QStringLiteral("relative/ignored"));
        QCOMPARE(ProfileStore::defaultPath(env), QStringLiteral("/home/op/.config/llmpool/console.json"));
        env.insert(QStringLiteral("XDG_CONFIG_HOME"), QStringLiteral("/cfg"));
        QCOMPARE(ProfileStore::defaultPath(env), QStringLiteral("/cfg/llmpool/console.json"));
    }
};

QTEST_GUILESS_MAIN(TestConsoleCore)
#include "TestConsoleCore.moc"
