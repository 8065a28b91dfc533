#include "proxy/RequestBody.h"

#include "JsonText.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QJsonParseError>

namespace llmpool::gateway {

namespace {

Error badField(const QString &field, const QString &message)
{
    return Error::invalidRequest(QStringLiteral("invalid_field"), message, field);
}

// Minimal scanner over a JSON text that QJsonDocument already accepted: finds the value span of
// a key of the top-level object. Strings are skipped with their escapes; nesting is counted.
struct Span
{
    qsizetype keyBegin = -1;
    qsizetype valueBegin = -1;
    qsizetype valueEnd = -1;
};

qsizetype skipWs(const QByteArray &s, qsizetype i)
{
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) {
        ++i;
    }
    return i;
}

qsizetype skipString(const QByteArray &s, qsizetype i) // s[i] == '"'; returns index after closing quote
{
    for (++i; i < s.size(); ++i) {
        if (s[i] == '\\') {
            ++i;
        } else if (s[i] == '"') {
            return i + 1;
        }
    }
    return s.size();
}

qsizetype skipValue(const QByteArray &s, qsizetype i)
{
    if (i >= s.size()) {
        return i;
    }
    if (s[i] == '"') {
        return skipString(s, i);
    }
    if (s[i] == '{' || s[i] == '[') {
        int depth = 0;
        while (i < s.size()) {
            const char c = s[i];
            if (c == '"') {
                i = skipString(s, i);
                continue;
            }
            if (c == '{' || c == '[') {
                ++depth;
            } else if (c == '}' || c == ']') {
                if (--depth == 0) {
                    return i + 1;
                }
            }
            ++i;
        }
        return i;
    }
    while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' && s[i] != '\n' && s[i] != '\r' &&
           s[i] != '\t') {
        ++i;
    }
    return i;
}

// The span of top-level key `key` (matched on its raw spelling: clients do not escape ASCII keys).
Span findTopLevel(const QByteArray &s, QByteArrayView key, qsizetype *closingBrace)
{
    Span found;
    qsizetype i = skipWs(s, 0);
    if (i >= s.size() || s[i] != '{') {
        return found;
    }
    ++i;
    while (true) {
        i = skipWs(s, i);
        if (i >= s.size()) {
            return found;
        }
        if (s[i] == '}') {
            *closingBrace = i;
            return found;
        }
        if (s[i] == ',') {
            ++i;
            continue;
        }
        const qsizetype keyBegin = i;
        const qsizetype keyEnd = skipString(s, i);
        const QByteArrayView thisKey(s.constData() + keyBegin + 1, keyEnd - keyBegin - 2);
        i = skipWs(s, keyEnd);
        if (i < s.size() && s[i] == ':') {
            ++i;
        }
        i = skipWs(s, i);
        const qsizetype valueBegin = i;
        i = skipValue(s, i);
        if (thisKey == key && found.keyBegin < 0) {
            found = Span{keyBegin, valueBegin, i};
        }
    }
}

} // namespace

QByteArrayView RequestBody::topLevelValue(const QByteArray &json, QByteArrayView key)
{
    qsizetype closing = -1;
    const Span span = findTopLevel(json, key, &closing);
    if (span.valueBegin < 0 || span.valueEnd > json.size()) {
        return {};
    }
    return QByteArrayView(json.constData() + span.valueBegin, span.valueEnd - span.valueBegin);
}

Result<JsonRequestFields> RequestBody::readJson(const QByteArray &body)
{
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(body, &error);
    if (error.error != QJsonParseError::NoError) {
        return Error::invalidRequest(
            QStringLiteral("invalid_json"),
            QStringLiteral("We could not parse the JSON body of your request: %1 at offset %2.")
                .arg(error.errorString())
                .arg(error.offset));
    }
    if (!doc.isObject()) {
        return Error::invalidRequest(QStringLiteral("invalid_json"),
                                     QStringLiteral("The request body must be a JSON object."));
    }
    const QJsonObject o = doc.object();
    JsonRequestFields f;
    const QJsonValue model = o.value(QLatin1String("model"));
    if (model.isUndefined() || model.isNull()) {
        return Error::invalidRequest(QStringLiteral("missing_model"),
                                     QStringLiteral("You must provide a model parameter."), QStringLiteral("model"));
    }
    if (!model.isString() || model.toString().isEmpty() || model.toString().size() > 256) {
        return badField(QStringLiteral("model"), QStringLiteral("'model' must be a non-empty string."));
    }
    f.model = model.toString();
    const QJsonValue stream = o.value(QLatin1String("stream"));
    if (!stream.isUndefined() && !stream.isNull()) {
        if (!stream.isBool()) {
            return badField(QStringLiteral("stream"), QStringLiteral("'stream' must be a boolean."));
        }
        f.stream = stream.toBool();
    }
    for (QLatin1String name :
         {QLatin1String("max_completion_tokens"), QLatin1String("max_tokens"), QLatin1String("max_output_tokens")}) {
        const QJsonValue v = o.value(name);
        if (v.isUndefined() || v.isNull()) {
            continue;
        }
        if (!v.isDouble() || v.toDouble() < 0 || v.toDouble() > 1e9 || v.toDouble() != double(qint64(v.toDouble()))) {
            return badField(QString(name), QStringLiteral("'%1' must be a non-negative integer.").arg(name));
        }
        f.maxTokens = qint64(v.toDouble());
        break;
    }
    const QJsonValue options = o.value(QLatin1String("stream_options"));
    if (options.isObject()) {
        f.includeUsage = options.toObject().value(QLatin1String("include_usage")).toBool(false);
    }
    const QJsonValue input = o.value(QLatin1String("input"));
    if (input.isString()) {
        f.inputChars = input.toString().size();
    }
    return f;
}

