#include "TestServices.h"

#include "ChildProcess.h"
#include "PgAdmin.h"
#include "SharedServices.h"

#include <QCollator>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QHash>
#include <QRandomGenerator>
#include <QSaveFile>
#include <QStandardPaths>
#include <QTextStream>
#include <QThread>
#include <QUrl>

#include <cerrno>
#include <csignal>
#include <cstring>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

namespace llmpool::test {

namespace {

const QString kDirPrefix = QStringLiteral("llmpool-test-");
constexpr int kPortAttempts = 8;

Error failure(const QString &message)
{
    return Error::internal(QStringLiteral("test_services"), message);
}

QString enc(const QString &s)
{
    return QString::fromUtf8(QUrl::toPercentEncoding(s));
}

QString randomString(int length, const char *alphabet)
{
    const int n = int(strlen(alphabet));
    QString out;
    for (int i = 0; i < length; ++i)
        out += QLatin1Char(alphabet[QRandomGenerator::system()->bounded(n)]);
    return out;
}

// A port nobody listens on right now: bind port 0 on loopback and ask which one we got.
Result<int> freePort()
{
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return failure(QStringLiteral("socket(): %1").arg(QString::fromLocal8Bit(strerror(errno))));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr *>(&addr), &len) != 0) {
        const QString error = QString::fromLocal8Bit(strerror(errno));
        close(fd);
        return failure(QStringLiteral("bind(127.0.0.1:0): %1").arg(error));
    }
    close(fd);
    return int(ntohs(addr.sin_port));
}

QString tail(const QString &path, qint64 bytes = 3000)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return {};
    if (file.size() > bytes)
        file.seek(file.size() - bytes);
    return QString::fromUtf8(file.readAll());
}

bool mentionsPortClash(const QString &log)
{
    return log.contains(QLatin1String("Address already in use")) || log.contains(QLatin1String("could not bind"));
}

QString findProgram(const QString &name, const QStringList &extraDirs = {})
{
    QString found = QStandardPaths::findExecutable(name, extraDirs);
    if (found.isEmpty())
        found = QStandardPaths::findExecutable(name);
    return found;
}

// Debian keeps initdb/postgres in /usr/lib/postgresql/<major>/bin, off PATH: take the newest.
QString postgresBinDir()
{
    const QString fromEnv = qEnvironmentVariable("LLMPOOL_PG_BINDIR");
    if (!fromEnv.isEmpty())
        return fromEnv;
    QDir root(QStringLiteral("/usr/lib/postgresql"));
    QStringList versions = root.entryList(QDir::Dirs | QDir::NoDotAndDotDot);
    QCollator collator;
    collator.setNumericMode(true);
    std::sort(versions.begin(), versions.end(),
              [&](const QString &a, const QString &b) { return collator.compare(a, b) > 0; });
    for (const QString &v : versions) {
        const QString dir = root.filePath(v + QStringLiteral("/bin"));
        if (QFile::exists(dir + QStringLiteral("/initdb")) && QFile::exists(dir + QStringLiteral("/postgres")))
            return dir;
    }
    const QString initdb = findProgram(QStringLiteral("initdb"));
    return initdb.isEmpty() ? QString() : QFileInfo(initdb).canonicalFilePath().section(QLatin1Char('/'), 0, -2);
}

// Redis answers [AUTH +] PING with ["+OK\r\n"] "+PONG\r\n" once it is up (inline commands: the
// password is alphanumeric).
bool redisAnswers(int port, const QString &password)
{
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    timeval tv{};
    tv.tv_sec = 1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(quint16(port));
    bool ok = false;
    if (::connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) == 0) {
        const QByteArray request =
            password.isEmpty() ? QByteArray("PING\r\n") : "AUTH " + password.toLatin1() + "\r\nPING\r\n";
        if (send(fd, request.constData(), size_t(request.size()), MSG_NOSIGNAL) == request.size()) {
            QByteArray reply;
            char buffer[256];
            while (!reply.contains("PONG") && reply.size() < 4096) {
                const ssize_t n = recv(fd, buffer, sizeof buffer, 0);
                if (n <= 0)
                    break;
                reply.append(buffer, n);
            }
            ok = (password.isEmpty() || reply.startsWith("+OK\r\n")) && reply.contains("+PONG\r\n");
        }
    }
    close(fd);
    return ok;
}

