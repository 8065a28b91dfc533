#pragma once

// Turns SIGTERM / SIGINT into a Qt signal on the thread that created the watcher (the main thread),
// through a self-pipe: the handler only write()s one byte, which is async-signal-safe, and a
// QSocketNotifier reads it on the event loop. One watcher per process.

#include <QObject>

class QSocketNotifier;

namespace llmpool::gateway {

class SignalWatcher : public QObject
{
    Q_OBJECT
public:
    explicit SignalWatcher(QObject *parent = nullptr);
    ~SignalWatcher() override;

    bool isValid() const { return m_notifier != nullptr; }

Q_SIGNALS:
    void terminationRequested(int signalNumber);

private:
    void readSignal();

    QSocketNotifier *m_notifier = nullptr;
};

} // namespace llmpool::gateway