Result<QByteArray> RequestBody::rewriteJson(const QByteArray &body, const QString &model, bool addIncludeUsage)
{
    qsizetype closing = -1;
    const Span modelSpan = findTopLevel(body, "model", &closing);
    if (modelSpan.valueBegin < 0 || closing < 0) {
        return Error::invalidRequest(QStringLiteral("invalid_json"),
                                     QStringLiteral("The request body is not a JSON object."));
    }
    QByteArray out = replaceRange(body, modelSpan.valueBegin, modelSpan.valueEnd, llmpool::jsonString(model));
    if (!addIncludeUsage) {
        return out;
    }
    qsizetype end = -1;
    const Span options = findTopLevel(out, "stream_options", &end);
    if (options.valueBegin < 0 || out.at(options.valueBegin) != '{') {
        // Absent (or null): add it as the last member.
        if (options.valueBegin >= 0) {
            return replaceRange(out, options.valueBegin, options.valueEnd, "{\"include_usage\":true}");
        }
        const qsizetype brace = end;
        qsizetype before = brace - 1;
        while (before > 0 &&
               (out[before] == ' ' || out[before] == '\n' || out[before] == '\r' || out[before] == '\t')) {
            --before;
        }
        const bool empty = out[before] == '{';
        out.insert(brace, empty ? QByteArrayView("\"stream_options\":{\"include_usage\":true}")
                                : QByteArrayView(",\"stream_options\":{\"include_usage\":true}"));
        return out;
    }
    // The client's own stream_options without include_usage (or with it false): merge.
    QJsonObject merged =
        QJsonDocument::fromJson(out.mid(options.valueBegin, options.valueEnd - options.valueBegin)).object();
    merged.insert(QStringLiteral("include_usage"), true);
    return replaceRange(out, options.valueBegin, options.valueEnd,
                        QJsonDocument(merged).toJson(QJsonDocument::Compact));
}

QByteArray RequestBody::replaceRange(const QByteArray &body, qsizetype begin, qsizetype end, QByteArrayView with)
{
    QByteArray out;
    out.reserve(body.size() - (end - begin) + with.size());
    out.append(QByteArrayView(body).first(begin));
    out.append(with);
    out.append(QByteArrayView(body).sliced(end));
    return out;
}

QByteArray RequestBody::boundary(QByteArrayView contentType)
{
    const qsizetype at = QByteArray(contentType.toByteArray()).toLower().indexOf("boundary=");
    if (at < 0) {
        return {};
    }
    QByteArrayView b = contentType.sliced(at + 9);
    const qsizetype semi = b.indexOf(';');
    if (semi >= 0) {
        b = b.first(semi);
    }
    b = b.trimmed();
    if (b.size() >= 2 && b.startsWith('"') && b.endsWith('"')) {
        b = b.sliced(1, b.size() - 2);
    }
    if (b.isEmpty() || b.size() > 200) {
        return {};
    }
    return b.toByteArray();
}

std::optional<MultipartField> RequestBody::multipartField(const QByteArray &body, QByteArrayView boundary,
                                                          QByteArrayView name)
{
    const QByteArray delimiter = QByteArray("--" + boundary.toByteArray());
    const QByteArray nextDelimiter = QByteArray("\r\n" + delimiter);
    const QByteArray wanted = QByteArray("name=\"" + name.toByteArray() + "\"");
    qsizetype pos = body.indexOf(delimiter);
    while (pos >= 0) {
        const qsizetype headBegin = pos + delimiter.size();
        if (body.mid(headBegin, 2) == "--") {
            return std::nullopt; // the closing delimiter
        }
        const qsizetype headEnd = body.indexOf("\r\n\r\n", headBegin);
        if (headEnd < 0) {
            return std::nullopt;
        }
        const qsizetype next = body.indexOf(nextDelimiter, headEnd + 4);
        if (next < 0) {
            return std::nullopt;
        }
        const QByteArray head = body.mid(headBegin, headEnd - headBegin);
        if (head.contains(wanted) && !head.contains("filename=")) {
            MultipartField f;
            f.valueBegin = headEnd + 4;
            f.valueEnd = next;
            f.value = body.mid(f.valueBegin, f.valueEnd - f.valueBegin);
            return f;
        }
        pos = next + 2;
    }
    return std::nullopt;
}

} // namespace llmpool::gateway
