#pragma once

// The clock seam (after KeePassXC's core/Clock.h). Production code asks Clock::instance() for the
// time; tests install a FakeClock with Clock::setInstance() and move time by hand. Thread-safe:
// the instance pointer is atomic, and a clock is installed before any thread reads it.

#include <QDateTime>

#include <atomic>
#include <cstdint>

namespace llmpool {

class Clock
{
public:
    virtual ~Clock() = default;

    virtual QDateTime nowUtc() const { return QDateTime::currentDateTimeUtc(); }
    virtual qint64 nowSecs() const { return QDateTime::currentSecsSinceEpoch(); }
    virtual qint64 nowMSecs() const { return QDateTime::currentMSecsSinceEpoch(); }

    static const Clock &instance();
    // Installs a clock (nullptr restores the system clock). The caller keeps ownership.
    static void setInstance(const Clock *clock);
};

class FakeClock : public Clock
{
public:
    explicit FakeClock(qint64 msecs = 1'700'000'000'000) : m_ms(msecs) {}
    QDateTime nowUtc() const override { return QDateTime::fromMSecsSinceEpoch(m_ms.load(), Qt::UTC); }
    qint64 nowSecs() const override { return m_ms.load() / 1000; }
    qint64 nowMSecs() const override { return m_ms.load(); }
    void advanceMSecs(qint64 ms) { m_ms += ms; }
    void setMSecs(qint64 ms) { m_ms = ms; }

private:
    std::atomic<qint64> m_ms;
};

} // namespace llmpool
