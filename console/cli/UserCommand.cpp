// `user list|show|add|update|disable` (SPEC §9).

#include "cli/Command.h"

namespace llmpool::console {

namespace {

const QStringList kPaging{QStringLiteral("page"), QStringLiteral("page-size"), QStringLiteral("all")};

QList<Column> userColumns()
{
    return {{QStringLiteral("ID"), QStringLiteral("id")},
            {QStringLiteral("NAME"), QStringLiteral("name")},
            {QStringLiteral("EMAIL"), QStringLiteral("email")},
            {QStringLiteral("ENABLED"), QStringLiteral("enabled")},
            {QStringLiteral("CREATED"), QStringLiteral("created_at")}};
}

QList<Column> userRecord()
{
    QList<Column> columns = userColumns();
    columns.append({QStringLiteral("UPDATED"), QStringLiteral("updated_at")});
    return columns;
}

int list(Invocation &inv)
{
    const QString search = inv.args().value(QStringLiteral("search")).value_or(QString());
    const std::optional<QJsonObject> answer =
        inv.list([&inv, search](const PageQuery &page) { return new ListUsersJob(&inv.client(), page, search); });
    if (!answer)
        return inv.exitCode();
    inv.printList(*answer, userColumns());
    return kExitOk;
}

int show(Invocation &inv)
{
    const std::optional<qint64> id = inv.resolveUser(inv.arg(0));
    if (!id)
        return inv.exitCode();
    GetUserJob job(&inv.client(), *id);
    if (!inv.run(job))
        return inv.exitCode();
    inv.printRecord(job.object(), userRecord());
    return kExitOk;
}

int add(Invocation &inv)
{
    QJsonObject body{{QStringLiteral("name"), inv.arg(0)}};
    if (const std::optional<QString> email = inv.args().value(QStringLiteral("email")))
        body.insert(QStringLiteral("email"), email->isEmpty() ? QJsonValue::Null : QJsonValue(*email));
    CreateUserJob job(&inv.client(), body);
    if (!inv.run(job))
        return inv.exitCode();
    inv.printRecord(job.object(), userRecord());
    return kExitOk;
}

int update(Invocation &inv)
{
    QJsonObject patch;
    if (const std::optional<QString> name = inv.args().value(QStringLiteral("name")))
        patch.insert(QStringLiteral("name"), *name);
    if (const std::optional<QString> email = inv.args().value(QStringLiteral("email")))
        patch.insert(QStringLiteral("email"), email->isEmpty() ? QJsonValue::Null : QJsonValue(*email));
    if (inv.args().has(QStringLiteral("enabled"))) {
        const std::optional<bool> enabled = inv.boolOption(QStringLiteral("enabled"));
        if (!enabled)
            return kExitUsage;
        patch.insert(QStringLiteral("enabled"), *enabled);
    }
    if (patch.isEmpty())
        return inv.usageError(QStringLiteral("nothing to change: give --name, --email or --enabled"));
    const std::optional<qint64> id = inv.resolveUser(inv.arg(0));
    if (!id)
        return inv.exitCode();
    UpdateUserJob job(&inv.client(), *id, patch);
    if (!inv.run(job))
        return inv.exitCode();
    inv.printRecord(job.object(), userRecord());
    return kExitOk;
}

int disable(Invocation &inv)
{
    const std::optional<qint64> id = inv.resolveUser(inv.arg(0));
    if (!id)
        return inv.exitCode();
    DisableUserJob job(&inv.client(), *id);
    if (!inv.run(job))
        return inv.exitCode();
    inv.printRecord(job.object(), userRecord());
    return kExitOk;
}

} // namespace

QList<Verb> UserCommand::verbs() const
{
    return {
        {QStringLiteral("list"), QStringLiteral("list [--search TEXT] [--page N] [--page-size N] [--all]"),
         QStringLiteral("list users (name or email containing TEXT)"), kPaging + QStringList{QStringLiteral("search")},
         0, 0, list},
        {QStringLiteral("show"),
         QStringLiteral("show USER"),
         QStringLiteral("one user, by id or name"),
         {},
         1,
         1,
         show},
        {QStringLiteral("add"),
         QStringLiteral("add NAME [--email E]"),
         QStringLiteral("create a user"),
         {QStringLiteral("email")},
         1,
         1,
         add},
        {QStringLiteral("update"),
         QStringLiteral("update USER [--name N] [--email E] [--enabled true|false]"),
         QStringLiteral("change a user (--email '' clears it)"),
         {QStringLiteral("name"), QStringLiteral("email"), QStringLiteral("enabled")},
         1,
         1,
         update},
        {QStringLiteral("disable"),
         QStringLiteral("disable USER"),
         QStringLiteral("disable a user (their keys stop working; the ledger stays)"),
         {},
         1,
         1,
         disable},
    };
}

} // namespace llmpool::console
