#pragma once

// ApiKeyAdminRepository: what the admin API needs of api_keys beyond ApiKeyRepository (list per
// user, locked read, update, revoke, rotate). The hash is written but never returned to callers
// that serialise keys (ApiKeyRecord::keyHash is filled for completeness only). Pure functions over
// a connection: call them inside a Database job, on that job's database thread.

#include "Result.h"
#include "storage/ApiKeyRepository.h"

#include <QList>

#include <optional>

class QSqlDatabase;

namespace llmpool::gateway {

struct ApiKeyPage
{
    QList<ApiKeyRecord> keys;
    qint64 total = 0;
};

class ApiKeyAdminRepository
{
public:
    static Result<ApiKeyPage> listByUser(QSqlDatabase &db, qint64 userId, qint64 offset, int limit);
    // The key, row-locked until the end of the caller's transaction when `forUpdate`.
    static Result<std::optional<ApiKeyRecord>> findById(QSqlDatabase &db, qint64 id, bool forUpdate);
    // Writes name, enabled, expires_at, allowed_models and the limits of `key` (validated like
    // insert: "invalid_api_key" 400 naming the field).
    static Result<ApiKeyRecord> update(QSqlDatabase &db, const ApiKeyRecord &key);
    // revoked_at = now (kept if already set), enabled = false.
    static Result<ApiKeyRecord> revoke(QSqlDatabase &db, qint64 id);
    // Same id, new secret: the old hash is gone when this commits.
    static Result<ApiKeyRecord> rotate(QSqlDatabase &db, qint64 id, const QString &prefix, const QByteArray &keyHash);
};

} // namespace llmpool::gateway
