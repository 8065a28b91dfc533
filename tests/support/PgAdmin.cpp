#include "PgAdmin.h"

#include <QAtomicInteger>
#include <QRandomGenerator>
#include <QRegularExpression>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QUrl>

namespace llmpool::test {

namespace {

QAtomicInteger<quint64> s_connectionCounter;

Error failure(const QString &message)
{
    return Error::internal(QStringLiteral("test_services"), message);
}

// Opens, runs `body`, closes and removes the connection, all on the calling thread.
template <class Body> Status withConnection(const PgAdminParams &params, int connectTimeoutSecs, Body body)
{
    const QString name = QStringLiteral("llmpool-test-admin-%1").arg(s_connectionCounter.fetchAndAddRelaxed(1));
    Status status = Ok{};
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QPSQL"), name);
        db.setHostName(params.host);
        db.setPort(params.port);
        db.setUserName(params.user);
        db.setPassword(params.password);
        db.setDatabaseName(params.database);
        db.setConnectOptions(QStringLiteral("connect_timeout=%1").arg(connectTimeoutSecs));
        if (!db.open())
            status = failure(QStringLiteral("cannot connect to PostgreSQL at %1:%2: %3")
                                 .arg(params.host)
                                 .arg(params.port)
                                 .arg(db.lastError().databaseText().section(QLatin1Char('\n'), 0, 0)));
        else
            status = body(db);
        db.close();
    }
    QSqlDatabase::removeDatabase(name);
    return status;
}

bool isPlainIdentifier(const QString &name)
{
    static const QRegularExpression identifier(QStringLiteral("^[a-z_][a-z0-9_]{0,62}$"));
    return identifier.match(name).hasMatch();
}

} // namespace

QString PgAdminParams::url(const QString &databaseName) const
{
    const auto enc = [](const QString &s) { return QString::fromUtf8(QUrl::toPercentEncoding(s)); };
    QString out = QStringLiteral("postgres://") + enc(user);
    if (!password.isEmpty())
        out += QLatin1Char(':') + enc(password);
    out += QLatin1Char('@') + host + QLatin1Char(':') + QString::number(port) + QLatin1Char('/') +
           enc(databaseName.isEmpty() ? database : databaseName);
    return out;
}

Status PgAdmin::ping(const PgAdminParams &params, int connectTimeoutSecs)
{
    return withConnection(params, connectTimeoutSecs, [](QSqlDatabase &) -> Status { return Ok{}; });
}

Status PgAdmin::exec(const PgAdminParams &params, const QString &sql)
{
    return withConnection(params, 5, [&](QSqlDatabase &db) -> Status {
        QSqlQuery query(db);
        if (!query.exec(sql))
            return failure(QStringLiteral("%1: %2").arg(
                sql.left(80), query.lastError().databaseText().section(QLatin1Char('\n'), 0, 0)));
        return Ok{};
    });
}

Status PgAdmin::createDatabase(const PgAdminParams &params, const QString &name)
{
    if (!isPlainIdentifier(name))
        return failure(QStringLiteral("not a plain database name: %1").arg(name));
    return exec(params, QStringLiteral("CREATE DATABASE %1").arg(name));
}

Status PgAdmin::dropDatabase(const PgAdminParams &params, const QString &name)
{
    if (!isPlainIdentifier(name))
        return failure(QStringLiteral("not a plain database name: %1").arg(name));
    return exec(params, QStringLiteral("DROP DATABASE IF EXISTS %1 WITH (FORCE)").arg(name));
}

QString PgAdmin::randomDatabaseName()
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    QString name = QStringLiteral("test_");
    for (int i = 0; i < 16; ++i)
        name += QLatin1Char(alphabet[QRandomGenerator::system()->bounded(36)]);
    return name;
}

} // namespace llmpool::test
