#include "SharedServices.h"

#include "TestServices.h"

#include <QCoreApplication>
#include <QFile>
#include <QHash>
#include <QRandomGenerator>
#include <QTcpSocket>
#include <QUrl>

namespace llmpool::test {

namespace {

QHash<QString, QString> readEnv(const QString &path)
{
    QHash<QString, QString> out;
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly | QIODevice::Text))
        return out;
    while (!file.atEnd()) {
        const QString line = QString::fromUtf8(file.readLine()).trimmed();
        const qsizetype eq = line.indexOf(QLatin1Char('='));
        if (line.startsWith(QLatin1Char('#')) || eq <= 0)
            continue;
        QString value = line.mid(eq + 1);
        if (value.size() >= 2 && value.startsWith(QLatin1Char('\'')) && value.endsWith(QLatin1Char('\'')))
            value = value.mid(1, value.size() - 2);
        out.insert(line.left(eq), value);
    }
    return out;
}

// A Redis database of this test process's own on the shared server, emptied first: a gateway keeps
// state there under fixed names (the usage stream, cached wallets), which must not leak from one
// test into the next. Returns the URL with that database, or the URL unchanged if Redis does not
// answer (the test then reports its own connection error).
QString isolatedRedisUrl(const QString &sharedUrl)
{
    QUrl url(sharedUrl);
    const int db = 1 + int(QCoreApplication::applicationPid() % 15);
    QTcpSocket socket;
    socket.connectToHost(url.host(), quint16(url.port(6379)));
    if (!socket.waitForConnected(3'000))
        return sharedUrl;
    auto bulk = [](const QByteArray &s) -> QByteArray { return QByteArray("$" + QByteArray::number(s.size()) + "\r\n" + s + "\r\n"); };
    QByteArray out;
    int expected = 0;
    const QString password = url.password(QUrl::FullyDecoded);
    if (!password.isEmpty()) {
        const QString user = url.userName(QUrl::FullyDecoded);
        if (!user.isEmpty() && user != u"default")
            out += "*3\r\n" + bulk("AUTH") + bulk(user.toUtf8()) + bulk(password.toUtf8());
        else
            out += "*2\r\n" + bulk("AUTH") + bulk(password.toUtf8());
        ++expected;
    }
    out += "*2\r\n" + bulk("SELECT") + bulk(QByteArray::number(db)) + "*1\r\n" + bulk("FLUSHDB");
    expected += 2;
    socket.write(out);
    QByteArray in;
    while (in.count('\n') < expected && socket.waitForReadyRead(3'000))
        in += socket.readAll();
    if (in.count('\n') < expected || in.contains('-'))
        return sharedUrl;
    url.setPath(QStringLiteral("/") + QString::number(db));
    return url.toString(QUrl::FullyEncoded);
}

} // namespace

Result<std::unique_ptr<SharedServices>> SharedServices::fromEnv()
{
    std::unique_ptr<SharedServices> services(new SharedServices);
    const QString path = qEnvironmentVariable("LLMPOOL_TEST_SERVICES_FILE");
    if (!path.isEmpty() && QFile::exists(path)) {
        const QHash<QString, QString> env = readEnv(path);
        services->m_admin.host = env.value(QStringLiteral("PGHOST"), QStringLiteral("127.0.0.1"));
        services->m_admin.port = env.value(QStringLiteral("PGPORT")).toInt();
        services->m_admin.user = env.value(QStringLiteral("PGUSER"), QStringLiteral("postgres"));
        services->m_admin.password = env.value(QStringLiteral("PGPASSWORD"));
        services->m_admin.database = env.value(QStringLiteral("PGDATABASE"), QStringLiteral("postgres"));
        services->m_redisUrl = env.value(QStringLiteral("REDIS_URL"));
        if (services->m_admin.port > 0 && PgAdmin::ping(services->m_admin, 5)) {
            services->m_redisUrl = isolatedRedisUrl(services->m_redisUrl);
            return services;
        }
        qWarning("%s names test services that do not answer; starting private ones", qPrintable(path));
    }

    services->m_private = std::make_unique<TestServices>();
    if (Status s = services->m_private->start(); !s)
        return s.takeError();
    services->m_admin = PgAdminParams{};
    services->m_admin.port = services->m_private->postgresPort();
    services->m_admin.password = services->m_private->postgresPassword();
    services->m_redisUrl = services->m_private->redisUrl();
    return services;
}

SharedServices::~SharedServices()
{
    for (const QString &name : std::as_const(m_databases))
        (void)PgAdmin::dropDatabase(m_admin, name);
}

QString SharedServices::databaseUrl() const
{
    return m_admin.url();
}

Result<QString> SharedServices::createDatabase()
{
    const QString name = PgAdmin::randomDatabaseName();
    if (Status s = PgAdmin::createDatabase(m_admin, name); !s)
        return s.takeError();
    m_databases.append(name);
    return m_admin.url(name);
}

Status SharedServices::dropDatabase(const QString &name)
{
    m_databases.removeAll(name);
    return PgAdmin::dropDatabase(m_admin, name);
}

QByteArray SharedServices::uniqueKeyPrefix()
{
    return "test:" + QByteArray::number(QRandomGenerator::system()->generate64(), 36) + ':';
}

} // namespace llmpool::test
