#pragma once

// MockWire: OpenAI's wire format for the mock upstream — response bodies and SSE events built as
// bytes in OpenAI's own field order (no JSON document, no re-serialisation), plus a minimal scanner
// that finds the top-level members of a request body without building a document. The hot path
// (a small chat completion) therefore costs one scan and a few appends.
//
// Strings called "raw" are JSON string contents exactly as they appeared between the quotes of a
// request (escapes intact), so splicing them back into JSON needs no escaping.
//
// Static functions; any thread.

#include <QByteArray>
#include <QByteArrayView>
#include <QString>
#include <QStringList>
#include <QVarLengthArray>

#include <optional>

namespace llmpool::test {

struct MockFaults;

class MockWire
{
public:
    struct Member
    {
        QByteArrayView key;   // raw
        QByteArrayView value; // the value's JSON text
    };
    using Members = QVarLengthArray<Member, 16>;

    // Top-level members of a JSON object. False when the text is not one well-formed-looking object
    // (strings, nesting and literals are checked for shape, numbers are not validated).
    static bool scanObject(QByteArrayView json, Members &members);
    static QByteArrayView find(const Members &members, QByteArrayView key);
    // The raw contents of a JSON string value, nullopt for any other value.
    static std::optional<QByteArrayView> stringContents(QByteArrayView value);

    // Decodes raw string contents (for stats); invalid escapes give the raw text back.
    static QString decodeRaw(QByteArrayView raw);

    // Content piece i of a reply: a short word, or `chunkSize` letters. JSON-safe as it is.
    static QByteArray piece(int index, int chunkSize);
    static QByteArray fullText(const MockFaults &faults);

    // --- chat/completions ---
    // Everything after `"model":"<model>` of a non-streaming reply, for the given content settings.
    static QByteArray chatTail(const MockFaults &faults);
    static QByteArray chatBody(QByteArrayView id, qint64 created, QByteArrayView model, QByteArrayView tail);
    // A streaming reply's events: role chunk, one chunk per piece, the finish chunk, the usage-only
    // chunk (when includeUsage and usage is not suppressed) and "data: [DONE]". With includeUsage
    // every other chunk carries "usage":null, as OpenAI's do.
    static QList<QByteArray> chatEvents(QByteArrayView id, qint64 created, QByteArrayView model,
                                        const MockFaults &faults, bool includeUsage);

    // --- completions (legacy) ---
    static QByteArray completionTail(const MockFaults &faults);
    static QByteArray completionBody(QByteArrayView id, qint64 created, QByteArrayView model, QByteArrayView tail);
    static QList<QByteArray> completionEvents(QByteArrayView id, qint64 created, QByteArrayView model,
                                              const MockFaults &faults, bool includeUsage);

    // --- responses ---
    static QByteArray responseBody(QByteArrayView id, qint64 created, QByteArrayView model, const MockFaults &faults);
    // response.created … response.completed, framed as "event: …\ndata: …\n\n". The first four are
    // the leading events, then one delta per piece, then four closing events.
    static QList<QByteArray> responseEvents(QByteArrayView id, qint64 created, QByteArrayView model,
                                            const MockFaults &faults);
    static constexpr int kResponseLeadingEvents = 4;

    // --- embeddings, images, transcription, models ---
    // `inputs`: the texts to embed (their content seeds the vectors, so equal inputs give equal
    // vectors). base64 = little-endian float32, like encoding_format "base64".
    static QByteArray embeddingsBody(QByteArrayView model, const QStringList &inputs, int dimensions, bool base64,
                                     const MockFaults &faults);
    static QByteArray imagesBody(qint64 created, QByteArrayView model, QByteArrayView id, int n, bool b64,
                                 const QString &prompt, const MockFaults &faults);
    static QByteArray transcriptionJson(const QString &text, int seconds, bool verbose, bool noUsage);
    static QByteArray modelsList(const QStringList &models);
    static QByteArray modelObject(const QString &model);
    // OpenAI's error body for an injected status (429 rate_limit_exceeded, 500, 503, …).
    static QByteArray faultBody(int status);
    // A 1×1 PNG, base64.
    static QByteArrayView tinyPngBase64();
    static QByteArray sseData(QByteArrayView json);
};

} // namespace llmpool::test
