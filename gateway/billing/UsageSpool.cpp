#include "billing/UsageSpool.h"

#include "Log.h"

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QSet>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/uio.h>
#include <unistd.h>

namespace llmpool::gateway::billing {

namespace {

Error spoolError(const QString &what)
{
    return Error::unavailable(QStringLiteral("spool_unavailable"), what);
}

// Writes `line` and a '\n' with as few calls as the kernel allows (one, nearly always).
bool writeLine(int fd, QByteArrayView line)
{
    char newline = '\n';
    struct iovec iov[2] = {{const_cast<char *>(line.data()), size_t(line.size())}, {&newline, 1}};
    int first = 0;
    while (first < 2) {
        const ssize_t n = ::writev(fd, iov + first, 2 - first);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return false;
        }
        size_t left = size_t(n);
        while (first < 2 && left >= iov[first].iov_len) {
            left -= iov[first].iov_len;
            ++first;
        }
        if (first < 2) {
            iov[first].iov_base = static_cast<char *>(iov[first].iov_base) + left;
            iov[first].iov_len -= left;
        }
    }
    return true;
}

std::atomic<int> s_sequence{0};

} // namespace

struct UsageSpool::Segment
{
    int fd = -1;
    QString path;
    qint64 appended = 0;
    qint64 settled = 0;
    qint64 failed = 0;     // settled as not delivered: the segment is replayed
    bool unsynced = false; // undelivered events not yet fdatasync'd

    Segment() = default;
    Segment(const Segment &) = delete;
    Segment &operator=(const Segment &) = delete;
    ~Segment()
    {
        if (fd >= 0) {
            ::close(fd); // unsettled at the end: left for replay
        }
    }

    // Called with the spool's lock held, once no event of the segment waits any more (or at
    // shutdown), often on an event-loop thread. Deleted while still locked by us if Redis took
    // everything — nobody can start replaying it in between — else kept on disk and unlocked for
    // replay. Not fdatasync'd here (that would block the event loop on the disk): undelivered
    // events older than the keeper's 20 ms sync window are on disk already, and writeback of the
    // rest is started.
    void close()
    {
        if (fd < 0) {
            return;
        }
        if (failed == 0 && settled == appended) {
            QFile::remove(path);
        } else if (unsynced) {
            ::sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
        }
        ::close(fd); // releases the flock
        fd = -1;
    }
};

UsageSpool::UsageSpool(QString directory) : m_directory(std::move(directory)) {}

UsageSpool::~UsageSpool()
{
    QMutexLocker lock(&m_mutex);
    if (m_current) {
        m_retiring.append(std::exchange(m_current, {}));
    }
    for (const Ticket &segment : std::as_const(m_retiring)) {
        // Shutdown may block: what is left for replay goes to disk now.
        if (segment->fd >= 0 && (segment->failed > 0 || segment->settled < segment->appended) &&
            ::fdatasync(segment->fd) != 0) {
            qCWarning(lcUsage) << "usage spool: fdatasync failed:" << std::strerror(errno);
        }
        segment->close();
    }
    m_retiring.clear();
}

Status UsageSpool::open()
{
    if (!QDir().mkpath(m_directory)) {
        return spoolError(QStringLiteral("cannot create the usage spool directory %1").arg(m_directory));
    }
    QMutexLocker lock(&m_mutex);
    return openNewSegmentLocked();
}

void UsageSpool::retireCurrentLocked()
{
    if (!m_current) {
        return;
    }
    if (m_current->settled == m_current->appended) {
        m_current->close();
    } else {
        m_retiring.append(m_current);
    }
    m_current.reset();
}

Status UsageSpool::openNewSegmentLocked()
{
    retireCurrentLocked();
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
    auto segment = std::make_shared<Segment>();
    segment->fd = fd;
    segment->path = path;
    m_current = std::move(segment);
    return Ok{};
}

Result<UsageSpool::Ticket> UsageSpool::journal(QByteArrayView line)
{
    QMutexLocker lock(&m_mutex);
    if (m_current && m_current->appended >= kSegmentEvents) {
        if (auto opened = openNewSegmentLocked(); !opened) {
            return opened.error();
        }
    }
    if (!m_current) {
        // Not open, or a new segment could not be opened: try again (the disk may be back).
        if (auto opened = openNewSegmentLocked(); !opened) {
            return opened.error();
        }
    }
    if (!writeLine(m_current->fd, line)) {
        const QString why = QString::fromLocal8Bit(std::strerror(errno));
        // The segment may end with part of this line now: nothing goes after it (replay skips an
        // incomplete last line, and would drop the next event glued to it).
        retireCurrentLocked();
        return spoolError(QStringLiteral("cannot write the usage spool: %1").arg(why));
    }
    ++m_current->appended;
    return m_current;
}

