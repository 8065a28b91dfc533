#pragma once

// UsageAdminRepository: what the admin API reads about usage (SPEC §6, §9).
//   - listEvents(): usage_events newest first, filtered, keyset-paged by (created_at, request_id).
//     The cursor carries created_at to the microsecond as text, so paging never skips or repeats
//     an event that shares a millisecond with another.
//   - summary(): requests, tokens, cost, errors and latency percentiles grouped by UTC hour or day
//     and optionally by model / user / upstream, read from usage_rollup_hourly (migration 0003),
//     never from the raw events, so it stays fast on millions of events. Percentiles are estimates
//     from the rollup's fixed latency histogram (latencyQuantile()).
//
// Stateless; call inside a Database job, on that job's database thread.

#include "Result.h"

#include <QDateTime>
#include <QList>
#include <QString>

#include <optional>
#include <vector>

class QSqlDatabase;

namespace llmpool::gateway {

struct UsageFilter
{
    std::optional<qint64> userId;
    std::optional<qint64> keyId;
    std::optional<qint64> upstreamId;
    std::optional<QString> model;
    std::optional<QDateTime> since; // inclusive
    std::optional<QDateTime> until; // exclusive
};

// Position after the last event of a page: created_at exactly as stored ("2026-01-02T03:04:05.123456Z")
// and request_id.
struct UsageCursor
{
    QString createdAt;
    QString requestId;
};

struct UsageEventRow
{
    QString requestId;
    std::optional<qint64> userId;
    std::optional<qint64> keyId;
    QString model;
    std::optional<qint64> upstreamId;
    std::optional<QString> upstreamModel;
    QString endpoint;
    int status = 0;
    bool stream = false;
    qint64 promptTokens = 0;
    qint64 cachedTokens = 0;
    qint64 completionTokens = 0;
    qint64 totalTokens = 0;
    QString cost; // numeric(38,9) as text
    bool usageEstimated = false;
    std::optional<qint64> latencyMs;
    std::optional<qint64> ttfbMs;
    QDateTime createdAt;
    UsageCursor cursor;
};

struct UsageEventPage
{
    QList<UsageEventRow> events;
    bool hasMore = false;
};

enum class UsageBucket { Hour, Day };
enum class UsageGroup { None, Model, User, Upstream };

struct UsageSummaryQuery
{
    UsageBucket bucket = UsageBucket::Day;
    UsageGroup group = UsageGroup::None;
    UsageFilter filter; // since / until required, on whole UTC hours
};

struct UsageSummaryRow
{
    QDateTime bucket;         // start of the hour / day (UTC); invalid for the totals row
    QString model;            // UsageGroup::Model
    std::optional<qint64> id; // UsageGroup::User / Upstream; nullopt = events without one
    qint64 requests = 0;
    qint64 errors = 0;
    qint64 promptTokens = 0;
    qint64 cachedTokens = 0;
    qint64 completionTokens = 0;
    qint64 totalTokens = 0;
    QString cost = QStringLiteral("0");
    qint64 latencyCount = 0;
    qint64 latencySumMs = 0;
    std::optional<qint64> latencyMaxMs;
    std::vector<qint64> histogram;
};

struct UsageSummary
{
    std::vector<qint64> edges; // usage_latency_edges()
    QList<UsageSummaryRow> rows;
    UsageSummaryRow totals;
};

class UsageAdminRepository
{
public:
    static Result<UsageEventPage> listEvents(QSqlDatabase &db, const UsageFilter &filter,
                                             const std::optional<UsageCursor> &after, int limit);
    static Result<UsageSummary> summary(QSqlDatabase &db, const UsageSummaryQuery &query);

    // The q-quantile (0 < q ≤ 1) of a latency histogram: bucket k counts latencies in
    // [edges[k-1], edges[k]) (bucket 0 from 0, the last one up to maxMs), linearly interpolated
    // inside the bucket where the rank falls and never above maxMs. nullopt for an empty histogram.
    static std::optional<double> latencyQuantile(const std::vector<qint64> &edges, const std::vector<qint64> &counts,
                                                 std::optional<qint64> maxMs, double q);
};

} // namespace llmpool::gateway
