// PostgresUrl: parsing postgres:// URLs into QPSQL settings, and keeping the password out of
// everything printable.

#include "storage/PostgresUrl.h"

#include <QSqlDatabase>
#include <QTest>

using namespace llmpool;
using namespace llmpool::gateway;

class TestDatabaseUrl : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void parses_data()
    {
        QTest::addColumn<QString>("url");
        QTest::addColumn<QString>("host");
        QTest::addColumn<int>("port");
        QTest::addColumn<QString>("user");
        QTest::addColumn<QString>("password");
        QTest::addColumn<QString>("database");
        QTest::addColumn<QString>("options");

        QTest::newRow("full") << "postgres://app:pw@db.internal:6543/llmpool"
                              << "db.internal" << 6543 << "app"
                              << "pw"
                              << "llmpool"
                              << "";
        QTest::newRow("postgresql scheme, default port") << "postgresql://app@localhost/x"
                                                         << "localhost" << 5432 << "app"
                                                         << ""
                                                         << "x"
                                                         << "";
        QTest::newRow("percent-decoding") << "postgres://us%40er:p%40ss%3Aw%2Frd%25@h/d%20b"
                                          << "h" << 5432 << "us@er"
                                          << "p@ss:w/rd%"
                                          << "d b"
                                          << "";
        QTest::newRow("unencoded @ in password") << "postgres://u:p@ss@h/d"
                                                 << "h" << 5432 << "u"
                                                 << "p@ss"
                                                 << "d"
                                                 << "";
        QTest::newRow("ipv6") << "postgres://u@[::1]:5433/d"
                              << "::1" << 5433 << "u"
                              << ""
                              << "d"
                              << "";
        QTest::newRow("socket via query") << "postgres://u@/d?host=/run/postgresql"
                                          << "/run/postgresql" << 5432 << "u"
                                          << ""
                                          << "d"
                                          << "";
        QTest::newRow("socket via encoded host") << "postgres://%2Frun%2Fpostgresql/d"
                                                 << "/run/postgresql" << 5432 << ""
                                                 << ""
                                                 << "d"
                                                 << "";
        QTest::newRow("options") << "postgres://u@h/d?sslmode=require&connect_timeout=5"
                                 << "h" << 5432 << "u"
                                 << ""
                                 << "d"
                                 << "sslmode='require';connect_timeout='5'";
        QTest::newRow("query overrides") << "postgres://u@h:1/d?port=2&user=v&password=s3cr3t&dbname=e"
                                         << "h" << 2 << "v"
                                         << "s3cr3t"
                                         << "e"
                                         << "";
        QTest::newRow("quoted option value") << "postgres://h/d?application_name=it%27s%20me"
                                             << "h" << 5432 << ""
                                             << ""
                                             << "d"
                                             << "application_name='it\\'s me'";
    }

    void parses()
    {
        QFETCH(QString, url);
        QFETCH(QString, host);
        QFETCH(int, port);
        QFETCH(QString, user);
        QFETCH(QString, password);
        QFETCH(QString, database);
        QFETCH(QString, options);
        Result<PostgresUrl> parsed = PostgresUrl::parse(url);
        QVERIFY2(parsed.ok(), parsed.ok() ? "" : qPrintable(parsed.error().message));
        QCOMPARE(parsed->host, host);
        QCOMPARE(parsed->port, port);
        QCOMPARE(parsed->user, user);
        QCOMPARE(parsed->password, password);
        QCOMPARE(parsed->database, database);
        QCOMPARE(PostgresUrl::connectOptionsString(parsed->options), options);
        if (!password.isEmpty())
            QVERIFY(!parsed->redacted().contains(password));
        // The redacted URL parses back to the same place.
        Result<PostgresUrl> again = PostgresUrl::parse(parsed->redacted());
        QVERIFY2(again.ok(), qPrintable(parsed->redacted()));
        QCOMPARE(again->host, host);
        QCOMPARE(again->port, port);
        QCOMPARE(again->database, database);
    }

    void rejects_data()
    {
        QTest::addColumn<QString>("url");
        QTest::newRow("scheme") << "mysql://u@h/d";
        QTest::newRow("bad port") << "postgres://h:99999/d";
        QTest::newRow("port text") << "postgres://h:abc/d";
        QTest::newRow("broken escape") << "postgres://u:p%zz@h/d";
        QTest::newRow("several hosts") << "postgres://h1,h2/d";
        QTest::newRow("path") << "postgres://h/d/e";
        QTest::newRow("query without value") << "postgres://h/d?sslmode";
        QTest::newRow("unterminated ipv6") << "postgres://[::1/d";
    }

    void rejects()
    {
        QFETCH(QString, url);
        Result<PostgresUrl> parsed = PostgresUrl::parse(url);
        QVERIFY(!parsed.ok());
        QCOMPARE(parsed.error().code, QStringLiteral("database_url_invalid"));
        QVERIFY(!parsed.error().message.contains(url));
    }

    void appliesToQpsql()
    {
        Result<PostgresUrl> url =
            PostgresUrl::parse(QStringLiteral("postgres://u:pw@h:7/d?sslmode=disable&options=-c%20a%3Db"));
        QVERIFY(url.ok());
        {
            QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QPSQL"), QStringLiteral("apply"));
            url->applyTo(db, {{QStringLiteral("sslmode"), QStringLiteral("require")},
                              {QStringLiteral("connect_timeout"), QStringLiteral("3")},
                              {QStringLiteral("options"), QStringLiteral("-c x=y")}});
            QCOMPARE(db.hostName(), QStringLiteral("h"));
            QCOMPARE(db.port(), 7);
            QCOMPARE(db.userName(), QStringLiteral("u"));
            QCOMPARE(db.password(), QStringLiteral("pw"));
            QCOMPARE(db.databaseName(), QStringLiteral("d"));
            // The URL wins on sslmode; server options are combined, the URL's last (they win).
            QCOMPARE(db.connectOptions(),
                     QStringLiteral("sslmode='disable';options='-c x=y -c a=b';connect_timeout='3'"));
        }
        QSqlDatabase::removeDatabase(QStringLiteral("apply"));
    }
};

QTEST_GUILESS_MAIN(TestDatabaseUrl)
#include "TestDatabaseUrl.moc"