void UsageSpool::settle(const Ticket &ticket, bool delivered)
{
    if (!ticket) {
        return;
    }
    QMutexLocker lock(&m_mutex);
    Segment &segment = *ticket;
    ++segment.settled;
    if (!delivered) {
        ++segment.failed;
        segment.unsynced = true;
    }
    // Rotated out (not the current segment any more) and nothing of it waits: done.
    if (&segment != m_current.get() && segment.settled >= segment.appended) {
        segment.close();
        m_retiring.removeIf([&segment](const Ticket &t) { return t.get() == &segment; });
    }
}

Status UsageSpool::append(QByteArrayView line)
{
    auto ticket = journal(line);
    if (!ticket) {
        return ticket.error();
    }
    settle(*ticket, false);
    return Ok{};
}

qint64 UsageSpool::appendedSinceRotate() const
{
    QMutexLocker lock(&m_mutex);
    return m_current ? m_current->appended : 0;
}

qint64 UsageSpool::unsettled() const
{
    QMutexLocker lock(&m_mutex);
    qint64 n = m_current ? m_current->appended - m_current->settled : 0;
    for (const Ticket &t : m_retiring) {
        n += t->appended - t->settled;
    }
    return n;
}

void UsageSpool::sync()
{
    QList<int> fds;
    {
        QMutexLocker lock(&m_mutex);
        auto take = [&fds](Segment &s) {
            if (s.unsynced && s.fd >= 0) {
                s.unsynced = false;
                const int fd = ::dup(s.fd); // sync outside the lock: appenders do not wait for the disk
                if (fd >= 0) {
                    fds.append(fd);
                }
            }
        };
        if (m_current) {
            take(*m_current);
        }
        for (const Ticket &t : std::as_const(m_retiring)) {
            take(*t);
        }
    }
    for (int fd : std::as_const(fds)) {
        if (::fdatasync(fd) != 0) {
            qCWarning(lcUsage) << "usage spool: fdatasync failed:" << std::strerror(errno);
        }
        ::close(fd);
    }
}

void UsageSpool::rotate()
{
    QMutexLocker lock(&m_mutex);
    if (!m_current || m_current->appended == 0) {
        return;
    }
    if (auto opened = openNewSegmentLocked(); !opened) {
        qCWarning(lcUsage).noquote() << opened.error().message;
    }
}

UsageSpool::Backlog UsageSpool::backlog(const QString &directory)
{
    Backlog backlog;
    if (directory.isEmpty()) {
        return backlog;
    }
    const QDir dir(directory);
    for (const QFileInfo &entry : dir.entryInfoList({QStringLiteral("usage-*.spool")}, QDir::Files)) {
        const int fd = ::open(QFile::encodeName(entry.filePath()).constData(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            continue; // replayed and deleted meanwhile
        }
        // Held by a live writer (journaling, or waiting for Redis on its events) or by a replay in
        // progress: not waiting.
        const bool idle = ::flock(fd, LOCK_SH | LOCK_NB) == 0;
        ::close(fd);
        if (idle) {
            ++backlog.files;
            backlog.bytes += entry.size();
        }
    }
    return backlog;
}

QStringList UsageSpool::replayableFiles() const
{
    QSet<QString> own;
    {
        QMutexLocker lock(&m_mutex);
        if (m_current) {
            own.insert(m_current->path);
        }
        for (const Ticket &t : m_retiring) {
            own.insert(t->path);
        }
    }
    QStringList files;
    const QDir dir(m_directory);
    for (const QString &name : dir.entryList({QStringLiteral("usage-*.spool")}, QDir::Files, QDir::Name)) {
        const QString path = dir.filePath(name);
        if (!own.contains(path)) {
            files << path;
        }
    }
    return files;
}

Result<qint64> UsageSpool::replayFile(const QString &path, const std::function<Status(QByteArrayView line)> &deliver)
{
    return replayFile(path, 1, [&deliver](const QList<QByteArrayView> &lines) { return deliver(lines.front()); });
}

Result<qint64> UsageSpool::replayFile(const QString &path, int chunk,
                                      const std::function<Status(const QList<QByteArrayView> &lines)> &deliver)
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
    QList<QByteArrayView> lines;
    lines.reserve(qMax(1, chunk));
    auto flush = [&]() -> Status {
        if (lines.isEmpty()) {
            return Ok{};
        }
        if (auto ok = deliver(lines); !ok) {
            return ok;
        }
        delivered += lines.size();
        lines.clear();
        return Ok{};
    };
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
        lines << line;
        if (lines.size() >= chunk) {
            if (auto ok = flush(); !ok) {
                ::close(fd);
                return ok.error();
            }
        }
    }
    if (auto ok = flush(); !ok) {
        ::close(fd);
        return ok.error();
    }
    QFile::remove(path); // still locked by us: nobody else is replaying it
    ::close(fd);
    return delivered;
}

} // namespace llmpool::gateway::billing
