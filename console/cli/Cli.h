#pragma once

// Cli: `llmpool-console COMMAND [VERB] [ARGS] [OPTIONS]` (also installed as `llmpool-ctl`). Parses
// the line, finds the command and verb, checks positionals and options, prints help, connects when
// the verb needs a server, and runs it with injected stdio. Returns the exit code (cli/CliIo.h).
//
// The token store defaults to the system keychain; tests pass their own. The profile file defaults
// to the XDG location derived from the injected environment.
//
// Thread: the main thread, inside a QCoreApplication (jobs and keychain calls need its loop).

#include "cli/CliIo.h"

#include <QString>
#include <QStringList>

#include <memory>

namespace llmpool::console {

class Command;
class TokenStore;

class Cli
{
public:
    Cli();
    ~Cli();

    // Not owned; must outlive run().
    void setTokenStore(TokenStore *store) { m_tokens = store; }
    void setProfilePath(const QString &path) { m_profilePath = path; }

    // arguments[0] is the program (its file name is used in messages).
    int run(const QStringList &arguments, CliIo &io);

    // The commands' overview (`--help`).
    static void printHelp(QTextStream &out, const QString &program);

private:
    TokenStore *m_tokens = nullptr;
    std::unique_ptr<TokenStore> m_keychain;
    QString m_profilePath;
};

} // namespace llmpool::console
