#pragma once

// ApiKeyRepository: the api_keys table. Only the SHA-256 (lowercase hex, shared/ApiKeys::hash)
// of a key is ever stored or looked up. Pure functions over a connection: call them inside a
// Database job, on that job's database thread.

#include "Money.h"
#include "Result.h"

#include <QByteArray>
#include <QDateTime>
#include <QString>
#include <QStringList>

#include <optional>

class QSqlDatabase;
class QSqlQuery;

namespace llmpool::gateway {

struct ApiKeyRecord
{
    qint64 id = 0;
    qint64 userId = 0;
    QString name;
    QString prefix;
    QByteArray keyHash;
    bool enabled = true;
    std::optional<QDateTime> revokedAt;
    std::optional<QDateTime> expiresAt;
    std::optional<QStringList> allowedModels; // nullopt: every model
    std::optional<int> rpmLimit;
    std::optional<qint64> tpmLimit;
    std::optional<Money> spendLimit;
    std::optional<QDateTime> lastUsedAt;
    QDateTime createdAt;
    QDateTime updatedAt;
};

struct NewApiKey
{
    qint64 userId = 0;
    QString name;
    QString prefix;     // ApiKeys::prefix(plaintext)
    QByteArray keyHash; // ApiKeys::hash(plaintext): 64 lowercase hex characters
    std::optional<QDateTime> expiresAt;
    std::optional<QStringList> allowedModels; // must not be empty when given
    std::optional<int> rpmLimit;              // > 0 when given
    std::optional<qint64> tpmLimit;           // > 0 when given
    std::optional<Money> spendLimit;          // >= 0 when given
};

// Why a key does or does not authenticate, in the order it is decided: a revoked, disabled or
// expired key is 401 for the data plane; a good key of a disabled user is 403 (SPEC §3).
enum class ApiKeyState { Active, Revoked, Disabled, Expired, UserDisabled };

struct ApiKeyLookup
{
    ApiKeyRecord key;
    QString userName;
    bool userEnabled = true;
    ApiKeyState state = ApiKeyState::Active;
};

class ApiKeyRepository
{
public:
    // Errors: "invalid_api_key" (400) for malformed input, "user_not_found" (404),
    // "api_key_exists" (409) when the hash is already stored, database errors (see SqlErrors).
    static Result<ApiKeyRecord> insert(QSqlDatabase &db, const NewApiKey &key);

    // The key with this hash, its user, and its state at `now` (from the clock seam); nullopt
    // when no key has this hash.
    static Result<std::optional<ApiKeyLookup>> findByHash(QSqlDatabase &db, const QByteArray &keyHash,
                                                          const QDateTime &now);

    static ApiKeyState stateAt(const ApiKeyRecord &key, bool userEnabled, const QDateTime &now);

    // Shared with the admin repository, so a key row is read in one place: the select list for
    // api_keys aliased `k`, and the reader for a row that starts with it.
    static QString selectColumns();
    // The checks a key's name and limits must pass, on create and on update alike; errors are
    // "invalid_api_key" (400) naming the field.
    static Status validateSettings(const QString &name, const std::optional<QStringList> &allowedModels,
                                   const std::optional<int> &rpmLimit, const std::optional<qint64> &tpmLimit,
                                   const std::optional<Money> &spendLimit);
    static Result<ApiKeyRecord> readRow(const QSqlQuery &query);
};

} // namespace llmpool::gateway
