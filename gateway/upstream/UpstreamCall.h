#pragma once

// UpstreamCall: one HTTP attempt against an upstream, streamed, on the CurlMulti of its thread.
// One object per attempt (failover makes a new one); the caller owns it.
//
// Thread: create it, call everything and destroy it on the thread of its CurlMulti; every callback
// runs there. The callbacks run from inside libcurl (onResponseHead, onBodyData) or right after
// (onFinished): do not spin a nested event loop in them.
//
// Life cycle: set the callbacks, start(), then exactly one of
//   - onFinished(outcome) — the exchange completed (Ok, any HTTP status) or failed; called once,
//     never from inside start() (an immediate failure is delivered from the event loop), after
//     which the call is idle and may be deleted, also from inside onFinished;
//   - abort() by the caller — nothing is called back any more.
//
// Streaming and backpressure: onResponseHead(status, headers) runs once, when the final head is
// complete (1xx interim heads are skipped). onBodyData(chunk) then runs for each piece of body as
// it arrives. Returning false means "my consumer is full and I did NOT take this chunk": the
// transfer pauses (curl stops reading the socket, TCP pushes back on the upstream) and after
// resume() the SAME bytes are offered again first, so a consumer must check its room before
// writing, never write and then refuse. resume() — typically from the client socket's drained
// callback — unpauses on the next event-loop iteration (never from inside a callback, never
// synchronously). While paused the idle timeout does not run, the stall timeout does: a client
// that never reads ends the call as ClientStalled after timeouts.stallMs. Without onBodyData, the
// body is buffered in the call (body()), bounded by maxBodyBytes.
//
// abort() (client went away) removes the handle at once — or right after the curl call in
// progress when called from inside a callback — which closes the upstream connection (an
// unfinished transfer is never put back in the connection cache). Deleting the call aborts it;
// deleting it from inside onResponseHead / onBodyData is safe too.

#include "upstream/UpstreamOutcome.h"
#include "upstream/UpstreamRequest.h"

#include <QBasicTimer>
#include <QByteArrayView>
#include <QElapsedTimer>
#include <QObject>
#include <QPointer>

#include <cstddef>
#include <functional>
#include <utility>

namespace llmpool::gateway {

class CurlMulti;

namespace detail {
struct CurlTransfer;
struct UpstreamCallbacks;
} // namespace detail

class UpstreamCall : public QObject
{
    Q_OBJECT

public:
    using HeadCallback = std::function<void(int status, const UpstreamHeaders &headers)>;
    using BodyCallback = std::function<bool(QByteArrayView chunk)>;
    using FinishedCallback = std::function<void(const UpstreamOutcome &outcome)>;

    enum class State { Idle, Running, Finished };

    // `multi` = nullptr uses CurlMulti::forCurrentThread().
    explicit UpstreamCall(UpstreamRequest request, CurlMulti *multi = nullptr, QObject *parent = nullptr);
    ~UpstreamCall() override;

    void onResponseHead(HeadCallback callback) { m_onHead = std::move(callback); }
    void onBodyData(BodyCallback callback) { m_onBody = std::move(callback); }
    void onFinished(FinishedCallback callback) { m_onFinished = std::move(callback); }

    void start();
    void resume();
    void abort();

    State state() const { return m_state; }
    bool isRunning() const { return m_state == State::Running; }
    bool isPaused() const { return m_paused; }
    const UpstreamRequest &request() const { return m_request; }

    // Valid once the head arrived (0 / empty before).
    int status() const { return m_status; }
    const UpstreamHeaders &responseHeaders() const { return m_headers; }
    qint64 bytesReceived() const { return m_bytesReceived; }
    // The buffered body when no onBodyData callback was set.
    const QByteArray &body() const { return m_body; }
    QByteArray takeBody() { return std::exchange(m_body, QByteArray()); }
    // Meaningful once Finished.
    const UpstreamOutcome &outcome() const { return m_outcome; }

protected:
    void timerEvent(QTimerEvent *event) override;

private:
    friend class CurlMulti;
    friend struct detail::UpstreamCallbacks;

    enum class Phase { Connecting, AwaitingFirstByte, Receiving };
    enum class HeaderResult { Continue, HeadComplete, Fail };

    // Sets every per-request option on the pooled handle; returns an error text on failure.
    QString configure(detail::CurlTransfer *t);
    void buildHeaderList(detail::CurlTransfer *t);

    // From the easy callbacks (inside curl).
    void requestSent();
    HeaderResult headerLine(const char *data, size_t length);
    void deliverHead();
    void noteBodyAccepted(size_t length);
    void notePaused();

    // From CurlMulti.
    void curlDone(int curlCode);
    void beforeUnpause();
    void detachFromMulti();

    qint64 nowMs() const { return m_clock.elapsed(); }
    qint64 nextDeadlineMs() const;
    void rearmDeadline();
    void armDeadline(qint64 deadlineMs); // (ms on m_clock)
    void fail(UpstreamOutcome::Kind kind, const QString &message); // outside curl only
    void failLater(UpstreamOutcome::Kind kind, const QString &message);
    void collectTimings();
    void releaseTransfer();
    void finish(); // delivers m_outcome; nothing touches `this` after it
    QString describeCurlError(int curlCode) const;
    UpstreamOutcome::Kind classify(int curlCode) const;

    UpstreamRequest m_request;
    QPointer<CurlMulti> m_multi;
    detail::CurlTransfer *m_transfer = nullptr;
    HeadCallback m_onHead;
    BodyCallback m_onBody;
    FinishedCallback m_onFinished;

    State m_state = State::Idle;
    Phase m_phase = Phase::Connecting;
    bool m_paused = false;
    bool m_headComplete = false;
    int m_status = 0;
    UpstreamHeaders m_headers;
    qint64 m_headerBytes = 0;
    qint64 m_bytesReceived = 0;
    QByteArray m_body;
    // Set inside a callback when we fail the transfer on purpose (the curl code is then just
    // CURLE_WRITE_ERROR); wins over curl's classification.
    UpstreamOutcome::Kind m_pendingKind = UpstreamOutcome::Kind::Ok;
    QString m_pendingMessage;
    UpstreamOutcome m_outcome;

    QElapsedTimer m_clock; // started by start(); every *Ms below is relative to it
    qint64 m_requestSentMs = 0;
    qint64 m_lastActivityMs = 0;
    qint64 m_pausedAtMs = 0;
    qint64 m_firstByteUs = -1;
    QBasicTimer m_deadline; // the earliest of the timeouts we enforce ourselves
    qint64 m_deadlineArmedForMs = -1;
};

} // namespace llmpool::gateway
