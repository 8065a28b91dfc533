#pragma once

// One small job per admin endpoint (SPEC §9 "Admin API paths"). Each sets its method, path and
// query or body, checks the answer's shape (validate) and offers it typed (shared/Dto.h). The raw
// answer stays available through ApiJob::object() (the CLI prints it for --format json).
//
// Bodies of create/update are JSON objects built by the caller with only the fields it wants to
// set: the API's PUT is a partial update, and "absent" and "null" mean different things there.

#include "Dto.h"
#include "api/ApiJob.h"

#include <QDateTime>

namespace llmpool::console {

// page / page_size of a page-numbered list (SPEC §6).
struct PageQuery
{
    int page = 1;
    int pageSize = 20;
    void addTo(QUrlQuery &query) const;
};

// A job whose answer is one T.
template <class T> class ObjectJob : public ApiJob
{
public:
    using ApiJob::ApiJob;
    // Valid once finished without error (validate() already proved it parses).
    T value() const
    {
        Result<T> parsed = T::fromJson(object());
        return parsed ? *parsed : T{};
    }

protected:
    Status validate(const QJsonObject &answer) const override
    {
        Result<T> parsed = T::fromJson(answer);
        if (!parsed)
            return parsed.takeError();
        return Ok{};
    }
};

// A job whose answer is one page of Ts: {"data":[…],"pagination":{…}}.
template <class T> class PageJob : public ApiJob
{
public:
    PageJob(ApiClient *client, QString path, const PageQuery &page, QObject *parent = nullptr)
        : ApiJob(client, QByteArrayLiteral("GET"), std::move(path), parent)
    {
        QUrlQuery q;
        page.addTo(q);
        setQuery(q);
    }
    dto::Page<T> page() const
    {
        Result<dto::Page<T>> parsed = dto::Page<T>::fromJson(object());
        return parsed ? *parsed : dto::Page<T>{};
    }

protected:
    Status validate(const QJsonObject &answer) const override
    {
        Result<dto::Page<T>> parsed = dto::Page<T>::fromJson(answer);
        if (!parsed)
            return parsed.takeError();
        return Ok{};
    }
};

QString idPath(const char *prefix, qint64 id, const char *suffix = "");

// ---- users ----

class ListUsersJob : public PageJob<dto::User>
{
public:
    ListUsersJob(ApiClient *client, const PageQuery &page, const QString &search = {}, QObject *parent = nullptr);
};

class CreateUserJob : public ObjectJob<dto::User>
{
public:
    CreateUserJob(ApiClient *client, const QJsonObject &body, QObject *parent = nullptr);
};

class GetUserJob : public ObjectJob<dto::User>
{
public:
    GetUserJob(ApiClient *client, qint64 id, QObject *parent = nullptr);
};

class UpdateUserJob : public ObjectJob<dto::User>
{
public:
    UpdateUserJob(ApiClient *client, qint64 id, const QJsonObject &patch, QObject *parent = nullptr);
};

// DELETE /users/{id}: users are disabled, never deleted (their ledger stays).
class DisableUserJob : public ObjectJob<dto::User>
{
public:
    DisableUserJob(ApiClient *client, qint64 id, QObject *parent = nullptr);
};

// ---- wallets ----

class GetWalletJob : public ObjectJob<dto::Wallet>
{
public:
    GetWalletJob(ApiClient *client, qint64 userId, QObject *parent = nullptr);
};

class ListLedgerJob : public PageJob<dto::LedgerEntry>
{
public:
    ListLedgerJob(ApiClient *client, qint64 userId, const PageQuery &page, QObject *parent = nullptr);
};

// POST /users/{id}/deposits | withdrawals | credits with amount, unique_request_id, note. 201 for
// a new movement, 200 and the original entry for a replayed unique_request_id (replayed()).
class WalletMovementJob : public ObjectJob<dto::LedgerEntry>
{
public:
    bool replayed() const { return httpStatus() == 200; }

protected:
    WalletMovementJob(ApiClient *client, qint64 userId, const char *collection, const QString &amount,
                      const QString &requestId, const QString &note, QObject *parent);
};

class DepositJob : public WalletMovementJob
{
public:
    DepositJob(ApiClient *client, qint64 userId, const QString &amount, const QString &requestId,
               const QString &note = {}, QObject *parent = nullptr);
};

class WithdrawalJob : public WalletMovementJob
{
public:
    WithdrawalJob(ApiClient *client, qint64 userId, const QString &amount, const QString &requestId,
                  const QString &note = {}, QObject *parent = nullptr);
};

// Changes credit_limit by AMOUNT (may be negative).
class CreditJob : public WalletMovementJob
{
public:
    CreditJob(ApiClient *client, qint64 userId, const QString &amount, const QString &requestId,
              const QString &note = {}, QObject *parent = nullptr);
};

// ---- API keys ----

class ListKeysJob : public PageJob<dto::ApiKey>
{
public:
    ListKeysJob(ApiClient *client, qint64 userId, const PageQuery &page, QObject *parent = nullptr);
};

// The answer carries the plaintext once (ApiKey::key).
class CreateKeyJob : public ObjectJob<dto::ApiKey>
{
public:
    CreateKeyJob(ApiClient *client, qint64 userId, const QJsonObject &body, QObject *parent = nullptr);
};

class GetKeyJob : public ObjectJob<dto::ApiKey>
{
public:
    GetKeyJob(ApiClient *client, qint64 id, QObject *parent = nullptr);
};

class UpdateKeyJob : public ObjectJob<dto::ApiKey>
{
public:
    UpdateKeyJob(ApiClient *client, qint64 id, const QJsonObject &patch, QObject *parent = nullptr);
};

class RevokeKeyJob : public ObjectJob<dto::ApiKey>
{
public:
    RevokeKeyJob(ApiClient *client, qint64 id, QObject *parent = nullptr);
};

// Same id, new secret; the answer carries the new plaintext once.
class RotateKeyJob : public ObjectJob<dto::ApiKey>
{
public:
    RotateKeyJob(ApiClient *client, qint64 id, QObject *parent = nullptr);
};

// ---- upstreams ----

class ListUpstreamsJob : public PageJob<dto::Upstream>
{
public:
    ListUpstreamsJob(ApiClient *client, const PageQuery &page, QObject *parent = nullptr);
};

class CreateUpstreamJob : public ObjectJob<dto::Upstream>
{
public:
    CreateUpstreamJob(ApiClient *client, const QJsonObject &body, QObject *parent = nullptr);
};

class GetUpstreamJob : public ObjectJob<dto::Upstream>
{
public:
    GetUpstreamJob(ApiClient *client, qint64 id, QObject *parent = nullptr);
};

class UpdateUpstreamJob : public ObjectJob<dto::Upstream>
{
public:
    UpdateUpstreamJob(ApiClient *client, qint64 id, const QJsonObject &patch, QObject *parent = nullptr);
};

class DeleteUpstreamJob : public ObjectJob<dto::Upstream>
{
public:
    DeleteUpstreamJob(ApiClient *client, qint64 id, QObject *parent = nullptr);
};

// What detect and test answer: {"upstream_id","ok","latency_ms","models":[{"id","capabilities"?,"probed"?}]}.
struct ProbeResult
{
    qint64 upstreamId = 0;
    bool ok = false;
    qint64 latencyMs = 0;
    struct Model
    {
        QString id;
        QStringList capabilities;
    };
    QList<Model> models;
    static Result<ProbeResult> fromJson(const QJsonObject &object);
};

// Lists the upstream's models and probes each one's capabilities: slow (one call per model and
// capability), hence a longer default timeout.
class DetectUpstreamJob : public ObjectJob<ProbeResult>
{
public:
    static constexpr int kTimeoutMs = 300'000;
    DetectUpstreamJob(ApiClient *client, qint64 id, bool probeImages = false, QObject *parent = nullptr);
};

// Lists the upstream's models: reachability and credentials.
class TestUpstreamJob : public ObjectJob<ProbeResult>
{
public:
    static constexpr int kTimeoutMs = 60'000;
    TestUpstreamJob(ApiClient *client, qint64 id, QObject *parent = nullptr);
};

// ---- models ----

class ListModelsJob : public PageJob<dto::Model>
{
public:
    // upstreamId 0 and an empty name: no filter.
    ListModelsJob(ApiClient *client, const PageQuery &page, qint64 upstreamId = 0, const QString &name = {},
                  QObject *parent = nullptr);
};

class CreateModelJob : public ObjectJob<dto::Model>
{
public:
    CreateModelJob(ApiClient *client, const QJsonObject &body, QObject *parent = nullptr);
};

class GetModelJob : public ObjectJob<dto::Model>
{
public:
    GetModelJob(ApiClient *client, qint64 id, QObject *parent = nullptr);
};

class UpdateModelJob : public ObjectJob<dto::Model>
{
public:
    UpdateModelJob(ApiClient *client, qint64 id, const QJsonObject &patch, QObject *parent = nullptr);
};

class DeleteModelJob : public ObjectJob<dto::Model>
{
public:
    DeleteModelJob(ApiClient *client, qint64 id, QObject *parent = nullptr);
};

// ---- usage ----

struct UsageFilter
{
    std::optional<qint64> userId;
    std::optional<qint64> keyId;
    QString model;
    std::optional<qint64> upstreamId;
    QDateTime since;
    QDateTime until;
    void addTo(QUrlQuery &query) const;
};

// A cursor-paged slice: {"data":[…],"next_cursor","has_more"}, newest first.
struct UsageEventSlice
{
    QList<dto::UsageEvent> events;
    QString nextCursor;
    bool hasMore = false;
    static Result<UsageEventSlice> fromJson(const QJsonObject &object);
};

class ListUsageEventsJob : public ObjectJob<UsageEventSlice>
{
public:
    // after: the previous slice's next_cursor (empty: the newest). limit 0: the server's default.
    ListUsageEventsJob(ApiClient *client, const UsageFilter &filter, const QString &after = {}, int limit = 0,
                       QObject *parent = nullptr);
};

// GET /usage/summary. The answer's rows are shown as the server sends them (their columns depend
// on the grouping), so this job only checks that it is an object.
class UsageSummaryJob : public ApiJob
{
public:
    // bucket (`by`): "day" or "hour"; group: "model", "user" or "upstream"; empty: the server's
    // default (by day, no grouping). Without since/until the server covers the last 30 days (by
    // day) or 24 hours (by hour), in whole UTC hours.
    UsageSummaryJob(ApiClient *client, const UsageFilter &filter, const QString &bucket, const QString &group,
                    QObject *parent = nullptr);
};

// ---- audit, status, OpenAPI ----

class ListAuditJob : public PageJob<dto::AuditEntry>
{
public:
    ListAuditJob(ApiClient *client, const PageQuery &page, QObject *parent = nullptr);
};

// GET /status: version, uptime, database / Redis / queue health, queue lag.
class StatusJob : public ApiJob
{
public:
    explicit StatusJob(ApiClient *client, QObject *parent = nullptr);
};

class OpenApiJob : public ApiJob
{
public:
    explicit OpenApiJob(ApiClient *client, QObject *parent = nullptr);
};

} // namespace llmpool::console
