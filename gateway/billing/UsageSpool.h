#pragma once

// UsageSpool: the local append-only journal of usage events (SPEC §5). Every event is written here
// first — one write(2), so a `kill -9` of the gateway cannot lose it — and then put on the Redis
// stream; the response's last bytes wait only for the write, not for Redis. An event Redis took is
// settled as delivered; one it could not take (down, silent, refusing) stays in its file, which is
// replayed into Redis when it is back. One JSON event per line (UsageEventJson). Thread-safe:
// every event-loop thread journals; a background thread syncs files that hold undelivered events to
// disk in small batches (fdatasync at most every few milliseconds, never per event) and replays.
//
// Files (segments): <directory>/usage-<pid>-<ms>-<n>.spool. A segment is held with flock() while
// this process writes it or still waits for Redis on any of its events, so another process (a
// gateway restarted after a crash, or a second instance sharing the directory) replays only files
// whose writer is gone. A segment is rotated out every few thousand events (and by the keeper's
// timer); once all its events are settled it is deleted if Redis took every one, else closed for
// replay (the events Redis did take are replayed too: harmless, the stream and PostgreSQL are
// idempotent by request id). A line cut short by a crash is skipped on replay (it never
// completed, so its response never finished either).

#include "Result.h"

#include <QByteArray>
#include <QMutex>
#include <QString>
#include <QStringList>

#include <memory>

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

    struct Segment;
    // Where a journaled event is; settle() it exactly once.
    using Ticket = std::shared_ptr<Segment>;

    // Journals one event (a line without '\n'): written to the file before it returns (a killed
    // process loses nothing journal() returned for). Thread-safe.
    Result<Ticket> journal(QByteArrayView line);
    // The event's fate: `delivered` if Redis took it, else it is left for replay.
    void settle(const Ticket &ticket, bool delivered);
    // journal() + settle(…, false): an event only the spool holds.
    Status append(QByteArrayView line);
    // fdatasync of segments that hold undelivered events. Thread-safe; called by a timer.
    void sync();

    // Starts a fresh segment if the current one holds events, so that the old one can go (all
    // delivered) or be replayed.
    void rotate();
    // Files ready to replay: every spool file of the directory that no live writer holds.
    QStringList replayableFiles() const;
    // Events journaled into the current segment.
    qint64 appendedSinceRotate() const;
    // Events journaled and not settled yet, over all segments.
    qint64 unsettled() const;
    // Files of `directory` waiting for replay (no live writer holds them) and their size: what the
    // status route reports.
    struct Backlog
    {
        qint64 files = 0;
        qint64 bytes = 0;
    };
    static Backlog backlog(const QString &directory);
    // Events per segment before it is rotated out.
    static constexpr qint64 kSegmentEvents = 4096;

    // Replays one file: calls `deliver` for each complete line, in order; stops at the first
    // failure (the file stays for a later try). Deletes the file when every line was delivered.
    // Returns the number of lines delivered, or the failure. Skips lines cut short by a crash.
    static Result<qint64> replayFile(const QString &path,
                                     const std::function<Status(QByteArrayView line)> &deliver);
    // The same, `deliver` getting up to `chunk` lines at a time (in order; a failure keeps the file).
    static Result<qint64> replayFile(const QString &path, int chunk,
                                     const std::function<Status(const QList<QByteArrayView> &lines)> &deliver);

private:
    Status openNewSegmentLocked();
    void retireCurrentLocked();

    QString m_directory;
    mutable QMutex m_mutex;
    Ticket m_current;
    QList<Ticket> m_retiring; // rotated out, events still waiting for Redis
};

} // namespace llmpool::gateway::billing
