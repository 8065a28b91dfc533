#include "cli/BillingCommands.h"

#include "storage/Database.h"
#include "storage/WalletRepository.h"

#include <QCommandLineParser>
#include <QSet>

namespace llmpool::gateway {

namespace {

// `reconcile` must tell "the books are wrong" (1) from "the books could not be read" (3), so a
// monitoring script does not page the finance team for a database restart.
constexpr int kExitNotChecked = 3;

// A user name is the operator's text: keep a hostile one from forging report lines.
QString printable(const QString &text)
{
    QString out = text;
    for (QChar &c : out) {
        if (c.category() == QChar::Other_Control || c == QChar::LineSeparator || c == QChar::ParagraphSeparator)
            c = u'?';
    }
    return out;
}

class ReconcileCommand : public Command
{
public:
    ReconcileCommand()
        : Command(QStringLiteral("reconcile"),
                  QStringLiteral("Check wallet = sum of the ledger for every user. Exit 0: no drift; 1: drift "
                                 "(printed); 3: the database could not be checked."))
    {
    }

    int execute(const QStringList &args, CliContext &ctx) override
    {
        QCommandLineParser parser;
        if (const int rc = parse(parser, args, ctx); rc >= 0) {
            return rc;
        }
        if (!parser.positionalArguments().isEmpty()) {
            return ctx.usage(QStringLiteral("reconcile takes no arguments"));
        }
        auto config = ctx.loadConfig();
        if (!config) {
            return ctx.fail(config.error());
        }
        // No statement timeout: a large ledger may take a while, and this is an operator's check.
        auto db = openCliDatabase(*config, QStringLiteral("llmpool-reconcile"), 0);
        if (!db) {
            ctx.fail(db.error());
            return kExitNotChecked;
        }
        auto report =
            (*db)->runSync([](QSqlDatabase &conn) { return WalletRepository::reconcile(conn); }, JobRetry::Idempotent);
        (*db)->stop();
        if (!report) {
            ctx.fail(report.error());
            return kExitNotChecked;
        }
        if (report->drifts.isEmpty()) {
            ctx.out << "ok: " << report->wallets << " wallets match the ledger" << Qt::endl;
            return ExitOk;
        }
        QSet<qint64> users;
        for (const WalletDrift &d : report->drifts) {
            users.insert(d.userId);
            ctx.out << "drift: user " << d.userId << " (" << printable(d.userName) << "): ";
            if (d.entryId == 0) {
                ctx.out << d.field << ": wallet " << d.actual << ", ledger " << d.expected;
            } else {
                ctx.out << "ledger entry " << d.entryId << ": " << d.field << " recorded " << d.actual
                        << ", replay gives " << d.expected;
            }
            ctx.out << '\n';
        }
        if (report->truncated) {
            ctx.out << "(only the first " << report->drifts.size() << " differences are shown)\n";
        }
        ctx.out << "drift found for " << users.size() << (report->truncated ? "+" : "") << " of " << report->wallets
                << " wallets" << Qt::endl;
        return ExitFailure;
    }
};

} // namespace

std::unique_ptr<CommandGroup> makeBillingCommands()
{
    auto group = std::make_unique<CommandGroup>(QStringLiteral("billing"),
                                                QStringLiteral("Billing checks: wallets against the ledger."));
    group->add(std::make_unique<ReconcileCommand>());
    return group;
}

} // namespace llmpool::gateway
