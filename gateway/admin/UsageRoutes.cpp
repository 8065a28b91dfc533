// The usage resource (SPEC §6, §9):
//   GET /usage/events   newest first, cursor-paged (`after`, `limit`), filters user_id, key_id,
//                       model, upstream_id, since (inclusive), until (exclusive).
//   GET /usage/summary  requests, tokens, cost, errors and latency percentiles by UTC hour or day
//                       (`by`) and optionally by model / user / upstream (`group`), read from the
//                       hourly rollup (migration 0003), so it never scans raw events.
// The event cursor is opaque to clients: base64url of "1\n<created_at, microseconds>\n<request_id>"
// of the page's last event.

#include "admin/AdminResource.h"
#include "storage/UsageAdminRepository.h"

#include <QRegularExpression>
#include <QTimeZone>

#include <cmath>

namespace llmpool::gateway {

namespace {

using namespace admin;

constexpr int kDefaultLimit = 50;
constexpr int kMaxLimit = 1000;
constexpr qsizetype kMaxModelLength = 200;
constexpr qsizetype kMaxCursorLength = 512;
constexpr qint64 kHourMs = 3'600'000;
constexpr qint64 kDayMs = 24 * kHourMs;
constexpr qint64 kMaxHourBuckets = 24 * 92; // about three months of hours
constexpr qint64 kMaxDayBuckets = 3660;     // about ten years of days

Error invalidParameter(const QString &param, const QString &message)
{
    return Error::invalidRequest(QStringLiteral("invalid_parameter"), message, param);
}

QByteArray encodeCursor(const UsageCursor &cursor)
{
    const QByteArray raw = QByteArray("1\n") + cursor.createdAt.toUtf8() + '\n' + cursor.requestId.toUtf8();
    return raw.toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals);
}

std::optional<UsageCursor> decodeCursor(const QByteArray &text)
{
    if (text.isEmpty() || text.size() > kMaxCursorLength)
        return std::nullopt;
    const auto decoded =
        QByteArray::fromBase64Encoding(text, QByteArray::Base64UrlEncoding | QByteArray::AbortOnBase64DecodingErrors);
    if (!decoded)
        return std::nullopt;
    const QByteArray raw = *decoded;
    const qsizetype first = raw.indexOf('\n');
    const qsizetype second = first < 0 ? -1 : raw.indexOf('\n', first + 1);
    if (first != 1 || raw.at(0) != '1' || second < 0)
        return std::nullopt;
    const QString time = QString::fromUtf8(raw.mid(first + 1, second - first - 1));
    const QString requestId = QString::fromUtf8(raw.mid(second + 1));
    // "2026-01-02T03:04:05.123456Z", exactly as the repository writes it; checked here so a
    // forged cursor is a 400, never a database error.
    static const QRegularExpression timeFormat(QStringLiteral("^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{6}Z$"));
    if (!timeFormat.match(time).hasMatch() ||
        !QDateTime::fromString(time.left(23) + QLatin1Char('Z'), Qt::ISODateWithMs).isValid())
        return std::nullopt;
    if (requestId.isEmpty() || requestId.size() > 200 || requestId.contains(QChar(0)) ||
        requestId.contains(QChar::ReplacementCharacter))
        return std::nullopt;
    return UsageCursor{time, requestId};
}

// The filters both endpoints share.
Result<UsageFilter> readFilter(const HttpRequest &request)
{
    UsageFilter filter;
    auto userId = queryId(request, "user_id");
    if (!userId)
        return userId.takeError();
    auto keyId = queryId(request, "key_id");
    if (!keyId)
        return keyId.takeError();
    auto upstreamId = queryId(request, "upstream_id");
    if (!upstreamId)
        return upstreamId.takeError();
    auto model = queryText(request, "model", kMaxModelLength);
    if (!model)
        return model.takeError();
    auto since = queryTime(request, "since");
    if (!since)
        return since.takeError();
    auto until = queryTime(request, "until");
    if (!until)
        return until.takeError();
    filter.userId = *userId;
    filter.keyId = *keyId;
    filter.upstreamId = *upstreamId;
    filter.model = *model;
    filter.since = *since;
    filter.until = *until;
    if (filter.since && filter.until && *filter.since >= *filter.until)
        return invalidParameter(QStringLiteral("until"), QStringLiteral("until must be later than since"));
    return filter;
}

QJsonValue optionalInteger(const std::optional<qint64> &value)
{
    return value ? QJsonValue(*value) : QJsonValue::Null;
}

QJsonObject eventJson(const UsageEventRow &e)
{
    return QJsonObject{
        {QStringLiteral("request_id"), e.requestId},
        {QStringLiteral("user_id"), optionalInteger(e.userId)},
        {QStringLiteral("key_id"), optionalInteger(e.keyId)},
        {QStringLiteral("model"), e.model},
        {QStringLiteral("upstream_id"), optionalInteger(e.upstreamId)},
        {QStringLiteral("upstream_model"), e.upstreamModel ? QJsonValue(*e.upstreamModel) : QJsonValue::Null},
        {QStringLiteral("endpoint"), e.endpoint},
        {QStringLiteral("status"), e.status},
        {QStringLiteral("stream"), e.stream},
        {QStringLiteral("prompt_tokens"), e.promptTokens},
        {QStringLiteral("cached_tokens"), e.cachedTokens},
        {QStringLiteral("completion_tokens"), e.completionTokens},
        {QStringLiteral("total_tokens"), e.totalTokens},
        {QStringLiteral("cost"), e.cost},
        {QStringLiteral("usage_estimated"), e.usageEstimated},
        {QStringLiteral("latency_ms"), optionalInteger(e.latencyMs)},
        {QStringLiteral("ttfb_ms"), optionalInteger(e.ttfbMs)},
        {QStringLiteral("created_at"), timeJson(e.createdAt)}};
}

void listEvents(AdminCall &call)
{
    Result<UsageFilter> filter = readFilter(call.request);
    if (!filter)
        return replyError(call.responder, filter.error());
    int limit = kDefaultLimit;
    if (call.request.hasQueryParam("limit")) {
        const std::optional<qint64> value = parseId(call.request.queryParam("limit"));
        if (!value || *value > kMaxLimit)
            return replyError(call.responder,
                              invalidParameter(QStringLiteral("limit"),
                                               QStringLiteral("limit must be an integer from 1 to %1").arg(kMaxLimit)));
        limit = int(*value);
    }
    std::optional<UsageCursor> after;
    if (call.request.hasQueryParam("after")) {
        after = decodeCursor(call.request.queryParam("after"));
        if (!after)
            return replyError(call.responder,
                              invalidParameter(QStringLiteral("after"),
                                               QStringLiteral("after must be a next_cursor from a previous page")));
    }
    runJob(
        call,
        [filter = *filter, after, limit](QSqlDatabase &db) {
            return UsageAdminRepository::listEvents(db, filter, after, limit);
        },
        [](HttpResponder &responder, UsageEventPage page) {
            QJsonArray data;
            for (const UsageEventRow &e : page.events)
                data.append(eventJson(e));
            const QJsonValue next = page.hasMore && !page.events.isEmpty()
                                        ? QJsonValue(QString::fromLatin1(encodeCursor(page.events.last().cursor)))
                                        : QJsonValue::Null;
            respondJson(responder, 200,
                        QJsonObject{{QStringLiteral("data"), data},
                                    {QStringLiteral("next_cursor"), next},
                                    {QStringLiteral("has_more"), page.hasMore}});
        },
        JobRetry::Idempotent);
}

qint64 floorTo(qint64 ms, qint64 unit)
{
    return ms >= 0 ? ms - ms % unit : ms - (unit + ms % unit) % unit;
}

qint64 ceilTo(qint64 ms, qint64 unit)
{
    const qint64 floor = floorTo(ms, unit);
    return floor == ms ? ms : floor + unit;
}

QJsonValue roundedMs(const std::optional<double> &value)
{
    return value ? QJsonValue(qint64(std::llround(*value))) : QJsonValue::Null;
}

QJsonObject summaryNumbers(const UsageSummaryRow &row, const std::vector<qint64> &edges)
{
    auto quantile = [&](double q) {
        return roundedMs(UsageAdminRepository::latencyQuantile(edges, row.histogram, row.latencyMaxMs, q));
    };
    const QJsonObject latency{
        {QStringLiteral("count"), row.latencyCount},
        {QStringLiteral("avg"),
         row.latencyCount > 0 ? QJsonValue(qint64(std::llround(double(row.latencySumMs) / double(row.latencyCount))))
                              : QJsonValue::Null},
        {QStringLiteral("p50"), quantile(0.50)},
        {QStringLiteral("p95"), quantile(0.95)},
        {QStringLiteral("p99"), quantile(0.99)},
        {QStringLiteral("max"), optionalInteger(row.latencyMaxMs)}};
    return QJsonObject{{QStringLiteral("requests"), row.requests},
                       {QStringLiteral("errors"), row.errors},
                       {QStringLiteral("prompt_tokens"), row.promptTokens},
                       {QStringLiteral("cached_tokens"), row.cachedTokens},
                       {QStringLiteral("completion_tokens"), row.completionTokens},
                       {QStringLiteral("total_tokens"), row.totalTokens},
                       {QStringLiteral("cost"), row.cost},
                       {QStringLiteral("latency_ms"), latency}};
}

void summarize(AdminCall &call)
{
    Result<UsageFilter> filter = readFilter(call.request);
    if (!filter)
        return replyError(call.responder, filter.error());
    UsageSummaryQuery query;
    query.filter = *filter;

    const QByteArray by = call.request.queryParam("by");
    if (by.isNull() || by == "day")
        query.bucket = UsageBucket::Day;
    else if (by == "hour")
        query.bucket = UsageBucket::Hour;
    else
        return replyError(call.responder,
                          invalidParameter(QStringLiteral("by"), QStringLiteral("by must be hour or day")));

    const QByteArray group = call.request.queryParam("group");
    if (group.isNull() || group == "none")
        query.group = UsageGroup::None;
    else if (group == "model")
        query.group = UsageGroup::Model;
    else if (group == "user")
        query.group = UsageGroup::User;
    else if (group == "upstream")
        query.group = UsageGroup::Upstream;
    else
        return replyError(call.responder, invalidParameter(QStringLiteral("group"),
                                                           QStringLiteral("group must be model, user or upstream")));

    // The rollup holds whole UTC hours: since is rounded down and until up to the hour. Without
    // them: the last 24 hours (by hour) or the last 30 days (by day), up to the current hour's end.
    const qint64 unit = query.bucket == UsageBucket::Hour ? kHourMs : kDayMs;
    const qint64 nowMs = QDateTime::currentMSecsSinceEpoch();
    const qint64 untilMs =
        ceilTo(filter->until ? filter->until->toMSecsSinceEpoch() : floorTo(nowMs, kHourMs) + kHourMs, kHourMs);
    const qint64 sinceMs = filter->since                       ? floorTo(filter->since->toMSecsSinceEpoch(), kHourMs)
                           : query.bucket == UsageBucket::Hour ? untilMs - 24 * kHourMs
                                                               : floorTo(untilMs - 1, kDayMs) - 29 * kDayMs;
    if (sinceMs >= untilMs)
        return replyError(call.responder,
                          invalidParameter(QStringLiteral("until"), QStringLiteral("until must be later than since")));
    const qint64 maxBuckets = query.bucket == UsageBucket::Hour ? kMaxHourBuckets : kMaxDayBuckets;
    if ((untilMs - sinceMs) / unit > maxBuckets)
        return replyError(call.responder,
                          invalidParameter(QStringLiteral("since"),
                                           QStringLiteral("the range may span at most %1 %2")
                                               .arg(maxBuckets)
                                               .arg(query.bucket == UsageBucket::Hour ? QStringLiteral("hours")
                                                                                      : QStringLiteral("days"))));
    query.filter.since = QDateTime::fromMSecsSinceEpoch(sinceMs, QTimeZone::utc());
    query.filter.until = QDateTime::fromMSecsSinceEpoch(untilMs, QTimeZone::utc());

    runJob(
        call, [query](QSqlDatabase &db) { return UsageAdminRepository::summary(db, query); },
        [query](HttpResponder &responder, UsageSummary summary) {
            QJsonArray data;
            for (const UsageSummaryRow &row : summary.rows) {
                QJsonObject item = summaryNumbers(row, summary.edges);
                item.insert(QStringLiteral("bucket"), timeJson(row.bucket));
                switch (query.group) {
                case UsageGroup::None:
                    break;
                case UsageGroup::Model:
                    item.insert(QStringLiteral("model"), row.model);
                    break;
                case UsageGroup::User:
                    item.insert(QStringLiteral("user_id"), optionalInteger(row.id));
                    break;
                case UsageGroup::Upstream:
                    item.insert(QStringLiteral("upstream_id"), optionalInteger(row.id));
                    break;
                }
                data.append(item);
            }
            static const char *const groups[] = {"none", "model", "user", "upstream"};
            respondJson(responder, 200,
                        QJsonObject{{QStringLiteral("by"), query.bucket == UsageBucket::Hour ? QStringLiteral("hour")
                                                                                             : QStringLiteral("day")},
                                    {QStringLiteral("group"), QString::fromLatin1(groups[int(query.group)])},
                                    {QStringLiteral("since"), timeJson(query.filter.since)},
                                    {QStringLiteral("until"), timeJson(query.filter.until)},
                                    {QStringLiteral("data"), data},
                                    {QStringLiteral("totals"), summaryNumbers(summary.totals, summary.edges)}});
        },
        JobRetry::Idempotent);
}

const std::vector<api::Field> &filterParams()
{
    static const std::vector<api::Field> params{
        {"user_id", api::Type::Integer, "only this user's events"},
        {"key_id", api::Type::Integer, "only this API key's events"},
        {"model", api::Type::String, "only this public model name (at most 200 characters)"},
        {"upstream_id", api::Type::Integer, "only this upstream's events"},
        {"since", api::Type::Time, "RFC 3339; events at or after this time"},
        {"until", api::Type::Time, "RFC 3339; events before this time"},
    };
    return params;
}

} // namespace

