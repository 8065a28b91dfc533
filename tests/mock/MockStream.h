#pragma once

// MockStream: one streamed response of the mock upstream (SSE for chat/completions/responses,
// chunked audio for speech) — its prepared events and its schedule. The first `leading` events go
// out at once, the next `paced` one interval apart, the rest together with the last paced one.
// `dropAfter` ≥ 0 cuts the connection after that many events, mid-stream.
//
// Thread: owned by the MockThread of the connection's event-loop thread and used only there.

#include "http/HttpResponder.h"

#include <QByteArray>
#include <QList>

#include <algorithm>

namespace llmpool::test {

struct MockStream
{
    quint64 id = 0;
    gateway::HttpResponder responder;
    QList<QByteArray> events;
    int leading = 1;
    int paced = 0;
    int intervalMs = 0;
    int dropAfter = -1;
    qint64 startMs = 0; // monotonic
    int next = 0;       // index of the next event to send

    qint64 dueMs(int index) const
    {
        if (index < leading || intervalMs <= 0)
            return startMs;
        const int step = std::min(index - leading + 1, paced);
        return startMs + qint64(step) * intervalMs;
    }
    bool finished() const { return next >= events.size(); }
};

} // namespace llmpool::test
