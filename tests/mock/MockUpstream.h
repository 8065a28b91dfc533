#pragma once

// MockUpstream: starts llmpool-mock-openai as a child process for a test, on a free port, and
// talks to its control API. The child dies with the test (--die-with-parent) and is stopped by
// stop() or the destructor.
//
//   MockUpstream mock;
//   QVERIFY(mock.start({"--api-key", "sk-up", "--name", "a"}).ok());
//   // point an upstream at mock.apiBase() ("http://127.0.0.1:PORT/v1")
//   mock.configure({{"status", 503}});          // every request fails from now on
//   QCOMPARE(mock.stats()->value("requests_total").toInt(), 3);
//
// Thread: the test thread (the one that called start(); the parent-death signal is tied to it).
// Control calls are blocking, with a timeout, over a fresh connection each.

#include "Result.h"

#include <QByteArray>
#include <QJsonObject>
#include <QList>
#include <QProcess>
#include <QString>
#include <QStringList>

#include <memory>
#include <utility>

namespace llmpool::test {

class MockUpstream
{
public:
    struct Reply
    {
        int status = 0;
        QList<std::pair<QByteArray, QByteArray>> headers; // names lower-cased
        QByteArray body;
        QByteArray header(QByteArrayView lowerName) const;
    };

    MockUpstream() = default;
    ~MockUpstream();
    MockUpstream(const MockUpstream &) = delete;
    MockUpstream &operator=(const MockUpstream &) = delete;

    // Path of llmpool-mock-openai: $LLMPOOL_MOCK_OPENAI, else the one built with the tests.
    static QString executable();

    // Starts the mock with these extra arguments (--port 0 and --die-with-parent are added) and
    // waits for its "listening on" line.
    Status start(const QStringList &arguments = {}, int timeoutMs = 10'000);
    void stop();
    bool isRunning() const;

    quint16 port() const { return m_port; }
    QString baseUrl() const; // "http://127.0.0.1:PORT"
    QString apiBase() const; // baseUrl() + "/v1"

    Result<QJsonObject> stats(int timeoutMs = 5'000) const;
    // POST /mock/config; returns the settings now in force.
    Result<QJsonObject> configure(const QJsonObject &settings, int timeoutMs = 5'000) const;
    Status reset(int timeoutMs = 5'000) const;

    // One blocking HTTP/1.1 exchange with the mock (Connection: close), for tests that want raw
    // access without a client library. `headers` are sent as given.
    Result<Reply> request(const QByteArray &method, const QByteArray &target, const QByteArray &body = {},
                          const QList<std::pair<QByteArray, QByteArray>> &headers = {}, int timeoutMs = 5'000) const;

private:
    std::unique_ptr<QProcess> m_process;
    quint16 m_port = 0;
};

} // namespace llmpool::test
