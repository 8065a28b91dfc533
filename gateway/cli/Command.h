#pragma once

// Command objects for the `llmpool` executable (after KeePassXC's src/cli/Command.h): one class per
// subcommand, each parsing its own flags and writing only to the streams in its CliContext, so that
// tests drive commands with injected stdin/stdout/stderr. Commands run on the main thread; `serve`
// and `worker` enter the event loop themselves, the others are short synchronous programs.

#include "Config.h"
#include "Result.h"

#include <QProcessEnvironment>
#include <QString>
#include <QStringList>
#include <QTextStream>

#include <memory>
#include <vector>

class QCommandLineParser;

namespace llmpool::gateway {

class Database;

enum ExitCode : int {
    ExitOk = 0,
    ExitFailure = 1, // the command ran and failed (database down, user unknown, …)
    ExitUsage = 2,   // bad flags or bad configuration
};

struct CliContext
{
    QTextStream &out;
    QTextStream &err;
    QTextStream &in;
    QProcessEnvironment env;
    QString configPath; // --config, wherever it stood on the line; empty when absent

    // Loads and validates the configuration once (SPEC §2 order); errors are printed by the caller.
    Result<Config> loadConfig() const;
    // Prints "llmpool: <message>" on stderr and returns the exit code for the error.
    int fail(const Error &error) const;
    int usage(const QString &message) const;
};

// A one-connection pool for a command-line tool, started; runSync() from the main thread is its
// intended use. `statementTimeoutMs` 0 lifts the server-side limit (migrations may run long).
Result<std::unique_ptr<Database>> openCliDatabase(const Config &config, const QString &applicationName,
                                                  int statementTimeoutMs = 30'000);

class Command
{
public:
    Command(QString name, QString summary);
    virtual ~Command();

    const QString &name() const { return m_name; }
    const QString &summary() const { return m_summary; }

    // args[0] is the command's own path ("admin create-user"); the rest are its arguments.
    virtual int execute(const QStringList &args, CliContext &ctx) = 0;

protected:
    // Parses args with `parser` (adds --help). Returns -1 to go on, or the exit code to return now
    // (help printed: 0; a bad flag: 2 with the parser's message on stderr).
    int parse(QCommandLineParser &parser, const QStringList &args, CliContext &ctx) const;

private:
    QString m_name;
    QString m_summary;
};

// A command made of subcommands: `llmpool admin create-user …`.
class CommandGroup : public Command
{
public:
    CommandGroup(QString name, QString summary);
    void add(std::unique_ptr<Command> command);
    int execute(const QStringList &args, CliContext &ctx) override;
    QString helpText(const QString &path) const;

private:
    std::vector<std::unique_ptr<Command>> m_commands;
};

// The root: `llmpool [--config PATH] <command> …`. Takes --config from anywhere on the line.
class Cli
{
public:
    Cli();
    ~Cli();
    int run(QStringList argv, CliContext &ctx);

private:
    std::unique_ptr<CommandGroup> m_root;
};

} // namespace llmpool::gateway
