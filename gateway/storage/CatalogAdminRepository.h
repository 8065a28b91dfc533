#pragma once

// CatalogAdminRepository: the admin API's writes and paged reads of upstreams and models (the
// data plane reads them whole through CatalogRepository). Upstream keys arrive sealed
// (SecretBox): storage never sees a plaintext key. Pure functions over a connection: call them
// inside a Database job, on that job's database thread.

#include "Result.h"
#include "storage/CatalogRepository.h"

#include <QDateTime>
#include <QList>

#include <optional>

class QSqlDatabase;

namespace llmpool::gateway {

struct UpstreamRecord
{
    UpstreamRow row;
    QDateTime createdAt;
    QDateTime updatedAt;
};

struct ModelRecord
{
    ModelRow row;
    QDateTime createdAt;
    QDateTime updatedAt;
};

struct UpstreamPage
{
    QList<UpstreamRecord> upstreams;
    qint64 total = 0;
};

struct ModelPage
{
    QList<ModelRecord> models;
    qint64 total = 0;
};

class CatalogAdminRepository
{
public:
    static Result<UpstreamPage> listUpstreams(QSqlDatabase &db, qint64 offset, int limit);
    static Result<std::optional<UpstreamRecord>> findUpstream(QSqlDatabase &db, qint64 id, bool forUpdate);
    // Errors: "upstream_exists" (409), "invalid_upstream" (400 naming the field).
    static Result<UpstreamRecord> insertUpstream(QSqlDatabase &db, const UpstreamRow &upstream);
    static Result<UpstreamRecord> updateUpstream(QSqlDatabase &db, const UpstreamRow &upstream);
    // Its models go with it (ON DELETE CASCADE).
    static Status deleteUpstream(QSqlDatabase &db, qint64 id);

    // `upstreamId` > 0 filters; `name` non-empty filters by public name.
    static Result<ModelPage> listModels(QSqlDatabase &db, qint64 upstreamId, const QString &name, qint64 offset,
                                        int limit);
    static Result<std::optional<ModelRecord>> findModel(QSqlDatabase &db, qint64 id, bool forUpdate);
    // Errors: "model_exists" (409: name taken on that upstream), "upstream_not_found" (400 naming
    // upstream_id), "invalid_model" (400 naming the field).
    static Result<ModelRecord> insertModel(QSqlDatabase &db, const ModelRow &model);
    static Result<ModelRecord> updateModel(QSqlDatabase &db, const ModelRow &model);
    static Status deleteModel(QSqlDatabase &db, qint64 id);
};

} // namespace llmpool::gateway
