#pragma once

// What a CLI command reads and writes, injected (KeePassXC's Utils::STDOUT/STDERR/STDIN, made
// explicit): main() passes the process's streams, tests pass QStrings. `env` replaces the process
// environment (LLMPOOL_URL, LLMPOOL_TOKEN, XDG_CONFIG_HOME, HOME).

#include <QProcessEnvironment>
#include <QTextStream>

namespace llmpool::console {

struct CliIo
{
    QTextStream &out;
    QTextStream &err;
    QTextStream &in;
    QProcessEnvironment env;
    // stdin is a terminal: prompt for secrets on stderr and do not echo them.
    bool interactive = false;
};

// Exit codes (SPEC §9 console CLI): the same for every command.
enum ExitCode : int {
    kExitOk = 0,
    kExitRefused = 1, // the server refused the request (4xx), or what was asked for does not exist
    kExitUsage = 2,   // bad command line, or nothing to connect with
    kExitFailure = 3, // no connection, timeout, server failure (5xx), unreadable answer, keychain failure
};

} // namespace llmpool::console
