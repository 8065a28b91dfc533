#include "api/Jobs.h"

#include <QJsonArray>

namespace llmpool::console {

namespace {

const QByteArray kGet = QByteArrayLiteral("GET");
const QByteArray kPost = QByteArrayLiteral("POST");
const QByteArray kPut = QByteArrayLiteral("PUT");
const QByteArray kDelete = QByteArrayLiteral("DELETE");

QString rfc3339(const QDateTime &time)
{
    return time.toUTC().toString(Qt::ISODateWithMs);
}

Error invalid(const QString &message, const QString &param = {})
{
    return Error{QStringLiteral("invalid_response"), QStringLiteral("invalid_response"), 502, message, param};
}

} // namespace

void PageQuery::addTo(QUrlQuery &query) const
{
    query.addQueryItem(QStringLiteral("page"), QString::number(page));
    query.addQueryItem(QStringLiteral("page_size"), QString::number(pageSize));
}

QString idPath(const char *prefix, qint64 id, const char *suffix)
{
    return QString(QLatin1StringView(prefix) + QString::number(id) + QLatin1StringView(suffix));
}

// ---- users ----

ListUsersJob::ListUsersJob(ApiClient *client, const PageQuery &page, const QString &search, QObject *parent)
    : PageJob(client, QStringLiteral("/users"), page, parent)
{
    if (!search.isEmpty()) {
        QUrlQuery q = query();
        q.addQueryItem(QStringLiteral("q"), QString::fromUtf8(QUrl::toPercentEncoding(search)));
        setQuery(q);
    }
}

CreateUserJob::CreateUserJob(ApiClient *client, const QJsonObject &body, QObject *parent)
    : ObjectJob(client, kPost, QStringLiteral("/users"), parent)
{
    setBody(body);
}

GetUserJob::GetUserJob(ApiClient *client, qint64 id, QObject *parent)
    : ObjectJob(client, kGet, idPath("/users/", id), parent)
{
}

UpdateUserJob::UpdateUserJob(ApiClient *client, qint64 id, const QJsonObject &patch, QObject *parent)
    : ObjectJob(client, kPut, idPath("/users/", id), parent)
{
    setBody(patch);
}

DisableUserJob::DisableUserJob(ApiClient *client, qint64 id, QObject *parent)
    : ObjectJob(client, kDelete, idPath("/users/", id), parent)
{
}

// ---- wallets ----

GetWalletJob::GetWalletJob(ApiClient *client, qint64 userId, QObject *parent)
    : ObjectJob(client, kGet, idPath("/users/", userId, "/wallet"), parent)
{
}

ListLedgerJob::ListLedgerJob(ApiClient *client, qint64 userId, const PageQuery &page, QObject *parent)
    : PageJob(client, idPath("/users/", userId, "/ledger"), page, parent)
{
}

WalletMovementJob::WalletMovementJob(ApiClient *client, qint64 userId, const char *collection, const QString &amount,
                                     const QString &requestId, const QString &note, QObject *parent)
    : ObjectJob(client, kPost, idPath("/users/", userId, collection), parent)
{
    QJsonObject body{{QStringLiteral("amount"), amount}, {QStringLiteral("unique_request_id"), requestId}};
    if (!note.isEmpty())
        body.insert(QStringLiteral("note"), note);
    setBody(body);
}

DepositJob::DepositJob(ApiClient *client, qint64 userId, const QString &amount, const QString &requestId,
                       const QString &note, QObject *parent)
    : WalletMovementJob(client, userId, "/deposits", amount, requestId, note, parent)
{
}

WithdrawalJob::WithdrawalJob(ApiClient *client, qint64 userId, const QString &amount, const QString &requestId,
                             const QString &note, QObject *parent)
    : WalletMovementJob(client, userId, "/withdrawals", amount, requestId, note, parent)
{
}

CreditJob::CreditJob(ApiClient *client, qint64 userId, const QString &amount, const QString &requestId,
                     const QString &note, QObject *parent)
    : WalletMovementJob(client, userId, "/credits", amount, requestId, note, parent)
{
}

// ---- API keys ----

ListKeysJob::ListKeysJob(ApiClient *client, qint64 userId, const PageQuery &page, QObject *parent)
    : PageJob(client, idPath("/users/", userId, "/keys"), page, parent)
{
}

CreateKeyJob::CreateKeyJob(ApiClient *client, qint64 userId, const QJsonObject &body, QObject *parent)
    : ObjectJob(client, kPost, idPath("/users/", userId, "/keys"), parent)
{
    setBody(body);
}

GetKeyJob::GetKeyJob(ApiClient *client, qint64 id, QObject *parent)
    : ObjectJob(client, kGet, idPath("/keys/", id), parent)
{
}

UpdateKeyJob::UpdateKeyJob(ApiClient *client, qint64 id, const QJsonObject &patch, QObject *parent)
    : ObjectJob(client, kPut, idPath("/keys/", id), parent)
{
    setBody(patch);
}

RevokeKeyJob::RevokeKeyJob(ApiClient *client, qint64 id, QObject *parent)
    : ObjectJob(client, kDelete, idPath("/keys/", id), parent)
{
}

RotateKeyJob::RotateKeyJob(ApiClient *client, qint64 id, QObject *parent)
    : ObjectJob(client, kPost, idPath("/keys/", id, "/rotate"), parent)
{
}

// ---- upstreams ----

ListUpstreamsJob::ListUpstreamsJob(ApiClient *client, const PageQuery &page, QObject *parent)
    : PageJob(client, QStringLiteral("/upstreams"), page, parent)
{
}

CreateUpstreamJob::CreateUpstreamJob(ApiClient *client, const QJsonObject &body, QObject *parent)
    : ObjectJob(client, kPost, QStringLiteral("/upstreams"), parent)
{
    setBody(body);
}

GetUpstreamJob::GetUpstreamJob(ApiClient *client, qint64 id, QObject *parent)
    : ObjectJob(client, kGet, idPath("/upstreams/", id), parent)
{
}

UpdateUpstreamJob::UpdateUpstreamJob(ApiClient *client, qint64 id, const QJsonObject &patch, QObject *parent)
    : ObjectJob(client, kPut, idPath("/upstreams/", id), parent)
{
    setBody(patch);
}

DeleteUpstreamJob::DeleteUpstreamJob(ApiClient *client, qint64 id, QObject *parent)
    : ObjectJob(client, kDelete, idPath("/upstreams/", id), parent)
{
}

Result<ProbeResult> ProbeResult::fromJson(const QJsonObject &object)
{
    const QJsonValue models = object.value(QStringLiteral("models"));
    if (!models.isArray())
        return invalid(QStringLiteral("the server's probe answer has no \"models\" list"), QStringLiteral("models"));
    ProbeResult r;
    r.upstreamId = qint64(object.value(QStringLiteral("upstream_id")).toDouble());
    r.ok = object.value(QStringLiteral("ok")).toBool();
    r.latencyMs = qint64(object.value(QStringLiteral("latency_ms")).toDouble());
    for (const QJsonValue &value : models.toArray()) {
        const QJsonObject m = value.toObject();
        if (!m.value(QStringLiteral("id")).isString())
            return invalid(QStringLiteral("a model in the server's probe answer has no id"), QStringLiteral("models"));
        Model model;
        model.id = m.value(QStringLiteral("id")).toString();
        for (const QJsonValue &c : m.value(QStringLiteral("capabilities")).toArray())
            model.capabilities.append(c.toString());
        r.models.append(model);
    }
    return r;
}

DetectUpstreamJob::DetectUpstreamJob(ApiClient *client, qint64 id, bool probeImages, QObject *parent)
    : ObjectJob(client, kPost, idPath("/upstreams/", id, "/detect"), parent)
{
    if (probeImages)
        setBody(QJsonObject{{QStringLiteral("probe_images"), true}});
    setTimeoutMs(kTimeoutMs);
}

TestUpstreamJob::TestUpstreamJob(ApiClient *client, qint64 id, QObject *parent)
    : ObjectJob(client, kPost, idPath("/upstreams/", id, "/test"), parent)
{
    setTimeoutMs(kTimeoutMs);
}

// ---- models ----

ListModelsJob::ListModelsJob(ApiClient *client, const PageQuery &page, qint64 upstreamId, const QString &name,
                             QObject *parent)
    : PageJob(client, QStringLiteral("/models"), page, parent)
{
    QUrlQuery q = query();
    if (upstreamId > 0)
        q.addQueryItem(QStringLiteral("upstream_id"), QString::number(upstreamId));
    if (!name.isEmpty())
        q.addQueryItem(QStringLiteral("name"), QString::fromUtf8(QUrl::toPercentEncoding(name)));
    setQuery(q);
}

CreateModelJob::CreateModelJob(ApiClient *client, const QJsonObject &body, QObject *parent)
    : ObjectJob(client, kPost, QStringLiteral("/models"), parent)
{
    setBody(body);
}

GetModelJob::GetModelJob(ApiClient *client, qint64 id, QObject *parent)
    : ObjectJob(client, kGet, idPath("/models/", id), parent)
{
}

UpdateModelJob::UpdateModelJob(ApiClient *client, qint64 id, const QJsonObject &patch, QObject *parent)
    : ObjectJob(client, kPut, idPath("/models/", id), parent)
{
    setBody(patch);
}

DeleteModelJob::DeleteModelJob(ApiClient *client, qint64 id, QObject *parent)
    : ObjectJob(client, kDelete, idPath("/models/", id), parent)
{
}

// ---- usage ----

void UsageFilter::addTo(QUrlQuery &query) const
{
    if (userId)
        query.addQueryItem(QStringLiteral("user_id"), QString::number(*userId));
    if (keyId)
        query.addQueryItem(QStringLiteral("key_id"), QString::number(*keyId));
    if (!model.isEmpty())
        query.addQueryItem(QStringLiteral("model"), QString::fromUtf8(QUrl::toPercentEncoding(model)));
    if (upstreamId)
        query.addQueryItem(QStringLiteral("upstream_id"), QString::number(*upstreamId));
    // RFC 3339 carries '+' only in offsets; ours are always "Z", nothing to escape.
    if (since.isValid())
        query.addQueryItem(QStringLiteral("since"), rfc3339(since));
    if (until.isValid())
        query.addQueryItem(QStringLiteral("until"), rfc3339(until));
}

Result<UsageEventSlice> UsageEventSlice::fromJson(const QJsonObject &object)
{
    const QJsonValue data = object.value(QStringLiteral("data"));
    if (!data.isArray())
        return invalid(QStringLiteral("the server's usage events have no \"data\" list"), QStringLiteral("data"));
    UsageEventSlice slice;
    for (const QJsonValue &value : data.toArray()) {
        Result<dto::UsageEvent> event = dto::UsageEvent::fromJson(value.toObject());
        if (!event)
            return event.takeError();
        slice.events.append(*event);
    }
    const QJsonValue cursor = object.value(QStringLiteral("next_cursor"));
    if (!cursor.isNull() && !cursor.isUndefined() && !cursor.isString())
        return invalid(QStringLiteral("the server's next_cursor is not a string"), QStringLiteral("next_cursor"));
    slice.nextCursor = cursor.toString();
    slice.hasMore = object.value(QStringLiteral("has_more")).toBool();
    if (slice.hasMore && slice.nextCursor.isEmpty())
        return invalid(QStringLiteral("the server says there are more usage events but sent no next_cursor"),
                       QStringLiteral("next_cursor"));
    return slice;
}

ListUsageEventsJob::ListUsageEventsJob(ApiClient *client, const UsageFilter &filter, const QString &after, int limit,
                                       QObject *parent)
    : ObjectJob(client, kGet, QStringLiteral("/usage/events"), parent)
{
    QUrlQuery q;
    filter.addTo(q);
    if (!after.isEmpty())
        q.addQueryItem(QStringLiteral("after"), QString::fromUtf8(QUrl::toPercentEncoding(after)));
    if (limit > 0)
        q.addQueryItem(QStringLiteral("limit"), QString::number(limit));
    setQuery(q);
}

UsageSummaryJob::UsageSummaryJob(ApiClient *client, const UsageFilter &filter, const QString &bucket,
                                 const QString &group, QObject *parent)
    : ApiJob(client, kGet, QStringLiteral("/usage/summary"), parent)
{
    QUrlQuery q;
    filter.addTo(q);
    if (!bucket.isEmpty())
        q.addQueryItem(QStringLiteral("by"), bucket);
    if (!group.isEmpty())
        q.addQueryItem(QStringLiteral("group"), group);
    setQuery(q);
}

// ---- audit, status, OpenAPI ----

ListAuditJob::ListAuditJob(ApiClient *client, const PageQuery &page, QObject *parent)
    : PageJob(client, QStringLiteral("/audit"), page, parent)
{
}

StatusJob::StatusJob(ApiClient *client, QObject *parent) : ApiJob(client, kGet, QStringLiteral("/status"), parent) {}

OpenApiJob::OpenApiJob(ApiClient *client, QObject *parent)
    : ApiJob(client, kGet, QStringLiteral("/openapi.json"), parent)
{
}

} // namespace llmpool::console