QHash<QString, QString> readEnvFile(const QString &path)
{
    QHash<QString, QString> out;
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly | QIODevice::Text))
        return out;
    while (!file.atEnd()) {
        const QString line = QString::fromUtf8(file.readLine()).trimmed();
        const qsizetype eq = line.indexOf(QLatin1Char('='));
        if (line.startsWith(QLatin1Char('#')) || eq <= 0)
            continue;
        QString value = line.mid(eq + 1);
        if (value.size() >= 2 && value.startsWith(QLatin1Char('\'')) && value.endsWith(QLatin1Char('\'')))
            value = value.mid(1, value.size() - 2);
        out.insert(line.left(eq), value);
    }
    return out;
}

// Only directories this harness made may be removed by path from a file.
bool isOurDirectory(const QString &dir)
{
    const QFileInfo info(dir);
    return info.isDir() && info.fileName().startsWith(kDirPrefix) &&
           QFileInfo(info.absolutePath()).canonicalFilePath() == QFileInfo(QDir::tempPath()).canonicalFilePath();
}

} // namespace

TestServices::TestServices() : TestServices(Options{}) {}

TestServices::TestServices(Options options) : m_options(options) {}

TestServices::~TestServices()
{
    if (!m_options.detached)
        stop();
}

Result<std::unique_ptr<SharedServices>> TestServices::shared()
{
    return SharedServices::fromEnv();
}

Status TestServices::start()
{
    if (!m_dir.isEmpty())
        return failure(QStringLiteral("TestServices::start() called twice"));
    sweepOrphans();
    if (Status s = createDirectory(); !s)
        return s;

    if (m_options.postgres) {
        m_pgBinDir = postgresBinDir();
        if (m_pgBinDir.isEmpty()) {
            stop();
            return failure(QStringLiteral("PostgreSQL server binaries (initdb, postgres) not found; "
                                          "install postgresql or set LLMPOOL_PG_BINDIR"));
        }
        if (Status s = initdb(); !s) {
            stop();
            return s;
        }
        if (Status s = startPostgres(); !s) {
            stop();
            return s;
        }
    }
    if (m_options.redis) {
        if (Status s = startRedis(); !s) {
            stop();
            return s;
        }
    }
    return Ok{};
}

