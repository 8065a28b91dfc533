#include "cli/Cli.h"

#include "cli/Command.h"
#include "session/TokenStore.h"

#include <QFileInfo>

namespace llmpool::console {

namespace {

const char *const kGlobalHelp =
    "Options for every command (anywhere on the line):\n"
    "  --url URL              the gateway (else LLMPOOL_URL, else the profile's)\n"
    "  --token TOKEN          an admin JWT (else LLMPOOL_TOKEN, else the profile's, from the keychain)\n"
    "  --profile NAME         use this saved profile instead of the current one\n"
    "  --format table|json    tables for people (default), JSON for scripts\n"
    "  --timeout SECONDS      give up on an answer after this long (default 30; detect 300)\n"
    "  --help                 help for a command or verb\n"
    "Lists take --page N, --page-size N (at most 100) and --all (every page).\n"
    "Users and upstreams are given by id or name; a request id defaults to a fresh UUID.\n"
    "Exit codes: 0 ok, 1 refused by the server (4xx) or not found, 2 usage error, 3 connection or server failure.\n";

const Command *findCommand(const std::vector<std::unique_ptr<Command>> &commands, const QString &name)
{
    for (const auto &c : commands) {
        if (c->name() == name)
            return c.get();
    }
    return nullptr;
}

void printCommandHelp(QTextStream &out, const QString &program, const Command &command)
{
    out << command.name() << ": " << command.summary() << "\n\nUsage:\n";
    for (const Verb &verb : command.verbs()) {
        out << "  " << program << ' ' << command.name();
        if (!verb.synopsis.isEmpty())
            out << ' ' << verb.synopsis;
        out << "\n      " << verb.summary << '\n';
    }
    out << '\n' << kGlobalHelp;
}

} // namespace

std::vector<std::unique_ptr<Command>> allCommands()
{
    std::vector<std::unique_ptr<Command>> commands;
    commands.push_back(std::make_unique<UserCommand>());
    commands.push_back(std::make_unique<WalletCommand>());
    commands.push_back(std::make_unique<KeyCommand>());
    commands.push_back(std::make_unique<UpstreamCommand>());
    commands.push_back(std::make_unique<ModelCommand>());
    commands.push_back(std::make_unique<UsageCommand>());
    commands.push_back(std::make_unique<AuditCommand>());
    commands.push_back(std::make_unique<StatusCommand>());
    commands.push_back(std::make_unique<OpenApiCommand>());
    commands.push_back(std::make_unique<ProfileCommand>());
    commands.push_back(std::make_unique<LoginCommand>());
    return commands;
}

Cli::Cli() = default;
Cli::~Cli() = default;

void Cli::printHelp(QTextStream &out, const QString &program)
{
    out << "Usage: " << program << " COMMAND [VERB] [ARGS] [OPTIONS]\n\n"
        << "The LLMPool admin console's command line (the same as llmpool-ctl).\n\nCommands:\n";
    for (const auto &c : allCommands())
        out << "  " << c->name().leftJustified(10) << c->summary() << '\n';
    out << "\nRun '" << program << " COMMAND --help' for a command's verbs.\n\n" << kGlobalHelp;
}

int Cli::run(const QStringList &arguments, CliIo &io)
{
    const QString program =
        arguments.isEmpty() ? QStringLiteral("llmpool-ctl") : QFileInfo(arguments.first()).fileName();
    auto usage = [&](const QString &message, const QString &hint) {
        io.err << program << ": " << message << '\n';
        if (!hint.isEmpty())
            io.err << "Try '" << program << (hint == QLatin1String("-") ? QString() : QString(QLatin1Char(' ') + hint))
                   << " --help'.\n";
        io.err.flush();
        return int(kExitUsage);
    };

    Result<ParsedArgs> parsed = ArgParser::parse(arguments.mid(1));
    if (!parsed)
        return usage(parsed.error().message, QStringLiteral("-"));
    ParsedArgs args = std::move(*parsed);
    const bool help = args.has(QStringLiteral("help"));

    if (args.positionals.isEmpty()) {
        if (help) {
            printHelp(io.out, program);
            io.out.flush();
            return kExitOk;
        }
        return usage(QStringLiteral("no command given"), QStringLiteral("-"));
    }
    const std::vector<std::unique_ptr<Command>> commands = allCommands();
    const QString commandName = args.positionals.takeFirst();
    const Command *command = findCommand(commands, commandName);
    if (!command)
        return usage(QStringLiteral("unknown command \"%1\"").arg(commandName), QStringLiteral("-"));

    const QList<Verb> verbs = command->verbs();
    const Verb *verb = nullptr;
    if (verbs.size() == 1 && verbs.first().name.isEmpty()) {
        verb = &verbs.first();
    } else {
        if (args.positionals.isEmpty()) {
            if (help) {
                printCommandHelp(io.out, program, *command);
                io.out.flush();
                return kExitOk;
            }
            QStringList names;
            for (const Verb &v : verbs)
                names.append(v.name);
            return usage(QStringLiteral("%1 needs a verb: %2").arg(command->name(), names.join(QLatin1Char('|'))),
                         command->name());
        }
        const QString verbName = args.positionals.takeFirst();
        for (const Verb &v : verbs) {
            if (v.name == verbName)
                verb = &v;
        }
        if (!verb)
            return usage(QStringLiteral("%1 has no verb \"%2\"").arg(command->name(), verbName), command->name());
    }
    const QString commandLine =
        verb->name.isEmpty() ? command->name() : QString(command->name() + QLatin1Char(' ') + verb->name);

    if (help) {
        io.out << "Usage: " << program << ' ' << commandLine;
        if (!verb->synopsis.isEmpty()) {
            // The synopsis repeats the verb's name first; show it once.
            QString synopsis = verb->synopsis;
            if (!verb->name.isEmpty() && synopsis.startsWith(verb->name))
                synopsis = synopsis.mid(verb->name.size()).trimmed();
            if (!synopsis.isEmpty())
                io.out << ' ' << synopsis;
        }
        io.out << "\n" << verb->summary << "\n\n" << kGlobalHelp;
        io.out.flush();
        return kExitOk;
    }
    if (const std::optional<QString> bad = args.firstNotAllowed(verb->options))
        return usage(QStringLiteral("%1 takes no option --%2").arg(commandLine, *bad), commandLine);
    if (args.positionals.size() < verb->minArgs)
        return usage(QStringLiteral("%1: missing argument (%2)").arg(commandLine, verb->synopsis), commandLine);
    if (args.positionals.size() > verb->maxArgs)
        return usage(
            QStringLiteral("%1: unexpected argument \"%2\"").arg(commandLine, args.positionals.at(verb->maxArgs)),
            commandLine);

    if (!m_tokens) {
        m_keychain = std::make_unique<KeychainTokenStore>();
        m_tokens = m_keychain.get();
    }
    const QString profilePath = m_profilePath.isEmpty() ? ProfileStore::defaultPath(io.env) : m_profilePath;
    Invocation invocation(io, std::move(args), program, commandLine, m_tokens, profilePath);
    int code = invocation.readGlobalOptions();
    if (code == kExitOk && verb->needsServer)
        code = invocation.connect();
    if (code == kExitOk)
        code = verb->run(invocation);
    io.out.flush();
    io.err.flush();
    return code;
}

} // namespace llmpool::console
