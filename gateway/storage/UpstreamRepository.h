#pragma once

// UpstreamRepository: writes to the upstreams and models tables (reads go through
// CatalogRepository). The upstream key arrives sealed (SecretBox) with its format: storage never
// sees a plaintext key. Pure functions over a connection: call them inside a Database job.

#include "Result.h"

#include <QJsonObject>
#include <QString>
#include <QStringList>

#include <vector>

class QSqlDatabase;

namespace llmpool::gateway {

struct NewUpstream
{
    QString name;
    QString kind;
    QString apiBase;
    QByteArray apiKeySealed;
    QString apiKeyFormat; // "plain" | "aes-256-gcm"
    QString apiKeyPreview;
    int weight = 1;
    bool enabled = true;
    QJsonObject extra;
};

struct NewModel
{
    QString name;
    QString upstreamModel;
    QStringList capabilities;
    bool enabled = true;
};

class UpstreamRepository
{
public:
    // Inserts the upstream and its models in one transaction; returns the upstream's id.
    // Errors: "upstream_exists" (409) for a taken name, database errors (see SqlErrors).
    static Result<qint64> insertWithModels(QSqlDatabase &db, const NewUpstream &upstream,
                                           const std::vector<NewModel> &models);
};

} // namespace llmpool::gateway
