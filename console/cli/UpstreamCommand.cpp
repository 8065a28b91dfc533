// `upstream list|show|add|update|delete|detect|test` (SPEC §3, §9). `add` stores the upstream and,
// unless --no-detect, asks the gateway to detect its models and stores each one under its
// upstream name with the capabilities found (none proved: stored disabled), as `llmpool openai add`
// does. `--api-key -` reads the key from stdin, so it stays out of the shell history and `ps`.

#include "cli/Command.h"

namespace llmpool::console {

namespace {

const QStringList kPaging{QStringLiteral("page"), QStringLiteral("page-size"), QStringLiteral("all")};
const QStringList kFields{QStringLiteral("name"),    QStringLiteral("kind"),   QStringLiteral("api-base"),
                          QStringLiteral("api-key"), QStringLiteral("weight"), QStringLiteral("enabled"),
                          QStringLiteral("tags")};

const QList<std::pair<QString, QString>> kDefaultBases{
    {QStringLiteral("openai"), QStringLiteral("https://api.openai.com/v1")},
    {QStringLiteral("openrouter"), QStringLiteral("https://openrouter.ai/api/v1")},
    {QStringLiteral("dashscope"), QStringLiteral("https://dashscope.aliyuncs.com/compatible-mode/v1")},
    {QStringLiteral("ark"), QStringLiteral("https://ark.cn-beijing.volces.com/api/v3")},
};

QList<Column> upstreamColumns()
{
    return {{QStringLiteral("ID"), QStringLiteral("id")},
            {QStringLiteral("NAME"), QStringLiteral("name")},
            {QStringLiteral("KIND"), QStringLiteral("kind")},
            {QStringLiteral("API BASE"), QStringLiteral("api_base")},
            {QStringLiteral("KEY"), QStringLiteral("api_key_preview")},
            {QStringLiteral("WEIGHT"), QStringLiteral("weight")},
            {QStringLiteral("ENABLED"), QStringLiteral("enabled")},
            {QStringLiteral("HEALTH"), QStringLiteral("health")},
            {QStringLiteral("TAGS"), QStringLiteral("tags")}};
}

QList<Column> upstreamRecord()
{
    QList<Column> columns = upstreamColumns();
    columns.append({QStringLiteral("CREATED"), QStringLiteral("created_at")});
    columns.append({QStringLiteral("UPDATED"), QStringLiteral("updated_at")});
    return columns;
}

std::optional<QJsonObject> readFields(Invocation &inv, bool create)
{
    const ParsedArgs &a = inv.args();
    QJsonObject body;
    if (const std::optional<QString> name = a.value(QStringLiteral("name")))
        body.insert(QStringLiteral("name"), *name);
    QString kind = a.value(QStringLiteral("kind")).value_or(QString());
    if (!kind.isEmpty())
        body.insert(QStringLiteral("kind"), kind);
    if (const std::optional<QString> base = a.value(QStringLiteral("api-base"))) {
        body.insert(QStringLiteral("api_base"), *base);
    } else if (create) {
        if (kind.isEmpty())
            kind = QStringLiteral("openai");
        for (const auto &[k, base] : kDefaultBases) {
            if (k == kind)
                body.insert(QStringLiteral("api_base"), base);
        }
    }
    if (std::optional<QString> key = a.value(QStringLiteral("api-key"))) {
        if (*key == QLatin1String("-"))
            key = inv.io().in.readLine().trimmed();
        if (key->isEmpty()) {
            inv.usageError(QStringLiteral("--api-key is empty"));
            return std::nullopt;
        }
        body.insert(QStringLiteral("api_key"), *key);
    }
    if (a.has(QStringLiteral("weight"))) {
        const std::optional<qint64> weight = inv.intOption(QStringLiteral("weight"), 0, 1'000'000);
        if (!weight)
            return std::nullopt;
        body.insert(QStringLiteral("weight"), *weight);
    }
    if (a.has(QStringLiteral("enabled"))) {
        const std::optional<bool> enabled = inv.boolOption(QStringLiteral("enabled"));
        if (!enabled)
            return std::nullopt;
        body.insert(QStringLiteral("enabled"), *enabled);
    }
    if (const std::optional<QString> tags = a.value(QStringLiteral("tags")))
        body.insert(QStringLiteral("tags"), QJsonArray::fromStringList(Invocation::listValue(*tags)));
    return body;
}

int list(Invocation &inv)
{
    const std::optional<QJsonObject> answer =
        inv.list([&inv](const PageQuery &page) { return new ListUpstreamsJob(&inv.client(), page); });
    if (!answer)
        return inv.exitCode();
    inv.printList(*answer, upstreamColumns());
    return kExitOk;
}

int show(Invocation &inv)
{
    const std::optional<qint64> id = inv.resolveUpstream(inv.arg(0));
    if (!id)
        return inv.exitCode();
    GetUpstreamJob job(&inv.client(), *id);
    if (!inv.run(job))
        return inv.exitCode();
    inv.printRecord(job.object(), upstreamRecord());
    return kExitOk;
}

int add(Invocation &inv)
{
    if (!inv.args().has(QStringLiteral("name")))
        return inv.usageError(QStringLiteral("--name is required"));
    std::optional<QJsonObject> body = readFields(inv, true);
    if (!body)
        return kExitUsage;
    if (!body->contains(QStringLiteral("api_base")))
        return inv.usageError(
            QStringLiteral("--api-base is required for kind %1").arg(body->value(QStringLiteral("kind")).toString()));
    CreateUpstreamJob create(&inv.client(), *body);
    if (!inv.run(create))
        return inv.exitCode();
    const dto::Upstream upstream = create.value();
    QJsonObject result = create.object();
    if (inv.args().has(QStringLiteral("no-detect"))) {
        inv.printRecord(result, upstreamRecord());
        return kExitOk;
    }

    DetectUpstreamJob detect(&inv.client(), upstream.id, inv.args().has(QStringLiteral("probe-images")));
    if (!inv.run(detect)) {
        inv.printRecord(result, upstreamRecord());
        inv.io().err << inv.program() << ": upstream " << upstream.id
                     << " was stored, but its models could not be detected; fix it and run `" << inv.program()
                     << " upstream detect " << upstream.id << "`, then add models with `" << inv.program()
                     << " model add`\n";
        return inv.exitCode();
    }
    QJsonArray models;
    for (const ProbeResult::Model &found : detect.value().models) {
        QJsonObject model{{QStringLiteral("name"), found.id},
                          {QStringLiteral("upstream_id"), upstream.id},
                          {QStringLiteral("upstream_model"), found.id},
                          {QStringLiteral("capabilities"), QJsonArray::fromStringList(found.capabilities)},
                          {QStringLiteral("enabled"), !found.capabilities.isEmpty()}};
        CreateModelJob job(&inv.client(), model);
        if (!inv.run(job)) {
            inv.io().err << inv.program() << ": upstream " << upstream.id << " was stored with " << models.size()
                         << " of " << detect.value().models.size() << " detected models\n";
            return inv.exitCode();
        }
        models.append(job.object());
    }
    if (inv.json()) {
        result.insert(QStringLiteral("models"), models);
        Output::json(inv.io().out, result);
        return kExitOk;
    }
    Output::record(inv.io().out, result, upstreamRecord());
    inv.io().out << '\n';
    Output::table(inv.io().out,
                  {{QStringLiteral("MODEL ID"), QStringLiteral("id")},
                   {QStringLiteral("NAME"), QStringLiteral("name")},
                   {QStringLiteral("CAPABILITIES"), QStringLiteral("capabilities")},
                   {QStringLiteral("ENABLED"), QStringLiteral("enabled")}},
                  models);
    return kExitOk;
}

int update(Invocation &inv)
{
    const std::optional<QJsonObject> patch = readFields(inv, false);
    if (!patch)
        return kExitUsage;
    if (patch->isEmpty())
        return inv.usageError(QStringLiteral(
            "nothing to change: give --name, --kind, --api-base, --api-key, --weight, --enabled or --tags"));
    const std::optional<qint64> id = inv.resolveUpstream(inv.arg(0));
    if (!id)
        return inv.exitCode();
    UpdateUpstreamJob job(&inv.client(), *id, *patch);
    if (!inv.run(job))
        return inv.exitCode();
    inv.printRecord(job.object(), upstreamRecord());
    return kExitOk;
}

int remove(Invocation &inv)
{
    const std::optional<qint64> id = inv.resolveUpstream(inv.arg(0));
    if (!id)
        return inv.exitCode();
    DeleteUpstreamJob job(&inv.client(), *id);
    if (!inv.run(job))
        return inv.exitCode();
    inv.printRecord(job.object(), upstreamRecord());
    return kExitOk;
}

int probe(Invocation &inv, bool detect)
{
    const std::optional<qint64> id = inv.resolveUpstream(inv.arg(0));
    if (!id)
        return inv.exitCode();
    std::unique_ptr<ObjectJob<ProbeResult>> job;
    if (detect)
        job = std::make_unique<DetectUpstreamJob>(&inv.client(), *id, inv.args().has(QStringLiteral("probe-images")));
    else
        job = std::make_unique<TestUpstreamJob>(&inv.client(), *id);
    if (!inv.run(*job))
        return inv.exitCode();
    if (inv.json()) {
        Output::json(inv.io().out, job->object());
        return kExitOk;
    }
    const ProbeResult result = job->value();
    inv.io().out << "upstream " << result.upstreamId << (result.ok ? " answered" : " failed") << " in "
                 << result.latencyMs << " ms with " << result.models.size()
                 << (result.models.size() == 1 ? " model\n" : " models\n");
    const QJsonArray models = job->object().value(QStringLiteral("models")).toArray();
    if (detect)
        Output::table(inv.io().out,
                      {{QStringLiteral("MODEL"), QStringLiteral("id")},
                       {QStringLiteral("CAPABILITIES"), QStringLiteral("capabilities")},
                       {QStringLiteral("PROBED"), QStringLiteral("probed")}},
                      models);
    else
        Output::table(inv.io().out, {{QStringLiteral("MODEL"), QStringLiteral("id")}}, models);
    return kExitOk;
}

} // namespace

QList<Verb> UpstreamCommand::verbs() const
{
    return {
        {QStringLiteral("list"), QStringLiteral("list [--page N] [--page-size N] [--all]"),
         QStringLiteral("every upstream (keys shown as a masked preview)"), kPaging, 0, 0, list},
        {QStringLiteral("show"),
         QStringLiteral("show UPSTREAM"),
         QStringLiteral("one upstream, by id or name"),
         {},
         1,
         1,
         show},
        {QStringLiteral("add"),
         QStringLiteral(
             "add --name N [--kind openai|azure|openrouter|dashscope|ark] [--api-base URL] [--api-key KEY|-] "
             "[--weight W] [--enabled true|false] [--tags a,b] [--no-detect] [--probe-images]"),
         QStringLiteral("store an upstream, detect its models and store them"),
         kFields + QStringList{QStringLiteral("no-detect"), QStringLiteral("probe-images")}, 0, 0, add},
        {QStringLiteral("update"),
         QStringLiteral("update UPSTREAM [--name N] [--kind K] [--api-base URL] [--api-key KEY|-] [--weight W] "
                        "[--enabled true|false] [--tags a,b]"),
         QStringLiteral("change an upstream"), kFields, 1, 1, update},
        {QStringLiteral("delete"),
         QStringLiteral("delete UPSTREAM"),
         QStringLiteral("delete an upstream"),
         {},
         1,
         1,
         remove},
        {QStringLiteral("detect"),
         QStringLiteral("detect UPSTREAM [--probe-images]"),
         QStringLiteral("list the upstream's models and probe their capabilities (stores nothing)"),
         {QStringLiteral("probe-images")},
         1,
         1,
         [](Invocation &inv) { return probe(inv, true); }},
        {QStringLiteral("test"),
         QStringLiteral("test UPSTREAM"),
         QStringLiteral("check that the upstream answers with its key"),
         {},
         1,
         1,
         [](Invocation &inv) { return probe(inv, false); }},
    };
}

} // namespace llmpool::console
