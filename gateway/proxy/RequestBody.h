#pragma once

// RequestBody: what the data plane reads from, and the only edits it makes to, a client's request
// body (SPEC §3): the body goes upstream byte for byte except the `model` value (public name →
// the upstream's name) and, for streamed chat completions, `stream_options.include_usage: true`.
// Rewrites splice bytes instead of re-serialising, so unknown fields, key order, number spelling
// (integers above 2^53!) and white space reach the upstream exactly as the client sent them.
//
// Pure functions on bytes; any thread.

#include "Result.h"

#include <QByteArray>
#include <QString>

#include <optional>

namespace llmpool::gateway {

struct JsonRequestFields
{
    QString model;
    bool stream = false;
    std::optional<qint64> maxTokens; // max_tokens, max_completion_tokens or max_output_tokens
    bool includeUsage = false;       // the client asked for stream_options.include_usage itself
    qint64 inputChars = 0;           // speech: characters of `input`
};

struct MultipartField
{
    qsizetype valueBegin = -1; // byte offsets of the field's value in the body
    qsizetype valueEnd = -1;
    QByteArray value;
};

class RequestBody
{
public:
    // Validates a JSON request body (an object with a string `model`). Errors are 400s in
    // OpenAI's shape: "invalid_json", "missing_model", "invalid_field" (param names the field).
    static Result<JsonRequestFields> readJson(const QByteArray &body);

    // The body with the top-level `model` value replaced and, when `addIncludeUsage`, a
    // stream_options.include_usage set to true (added, or merged into the client's
    // stream_options). `body` must have passed readJson().
    static Result<QByteArray> rewriteJson(const QByteArray &body, const QString &model, bool addIncludeUsage);

    // multipart/form-data: the boundary of a content-type header, or empty.
    static QByteArray boundary(QByteArrayView contentType);
    // The value of a simple (non-file) form field.
    static std::optional<MultipartField> multipartField(const QByteArray &body, QByteArrayView boundary,
                                                        QByteArrayView name);
    static QByteArray replaceRange(const QByteArray &body, qsizetype begin, qsizetype end, QByteArrayView with);

    // The raw bytes of a top-level member's value (a view into `json`), or a null view. The text
    // is scanned, not parsed: use it on JSON that is known to be well formed, or validate the
    // value afterwards (a reply's `usage` object is parsed on its own).
    static QByteArrayView topLevelValue(const QByteArray &json, QByteArrayView key);
};

} // namespace llmpool::gateway
