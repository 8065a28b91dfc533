#include "ChildProcess.h"

#include <QDirIterator>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QThread>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <string>
#include <vector>

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace llmpool::test {

namespace {

Error failure(const QString &message)
{
    return Error::internal(QStringLiteral("test_services"), message);
}

// Between fork() and exec() only async-signal-safe calls are allowed: everything the child needs
// is prepared before fork().
[[noreturn]] void childExec(const std::vector<char *> &argv, const char *program, const char *logFile,
                            const char *workingDirectory, bool asPostgres, uid_t uid, gid_t gid, bool detached,
                            pid_t parent)
{
    if (detached)
        setsid();

    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGCHLD, SIGUSR1, SIGUSR2})
        signal(sig, SIG_DFL);

    const int in = open("/dev/null", O_RDONLY);
    const int out = open(logFile, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (in < 0 || out < 0)
        _exit(125);
    dup2(in, 0);
    dup2(out, 1);
    dup2(out, 2);
    // No other descriptor may leak into a server (test sockets, ctest's output pipe).
    if (syscall(SYS_close_range, 3U, ~0U, 0U) != 0) {
        struct rlimit limit
        {
        };
        const long max =
            getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY ? long(limit.rlim_cur) : 65536L;
        for (long fd = 3; fd < max; ++fd)
            close(int(fd));
    }

    if (asPostgres) {
        if (setgroups(1, &gid) != 0 || setgid(gid) != 0 || setuid(uid) != 0)
            _exit(126);
    }
    if (!detached) {
        // After setuid: a credential change clears the parent-death signal.
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1); // the test died before we got here
    }
    if (workingDirectory[0] != '\0' && chdir(workingDirectory) != 0)
        _exit(125);
    execv(program, argv.data());
    _exit(127);
}

} // namespace

Result<qint64> ChildProcess::spawn(const Options &options)
{
    std::vector<std::string> storage;
    storage.push_back(options.program.toStdString());
    for (const QString &arg : options.arguments)
        storage.push_back(arg.toStdString());
    std::vector<char *> argv;
    for (std::string &s : storage)
        argv.push_back(s.data());
    argv.push_back(nullptr);
    const std::string program = options.program.toStdString();
    const std::string logFile = options.logFile.isEmpty() ? std::string("/dev/null") : options.logFile.toStdString();
    const std::string workingDirectory = options.workingDirectory.toStdString();

    const bool asPostgres = options.asPostgresUser && runningAsRoot();
    uid_t uid = 0;
    gid_t gid = 0;
    if (asPostgres) {
        const auto account = postgresAccount();
        if (!account)
            return failure(QStringLiteral("running as root, but there is no `postgres` account to run %1 as")
                               .arg(options.program));
        uid = account->first;
        gid = account->second;
    }

    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid < 0)
        return failure(QStringLiteral("fork failed: %1").arg(QString::fromLocal8Bit(strerror(errno))));
    if (pid == 0)
        childExec(argv, program.c_str(), logFile.c_str(), workingDirectory.c_str(), asPostgres, uid, gid,
                  options.detached, parent);
    return qint64(pid);
}

Result<int> ChildProcess::run(const Options &options, int timeoutMs)
{
    Result<qint64> pid = spawn(options);
    if (!pid)
        return pid.takeError();
    QElapsedTimer timer;
    timer.start();
    while (timer.elapsed() < timeoutMs) {
        if (const auto status = reap(*pid))
            return *status;
        QThread::msleep(20);
    }
    terminate(*pid, SIGKILL, 5'000, true);
    return failure(QStringLiteral("%1 did not finish within %2 ms").arg(options.program).arg(timeoutMs));
}

std::optional<int> ChildProcess::reap(qint64 pid)
{
    int status = 0;
    const pid_t r = waitpid(pid_t(pid), &status, WNOHANG);
    if (r == 0)
        return std::nullopt;
    if (r < 0)
        return -1; // not our child (or already reaped): treat as gone
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

bool ChildProcess::isAlive(qint64 pid)
{
    if (pid <= 0 || kill(pid_t(pid), 0) != 0)
        return errno == EPERM; // exists but not ours to signal
    // A zombie (exited, parent has not reaped it) still answers kill(pid, 0).
    QFile stat(QStringLiteral("/proc/%1/stat").arg(pid));
    if (!stat.open(QIODevice::ReadOnly))
        return true;
    const QByteArray text = stat.readAll();
    const qsizetype close = text.lastIndexOf(')');
    return !(close > 0 && close + 2 < text.size() && text.at(close + 2) == 'Z');
}

bool ChildProcess::terminate(qint64 pid, int sig, int timeoutMs, bool ourChild)
{
    if (pid <= 0)
        return true;
    auto gone = [&] { return ourChild ? reap(pid).has_value() : !isAlive(pid); };
    if (gone())
        return true;
    kill(pid_t(pid), sig);
    QElapsedTimer timer;
    timer.start();
    while (timer.elapsed() < timeoutMs) {
        if (gone())
            return true;
        QThread::msleep(10);
    }
    kill(pid_t(pid), SIGKILL);
    timer.restart();
    while (timer.elapsed() < 5'000) {
        if (gone())
            return true;
        QThread::msleep(10);
    }
    return false;
}

bool ChildProcess::runningAsRoot()
{
    return geteuid() == 0;
}

std::optional<std::pair<uint, uint>> ChildProcess::postgresAccount()
{
    struct passwd pw
    {
    };
    struct passwd *result = nullptr;
    char buffer[4096];
    if (getpwnam_r("postgres", &pw, buffer, sizeof buffer, &result) != 0 || !result)
        return std::nullopt;
    return std::pair<uint, uint>(result->pw_uid, result->pw_gid);
}

Status ChildProcess::giveToPostgres(const QString &path)
{
    if (!runningAsRoot())
        return Ok{};
    const auto account = postgresAccount();
    if (!account)
        return failure(QStringLiteral("running as root, but there is no `postgres` account"));
    auto chownOne = [&](const QString &p) {
        return lchown(QFile::encodeName(p).constData(), account->first, account->second) == 0;
    };
    if (!chownOne(path))
        return failure(QStringLiteral("cannot chown %1: %2").arg(path, QString::fromLocal8Bit(strerror(errno))));
    QDirIterator it(path, QDir::AllEntries | QDir::Hidden | QDir::System | QDir::NoDotAndDotDot,
                    QDirIterator::Subdirectories);
    while (it.hasNext()) {
        if (!chownOne(it.next()))
            return failure(QStringLiteral("cannot chown %1").arg(it.filePath()));
    }
    return Ok{};
}

QString ChildProcess::commandLine(qint64 pid)
{
    QFile file(QStringLiteral("/proc/%1/cmdline").arg(pid));
    if (!file.open(QIODevice::ReadOnly))
        return {};
    QByteArray text = file.readAll();
    text.replace('\0', ' ');
    return QString::fromLocal8Bit(text).trimmed();
}

bool ChildProcess::belongsTo(qint64 pid, const QString &dir)
{
    if (dir.isEmpty() || !isAlive(pid))
        return false;
    const QString cwd = QFileInfo(QStringLiteral("/proc/%1/cwd").arg(pid)).symLinkTarget();
    return cwd == dir || cwd.startsWith(dir + QLatin1Char('/')) || commandLine(pid).contains(dir);
}

} // namespace llmpool::test
