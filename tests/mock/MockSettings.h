#pragma once

// MockSettings: what the mock OpenAI upstream does by default (set at start by flags, changed at
// run time by POST /mock/config), and MockFaults, the per-request part that a request may also
// override through its model name ("gpt-4o@status=429,delay_ms=50") or x-mock-* headers.
//
// Keys are the same everywhere: JSON config keys (snake_case), model directives (snake_case or
// kebab-case) and headers ("x-mock-" + kebab-case):
//   status, delay_ms, hang, drop_after, chunks, interval_ms, chunk_size, no_usage,
//   prompt_tokens, completion_tokens, cached_tokens
// Settings only (JSON and flags): fail_requests, models, strict_models, embedding_dimensions,
//   audio_chunk_bytes, audio_seconds.
//
// Plain value types; any thread.

#include "Result.h"

#include <QByteArrayView>
#include <QJsonObject>
#include <QStringList>

namespace llmpool::test {

struct MockFaults
{
    int status = 0;       // ≠ 0: answer with this HTTP status and OpenAI's error body for it
    int delayMs = 0;      // before the response head
    bool hang = false;    // never answer (until the client goes)
    int dropAfter = -1;   // ≥ 0: close the connection after this many stream events (non-stream:
                          // close without any response)
    int chunks = 8;       // content pieces: SSE content chunks, or audio chunks for speech
    int intervalMs = 0;   // between paced stream events
    int chunkSize = 0;    // characters per content piece (0 = short words)
    bool noUsage = false; // report no usage at all (no usage field, no usage chunk)
    int promptTokens = 10;
    int completionTokens = -1; // -1 = one per content piece
    int cachedTokens = 0;

    // One "key=value" (a flag key alone means true). False for an unknown key or a bad value.
    bool apply(QByteArrayView key, QByteArrayView value);
    int effectiveCompletionTokens() const { return completionTokens >= 0 ? completionTokens : chunks; }
    bool sameContentAs(const MockFaults &o) const
    {
        return chunks == o.chunks && chunkSize == o.chunkSize && noUsage == o.noUsage &&
               promptTokens == o.promptTokens && completionTokens == o.completionTokens &&
               cachedTokens == o.cachedTokens;
    }
};

struct MockSettings
{
    MockFaults faults;
    int failRequests = -1; // with a status fault: only the next N requests fail, then it recovers; -1 = all
    QStringList models = {
        QStringLiteral("gpt-4o-mini"), QStringLiteral("gpt-4o"), QStringLiteral("text-embedding-3-small"),
        QStringLiteral("dall-e-3"),    QStringLiteral("tts-1"),  QStringLiteral("whisper-1")};
    bool strictModels = false; // unknown models get 404 model_not_found instead of an answer
    int embeddingDimensions = 16;
    int audioChunkBytes = 4096;
    int audioSeconds = 0; // transcription duration; 0 = from the file size at 16 kB/s (128 kbit/s MP3)

    // Partial update: keys present change, others stay. 400-style error naming the first bad key.
    Status applyJson(const QJsonObject &object);
    QJsonObject toJson() const;
};

} // namespace llmpool::test
