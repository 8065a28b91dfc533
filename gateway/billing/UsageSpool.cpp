#include "billing/UsageSpool.h"

#include "Log.h"

#include <QCoreApplication>
#include <QDir>
#include <QFile>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace llmpool::gateway::billing {

namespace {

Error spoolError(const QString &what)
{
    return Error::unavailable(QStringLiteral("spool_unavailable"), what);
}

bool writeAll(int fd, const char *data, qsizetype size)
{
    while (size > 0) {
        const ssize_t n = ::write(fd, data, size_t(size));
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return false;
        }
        data += n;
        size -= n;
    }
    return true;
}

std::atomic<int> s_sequence{0};

} // namespace

UsageSpool::UsageSpool(QString directory) : m_directory(std::move(directory)) {}

UsageSpool::~UsageSpool()
{
    QMutexLocker lock(&m_mutex);
    if (m_fd >= 0) {
        ::fdatasync(m_fd);
        const bool empty = ::lseek(m_fd, 0, SEEK_END) == 0;
        if (empty) {
            QFile::remove(m_path);
        }
        ::close(m_fd); // releases the flock: another process may replay what is left
        m_fd = -1;
    }
}

Status UsageSpool::open()
{
    if (!QDir().mkpath(m_directory)) {
        return spoolError(QStringLiteral("cannot create the usage spool directory %1").arg(m_directory));
    }
    QMutexLocker lock(&m_mutex);
    return openNewFileLocked();
}

Status UsageSpool::openNewFileLocked()
{
    if (m_fd >= 0) {
        ::fdatasync(m_fd);
        ::close(m_fd);
        m_fd = -1;
    }
    const QString path = QDir(m_directory).filePath(
        QStringLiteral("usage-%1-%2-%3.spool")
            .arg(QCoreApplication::applicationPid())
            .arg(QDateTime::currentMSecsSinceEpoch())
            .arg(++s_sequence)); // process-wide: two spools of one process never share a name
    const int fd = ::open(QFile::encodeName(path).constData(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        return spoolError(QStringLiteral("cannot open the usage spool %1: %2").arg(path, QString::fromLocal8Bit(std::strerror(errno))));
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        ::close(fd);
        return spoolError(QStringLiteral("cannot lock the usage spool %1").arg(path));
    }
    m_fd = fd;
    m_path = path;
    m_dirty = false;
    m_appended.store(0, std::memory_order_relaxed);
    return Ok{};
}

Status UsageSpool::append(QByteArrayView line)
{
    QByteArray record;
    record.reserve(line.size() + 1);
    record.append(line);
    record.append('\n');
    QMutexLocker lock(&m_mutex);
    if (m_fd < 0) {
        return spoolError(QStringLiteral("the usage spool is not open"));
    }
    // O_APPEND + one write per line: concurrent appenders never interleave inside a line.
    if (!writeAll(m_fd, record.constData(), record.size())) {
        return spoolError(QStringLiteral("cannot write the usage spool: %1").arg(QString::fromLocal8Bit(std::strerror(errno))));
    }
    m_dirty = true;
    m_appended.fetch_add(1, std::memory_order_relaxed);
    return Ok{};
}

void UsageSpool::sync()
{
    int fd = -1;
    {
        QMutexLocker lock(&m_mutex);
        if (!m_dirty || m_fd < 0) {
            return;
        }
        m_dirty = false;
        fd = ::dup(m_fd); // sync outside the lock: appenders do not wait for the disk
    }
    if (fd >= 0) {
        if (::fdatasync(fd) != 0) {
            qCWarning(lcUsage) << "usage spool: fdatasync failed:" << std::strerror(errno);
        }
        ::close(fd);
    }
}

void UsageSpool::rotate()
{
    QMutexLocker lock(&m_mutex);
    if (m_fd < 0 || m_appended.load(std::memory_order_relaxed) == 0) {
        return;
    }
    if (auto opened = openNewFileLocked(); !opened) {
        qCWarning(lcUsage).noquote() << opened.error().message;
    }
}

QStringList UsageSpool::replayableFiles() const
{
    QString current;
    {
        QMutexLocker lock(&m_mutex);
        current = m_path;
    }
    QStringList files;
    const QDir dir(m_directory);
    for (const QString &name : dir.entryList({QStringLiteral("usage-*.spool")}, QDir::Files, QDir::Name)) {
        const QString path = dir.filePath(name);
        if (path != current) {
            files << path;
        }
    }
    return files;
}

Result<qint64> UsageSpool::replayFile(const QString &path, const std::function<Status(QByteArrayView line)> &deliver)
{
    const int fd = ::open(QFile::encodeName(path).constData(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return qint64(0); // gone meanwhile (another replayer took it)
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        ::close(fd); // a live writer (or another replayer) holds it
        return qint64(0);
    }
    QFile file;
    if (!file.open(fd, QIODevice::ReadOnly, QFileDevice::DontCloseHandle)) {
        ::close(fd);
        return spoolError(QStringLiteral("cannot read the usage spool %1").arg(path));
    }
    const QByteArray data = file.readAll();
    file.close();
    qint64 delivered = 0;
    qsizetype start = 0;
    while (start < data.size()) {
        const qsizetype end = data.indexOf('\n', start);
        if (end < 0) {
            qCWarning(lcUsage).noquote() << "usage spool" << path << "ends with an incomplete event; skipped";
            break;
        }
        const QByteArrayView line(data.constData() + start, end - start);
        start = end + 1;
        if (line.isEmpty()) {
            continue;
        }
        if (auto ok = deliver(line); !ok) {
            ::close(fd);
            return ok.error();
        }
        ++delivered;
    }
    QFile::remove(path); // still locked by us: nobody else is replaying it
    ::close(fd);
    return delivered;
}

} // namespace llmpool::gateway::billing
