#pragma once

// ChildProcess: fork/exec of the test servers with exactly the controls the harness needs and
// QProcess does not offer in one place: run as the `postgres` account when we are root (initdb
// and postgres refuse to run as root), die with the test (PR_SET_PDEATHSIG) or outlive it (own
// session, for the ctest fixture), output appended to a log file, and no inherited descriptors
// (an inherited ctest pipe would make ctest wait for a daemon to exit). Static helpers; any thread.
//
// PR_SET_PDEATHSIG fires when the *thread* that forked exits: spawn servers from a thread that
// lives as long as they should (the main thread in tests).

#include "Result.h"

#include <QString>
#include <QStringList>

#include <optional>

namespace llmpool::test {

class ChildProcess
{
public:
    struct Options
    {
        QString program; // absolute path
        QStringList arguments;
        QString workingDirectory;    // must be reachable by the account the child runs as
        QString logFile;             // stdout and stderr, appended; stdin is /dev/null
        bool asPostgresUser = false; // only takes effect when we run as root
        bool detached = false;       // new session and no parent-death signal: survives us
    };

    // Starts the program; returns its pid. The child is ours to reap (wait()/reap()).
    static Result<qint64> spawn(const Options &options);

    // Runs to completion (initdb): the exit code, or an error on timeout (the child is killed).
    static Result<int> run(const Options &options, int timeoutMs);

    // For our own child: its exit status if it has exited (reaps it), nullopt while it runs.
    static std::optional<int> reap(qint64 pid);
    // Exists and is not a zombie (works for any process, child or not).
    static bool isAlive(qint64 pid);
    // Sends `signal`, waits up to timeoutMs for the process to go, then SIGKILLs it. Reaps it if
    // it is our child. True when it is gone.
    static bool terminate(qint64 pid, int signal, int timeoutMs, bool ourChild);

    static bool runningAsRoot();
    // uid/gid of the `postgres` account.
    static std::optional<std::pair<uint, uint>> postgresAccount();
    // chown -R to the postgres account (a no-op unless root).
    static Status giveToPostgres(const QString &path);
    // /proc/PID/cmdline joined by spaces (empty if unreadable).
    static QString commandLine(qint64 pid);
    // Whether a live pid is still one of our servers for `dir` and not a recycled pid: its working
    // directory (we chdir there) or its command line is inside `dir`. Redis rewrites its command
    // line, hence the working directory.
    static bool belongsTo(qint64 pid, const QString &dir);
};

} // namespace llmpool::test
