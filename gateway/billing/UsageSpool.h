#pragma once

// UsageSpool: the local append-only file where usage events go while Redis cannot take them
// (SPEC §5). One JSON event per line (UsageEventJson). Thread-safe: record() paths on every
// event-loop thread append; a background thread syncs the file to disk in small batches
// (fdatasync at most every few milliseconds, never per event) and replays spooled events into
// Redis when it is back.
//
// Files: <directory>/usage-<pid>-<n>.spool. The file being written is held with flock(), so
// another process (a gateway restarted after a crash, or a second instance sharing the directory)
// replays only files whose writer is gone. A line cut short by a crash is skipped on replay (it
// never completed, so its response never finished either).

#include "Result.h"

#include <QByteArray>
#include <QMutex>
#include <QString>
#include <QStringList>

#include <atomic>

namespace llmpool::gateway::billing {

class UsageSpool
{
public:
    explicit UsageSpool(QString directory);
    ~UsageSpool();
    UsageSpool(const UsageSpool &) = delete;
    UsageSpool &operator=(const UsageSpool &) = delete;

    // Creates the directory if needed and opens this process's file. "spool_unavailable" if not.
    Status open();
    const QString &directory() const { return m_directory; }

    // Appends one event (a line without '\n'); written to the file before it returns (a killed
    // process loses nothing that append() returned for). Thread-safe.
    Status append(QByteArrayView line);
    // fdatasync of what was appended since the last sync. Thread-safe; called by a timer.
    void sync();

    // Starts a fresh file if the current one holds events, so that the old one can be replayed.
    void rotate();
    // Files ready to replay: every spool file of the directory that no live writer holds.
    QStringList replayableFiles() const;
    // Events appended and not yet handed to replay (this process's current file).
    qint64 appendedSinceRotate() const { return m_appended.load(std::memory_order_relaxed); }

    // Replays one file: calls `deliver` for each complete line, in order; stops at the first
    // failure (the file stays for a later try). Deletes the file when every line was delivered.
    // Returns the number of lines delivered, or the failure. Skips lines cut short by a crash.
    static Result<qint64> replayFile(const QString &path,
                                     const std::function<Status(QByteArrayView line)> &deliver);

private:
    Status openNewFileLocked();

    QString m_directory;
    mutable QMutex m_mutex;
    int m_fd = -1;
    QString m_path;
    bool m_dirty = false;
    std::atomic<qint64> m_appended{0};
};

} // namespace llmpool::gateway::billing