Status TestServices::createDirectory()
{
    QByteArray pattern = QFile::encodeName(QDir::tempPath() + QLatin1Char('/') + kDirPrefix + QStringLiteral("XXXXXX"));
    if (!mkdtemp(pattern.data()))
        return failure(QStringLiteral("mkdtemp: %1").arg(QString::fromLocal8Bit(strerror(errno))));
    m_dir = QFile::decodeName(pattern);

    // Who owns it: an orphan sweep removes directories whose owner died (detached ones are the
    // fixture's business).
    QFile owner(m_dir + QStringLiteral("/owner"));
    if (!owner.open(QIODevice::WriteOnly))
        return failure(QStringLiteral("cannot write %1").arg(owner.fileName()));
    owner.write(m_options.detached ? QByteArray("detached\n") : QByteArray::number(qint64(getpid())) + '\n');
    owner.close();

    QDir(m_dir).mkpath(QStringLiteral("sock"));
    QDir(m_dir).mkpath(QStringLiteral("redis"));
    m_pgPassword = randomString(12, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") +
                   QStringLiteral("@:/%") + randomString(4, "abcdefghijklmnopqrstuvwxyz0123456789");
    if (m_options.redisPassword)
        m_redisPassword = randomString(24, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
    // initdb and postgres run as `postgres` when we are root: everything under DIR must be theirs.
    chmod(QFile::encodeName(m_dir).constData(), 0700);
    return ChildProcess::giveToPostgres(m_dir);
}

Status TestServices::initdb()
{
    const QString pwfile = m_dir + QStringLiteral("/pwfile");
    {
        QFile file(pwfile);
        if (!file.open(QIODevice::WriteOnly))
            return failure(QStringLiteral("cannot write %1").arg(pwfile));
        file.write(m_pgPassword.toUtf8() + '\n');
        file.setPermissions(QFile::ReadOwner | QFile::WriteOwner);
    }
    if (Status s = ChildProcess::giveToPostgres(pwfile); !s)
        return s;

    ChildProcess::Options o;
    o.program = m_pgBinDir + QStringLiteral("/initdb");
    o.arguments = {QStringLiteral("-D"),
                   m_dir + QStringLiteral("/pgdata"),
                   QStringLiteral("-U"),
                   QStringLiteral("postgres"),
                   QStringLiteral("--pwfile=") + pwfile,
                   QStringLiteral("--auth-local=trust"),
                   QStringLiteral("--auth-host=scram-sha-256"),
                   QStringLiteral("-E"),
                   QStringLiteral("UTF8"),
                   QStringLiteral("--locale=C"),
                   QStringLiteral("--no-sync"),
                   QStringLiteral("--no-instructions")};
    o.workingDirectory = m_dir;
    o.logFile = m_dir + QStringLiteral("/initdb.log");
    o.asPostgresUser = true;
    o.detached = m_options.detached;
    Result<int> exit = ChildProcess::run(o, m_options.startTimeoutMs);
    QFile::remove(pwfile);
    if (!exit)
        return exit.takeError();
    if (*exit != 0)
        return failure(QStringLiteral("initdb failed (exit %1):\n%2").arg(*exit).arg(tail(o.logFile)));
    m_initialized = true;
    return Ok{};
}

Status TestServices::startPostgres()
{
    if (!m_initialized)
        return failure(QStringLiteral("PostgreSQL was not set up (Options::postgres is false?)"));
    if (isPostgresRunning())
        return Ok{};
    // A restart keeps its port (clients hold the URL); only the first start may move on a clash.
    const bool portFixed = m_pgPort != 0;
    for (int attempt = 1; attempt <= kPortAttempts; ++attempt) {
        if (!portFixed) {
            Result<int> port = freePort();
            if (!port)
                return port.takeError();
            m_pgPort = *port;
        }
        bool clash = false;
        Status s = startPostgresOnce(&clash);
        if (s || !clash || (portFixed && attempt >= 3))
            return s;
        // Lost the port to someone else between our probe and postgres's bind: try another.
        if (portFixed)
            QThread::msleep(200);
    }
    return failure(QStringLiteral("no free port for PostgreSQL after %1 attempts").arg(kPortAttempts));
}

namespace {

// How the suite runs postgres on DIR's data: the first start and every restart alike.
ChildProcess::Options postgresServer(const QString &binDir, const QString &dir, int port, bool detached)
{
    ChildProcess::Options o;
    o.program = binDir + QStringLiteral("/postgres");
    o.arguments = {QStringLiteral("-D"), dir + QStringLiteral("/pgdata"), QStringLiteral("-p"),
                   QString::number(port), QStringLiteral("-k"), dir + QStringLiteral("/sock"),
                   // Throwaway data: durability off, speed on.
                   QStringLiteral("-c"), QStringLiteral("listen_addresses=127.0.0.1"), QStringLiteral("-c"),
                   QStringLiteral("fsync=off"), QStringLiteral("-c"), QStringLiteral("synchronous_commit=off"),
                   QStringLiteral("-c"), QStringLiteral("full_page_writes=off"), QStringLiteral("-c"),
                   QStringLiteral("max_connections=300"), QStringLiteral("-c"), QStringLiteral("shared_buffers=32MB"),
                   QStringLiteral("-c"), QStringLiteral("unix_socket_permissions=0777"), QStringLiteral("-c"),
                   QStringLiteral("logging_collector=off")};
    o.workingDirectory = dir;
    o.logFile = dir + QStringLiteral("/postgres.log");
    o.asPostgresUser = true;
    o.detached = detached;
    return o;
}

} // namespace

Status TestServices::startPostgresOnce(bool *portClash)
{
    const ChildProcess::Options o = postgresServer(m_pgBinDir, m_dir, m_pgPort, m_options.detached);
    Result<qint64> pid = ChildProcess::spawn(o);
    if (!pid)
        return pid.takeError();
    m_pgPid = *pid;

    PgAdminParams admin;
    admin.port = m_pgPort;
    admin.password = m_pgPassword;
    QElapsedTimer timer;
    timer.start();
    QString lastError;
    while (timer.elapsed() < m_options.startTimeoutMs) {
        if (const auto exit = ChildProcess::reap(m_pgPid)) {
            m_pgPid = 0;
            const QString log = tail(o.logFile);
            *portClash = mentionsPortClash(log);
            return failure(QStringLiteral("postgres exited at start (%1):\n%2").arg(*exit).arg(log));
        }
        Status ping = PgAdmin::ping(admin, 2);
        if (ping)
            return Ok{};
        lastError = ping.error().message;
        QThread::msleep(25);
    }
    ChildProcess::terminate(m_pgPid, SIGQUIT, 5'000, true);
    m_pgPid = 0;
    return failure(QStringLiteral("PostgreSQL did not accept logins within %1 ms: %2\n%3")
                       .arg(m_options.startTimeoutMs)
                       .arg(lastError, tail(o.logFile)));
}

Status TestServices::stopPostgres()
{
    if (!m_pgPid)
        return Ok{};
    // SIGINT = fast shutdown: sessions get "terminating connection due to administrator command".
    const bool gone = ChildProcess::terminate(m_pgPid, SIGINT, 30'000, true);
    m_pgPid = 0;
    return gone ? Status(Ok{}) : Status(failure(QStringLiteral("postgres did not stop")));
}

Status TestServices::restartPostgres()
{
    if (Status s = stopPostgres(); !s)
        return s;
    return startPostgres();
}

bool TestServices::isPostgresRunning() const
{
    return m_pgPid > 0 && ChildProcess::isAlive(m_pgPid);
}

Status TestServices::startRedis()
{
    if (m_dir.isEmpty())
        return failure(QStringLiteral("TestServices::start() was not called"));
    if (isRedisRunning())
        return Ok{};
    const bool portFixed = m_redisPort != 0;
    for (int attempt = 1; attempt <= kPortAttempts; ++attempt) {
        if (!portFixed) {
            Result<int> port = freePort();
            if (!port)
                return port.takeError();
            m_redisPort = *port;
        }
        bool clash = false;
        Status s = startRedisOnce(&clash);
        if (s || !clash || (portFixed && attempt >= 3))
            return s;
        if (portFixed)
            QThread::msleep(200);
    }
    return failure(QStringLiteral("no free port for Redis after %1 attempts").arg(kPortAttempts));
}

Status TestServices::startRedisOnce(bool *portClash)
{
    const QString program = findProgram(QStringLiteral("redis-server"), {QStringLiteral("/usr/bin")});
    if (program.isEmpty())
        return failure(QStringLiteral("redis-server not found; install redis-server"));
    ChildProcess::Options o;
    o.program = program;
    o.arguments = {QStringLiteral("--port"),
                   QString::number(m_redisPort),
                   QStringLiteral("--bind"),
                   QStringLiteral("127.0.0.1"),
                   QStringLiteral("--save"),
                   QString(),
                   QStringLiteral("--appendonly"),
                   m_options.redisAppendOnly ? QStringLiteral("yes") : QStringLiteral("no"),
                   QStringLiteral("--appendfsync"),
                   QStringLiteral("no"),
                   QStringLiteral("--dir"),
                   m_dir + QStringLiteral("/redis"),
                   QStringLiteral("--unixsocket"),
                   m_dir + QStringLiteral("/redis.sock"),
                   QStringLiteral("--unixsocketperm"),
                   QStringLiteral("700"),
                   QStringLiteral("--daemonize"),
                   QStringLiteral("no"),
                   QStringLiteral("--logfile"),
                   QString()};
    if (!m_redisPassword.isEmpty())
        o.arguments << QStringLiteral("--requirepass") << m_redisPassword;
    o.workingDirectory = m_dir;
    o.logFile = m_dir + QStringLiteral("/redis.log");
    o.detached = m_options.detached;
    Result<qint64> pid = ChildProcess::spawn(o);
    if (!pid)
        return pid.takeError();
    m_redisPid = *pid;
    QFile pidFile(m_dir + QStringLiteral("/redis.pid"));
    if (pidFile.open(QIODevice::WriteOnly))
        pidFile.write(QByteArray::number(m_redisPid) + '\n');

    QElapsedTimer timer;
    timer.start();
    while (timer.elapsed() < m_options.startTimeoutMs) {
        if (const auto exit = ChildProcess::reap(m_redisPid)) {
            m_redisPid = 0;
            const QString log = tail(o.logFile);
            *portClash = mentionsPortClash(log);
            return failure(QStringLiteral("redis-server exited at start (%1):\n%2").arg(*exit).arg(log));
        }
        if (redisAnswers(m_redisPort, m_redisPassword))
            return Ok{};
        QThread::msleep(10);
    }
    ChildProcess::terminate(m_redisPid, SIGKILL, 5'000, true);
    m_redisPid = 0;
    return failure(
        QStringLiteral("Redis did not answer within %1 ms:\n%2").arg(m_options.startTimeoutMs).arg(tail(o.logFile)));
}

Status TestServices::stopRedis()
{
    if (!m_redisPid)
        return Ok{};
    const bool gone = ChildProcess::terminate(m_redisPid, SIGTERM, 10'000, true);
    m_redisPid = 0;
    return gone ? Status(Ok{}) : Status(failure(QStringLiteral("redis-server did not stop")));
}

bool TestServices::isRedisRunning() const
{
    return m_redisPid > 0 && ChildProcess::isAlive(m_redisPid);
}

void TestServices::stop()
{
    // Immediate shutdown: the data is thrown away anyway.
    if (m_pgPid)
        ChildProcess::terminate(m_pgPid, SIGQUIT, 10'000, true);
    if (m_redisPid)
        ChildProcess::terminate(m_redisPid, SIGKILL, 5'000, true);
    m_pgPid = 0;
    m_redisPid = 0;
    if (!m_dir.isEmpty() && isOurDirectory(m_dir))
        QDir(m_dir).removeRecursively();
    m_dir.clear();
    m_initialized = false;
}

// Built by concatenation: QString::arg() chains would substitute the "%2…" of percent-encoded
// parts.
QString TestServices::databaseUrl(const QString &database) const
{
    return QStringLiteral("postgres://postgres:") + enc(m_pgPassword) + QStringLiteral("@127.0.0.1:") +
           QString::number(m_pgPort) + QLatin1Char('/') + enc(database);
}

QString TestServices::socketDatabaseUrl(const QString &database) const
{
    return QStringLiteral("postgres://postgres@/") + enc(database) + QStringLiteral("?host=") +
           enc(m_dir + QStringLiteral("/sock")) + QStringLiteral("&port=") + QString::number(m_pgPort);
}

QString TestServices::redisUrl(int db) const
{
    // "default" (the Redis 6+ ACL user) rather than an empty name: redis-cli -u sends `AUTH "" pw`
    // for redis://:pw@…, which Redis 7 rejects.
    const QString auth =
        m_redisPassword.isEmpty() ? QString() : QStringLiteral("default:") + enc(m_redisPassword) + QLatin1Char('@');
    return QStringLiteral("redis://") + auth + QStringLiteral("127.0.0.1:") + QString::number(m_redisPort) +
           QLatin1Char('/') + QString::number(db);
}

QString TestServices::redisSocketUrl(int db) const
{
    const QString auth =
        m_redisPassword.isEmpty() ? QString() : QStringLiteral("default:") + enc(m_redisPassword) + QLatin1Char('@');
    return QStringLiteral("unix://") + auth + m_dir + QStringLiteral("/redis.sock?db=") + QString::number(db);
}

Result<QString> TestServices::createDatabase(const QString &name)
{
    const QString db = name.isEmpty() ? PgAdmin::randomDatabaseName() : name;
    PgAdminParams admin;
    admin.port = m_pgPort;
    admin.password = m_pgPassword;
    if (Status s = PgAdmin::createDatabase(admin, db); !s)
        return s.takeError();
    return databaseUrl(db);
}

Status TestServices::dropDatabase(const QString &name)
{
    PgAdminParams admin;
    admin.port = m_pgPort;
    admin.password = m_pgPassword;
    return PgAdmin::dropDatabase(admin, name);
}

QString TestServices::envFileContents() const
{
    QString out;
    QTextStream s(&out);
    auto line = [&](const char *key, const QString &value) { s << key << "='" << value << "'\n"; };
    s << "# Written by llmpool-test-services; shell-sourceable.\n";
    if (m_options.postgres) {
        line("DATABASE_URL", databaseUrl());
        line("PGHOST", QStringLiteral("127.0.0.1"));
        line("PGPORT", QString::number(m_pgPort));
        line("PGUSER", QStringLiteral("postgres"));
        line("PGPASSWORD", m_pgPassword);
        line("PGDATABASE", QStringLiteral("postgres"));
        line("POSTGRES_PID", QString::number(m_pgPid));
    }
    if (m_options.redis) {
        line("REDIS_URL", redisUrl());
        line("REDIS_HOST", QStringLiteral("127.0.0.1"));
        line("REDIS_PORT", QString::number(m_redisPort));
        line("REDIS_PASSWORD", m_redisPassword);
        line("REDIS_PID", QString::number(m_redisPid));
    }
    line("SERVICES_DIR", m_dir);
    return out;
}

Status TestServices::writeEnvFile(const QString &path) const
{
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly))
        return failure(QStringLiteral("cannot write %1: %2").arg(path, file.errorString()));
    file.write(envFileContents().toUtf8());
    if (!file.commit())
        return failure(QStringLiteral("cannot write %1: %2").arg(path, file.errorString()));
    return Ok{};
}

Status TestServices::stopDetached(const QString &envFilePath)
{
    if (!QFile::exists(envFilePath))
        return Ok{};
    const QHash<QString, QString> env = readEnvFile(envFilePath);
    const QString dir = env.value(QStringLiteral("SERVICES_DIR"));
    bool ok = true;
    // Only kill what still is our server: the pid may have been reused since.
    for (const char *key : {"POSTGRES_PID", "REDIS_PID"}) {
        const qint64 pid = env.value(QLatin1String(key)).toLongLong();
        if (pid <= 0 || !ChildProcess::belongsTo(pid, dir))
            continue;
        const int sig = qstrcmp(key, "POSTGRES_PID") == 0 ? SIGQUIT : SIGKILL;
        ok = ChildProcess::terminate(pid, sig, 15'000, false) && ok;
    }
    if (!dir.isEmpty() && isOurDirectory(dir))
        QDir(dir).removeRecursively();
    QFile::remove(envFilePath);
    return ok ? Status(Ok{}) : Status(failure(QStringLiteral("some test servers did not stop")));
}

Status TestServices::restartPostgresDetached(const QString &envFilePath)
{
    QFile file(envFilePath);
    if (!file.open(QIODevice::ReadOnly))
        return failure(QStringLiteral("cannot read %1: %2").arg(envFilePath, file.errorString()));
    const QString contents = QString::fromUtf8(file.readAll());
    file.close();
    const QHash<QString, QString> env = readEnvFile(envFilePath);
    const QString dir = env.value(QStringLiteral("SERVICES_DIR"));
    const int port = env.value(QStringLiteral("PGPORT")).toInt();
    const QString binDir = postgresBinDir();
    if (dir.isEmpty() || port <= 0 || binDir.isEmpty())
        return failure(QStringLiteral("%1 describes no PostgreSQL to restart").arg(envFilePath));
    // SIGINT = fast shutdown, as an operator's restart would do; only if it still is our server.
    const qint64 old = env.value(QStringLiteral("POSTGRES_PID")).toLongLong();
    if (old > 0 && ChildProcess::belongsTo(old, dir) && !ChildProcess::terminate(old, SIGINT, 30'000, false))
        return failure(QStringLiteral("PostgreSQL (pid %1) did not stop").arg(old));

    const ChildProcess::Options o = postgresServer(binDir, dir, port, true);
    Result<qint64> pid = ChildProcess::spawn(o);
    if (!pid)
        return pid.takeError();
    PgAdminParams admin;
    admin.port = port;
    admin.password = env.value(QStringLiteral("PGPASSWORD"));
    QElapsedTimer timer;
    timer.start();
    Status ping = PgAdmin::ping(admin, 2);
    while (!ping && timer.elapsed() < 60'000) {
        if (const auto exit = ChildProcess::reap(*pid))
            return failure(QStringLiteral("postgres exited at restart (%1):\n%2").arg(*exit).arg(tail(o.logFile)));
        QThread::msleep(25);
        ping = PgAdmin::ping(admin, 2);
    }
    if (!ping)
        return failure(QStringLiteral("PostgreSQL did not accept logins after a restart: %1").arg(ping.error().message));

    // The new pid in the env file, the rest as it was.
    QStringList lines = contents.split(QLatin1Char('\n'));
    for (QString &line : lines) {
        if (line.startsWith(QLatin1String("POSTGRES_PID=")))
            line = QStringLiteral("POSTGRES_PID='%1'").arg(*pid);
    }
    QSaveFile out(envFilePath);
    if (!out.open(QIODevice::WriteOnly))
        return failure(QStringLiteral("cannot write %1: %2").arg(envFilePath, out.errorString()));
    out.write(lines.join(QLatin1Char('\n')).toUtf8());
    if (!out.commit())
        return failure(QStringLiteral("cannot write %1: %2").arg(envFilePath, out.errorString()));
    return Ok{};
}

void TestServices::sweepOrphans()
{
    const QDir temp(QDir::tempPath());
    const QStringList dirs = temp.entryList({kDirPrefix + QLatin1Char('*')}, QDir::Dirs | QDir::NoDotAndDotDot);
    for (const QString &name : dirs) {
        const QString dir = temp.filePath(name);
        QFile ownerFile(dir + QStringLiteral("/owner"));
        if (!ownerFile.open(QIODevice::ReadOnly))
            continue;
        const QByteArray owner = ownerFile.readAll().trimmed();
        if (owner == "detached")
            continue;
        const qint64 ownerPid = owner.toLongLong();
        if (ownerPid <= 0 || ChildProcess::isAlive(ownerPid))
            continue;
        // The owner died. Its servers got SIGKILL with it; make sure, then remove the remains.
        QFile pgPid(dir + QStringLiteral("/pgdata/postmaster.pid"));
        QFile redisPid(dir + QStringLiteral("/redis.pid"));
        for (QFile *file : {&pgPid, &redisPid}) {
            if (!file->open(QIODevice::ReadOnly))
                continue;
            const qint64 pid = file->readLine().trimmed().toLongLong();
            if (pid > 0 && ChildProcess::belongsTo(pid, dir))
                ChildProcess::terminate(pid, SIGKILL, 5'000, false);
        }
        if (isOurDirectory(dir))
            QDir(dir).removeRecursively();
    }
}

} // namespace llmpool::test
