#pragma once

// CatalogRepository: reads the upstreams and models tables whole, as stored (upstream keys still
// sealed: decrypting is the caller's business, storage never sees the encryption key). The data
// plane builds its routing Catalog snapshot from this. Pure functions over a connection: call them
// inside a Database job.

#include "Money.h"
#include "Result.h"

#include <QJsonObject>
#include <QString>
#include <QStringList>

#include <vector>

class QSqlDatabase;
class QSqlQuery;

namespace llmpool::gateway {

struct UpstreamRow
{
    qint64 id = 0;
    QString name;
    QString kind;
    QString apiBase;
    QByteArray apiKeyStored; // sealed (see SecretBox); never log it
    QString apiKeyFormat;    // "plain" | "aes-256-gcm"
    QString apiKeyPreview;
    int weight = 1;
    bool enabled = true;
    QStringList tags;
    QString proxyUrl;
    QJsonObject extra; // e.g. {"api_version": "2024-10-21"} for Azure
};

struct ModelRow
{
    qint64 id = 0;
    QString name;
    qint64 upstreamId = 0;
    QString upstreamModel;
    QStringList capabilities;
    int weight = 1;
    bool enabled = true;
    Money inputPricePer1M;
    Money cachedInputPricePer1M;
    Money outputPricePer1M;
    Money imagePrice;
    Money speechPricePer1MChars;
    Money transcriptionPricePerMinute;
};

struct CatalogRows
{
    std::vector<UpstreamRow> upstreams;
    std::vector<ModelRow> models;
};

class CatalogRepository
{
public:
    // Both tables in one REPEATABLE READ snapshot, so a model never refers to an upstream the same
    // read does not see.
    static Result<CatalogRows> loadAll(QSqlDatabase &db);

    // Shared with the admin repository, so the rows are read in one place. Select lists for the
    // tables aliased `u` (upstreams) and `m` (models), and readers for rows that start with them;
    // kUpstreamColumns / kModelColumns say where a caller's extra columns begin.
    static constexpr int kUpstreamColumns = 12;
    static constexpr int kModelColumns = 13;
    static QString upstreamColumns();
    static QString modelColumns();
    static UpstreamRow readUpstream(const QSqlQuery &query);
    static Result<ModelRow> readModel(const QSqlQuery &query);
};

} // namespace llmpool::gateway
