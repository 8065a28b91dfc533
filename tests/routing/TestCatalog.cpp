// Catalog snapshot: lookup by public name, servability, the models list a key sees, redaction.

#include "routing/Catalog.h"

#include <QDebug>
#include <QTest>

using namespace llmpool;
using namespace llmpool::gateway;

namespace {

CatalogUpstream upstream(qint64 id, bool enabled = true)
{
    CatalogUpstream u;
    u.id = id;
    u.name = QStringLiteral("up%1").arg(id);
    u.apiKey = QStringLiteral("sk-secret-%1").arg(id);
    u.enabled = enabled;
    return u;
}

CatalogModel row(qint64 id, const QString &name, qint64 upstreamId, bool enabled = true,
                 Capabilities caps = Capability::Chat)
{
    CatalogModel m;
    m.id = id;
    m.publicName = name;
    m.upstreamId = upstreamId;
    m.upstreamModel = name + QStringLiteral("-upstream");
    m.capabilities = caps;
    m.enabled = enabled;
    return m;
}

// Upstreams 1, 2 enabled, 3 disabled. Rows (id: name @ upstream):
//   10: gpt-4o @1, 11: gpt-4o @2, 12: gpt-4o @3 (upstream disabled)
//   20: embed @1 (row disabled)
//   30: only-disabled-upstream @3
//   40: orphan @99 (no such upstream)
//   50: Zeta @2, 51: alpha @1
std::shared_ptr<const Catalog> sample()
{
    return Catalog::make({upstream(1), upstream(2), upstream(3, false), upstream(1 /* duplicate id */, false)},
                         {row(11, "gpt-4o", 2), row(40, "orphan", 99), row(10, "gpt-4o", 1), row(12, "gpt-4o", 3),
                          row(20, "embed", 1, false, Capability::Embeddings), row(30, "only-disabled-upstream", 3),
                          row(50, "Zeta", 2), row(51, "alpha", 1)});
}

} // namespace

class TestCatalog : public QObject
{
    Q_OBJECT

private slots:
    void lookup();
    void emptyCatalog();
    void servable();
    void modelsFor_data();
    void modelsFor();
    void pricesKept();
    void debugRedacts();
};

void TestCatalog::lookup()
{
    const auto c = sample();
    const auto rows = c->rows(u"gpt-4o");
    QCOMPARE(rows.size(), size_t(3));
    QCOMPARE(rows[0].id, 10); // ordered by id within a name
    QCOMPARE(rows[1].id, 11);
    QCOMPARE(rows[2].id, 12);
    QCOMPARE(rows[0].upstreamModel, QStringLiteral("gpt-4o-upstream"));
    QVERIFY(c->rows(u"GPT-4o").empty()); // model names are case-sensitive, as at OpenAI
    QVERIFY(c->rows(u"nope").empty());
    QVERIFY(c->contains(u"embed"));
    QCOMPARE(c->upstreams().size(), size_t(3)); // the duplicate id was dropped, first kept
    QVERIFY(c->upstream(1)->enabled);
    QVERIFY(c->upstream(99) == nullptr);
    QCOMPARE(c->models().size(), size_t(8));
}

void TestCatalog::emptyCatalog()
{
    const Catalog c;
    QVERIFY(c.rows(u"gpt-4o").empty());
    QVERIFY(c.modelsFor().isEmpty());
    QVERIFY(!c.isOffered(u"gpt-4o"));
}

void TestCatalog::servable()
{
    const auto c = sample();
    const auto rows = c->rows(u"gpt-4o");
    QVERIFY(c->isServable(rows[0]));
    QVERIFY(c->isServable(rows[1]));
    QVERIFY(!c->isServable(rows[2])); // upstream disabled
    QVERIFY(!c->isServable(c->rows(u"embed")[0]));
    QVERIFY(!c->isServable(c->rows(u"orphan")[0]));
    QVERIFY(c->isOffered(u"gpt-4o"));
    QVERIFY(!c->isOffered(u"embed"));
    QVERIFY(!c->isOffered(u"only-disabled-upstream"));
    QVERIFY(!c->isOffered(u"orphan"));
}

void TestCatalog::modelsFor_data()
{
    QTest::addColumn<bool>("restricted");
    QTest::addColumn<QStringList>("allowed");
    QTest::addColumn<QStringList>("expected");

    QTest::newRow("all") << false << QStringList() << QStringList{"Zeta", "alpha", "gpt-4o"};
    QTest::newRow("allow list") << true << QStringList{"gpt-4o", "embed", "unknown"} << QStringList{"gpt-4o"};
    QTest::newRow("empty allow list") << true << QStringList() << QStringList();
    QTest::newRow("exact names only") << true << QStringList{"gpt-4"} << QStringList();
}

void TestCatalog::modelsFor()
{
    QFETCH(bool, restricted);
    QFETCH(QStringList, allowed);
    QFETCH(QStringList, expected);
    const auto c = sample();
    const std::optional<QStringList> filter = restricted ? std::optional<QStringList>(allowed) : std::nullopt;
    QCOMPARE(c->modelsFor(filter), expected);
    for (const QString &name : expected)
        QVERIFY(Catalog::isAllowed(name, filter));
}

void TestCatalog::pricesKept()
{
    CatalogModel m = row(1, "m", 1);
    m.prices.inputPer1M = *Money::parse(u"2.5");
    m.prices.cachedInputPer1M = *Money::parse(u"1.25");
    m.prices.outputPer1M = *Money::parse(u"10");
    m.prices.perImage = *Money::parse(u"0.04");
    m.prices.speechPer1MChars = *Money::parse(u"15");
    m.prices.transcriptionPerMinute = *Money::parse(u"0.006");
    m.weight = -5; // treated as 0
    const auto c = Catalog::make({upstream(1)}, {m});
    const CatalogModel &stored = c->rows(u"m")[0];
    QCOMPARE(stored.prices, m.prices);
    QCOMPARE(stored.prices.transcriptionPerMinute.toString(), QStringLiteral("0.006000000"));
    QCOMPARE(stored.weight, 0);
}

void TestCatalog::debugRedacts()
{
    CatalogUpstream u = upstream(7);
    u.proxyUrl = QStringLiteral("http://user:proxy-password@proxy:3128");
    QString text;
    QDebug(&text) << u << row(1, "m", 7);
    QVERIFY2(!text.contains(QLatin1String("sk-secret")), qPrintable(text));
    QVERIFY2(!text.contains(QLatin1String("proxy-password")), qPrintable(text));
    QVERIFY(text.contains(QLatin1String("apiKey=<set>")));
    QVERIFY(text.contains(QLatin1String("up7")));
}

QTEST_APPLESS_MAIN(TestCatalog)
#include "TestCatalog.moc"
