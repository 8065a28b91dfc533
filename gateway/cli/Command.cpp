#include "cli/Command.h"

#include "cli/AdminCommands.h"
#include "cli/BillingCommands.h"
#include "cli/MigrateCommand.h"
#include "cli/OpenAiCommands.h"
#include "cli/SecurityCommands.h"
#include "cli/ServeCommand.h"
#include "cli/WorkerCommand.h"
#include "storage/Database.h"

#include <QCommandLineParser>
#include <QCoreApplication>

namespace llmpool::gateway {

Result<Config> CliContext::loadConfig() const
{
    return ConfigLoader::load(configPath, env);
}

int CliContext::fail(const Error &error) const
{
    err << "llmpool: " << error.message << Qt::endl;
    return error.code == QLatin1String("config_invalid") ? ExitUsage : ExitFailure;
}

int CliContext::usage(const QString &message) const
{
    err << "llmpool: " << message << Qt::endl;
    return ExitUsage;
}

Result<std::unique_ptr<Database>> openCliDatabase(const Config &config, const QString &applicationName,
                                                  int statementTimeoutMs)
{
    DatabaseOptions options;
    options.url = config.database.url;
    options.poolSize = 1;
    options.statementTimeoutMs = statementTimeoutMs;
    options.applicationName = applicationName;
    auto db = std::make_unique<Database>(options);
    if (auto started = db->start(); !started) {
        return started.takeError();
    }
    return db;
}

Command::Command(QString name, QString summary) : m_name(std::move(name)), m_summary(std::move(summary)) {}

Command::~Command() = default;

int Command::parse(QCommandLineParser &parser, const QStringList &args, CliContext &ctx) const
{
    parser.setApplicationDescription(m_summary);
    parser.setSingleDashWordOptionMode(QCommandLineParser::ParseAsLongOptions);
    const QCommandLineOption help({QStringLiteral("h"), QStringLiteral("help")}, QStringLiteral("Show this help."));
    parser.addOption(help);
    parser.addOption(QCommandLineOption(QStringLiteral("config"),
                                        QStringLiteral("Configuration file (also before the command)."),
                                        QStringLiteral("PATH")));
    // QCommandLineParser wants argv[0] to be the program: give it "llmpool <command path>".
    QStringList argv = args;
    argv[0] = QStringLiteral("llmpool ") + args.value(0);
    if (!parser.parse(argv)) {
        return ctx.usage(parser.errorText() + QStringLiteral(" (see 'llmpool ") + args.value(0) +
                         QStringLiteral(" --help')"));
    }
    if (parser.isSet(help)) {
        QString text = parser.helpText();
        text.replace(QStringLiteral("Usage: ") + QCoreApplication::applicationFilePath(),
                     QStringLiteral("Usage: llmpool"));
        ctx.out << text;
        ctx.out.flush();
        return ExitOk;
    }
    return -1;
}

CommandGroup::CommandGroup(QString name, QString summary) : Command(std::move(name), std::move(summary)) {}

void CommandGroup::add(std::unique_ptr<Command> command)
{
    m_commands.push_back(std::move(command));
}

QString CommandGroup::helpText(const QString &path) const
{
    QString text = summary() + QStringLiteral("\n\nUsage: ") + path + QStringLiteral(" <command> [options]\n\n") +
                   QStringLiteral("Commands:\n");
    qsizetype width = 0;
    for (const auto &c : m_commands) {
        width = std::max(width, c->name().size());
    }
    for (const auto &c : m_commands) {
        text += QStringLiteral("  ") + c->name().leftJustified(width + 2) + c->summary() + QLatin1Char('\n');
    }
    text += QStringLiteral("\nRun '") + path + QStringLiteral(" <command> --help' for a command's options.\n");
    return text;
}

int CommandGroup::execute(const QStringList &args, CliContext &ctx)
{
    const QString path = QStringLiteral("llmpool") + (name().isEmpty() ? QString() : QLatin1Char(' ') + args.value(0));
    const QString sub = args.value(1);
    if (sub.isEmpty() || sub == QLatin1String("--help") || sub == QLatin1String("-h") || sub == QLatin1String("help")) {
        (sub.isEmpty() ? ctx.err : ctx.out) << helpText(path);
        (sub.isEmpty() ? ctx.err : ctx.out).flush();
        return sub.isEmpty() ? ExitUsage : ExitOk;
    }
    for (const auto &c : m_commands) {
        if (c->name() == sub) {
            QStringList rest = args.mid(2);
            const QString ownPath = name().isEmpty() ? sub : args.value(0) + QLatin1Char(' ') + sub;
            rest.prepend(ownPath);
            return c->execute(rest, ctx);
        }
    }
    return ctx.usage(QStringLiteral("unknown command '") + sub + QStringLiteral("' (see '") + path +
                     QStringLiteral(" --help')"));
}

Cli::Cli()
    : m_root(std::make_unique<CommandGroup>(
          QString(), QStringLiteral("LLMPool: an OpenAI-compatible LLM gateway with built-in billing.")))
{
    m_root->add(std::make_unique<MigrateCommand>());
    m_root->add(std::make_unique<ServeCommand>());
    m_root->add(std::make_unique<WorkerCommand>());
    m_root->add(makeOpenAiCommands());
    m_root->add(makeAdminCommands());
    m_root->add(makeBillingCommands());
    m_root->add(makeSecurityCommands());
}

Cli::~Cli() = default;

int Cli::run(QStringList argv, CliContext &ctx)
{
    // SPEC §9: --config may stand before or after the subcommand. Take it out here so every
    // command sees it in ctx.configPath whatever its position.
    QStringList rest;
    rest.reserve(argv.size());
    for (qsizetype i = 0; i < argv.size(); ++i) {
        const QString &a = argv.at(i);
        if (i > 0 && (a == QLatin1String("--config") || a == QLatin1String("-config"))) {
            if (i + 1 >= argv.size()) {
                return ctx.usage(QStringLiteral("--config needs a PATH"));
            }
            ctx.configPath = argv.at(++i);
            continue;
        }
        if (i > 0 && a.startsWith(QLatin1String("--config="))) {
            ctx.configPath = a.mid(9);
            continue;
        }
        if (a == QLatin1String("--")) {
            rest += argv.mid(i);
            break;
        }
        rest += a;
    }
    if (rest.value(1) == QLatin1String("--version") || rest.value(1) == QLatin1String("version")) {
        ctx.out << "llmpool " << LLMPOOL_VERSION << Qt::endl;
        return ExitOk;
    }
    rest[0] = QString();
    return m_root->execute(rest, ctx);
}

} // namespace llmpool::gateway
