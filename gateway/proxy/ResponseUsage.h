#pragma once

// ResponseUsage: reads what an upstream says it used, without trusting it — numbers are clamped to
// sane bounds, wrong types count as absent — and the SSE filter that relays a stream event by
// event, picking the usage out of it and, when the gateway itself asked for usage
// (stream_options.include_usage added), removing the usage-only chunk so the client receives
// exactly what OpenAI would have sent it.
//
// Pure logic on bytes; any thread; one SseRelayFilter per stream.

#include <QByteArray>
#include <QJsonObject>

#include <optional>

namespace llmpool::gateway {

struct TokenUsage
{
    qint64 promptTokens = 0;
    qint64 cachedTokens = 0;
    qint64 completionTokens = 0;
    qint64 totalTokens = 0;

    // Chat/completions/embeddings style (prompt_tokens, completion_tokens, total_tokens,
    // prompt_tokens_details.cached_tokens) or Responses style (input_tokens, output_tokens,
    // input_tokens_details.cached_tokens). nullopt when `usage` holds none of them.
    static std::optional<TokenUsage> fromJson(const QJsonObject &usage);
    // Upper bound for any one count: a reply claiming more is clamped (and so cannot overflow a
    // cost computation).
    static constexpr qint64 kMaxTokens = 100'000'000;
};

// The usage object of a complete (non-streamed) JSON response: top-level `usage`, or
// `response.usage` (Responses API events).
std::optional<TokenUsage> usageFromResponseBody(const QByteArray &body);

class SseRelayFilter
{
public:
    // `dropUsageChunk`: remove chat-completion chunks that carry usage and no choices.
    explicit SseRelayFilter(bool dropUsageChunk, qsizetype maxEventBytes = 4 * 1024 * 1024);

    // Feeds upstream bytes; returns the bytes to send to the client now (complete events only;
    // an incomplete tail waits for more). Returns false in `ok` when an event grew over
    // maxEventBytes (the upstream is misbehaving).
    QByteArray feed(QByteArrayView bytes, bool *ok);
    // What is left at the end of the stream (an unterminated last event is passed on as is).
    QByteArray flush();

    const std::optional<TokenUsage> &usage() const { return m_usage; }
    bool sawDone() const { return m_sawDone; }
    qint64 events() const { return m_events; }

private:
    // Returns whether the event is to be relayed.
    bool inspect(QByteArrayView event);

    bool m_dropUsageChunk;
    qsizetype m_maxEventBytes;
    QByteArray m_pending;
    std::optional<TokenUsage> m_usage;
    bool m_sawDone = false;
    qint64 m_events = 0;
};

} // namespace llmpool::gateway
