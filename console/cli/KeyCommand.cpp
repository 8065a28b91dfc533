// `key list|show|add|update|rotate|revoke` (SPEC §4, §9). `add` and `rotate` print only the
// plaintext key in table mode (KEY=$(llmpool-ctl key add alice) works); with --format json the
// whole key object, plaintext in "key". The plaintext is printed once and kept nowhere.

#include "cli/Command.h"

namespace llmpool::console {

namespace {

const QStringList kPaging{QStringLiteral("page"), QStringLiteral("page-size"), QStringLiteral("all")};
const QStringList kLimits{QStringLiteral("name"), QStringLiteral("expires"), QStringLiteral("models"),
                          QStringLiteral("rpm"),  QStringLiteral("tpm"),     QStringLiteral("spend-limit")};

QList<Column> keyColumns()
{
    return {{QStringLiteral("ID"), QStringLiteral("id")},
            {QStringLiteral("USER"), QStringLiteral("user_id")},
            {QStringLiteral("NAME"), QStringLiteral("name")},
            {QStringLiteral("PREFIX"), QStringLiteral("prefix")},
            {QStringLiteral("ENABLED"), QStringLiteral("enabled")},
            {QStringLiteral("EXPIRES"), QStringLiteral("expires_at")},
            {QStringLiteral("MODELS"), QStringLiteral("allowed_models")},
            {QStringLiteral("RPM"), QStringLiteral("rpm_limit")},
            {QStringLiteral("TPM"), QStringLiteral("tpm_limit")},
            {QStringLiteral("SPEND LIMIT"), QStringLiteral("spend_limit")},
            {QStringLiteral("LAST USED"), QStringLiteral("last_used_at")},
            {QStringLiteral("CREATED"), QStringLiteral("created_at")}};
}

bool isNone(const QString &text)
{
    return text.isEmpty() || text == QLatin1String("none");
}

// The key fields from the command line. On update, "none" (or "") clears a limit.
std::optional<QJsonObject> readLimits(Invocation &inv, bool update)
{
    const ParsedArgs &a = inv.args();
    QJsonObject body;
    if (const std::optional<QString> name = a.value(QStringLiteral("name")))
        body.insert(QStringLiteral("name"), *name);
    if (const std::optional<QString> expires = a.value(QStringLiteral("expires"))) {
        if (update && isNone(*expires)) {
            body.insert(QStringLiteral("expires_at"), QJsonValue::Null);
        } else {
            const std::optional<QDateTime> time = inv.timeOption(QStringLiteral("expires"));
            if (!time)
                return std::nullopt;
            body.insert(QStringLiteral("expires_at"), time->toString(Qt::ISODateWithMs));
        }
    }
    if (const std::optional<QString> models = a.value(QStringLiteral("models"))) {
        if (update && isNone(*models))
            body.insert(QStringLiteral("allowed_models"), QJsonValue::Null);
        else
            body.insert(QStringLiteral("allowed_models"), QJsonArray::fromStringList(Invocation::listValue(*models)));
    }
    for (const auto &[option, field] : {std::pair{QStringLiteral("rpm"), QStringLiteral("rpm_limit")},
                                        std::pair{QStringLiteral("tpm"), QStringLiteral("tpm_limit")}}) {
        if (const std::optional<QString> value = a.value(option)) {
            if (update && isNone(*value)) {
                body.insert(field, QJsonValue::Null);
            } else {
                const std::optional<qint64> number = inv.intOption(option, 1, qint64(1) << 53);
                if (!number)
                    return std::nullopt;
                body.insert(field, *number);
            }
        }
    }
    if (const std::optional<QString> spend = a.value(QStringLiteral("spend-limit"))) {
        if (update && isNone(*spend)) {
            body.insert(QStringLiteral("spend_limit"), QJsonValue::Null);
        } else {
            const std::optional<QString> money = inv.moneyOption(QStringLiteral("spend-limit"));
            if (!money)
                return std::nullopt;
            body.insert(QStringLiteral("spend_limit"), *money);
        }
    }
    if (update && a.has(QStringLiteral("enabled"))) {
        const std::optional<bool> enabled = inv.boolOption(QStringLiteral("enabled"));
        if (!enabled)
            return std::nullopt;
        body.insert(QStringLiteral("enabled"), *enabled);
    }
    return body;
}

// Table mode: the plaintext alone, so a shell can capture it.
void printSecret(Invocation &inv, const ObjectJob<dto::ApiKey> &job)
{
    if (inv.json()) {
        Output::json(inv.io().out, job.object());
        return;
    }
    inv.io().out << job.value().key.value_or(QString()) << '\n';
}

int list(Invocation &inv)
{
    const std::optional<qint64> user = inv.resolveUser(inv.arg(0));
    if (!user)
        return inv.exitCode();
    const std::optional<QJsonObject> answer =
        inv.list([&inv, user](const PageQuery &page) { return new ListKeysJob(&inv.client(), *user, page); });
    if (!answer)
        return inv.exitCode();
    inv.printList(*answer, keyColumns());
    return kExitOk;
}

int show(Invocation &inv)
{
    const std::optional<qint64> id = inv.parseId(inv.arg(0), QStringLiteral("KEY_ID"));
    if (!id)
        return kExitUsage;
    GetKeyJob job(&inv.client(), *id);
    if (!inv.run(job))
        return inv.exitCode();
    inv.printRecord(job.object(), keyColumns());
    return kExitOk;
}

int add(Invocation &inv)
{
    const std::optional<QJsonObject> body = readLimits(inv, false);
    if (!body)
        return kExitUsage;
    const std::optional<qint64> user = inv.resolveUser(inv.arg(0));
    if (!user)
        return inv.exitCode();
    CreateKeyJob job(&inv.client(), *user, *body);
    if (!inv.run(job))
        return inv.exitCode();
    printSecret(inv, job);
    return kExitOk;
}

int update(Invocation &inv)
{
    const std::optional<qint64> id = inv.parseId(inv.arg(0), QStringLiteral("KEY_ID"));
    if (!id)
        return kExitUsage;
    const std::optional<QJsonObject> patch = readLimits(inv, true);
    if (!patch)
        return kExitUsage;
    if (patch->isEmpty())
        return inv.usageError(QStringLiteral("nothing to change: give --name, --enabled, --expires, --models, --rpm, "
                                             "--tpm or --spend-limit"));
    UpdateKeyJob job(&inv.client(), *id, *patch);
    if (!inv.run(job))
        return inv.exitCode();
    inv.printRecord(job.object(), keyColumns());
    return kExitOk;
}

int rotate(Invocation &inv)
{
    const std::optional<qint64> id = inv.parseId(inv.arg(0), QStringLiteral("KEY_ID"));
    if (!id)
        return kExitUsage;
    RotateKeyJob job(&inv.client(), *id);
    if (!inv.run(job))
        return inv.exitCode();
    printSecret(inv, job);
    return kExitOk;
}

int revoke(Invocation &inv)
{
    const std::optional<qint64> id = inv.parseId(inv.arg(0), QStringLiteral("KEY_ID"));
    if (!id)
        return kExitUsage;
    RevokeKeyJob job(&inv.client(), *id);
    if (!inv.run(job))
        return inv.exitCode();
    inv.printRecord(job.object(), keyColumns());
    return kExitOk;
}

} // namespace

QList<Verb> KeyCommand::verbs() const
{
    return {
        {QStringLiteral("list"), QStringLiteral("list USER [--page N] [--page-size N] [--all]"),
         QStringLiteral("a user's keys (never their secrets)"), kPaging, 1, 1, list},
        {QStringLiteral("show"), QStringLiteral("show KEY_ID"), QStringLiteral("one key"), {}, 1, 1, show},
        {QStringLiteral("add"),
         QStringLiteral("add USER [--name N] [--expires RFC3339] [--models a,b] [--rpm N] [--tpm N] [--spend-limit X]"),
         QStringLiteral("create a key; prints only the key (sk-lp-…), shown this once"), kLimits, 1, 1, add},
        {QStringLiteral("update"),
         QStringLiteral("update KEY_ID [--name N] [--enabled true|false] [--expires RFC3339|none] [--models a,b|none] "
                        "[--rpm N|none] [--tpm N|none] [--spend-limit X|none]"),
         QStringLiteral("change a key's name, state or limits"), kLimits + QStringList{QStringLiteral("enabled")}, 1, 1,
         update},
        {QStringLiteral("rotate"),
         QStringLiteral("rotate KEY_ID"),
         QStringLiteral("new secret, same id; the old one stops working at once; prints only the new key"),
         {},
         1,
         1,
         rotate},
        {QStringLiteral("revoke"),
         QStringLiteral("revoke KEY_ID"),
         QStringLiteral("stop a key for good"),
         {},
         1,
         1,
         revoke},
    };
}

} // namespace llmpool::console
