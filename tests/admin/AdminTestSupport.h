#pragma once

// What the admin API tests share: an in-process Gateway on a fresh, migrated database, a direct
// database handle for arranging and checking rows, and blocking HTTP helpers (each waits for its
// reply with a deadline). Header-only; main thread.

#include "Clock.h"
#include "Config.h"
#include "Gateway.h"
#include "Jwt.h"
#include "SharedServices.h"
#include "storage/Database.h"
#include "storage/Migrator.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QSqlError>
#include <QSqlQuery>
#include <QSqlRecord>
#include <QTest>

#include <memory>

namespace llmpool::test {

struct AdminReply
{
    int status = 0;
    QByteArray raw;
    QJsonObject body;
    QJsonObject error() const { return body.value(QStringLiteral("error")).toObject(); }
    QString param() const { return error().value(QStringLiteral("param")).toString(); }
};

class AdminHarness
{
public:
    static inline const QByteArray kJwtSecret = QByteArrayLiteral("admin-api-test-secret-0123456789abcdef");

    // Fails (returns the message) instead of asserting, so initTestCase can QVERIFY2 it.
    QString start(const QByteArray &extraToml = {}, int redisDb = -1)
    {
        auto services = SharedServices::fromEnv();
        if (!services)
            return services.error().message;
        m_services = std::move(*services);
        auto url = m_services->createDatabase();
        if (!url)
            return url.error().message;
        m_databaseUrl = *url;

        gateway::DatabaseOptions options;
        options.url = *url;
        options.poolSize = 1;
        options.statementTimeoutMs = 0; // bulk inserts of test data
        m_db = std::make_unique<gateway::Database>(options);
        if (Status s = m_db->start(); !s)
            return s.error().message;
        auto migrated = m_db->runSync([](QSqlDatabase &db) {
            return gateway::Migrator(QStringLiteral(LLMPOOL_TEST_MIGRATIONS_DIR)).migrate(db);
        });
        if (!migrated)
            return migrated.error().message;

        m_redisUrl = m_redisOverride.isEmpty() ? m_services->redisUrl() : m_redisOverride;
        if (redisDb >= 0) {
            static const QRegularExpression dbSuffix(QStringLiteral("/\\d+$"));
            m_redisUrl.remove(dbSuffix);
            m_redisUrl += QStringLiteral("/%1").arg(redisDb);
        }
        const QByteArray toml = "[server]\nbind = \"127.0.0.1:0\"\nthreads = 2\n[database]\nurl = \"" + url->toUtf8() +
                                "\"\npool_size = 2\n[redis]\nurl = \"" + m_redisUrl.toUtf8() +
                                "\"\n[admin]\njwt_secret = \"" + kJwtSecret + "\"\n[security]\nencryption_key = \"" +
                                QByteArray(64, 'c') + "\"\n" + extraToml;
        Result<Config> config = ConfigLoader::parse(toml, QStringLiteral("test.toml"));
        if (!config)
            return config.error().message;
        m_config = *config;
        m_gateway = std::make_unique<gateway::Gateway>(*config);
        if (Status s = m_gateway->start(); !s)
            return s.error().message;
        m_base = QStringLiteral("http://127.0.0.1:%1").arg(m_gateway->port());
        Result<QByteArray> token =
            Jwt::mintAdminToken(kJwtSecret, QStringLiteral("tester"), 3600, Clock::instance().nowSecs());
        if (!token)
            return token.error().message;
        m_token = *token;
        return {};
    }

    void stop()
    {
        if (m_gateway)
            m_gateway->stop(0);
        m_gateway.reset();
        if (m_db)
            m_db->stop();
        m_db.reset();
        m_services.reset();
    }

    AdminReply call(const QByteArray &method, const QString &path, const QByteArray &body = {},
                    std::optional<QByteArray> token = std::nullopt, const QString &base = {})
    {
        QNetworkRequest request(QUrl((base.isEmpty() ? m_base : base) + path));
        const QByteArray credentials = token.value_or(m_token);
        if (!credentials.isEmpty())
            request.setRawHeader("authorization", "Bearer " + credentials);
        if (!body.isEmpty())
            request.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
        QNetworkReply *reply = m_nam.sendCustomRequest(request, method, body);
        QSignalSpy done(reply, &QNetworkReply::finished);
        if (!reply->isFinished())
            done.wait(30'000);
        AdminReply r;
        r.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        r.raw = reply->readAll();
        r.body = QJsonDocument::fromJson(r.raw).object();
        reply->deleteLater();
        return r;
    }
    AdminReply get(const QString &path) { return call("GET", path); }
    AdminReply post(const QString &path, const QJsonObject &body)
    {
        return call("POST", path, QJsonDocument(body).toJson(QJsonDocument::Compact));
    }

    // Runs `sql` (no result wanted); the error text, empty on success.
    QString exec(const QString &sql)
    {
        auto r = m_db->runSync([sql](QSqlDatabase &conn) -> Result<bool> {
            QSqlQuery q(conn);
            if (!q.exec(sql))
                return Error::internal(QStringLiteral("test"), q.lastError().text());
            return true;
        });
        return r ? QString() : r.error().message;
    }

    // Every row of `sql`, each as a list of values.
    QList<QVariantList> rows(const QString &sql)
    {
        auto r = m_db->runSync([sql](QSqlDatabase &conn) -> Result<QList<QVariantList>> {
            QSqlQuery q(conn);
            if (!q.exec(sql))
                return Error::internal(QStringLiteral("test"), q.lastError().text());
            QList<QVariantList> out;
            while (q.next()) {
                QVariantList row;
                for (int i = 0; i < q.record().count(); ++i)
                    row.append(q.value(i));
                out.append(row);
            }
            return out;
        });
        if (!r)
            qWarning("query failed: %s", qPrintable(r.error().message));
        return r ? *r : QList<QVariantList>();
    }

    QVariant one(const QString &sql)
    {
        const QList<QVariantList> r = rows(sql);
        return r.isEmpty() || r.first().isEmpty() ? QVariant() : r.first().first();
    }

    std::unique_ptr<SharedServices> m_services;
    std::unique_ptr<gateway::Database> m_db;
    std::unique_ptr<gateway::Gateway> m_gateway;
    Config m_config;
    QNetworkAccessManager m_nam;
    QString m_base;
    QString m_databaseUrl;
    QString m_redisUrl;
    QString m_redisOverride; // set before start(): a Redis URL instead of the shared one
    QByteArray m_token;
};

} // namespace llmpool::test
