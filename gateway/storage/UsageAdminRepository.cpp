#include "storage/UsageAdminRepository.h"

#include "storage/SqlErrors.h"
#include "storage/SqlValues.h"

#include <QSqlQuery>

#include <algorithm>

namespace llmpool::gateway {

namespace {

std::optional<qint64> optionalId(const QVariant &value)
{
    if (value.isNull())
        return std::nullopt;
    return value.toLongLong();
}

// Appends " AND …" conditions for the filter's entity fields on `table` columns, binding later
// through bindFilter(). Rollup rows hold 0 where an event had no id, which no filter (ids > 0)
// matches, exactly like NULL in usage_events.
QString filterSql(const UsageFilter &filter)
{
    QString sql;
    if (filter.userId)
        sql += QStringLiteral(" AND user_id = :user_id");
    if (filter.keyId)
        sql += QStringLiteral(" AND key_id = :key_id");
    if (filter.upstreamId)
        sql += QStringLiteral(" AND upstream_id = :upstream_id");
    if (filter.model)
        sql += QStringLiteral(" AND model = :model");
    return sql;
}

void bindFilter(QSqlQuery &q, const UsageFilter &filter)
{
    if (filter.userId)
        q.bindValue(QStringLiteral(":user_id"), QVariant::fromValue(*filter.userId));
    if (filter.keyId)
        q.bindValue(QStringLiteral(":key_id"), QVariant::fromValue(*filter.keyId));
    if (filter.upstreamId)
        q.bindValue(QStringLiteral(":upstream_id"), QVariant::fromValue(*filter.upstreamId));
    if (filter.model)
        q.bindValue(QStringLiteral(":model"), *filter.model);
}

// "{5,10,15}" → {5, 10, 15}.
std::optional<std::vector<qint64>> parseIntArray(const QString &text)
{
    if (!text.startsWith(QLatin1Char('{')) || !text.endsWith(QLatin1Char('}')))
        return std::nullopt;
    std::vector<qint64> values;
    const QStringView inner = QStringView(text).sliced(1, text.size() - 2);
    if (inner.isEmpty())
        return values;
    for (QStringView part : inner.split(QLatin1Char(','))) {
        bool ok = false;
        const qint64 value = part.toLongLong(&ok);
        if (!ok)
            return std::nullopt;
        values.push_back(value);
    }
    return values;
}

} // namespace

Result<UsageEventPage> UsageAdminRepository::listEvents(QSqlDatabase &db, const UsageFilter &filter,
                                                        const std::optional<UsageCursor> &after, int limit)
{
    QString where = QStringLiteral("TRUE") + filterSql(filter);
    if (filter.since)
        where += QStringLiteral(" AND created_at >= ") + SqlValues::msToTimestamp(u":since");
    if (filter.until)
        where += QStringLiteral(" AND created_at < ") + SqlValues::msToTimestamp(u":until");
    if (after)
        where += QStringLiteral(" AND (created_at, request_id) < (CAST(:after_time AS timestamptz), :after_id)");

    QSqlQuery q(db);
    q.setForwardOnly(true);
    q.prepare(QStringLiteral("SELECT request_id, user_id, key_id, model, upstream_id, upstream_model, endpoint, "
                             "status, stream, prompt_tokens, cached_tokens, completion_tokens, total_tokens, "
                             "cost::text, usage_estimated, latency_ms, ttfb_ms, ") +
              SqlValues::epochMs(u"created_at") +
              QStringLiteral(", to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') "
                             "FROM usage_events WHERE ") +
              where + QStringLiteral(" ORDER BY created_at DESC, request_id DESC LIMIT :limit"));
    bindFilter(q, filter);
    if (filter.since)
        q.bindValue(QStringLiteral(":since"), SqlValues::toMs(filter.since));
    if (filter.until)
        q.bindValue(QStringLiteral(":until"), SqlValues::toMs(filter.until));
    if (after) {
        q.bindValue(QStringLiteral(":after_time"), after->createdAt);
        q.bindValue(QStringLiteral(":after_id"), after->requestId);
    }
    q.bindValue(QStringLiteral(":limit"), limit + 1); // one more says whether there is a next page
    if (!q.exec())
        return SqlErrors::fromQuery(q, db, u"list usage events");

    UsageEventPage page;
    while (q.next()) {
        if (page.events.size() == limit) {
            page.hasMore = true;
            break;
        }
        UsageEventRow e;
        e.requestId = q.value(0).toString();
        e.userId = optionalId(q.value(1));
        e.keyId = optionalId(q.value(2));
        e.model = q.value(3).toString();
        e.upstreamId = optionalId(q.value(4));
        e.upstreamModel = SqlValues::optionalString(q.value(5));
        e.endpoint = q.value(6).toString();
        e.status = q.value(7).toInt();
        e.stream = q.value(8).toBool();
        e.promptTokens = q.value(9).toLongLong();
        e.cachedTokens = q.value(10).toLongLong();
        e.completionTokens = q.value(11).toLongLong();
        e.totalTokens = q.value(12).toLongLong();
        e.cost = q.value(13).toString();
        e.usageEstimated = q.value(14).toBool();
        e.latencyMs = optionalId(q.value(15));
        e.ttfbMs = optionalId(q.value(16));
        e.createdAt = SqlValues::dateTime(q.value(17));
        e.cursor = UsageCursor{q.value(18).toString(), e.requestId};
        page.events.append(std::move(e));
    }
    return page;
}

Result<UsageSummary> UsageAdminRepository::summary(QSqlDatabase &db, const UsageSummaryQuery &query)
{
    UsageSummary summary;
    {
        QSqlQuery edges(db);
        if (!edges.exec(QStringLiteral("SELECT usage_latency_edges()::text")) || !edges.next())
            return SqlErrors::fromQuery(edges, db, u"read latency buckets");
        std::optional<std::vector<qint64>> parsed = parseIntArray(edges.value(0).toString());
        if (!parsed)
            return SqlErrors::failed(QStringLiteral("read latency buckets: unexpected value"));
        summary.edges = std::move(*parsed);
    }
    const qsizetype buckets = qsizetype(summary.edges.size()) + 1;

    const QString bucketExpr =
        query.bucket == UsageBucket::Hour ? QStringLiteral("hour") : QStringLiteral("date_trunc('day', hour, 'UTC')");
    QString groupExpr;
    switch (query.group) {
    case UsageGroup::None:
        groupExpr = QStringLiteral("''");
        break;
    case UsageGroup::Model:
        groupExpr = QStringLiteral("model");
        break;
    case UsageGroup::User:
        groupExpr = QStringLiteral("user_id::text");
        break;
    case UsageGroup::Upstream:
        groupExpr = QStringLiteral("upstream_id::text");
        break;
    }
    QString histogramSums;
    for (qsizetype i = 1; i <= buckets; ++i)
        histogramSums += QStringLiteral(", sum(latency_histogram[%1])::bigint").arg(i);

    // One scan of the rollup range: the (bucket, group) rows and the grand total (the empty
    // grouping set, told apart by GROUPING()).
    QSqlQuery q(db);
    q.setForwardOnly(true);
    q.prepare(QStringLiteral("SELECT GROUPING(b, g), ") + SqlValues::epochMs(u"b") +
              QStringLiteral(", g, sum(requests)::bigint, sum(errors)::bigint, sum(prompt_tokens)::bigint, "
                             "sum(cached_tokens)::bigint, sum(completion_tokens)::bigint, sum(total_tokens)::bigint, "
                             "coalesce(sum(cost), 0)::text, sum(latency_count)::bigint, sum(latency_sum_ms)::bigint, "
                             "max(latency_max_ms)") +
              histogramSums + QStringLiteral(" FROM (SELECT ") + bucketExpr + QStringLiteral(" AS b, ") + groupExpr +
              QStringLiteral(" AS g, * FROM usage_rollup_hourly WHERE hour >= ") + SqlValues::msToTimestamp(u":since") +
              QStringLiteral(" AND hour < ") + SqlValues::msToTimestamp(u":until") + filterSql(query.filter) +
              QStringLiteral(") AS r GROUP BY GROUPING SETS ((b, g), ()) ORDER BY 1, 2, 3"));
    q.bindValue(QStringLiteral(":since"), SqlValues::toMs(query.filter.since));
    q.bindValue(QStringLiteral(":until"), SqlValues::toMs(query.filter.until));
    bindFilter(q, query.filter);
    if (!q.exec())
        return SqlErrors::fromQuery(q, db, u"summarise usage");

    bool sawTotals = false;
    while (q.next()) {
        UsageSummaryRow row;
        const bool totals = q.value(0).toInt() != 0;
        if (!totals) {
            row.bucket = SqlValues::dateTime(q.value(1));
            const QString group = q.value(2).toString();
            if (query.group == UsageGroup::Model) {
                row.model = group;
            } else if (query.group != UsageGroup::None) {
                const qint64 id = group.toLongLong();
                if (id > 0)
                    row.id = id;
            }
        }
        row.requests = q.value(3).toLongLong();
        row.errors = q.value(4).toLongLong();
        row.promptTokens = q.value(5).toLongLong();
        row.cachedTokens = q.value(6).toLongLong();
        row.completionTokens = q.value(7).toLongLong();
        row.totalTokens = q.value(8).toLongLong();
        row.cost = q.value(9).toString();
        row.latencyCount = q.value(10).toLongLong();
        row.latencySumMs = q.value(11).toLongLong();
        row.latencyMaxMs = optionalId(q.value(12));
        row.histogram.reserve(size_t(buckets));
        for (qsizetype i = 0; i < buckets; ++i)
            row.histogram.push_back(q.value(13 + int(i)).toLongLong());
        if (totals) {
            summary.totals = std::move(row);
            sawTotals = true;
        } else {
            summary.rows.append(std::move(row));
        }
    }
    if (!sawTotals)
        summary.totals.histogram.assign(size_t(buckets), 0);
    return summary;
}

std::optional<double> UsageAdminRepository::latencyQuantile(const std::vector<qint64> &edges,
                                                            const std::vector<qint64> &counts,
                                                            std::optional<qint64> maxMs, double q)
{
    qint64 total = 0;
    for (qint64 c : counts)
        total += c;
    if (total <= 0 || counts.size() != edges.size() + 1)
        return std::nullopt;
    q = std::clamp(q, 0.0, 1.0);
    const double rank = q * double(total);
    qint64 before = 0;
    for (size_t k = 0; k < counts.size(); ++k) {
        const qint64 c = counts[k];
        if (c == 0)
            continue;
        if (double(before + c) >= rank) {
            const double lower = k == 0 ? 0.0 : double(edges[k - 1]);
            double upper = k < edges.size() ? double(edges[k]) : lower;
            if (maxMs)
                upper = std::min(upper == lower ? double(*maxMs) : upper, double(*maxMs));
            upper = std::max(upper, lower);
            const double within = std::clamp((rank - double(before)) / double(c), 0.0, 1.0);
            return lower + (upper - lower) * within;
        }
        before += c;
    }
    return maxMs ? std::optional<double>(double(*maxMs)) : std::nullopt;
}

} // namespace llmpool::gateway
