// `wallet show|deposit|withdraw|credit|ledger` (SPEC §5, §9). A movement's idempotency key is
// --request-id, or a fresh UUID: repeating a command with the same --request-id never moves money
// twice (the server answers 200 with the original entry, reported on stderr).

#include "Money.h"
#include "cli/Command.h"

#include <QUuid>

namespace llmpool::console {

namespace {

const QStringList kPaging{QStringLiteral("page"), QStringLiteral("page-size"), QStringLiteral("all")};
const QStringList kMovement{QStringLiteral("request-id"), QStringLiteral("note")};

QList<Column> walletColumns()
{
    return {{QStringLiteral("USER"), QStringLiteral("user_id")},
            {QStringLiteral("CASH"), QStringLiteral("cash")},
            {QStringLiteral("CREDIT LIMIT"), QStringLiteral("credit_limit")},
            {QStringLiteral("DEBT"), QStringLiteral("debt")},
            {QStringLiteral("RESERVED"), QStringLiteral("reserved")},
            {QStringLiteral("AVAILABLE"), QStringLiteral("available")},
            {QStringLiteral("CURRENCY"), QStringLiteral("currency")}};
}

QList<Column> ledgerColumns()
{
    return {{QStringLiteral("ID"), QStringLiteral("id")},
            {QStringLiteral("KIND"), QStringLiteral("kind")},
            {QStringLiteral("AMOUNT"), QStringLiteral("amount")},
            {QStringLiteral("CASH AFTER"), QStringLiteral("cash_after")},
            {QStringLiteral("CREDIT LIMIT AFTER"), QStringLiteral("credit_limit_after")},
            {QStringLiteral("DEBT AFTER"), QStringLiteral("debt_after")},
            {QStringLiteral("REQUEST ID"), QStringLiteral("unique_request_id")},
            {QStringLiteral("NOTE"), QStringLiteral("note")},
            {QStringLiteral("CREATED"), QStringLiteral("created_at")}};
}

int show(Invocation &inv)
{
    const std::optional<qint64> id = inv.resolveUser(inv.arg(0));
    if (!id)
        return inv.exitCode();
    GetWalletJob job(&inv.client(), *id);
    if (!inv.run(job))
        return inv.exitCode();
    inv.printRecord(job.object(), walletColumns());
    return kExitOk;
}

enum class Movement { Deposit, Withdrawal, Credit };

int move(Invocation &inv, Movement kind)
{
    const QString amountText = inv.arg(1);
    Result<Money> amount = Money::parse(amountText);
    if (!amount)
        return inv.usageError(QStringLiteral("AMOUNT: %1").arg(amount.error().message));
    if (kind != Movement::Credit && !amount->isPositive())
        return inv.usageError(QStringLiteral("AMOUNT must be greater than zero"));
    QString requestId = inv.args().value(QStringLiteral("request-id")).value_or(QString());
    if (inv.args().has(QStringLiteral("request-id")) && requestId.trimmed().isEmpty())
        return inv.usageError(QStringLiteral("--request-id must not be empty"));
    if (requestId.isEmpty())
        requestId = QUuid::createUuid().toString(QUuid::WithoutBraces);
    const QString note = inv.args().value(QStringLiteral("note")).value_or(QString());
    const std::optional<qint64> id = inv.resolveUser(inv.arg(0));
    if (!id)
        return inv.exitCode();
    std::unique_ptr<WalletMovementJob> job;
    switch (kind) {
    case Movement::Deposit:
        job = std::make_unique<DepositJob>(&inv.client(), *id, amount->toString(), requestId, note);
        break;
    case Movement::Withdrawal:
        job = std::make_unique<WithdrawalJob>(&inv.client(), *id, amount->toString(), requestId, note);
        break;
    case Movement::Credit:
        job = std::make_unique<CreditJob>(&inv.client(), *id, amount->toString(), requestId, note);
        break;
    }
    if (!inv.run(*job))
        return inv.exitCode();
    if (job->replayed())
        inv.io().err << inv.program() << ": request id " << requestId
                     << " was already applied; this is the original entry, nothing moved again\n";
    inv.printRecord(job->object(), ledgerColumns());
    return kExitOk;
}

int ledger(Invocation &inv)
{
    const std::optional<qint64> id = inv.resolveUser(inv.arg(0));
    if (!id)
        return inv.exitCode();
    const std::optional<QJsonObject> answer =
        inv.list([&inv, id](const PageQuery &page) { return new ListLedgerJob(&inv.client(), *id, page); });
    if (!answer)
        return inv.exitCode();
    inv.printList(*answer, ledgerColumns());
    return kExitOk;
}

} // namespace

QList<Verb> WalletCommand::verbs() const
{
    return {
        {QStringLiteral("show"),
         QStringLiteral("show USER"),
         QStringLiteral("cash, credit limit, debt, reserved and available"),
         {},
         1,
         1,
         show},
        {QStringLiteral("deposit"), QStringLiteral("deposit USER AMOUNT [--request-id ID] [--note TEXT]"),
         QStringLiteral("add money (repays debt first)"), kMovement, 2, 2,
         [](Invocation &inv) { return move(inv, Movement::Deposit); }},
        {QStringLiteral("withdraw"), QStringLiteral("withdraw USER AMOUNT [--request-id ID] [--note TEXT]"),
         QStringLiteral("take money out of cash"), kMovement, 2, 2,
         [](Invocation &inv) { return move(inv, Movement::Withdrawal); }},
        {QStringLiteral("credit"), QStringLiteral("credit USER AMOUNT [--request-id ID] [--note TEXT]"),
         QStringLiteral("change the credit limit by AMOUNT (may be negative)"), kMovement, 2, 2,
         [](Invocation &inv) { return move(inv, Movement::Credit); }},
        {QStringLiteral("ledger"), QStringLiteral("ledger USER [--page N] [--page-size N] [--all]"),
         QStringLiteral("every money movement, newest first"), kPaging, 1, 1, ledger},
    };
}

} // namespace llmpool::console