std::vector<AdminRoute> usageRoutes()
{
    std::vector<api::Field> eventParams = filterParams();
    eventParams.push_back({"after", api::Type::String, "the next_cursor of the previous page"});
    eventParams.push_back({"limit", api::Type::Integer, "events per page, 1 to 1000 (default 50)"});
    std::vector<api::Field> summaryParams = filterParams();
    summaryParams.push_back(
        {"by", api::Type::String, "bucket size (default day); buckets are UTC", 0, nullptr, {"hour", "day"}});
    summaryParams.push_back({"group",
                             api::Type::String,
                             "also group by this (default: no grouping)",
                             0,
                             nullptr,
                             {"none", "model", "user", "upstream"}});
    return {
        {"GET",
         "/usage/events",
         listEvents,
         {.summary = "List usage events, newest first",
          .tag = "usage",
          .query = eventParams,
          .responseSchema = "UsageEvent",
          .shape = api::Shape::CursorPage}},
        {"GET",
         "/usage/summary",
         summarize,
         {.summary = "Usage summary by hour or day, optionally by model, user or upstream",
          .tag = "usage",
          .query = summaryParams,
          .responseSchema = "UsageSummary",
          .description = "Read from an hourly rollup: since is rounded down and until up to whole UTC hours "
                         "(defaults: the last 24 hours by hour, the last 30 days by day). Latency percentiles "
                         "are estimates from a fixed latency histogram (interpolated within a bucket)."}},
    };
}

} // namespace llmpool::gateway
