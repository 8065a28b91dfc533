// `model list|show|add|update|delete` (SPEC §5, §9): the catalog rows that map a public model name
// to an upstream's model, with capabilities, weight and prices (decimal strings, 9 places).

#include "cli/Command.h"

namespace llmpool::console {

namespace {

const QStringList kPaging{QStringLiteral("page"), QStringLiteral("page-size"), QStringLiteral("all")};

// option → field
const QList<std::pair<QString, QString>> kPrices{
    {QStringLiteral("input-price"), QStringLiteral("input_price_per_1m")},
    {QStringLiteral("cached-input-price"), QStringLiteral("cached_input_price_per_1m")},
    {QStringLiteral("output-price"), QStringLiteral("output_price_per_1m")},
    {QStringLiteral("image-price"), QStringLiteral("image_price")},
    {QStringLiteral("speech-price"), QStringLiteral("speech_price_per_1m_chars")},
    {QStringLiteral("transcription-price"), QStringLiteral("transcription_price_per_minute")},
};

QStringList fieldOptions()
{
    QStringList options{QStringLiteral("name"),         QStringLiteral("upstream"), QStringLiteral("upstream-model"),
                        QStringLiteral("capabilities"), QStringLiteral("weight"),   QStringLiteral("enabled")};
    for (const auto &price : kPrices)
        options.append(price.first);
    return options;
}

QList<Column> modelColumns()
{
    return {{QStringLiteral("ID"), QStringLiteral("id")},
            {QStringLiteral("NAME"), QStringLiteral("name")},
            {QStringLiteral("UPSTREAM"), QStringLiteral("upstream_id")},
            {QStringLiteral("UPSTREAM MODEL"), QStringLiteral("upstream_model")},
            {QStringLiteral("CAPABILITIES"), QStringLiteral("capabilities")},
            {QStringLiteral("WEIGHT"), QStringLiteral("weight")},
            {QStringLiteral("ENABLED"), QStringLiteral("enabled")},
            {QStringLiteral("INPUT/1M"), QStringLiteral("input_price_per_1m")},
            {QStringLiteral("OUTPUT/1M"), QStringLiteral("output_price_per_1m")}};
}

QList<Column> modelRecord()
{
    return {{QStringLiteral("ID"), QStringLiteral("id")},
            {QStringLiteral("NAME"), QStringLiteral("name")},
            {QStringLiteral("UPSTREAM"), QStringLiteral("upstream_id")},
            {QStringLiteral("UPSTREAM MODEL"), QStringLiteral("upstream_model")},
            {QStringLiteral("CAPABILITIES"), QStringLiteral("capabilities")},
            {QStringLiteral("WEIGHT"), QStringLiteral("weight")},
            {QStringLiteral("ENABLED"), QStringLiteral("enabled")},
            {QStringLiteral("INPUT"), QStringLiteral("input_price_per_1m")},
            {QStringLiteral("CACHED INPUT"), QStringLiteral("cached_input_price_per_1m")},
            {QStringLiteral("OUTPUT"), QStringLiteral("output_price_per_1m")},
            {QStringLiteral("IMAGE"), QStringLiteral("image_price")},
            {QStringLiteral("SPEECH"), QStringLiteral("speech_price_per_1m_chars")},
            {QStringLiteral("TRANSCRIPTION"), QStringLiteral("transcription_price_per_minute")},
            {QStringLiteral("CREATED"), QStringLiteral("created_at")},
            {QStringLiteral("UPDATED"), QStringLiteral("updated_at")}};
}

// The model fields from the command line; --upstream resolved to an id (which may call the server).
std::optional<QJsonObject> readFields(Invocation &inv)
{
    const ParsedArgs &a = inv.args();
    QJsonObject body;
    if (const std::optional<QString> name = a.value(QStringLiteral("name")))
        body.insert(QStringLiteral("name"), *name);
    if (const std::optional<QString> model = a.value(QStringLiteral("upstream-model")))
        body.insert(QStringLiteral("upstream_model"), *model);
    if (const std::optional<QString> capabilities = a.value(QStringLiteral("capabilities")))
        body.insert(QStringLiteral("capabilities"), QJsonArray::fromStringList(Invocation::listValue(*capabilities)));
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
    for (const auto &[option, field] : kPrices) {
        if (a.has(option)) {
            const std::optional<QString> price = inv.moneyOption(option);
            if (!price)
                return std::nullopt;
            body.insert(field, *price);
        }
    }
    if (const std::optional<QString> upstream = a.value(QStringLiteral("upstream"))) {
        const std::optional<qint64> id = inv.resolveUpstream(*upstream);
        if (!id)
            return std::nullopt;
        body.insert(QStringLiteral("upstream_id"), *id);
    }
    return body;
}

int list(Invocation &inv)
{
    qint64 upstream = 0;
    if (const std::optional<QString> text = inv.args().value(QStringLiteral("upstream"))) {
        const std::optional<qint64> id = inv.resolveUpstream(*text);
        if (!id)
            return inv.exitCode();
        upstream = *id;
    }
    const QString name = inv.args().value(QStringLiteral("name")).value_or(QString());
    const std::optional<QJsonObject> answer = inv.list([&inv, upstream, name](const PageQuery &page) {
        return new ListModelsJob(&inv.client(), page, upstream, name);
    });
    if (!answer)
        return inv.exitCode();
    inv.printList(*answer, modelColumns());
    return kExitOk;
}

int show(Invocation &inv)
{
    const std::optional<qint64> id = inv.resolveModel(inv.arg(0));
    if (!id)
        return inv.exitCode();
    GetModelJob job(&inv.client(), *id);
    if (!inv.run(job))
        return inv.exitCode();
    inv.printRecord(job.object(), modelRecord());
    return kExitOk;
}

int add(Invocation &inv)
{
    if (!inv.args().has(QStringLiteral("name")))
        return inv.usageError(QStringLiteral("--name is required"));
    if (!inv.args().has(QStringLiteral("upstream")))
        return inv.usageError(QStringLiteral("--upstream is required"));
    std::optional<QJsonObject> body = readFields(inv);
    if (!body)
        return inv.exitCode();
    // The public name is the upstream's name unless told otherwise.
    if (!body->contains(QStringLiteral("upstream_model")))
        body->insert(QStringLiteral("upstream_model"), body->value(QStringLiteral("name")));
    CreateModelJob job(&inv.client(), *body);
    if (!inv.run(job))
        return inv.exitCode();
    inv.printRecord(job.object(), modelRecord());
    return kExitOk;
}

int update(Invocation &inv)
{
    std::optional<QJsonObject> patch = readFields(inv);
    if (!patch)
        return inv.exitCode();
    if (patch->isEmpty())
        return inv.usageError(QStringLiteral("nothing to change: give at least one field option"));
    const std::optional<qint64> id = inv.resolveModel(inv.arg(0));
    if (!id)
        return inv.exitCode();
    UpdateModelJob job(&inv.client(), *id, *patch);
    if (!inv.run(job))
        return inv.exitCode();
    inv.printRecord(job.object(), modelRecord());
    return kExitOk;
}

int remove(Invocation &inv)
{
    const std::optional<qint64> id = inv.resolveModel(inv.arg(0));
    if (!id)
        return inv.exitCode();
    DeleteModelJob job(&inv.client(), *id);
    if (!inv.run(job))
        return inv.exitCode();
    inv.printRecord(job.object(), modelRecord());
    return kExitOk;
}

} // namespace

QList<Verb> ModelCommand::verbs() const
{
    const QString fields = QStringLiteral(
        "[--upstream-model M] [--capabilities chat,embeddings,…] [--weight W] [--enabled true|false] "
        "[--input-price X] [--cached-input-price X] [--output-price X] [--image-price X] [--speech-price X] "
        "[--transcription-price X]");
    return {
        {QStringLiteral("list"), QStringLiteral("list [--upstream U] [--name N] [--page N] [--page-size N] [--all]"),
         QStringLiteral("catalog rows, optionally of one upstream or one public name"),
         kPaging + QStringList{QStringLiteral("upstream"), QStringLiteral("name")}, 0, 0, list},
        {QStringLiteral("show"),
         QStringLiteral("show MODEL"),
         QStringLiteral("one model, by id or unique name"),
         {},
         1,
         1,
         show},
        {QStringLiteral("add"), QString(QStringLiteral("add --name N --upstream U ") + fields),
         QStringLiteral("add a model (prices per 1M tokens / image / 1M characters / minute)"), fieldOptions(), 0, 0,
         add},
        {QStringLiteral("update"), QString(QStringLiteral("update MODEL [--name N] [--upstream U] ") + fields),
         QStringLiteral("change a model"), fieldOptions(), 1, 1, update},
        {QStringLiteral("delete"), QStringLiteral("delete MODEL"), QStringLiteral("delete a model"), {}, 1, 1, remove},
    };
}

} // namespace llmpool::console
