// `usage events|summary`, `audit list`, `status`, `openapi` (SPEC §6, §9).

#include "cli/Command.h"

namespace llmpool::console {

namespace {

constexpr int kAllLimit = 500;
constexpr int kMaxSlices = 1'000'000;

QList<Column> eventColumns()
{
    return {{QStringLiteral("TIME"), QStringLiteral("created_at")},
            {QStringLiteral("REQUEST ID"), QStringLiteral("request_id")},
            {QStringLiteral("USER"), QStringLiteral("user_id")},
            {QStringLiteral("KEY"), QStringLiteral("key_id")},
            {QStringLiteral("MODEL"), QStringLiteral("model")},
            {QStringLiteral("UPSTREAM"), QStringLiteral("upstream_id")},
            {QStringLiteral("ENDPOINT"), QStringLiteral("endpoint")},
            {QStringLiteral("STATUS"), QStringLiteral("status")},
            {QStringLiteral("TOKENS"), QStringLiteral("total_tokens")},
            {QStringLiteral("COST"), QStringLiteral("cost")},
            {QStringLiteral("LATENCY MS"), QStringLiteral("latency_ms")},
            {QStringLiteral("ESTIMATED"), QStringLiteral("usage_estimated")}};
}

// The filters of both usage verbs; users and upstreams by id or name.
std::optional<UsageFilter> readFilter(Invocation &inv)
{
    const ParsedArgs &a = inv.args();
    UsageFilter filter;
    if (const std::optional<QString> user = a.value(QStringLiteral("user"))) {
        const std::optional<qint64> id = inv.resolveUser(*user);
        if (!id)
            return std::nullopt;
        filter.userId = *id;
    }
    if (const std::optional<QString> key = a.value(QStringLiteral("key"))) {
        const std::optional<qint64> id = inv.parseId(*key, QStringLiteral("--key"));
        if (!id)
            return std::nullopt;
        filter.keyId = *id;
    }
    filter.model = a.value(QStringLiteral("model")).value_or(QString());
    if (const std::optional<QString> upstream = a.value(QStringLiteral("upstream"))) {
        const std::optional<qint64> id = inv.resolveUpstream(*upstream);
        if (!id)
            return std::nullopt;
        filter.upstreamId = *id;
    }
    for (const QString &name : {QStringLiteral("since"), QStringLiteral("until")}) {
        if (a.has(name)) {
            const std::optional<QDateTime> time = inv.timeOption(name);
            if (!time)
                return std::nullopt;
            (name == QLatin1String("since") ? filter.since : filter.until) = *time;
        }
    }
    return filter;
}

int usageEvents(Invocation &inv)
{
    int limit = 0;
    if (inv.args().has(QStringLiteral("limit"))) {
        const std::optional<qint64> value = inv.intOption(QStringLiteral("limit"), 1, 1000);
        if (!value)
            return kExitUsage;
        limit = int(*value);
    }
    const std::optional<UsageFilter> filter = readFilter(inv);
    if (!filter)
        return inv.exitCode();
    QString after = inv.args().value(QStringLiteral("after")).value_or(QString());
    if (!inv.all()) {
        ListUsageEventsJob job(&inv.client(), *filter, after, limit);
        if (!inv.run(job))
            return inv.exitCode();
        if (inv.json()) {
            Output::json(inv.io().out, job.object());
            return kExitOk;
        }
        Output::table(inv.io().out, eventColumns(), job.object().value(QStringLiteral("data")).toArray());
        const UsageEventSlice slice = job.value();
        if (slice.hasMore)
            inv.io().err << "more events: --after " << slice.nextCursor << " for the next ones, --all for every one\n";
        return kExitOk;
    }
    QJsonArray all;
    for (int i = 0; i < kMaxSlices; ++i) {
        ListUsageEventsJob job(&inv.client(), *filter, after, limit > 0 ? limit : kAllLimit);
        if (!inv.run(job))
            return inv.exitCode();
        for (const QJsonValue &event : job.object().value(QStringLiteral("data")).toArray())
            all.append(event);
        const UsageEventSlice slice = job.value();
        if (!slice.hasMore || slice.nextCursor == after)
            break;
        after = slice.nextCursor;
    }
    if (inv.json())
        Output::json(inv.io().out, QJsonObject{{QStringLiteral("data"), all}});
    else
        Output::table(inv.io().out, eventColumns(), all);
    return kExitOk;
}

int usageSummary(Invocation &inv)
{
    const QString bucket = inv.args().value(QStringLiteral("by")).value_or(QStringLiteral("day"));
    if (bucket != QLatin1String("day") && bucket != QLatin1String("hour"))
        return inv.usageError(QStringLiteral("--by must be day or hour, not \"%1\"").arg(bucket));
    const QString group = inv.args().value(QStringLiteral("group")).value_or(QString());
    if (!group.isEmpty() && group != QLatin1String("model") && group != QLatin1String("user") &&
        group != QLatin1String("upstream"))
        return inv.usageError(QStringLiteral("--group must be model, user or upstream, not \"%1\"").arg(group));
    const std::optional<UsageFilter> filter = readFilter(inv);
    if (!filter)
        return inv.exitCode();
    UsageSummaryJob job(&inv.client(), *filter, bucket, group);
    if (!inv.run(job))
        return inv.exitCode();
    const QJsonObject answer = job.object();
    if (inv.json()) {
        Output::json(inv.io().out, answer);
        return kExitOk;
    }
    // The range, the rows (their columns depend on the grouping), then the totals.
    inv.io().out << "usage by " << answer.value(QStringLiteral("by")).toString() << " from "
                 << answer.value(QStringLiteral("since")).toString() << " to "
                 << answer.value(QStringLiteral("until")).toString();
    const QString grouped = answer.value(QStringLiteral("group")).toString();
    if (!grouped.isEmpty() && grouped != QLatin1String("none"))
        inv.io().out << ", per " << grouped;
    inv.io().out << '\n';
    const QJsonArray rows = answer.value(QStringLiteral("data")).toArray();
    if (rows.isEmpty()) {
        inv.io().out << "no usage in this range\n";
    } else {
        Output::table(
            inv.io().out,
            Output::columnsOf(rows, {QStringLiteral("bucket"), QStringLiteral("model"), QStringLiteral("user_id"),
                                     QStringLiteral("upstream_id"), QStringLiteral("requests"),
                                     QStringLiteral("errors"), QStringLiteral("total_tokens"), QStringLiteral("cost")}),
            rows);
    }
    inv.io().out << "\ntotals:\n";
    Output::record(inv.io().out, answer.value(QStringLiteral("totals")).toObject());
    return kExitOk;
}

int auditList(Invocation &inv)
{
    const std::optional<QJsonObject> answer =
        inv.list([&inv](const PageQuery &page) { return new ListAuditJob(&inv.client(), page); });
    if (!answer)
        return inv.exitCode();
    inv.printList(*answer, {{QStringLiteral("ID"), QStringLiteral("id")},
                            {QStringLiteral("AT"), QStringLiteral("at")},
                            {QStringLiteral("ACTOR"), QStringLiteral("actor")},
                            {QStringLiteral("ACTION"), QStringLiteral("action")},
                            {QStringLiteral("RESOURCE"), QStringLiteral("resource")},
                            {QStringLiteral("RESOURCE ID"), QStringLiteral("resource_id")}});
    return kExitOk;
}

int status(Invocation &inv)
{
    StatusJob job(&inv.client());
    if (!inv.run(job))
        return inv.exitCode();
    inv.printRecord(job.object());
    return kExitOk;
}

int openapi(Invocation &inv)
{
    OpenApiJob job(&inv.client());
    if (!inv.run(job))
        return inv.exitCode();
    Output::json(inv.io().out, job.object());
    return kExitOk;
}

} // namespace

QList<Verb> UsageCommand::verbs() const
{
    const QStringList filters{QStringLiteral("user"),     QStringLiteral("key"),   QStringLiteral("model"),
                              QStringLiteral("upstream"), QStringLiteral("since"), QStringLiteral("until")};
    return {
        {QStringLiteral("events"),
         QStringLiteral("events [--user U] [--key KEY_ID] [--model M] [--upstream U] [--since T] [--until T] "
                        "[--limit N] [--after CURSOR] [--all]"),
         QStringLiteral("usage events, newest first (T: RFC 3339)"),
         filters + QStringList{QStringLiteral("limit"), QStringLiteral("after"), QStringLiteral("all")}, 0, 0,
         usageEvents},
        {QStringLiteral("summary"),
         QStringLiteral("summary [--by day|hour] [--group model|user|upstream] [--user U] [--model M] [--upstream U] "
                        "[--since T] [--until T]"),
         QStringLiteral("requests, tokens, cost, errors and latency per day or hour (default: the last 30 days by "
                        "day, the last 24 hours by hour)"),
         filters + QStringList{QStringLiteral("by"), QStringLiteral("group")}, 0, 0, usageSummary},
    };
}

QList<Verb> AuditCommand::verbs() const
{
    return {{QStringLiteral("list"),
             QStringLiteral("list [--page N] [--page-size N] [--all]"),
             QStringLiteral("every admin write, newest first"),
             {QStringLiteral("page"), QStringLiteral("page-size"), QStringLiteral("all")},
             0,
             0,
             auditList}};
}

QList<Verb> StatusCommand::verbs() const
{
    return {{QString(),
             QString(),
             QStringLiteral("version, uptime, database / Redis / queue health, queue lag"),
             {},
             0,
             0,
             status}};
}

QList<Verb> OpenApiCommand::verbs() const
{
    return {
        {QString(), QString(), QStringLiteral("the OpenAPI 3 document of the admin API, as JSON"), {}, 0, 0, openapi}};
}

} // namespace llmpool::console
