#include "MockWire.h"

#include "JsonText.h"
#include "MockSettings.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QtEndian>

#include <cmath>

namespace llmpool::test {

namespace {

bool isSpace(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

qsizetype skipSpace(QByteArrayView s, qsizetype pos)
{
    while (pos < s.size() && isSpace(s[pos]))
        ++pos;
    return pos;
}

// pos at the opening quote; returns the position after the closing quote, or -1.
qsizetype skipString(QByteArrayView s, qsizetype pos)
{
    for (++pos; pos < s.size(); ++pos) {
        const auto c = static_cast<unsigned char>(s[pos]);
        if (c == '\\')
            ++pos;
        else if (c == '"')
            return pos + 1;
        else if (c < 0x20)
            return -1;
    }
    return -1;
}

qsizetype skipValue(QByteArrayView s, qsizetype pos)
{
    if (pos >= s.size())
        return -1;
    const char c = s[pos];
    if (c == '"')
        return skipString(s, pos);
    if (c == '{' || c == '[') {
        int depth = 0;
        while (pos < s.size()) {
            const char d = s[pos];
            if (d == '"') {
                pos = skipString(s, pos);
                if (pos < 0)
                    return -1;
                continue;
            }
            if (d == '{' || d == '[')
                ++depth;
            else if (d == '}' || d == ']') {
                if (--depth == 0)
                    return pos + 1;
            }
            ++pos;
        }
        return -1;
    }
    if (!(c == '-' || (c >= '0' && c <= '9') || c == 't' || c == 'f' || c == 'n'))
        return -1;
    const qsizetype start = pos;
    while (pos < s.size() && !isSpace(s[pos]) && s[pos] != ',' && s[pos] != '}' && s[pos] != ']')
        ++pos;
    return pos > start ? pos : -1;
}

// Lorem-ish words; the first is what a chat reply starts with.
constexpr const char *kWords[] = {"Hello",     "!", " This", " is",    " the", " LLMPool", " mock", " upstream",
                                  " speaking", ",", " one",  " piece", " at",  " a",       " time", "."};

QByteArray usageChatJson(const MockFaults &f)
{
    const int completion = f.effectiveCompletionTokens();
    return "{\"prompt_tokens\":" + QByteArray::number(f.promptTokens) +
           ",\"completion_tokens\":" + QByteArray::number(completion) +
           ",\"total_tokens\":" + QByteArray::number(qint64(f.promptTokens) + completion) +
           ",\"prompt_tokens_details\":{\"cached_tokens\":" + QByteArray::number(f.cachedTokens) +
           ",\"audio_tokens\":0},\"completion_tokens_details\":{\"reasoning_tokens\":0,\"audio_tokens\":0,"
           "\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}}";
}

QByteArray usageCompletionJson(const MockFaults &f)
{
    const int completion = f.effectiveCompletionTokens();
    return "{\"prompt_tokens\":" + QByteArray::number(f.promptTokens) +
           ",\"completion_tokens\":" + QByteArray::number(completion) +
           ",\"total_tokens\":" + QByteArray::number(qint64(f.promptTokens) + completion) + "}";
}

QByteArray usageResponsesJson(const MockFaults &f)
{
    if (f.noUsage)
        return QByteArrayLiteral("null");
    const int completion = f.effectiveCompletionTokens();
    return "{\"input_tokens\":" + QByteArray::number(f.promptTokens) +
           ",\"input_tokens_details\":{\"cached_tokens\":" + QByteArray::number(f.cachedTokens) +
           "},\"output_tokens\":" + QByteArray::number(completion) +
           ",\"output_tokens_details\":{\"reasoning_tokens\":0},\"total_tokens\":" +
           QByteArray::number(qint64(f.promptTokens) + completion) + "}";
}

QByteArray sseEvent(QByteArrayView event, QByteArrayView json)
{
    QByteArray out;
    out.reserve(event.size() + json.size() + 16);
    out.append("event: ").append(event).append("\ndata: ").append(json).append("\n\n");
    return out;
}

} // namespace

bool MockWire::scanObject(QByteArrayView s, Members &members)
{
    members.clear();
    qsizetype pos = skipSpace(s, 0);
    if (pos >= s.size() || s[pos] != '{')
        return false;
    pos = skipSpace(s, pos + 1);
    if (pos < s.size() && s[pos] == '}')
        return skipSpace(s, pos + 1) == s.size();
    while (pos < s.size()) {
        if (s[pos] != '"')
            return false;
        const qsizetype keyEnd = skipString(s, pos);
        if (keyEnd < 0)
            return false;
        const QByteArrayView key = s.sliced(pos + 1, keyEnd - pos - 2);
        pos = skipSpace(s, keyEnd);
        if (pos >= s.size() || s[pos] != ':')
            return false;
        pos = skipSpace(s, pos + 1);
        const qsizetype valueEnd = skipValue(s, pos);
        if (valueEnd < 0)
            return false;
        members.append({key, s.sliced(pos, valueEnd - pos)});
        pos = skipSpace(s, valueEnd);
        if (pos >= s.size())
            return false;
        if (s[pos] == '}')
            return skipSpace(s, pos + 1) == s.size();
        if (s[pos] != ',')
            return false;
        pos = skipSpace(s, pos + 1);
    }
    return false;
}

QByteArrayView MockWire::find(const Members &members, QByteArrayView key)
{
    for (const Member &m : members) {
        if (m.key == key)
            return m.value;
    }
    return {};
}

std::optional<QByteArrayView> MockWire::stringContents(QByteArrayView value)
{
    if (value.size() < 2 || value.front() != '"' || value.back() != '"')
        return std::nullopt;
    return value.sliced(1, value.size() - 2);
}

QString MockWire::decodeRaw(QByteArrayView raw)
{
    const QJsonDocument doc = QJsonDocument::fromJson("[\"" + raw.toByteArray() + "\"]");
    if (!doc.isArray())
        return QString::fromUtf8(raw);
    return doc.array().at(0).toString();
}

QByteArray MockWire::piece(int index, int chunkSize)
{
    if (chunkSize <= 0)
        return QByteArray(kWords[index % int(std::size(kWords))]);
    QByteArray out(chunkSize, Qt::Uninitialized);
    for (int i = 0; i < chunkSize; ++i)
        out[i] = char('a' + (index + i) % 26);
    return out;
}

QByteArray MockWire::fullText(const MockFaults &faults)
{
    QByteArray text;
    for (int i = 0; i < faults.chunks; ++i)
        text += piece(i, faults.chunkSize);
    return text;
}

QByteArray MockWire::sseData(QByteArrayView json)
{
    QByteArray out;
    out.reserve(json.size() + 8);
    out.append("data: ").append(json).append("\n\n");
    return out;
}

// ---- chat/completions -------------------------------------------------------------------------

QByteArray MockWire::chatTail(const MockFaults &faults)
{
    QByteArray tail = "\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"" +
                      fullText(faults) +
                      "\",\"refusal\":null,\"annotations\":[]},\"logprobs\":null,\"finish_reason\":\"stop\"}]";
    if (!faults.noUsage)
        tail += ",\"usage\":" + usageChatJson(faults);
    tail += ",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_mock\"}";
    return tail;
}

QByteArray MockWire::chatBody(QByteArrayView id, qint64 created, QByteArrayView model, QByteArrayView tail)
{
    QByteArray out;
    out.reserve(80 + id.size() + model.size() + tail.size());
    out.append("{\"id\":\"chatcmpl-")
        .append(id)
        .append("\",\"object\":\"chat.completion\",\"created\":")
        .append(QByteArray::number(created))
        .append(",\"model\":\"")
        .append(model)
        .append(tail);
    return out;
}

QList<QByteArray> MockWire::chatEvents(QByteArrayView id, qint64 created, QByteArrayView model,
                                       const MockFaults &faults, bool includeUsage)
{
    const QByteArray head = "data: {\"id\":\"chatcmpl-" + id.toByteArray() +
                            "\",\"object\":\"chat.completion.chunk\",\"created\":" + QByteArray::number(created) +
                            ",\"model\":\"" + model.toByteArray() +
                            "\",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_mock\",\"choices\":[";
    const QByteArray end = includeUsage ? QByteArrayLiteral("],\"usage\":null}\n\n") : QByteArrayLiteral("]}\n\n");
    QList<QByteArray> events;
    events.reserve(faults.chunks + 4);
    events.append(head +
                  "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},"
                  "\"logprobs\":null,\"finish_reason\":null}" +
                  end);
    for (int i = 0; i < faults.chunks; ++i) {
        events.append(head + "{\"index\":0,\"delta\":{\"content\":\"" + piece(i, faults.chunkSize) +
                      "\"},\"logprobs\":null,\"finish_reason\":null}" + end);
    }
    events.append(head + "{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}" + end);
    if (includeUsage && !faults.noUsage)
        events.append(head + "],\"usage\":" + usageChatJson(faults) + "}\n\n");
    events.append(QByteArrayLiteral("data: [DONE]\n\n"));
    return events;
}

// ---- completions ------------------------------------------------------------------------------

QByteArray MockWire::completionTail(const MockFaults &faults)
{
    QByteArray tail = "\",\"choices\":[{\"text\":\"" + fullText(faults) +
                      "\",\"index\":0,\"logprobs\":null,\"finish_reason\":\"stop\"}]";
    if (!faults.noUsage)
        tail += ",\"usage\":" + usageCompletionJson(faults);
    tail += ",\"system_fingerprint\":\"fp_mock\"}";
    return tail;
}

QByteArray MockWire::completionBody(QByteArrayView id, qint64 created, QByteArrayView model, QByteArrayView tail)
{
    return "{\"id\":\"cmpl-" + id.toByteArray() +
           "\",\"object\":\"text_completion\",\"created\":" + QByteArray::number(created) + ",\"model\":\"" +
           model.toByteArray() + tail.toByteArray();
}

QList<QByteArray> MockWire::completionEvents(QByteArrayView id, qint64 created, QByteArrayView model,
                                             const MockFaults &faults, bool includeUsage)
{
    const QByteArray head = "data: {\"id\":\"cmpl-" + id.toByteArray() +
                            "\",\"object\":\"text_completion\",\"created\":" + QByteArray::number(created) +
                            ",\"choices\":[";
    const QByteArray end = "],\"model\":\"" + model.toByteArray() + "\",\"system_fingerprint\":\"fp_mock\"" +
                           (includeUsage ? ",\"usage\":null}\n\n" : "}\n\n");
    QList<QByteArray> events;
    events.reserve(faults.chunks + 3);
    for (int i = 0; i < faults.chunks; ++i) {
        events.append(head + "{\"text\":\"" + piece(i, faults.chunkSize) +
                      "\",\"index\":0,\"logprobs\":null,\"finish_reason\":null}" + end);
    }
    events.append(head + "{\"text\":\"\",\"index\":0,\"logprobs\":null,\"finish_reason\":\"stop\"}" + end);
    if (includeUsage && !faults.noUsage) {
        events.append("data: {\"id\":\"cmpl-" + id.toByteArray() + "\",\"object\":\"text_completion\",\"created\":" +
                      QByteArray::number(created) + ",\"model\":\"" + model.toByteArray() +
                      "\",\"system_fingerprint\":\"fp_mock\",\"choices\":[],\"usage\":" + usageCompletionJson(faults) +
                      "}\n\n");
    }
    events.append(QByteArrayLiteral("data: [DONE]\n\n"));
    return events;
}

// ---- responses --------------------------------------------------------------------------------

namespace {

QByteArray responseObject(QByteArrayView id, qint64 created, QByteArrayView model, bool completed,
                          QByteArrayView output, QByteArrayView usage)
{
    return "{\"id\":\"resp_" + id.toByteArray() +
           "\",\"object\":\"response\",\"created_at\":" + QByteArray::number(created) + ",\"status\":\"" +
           (completed ? "completed" : "in_progress") +
           "\",\"background\":false,\"error\":null,\"incomplete_details\":null,\"instructions\":null,"
           "\"max_output_tokens\":null,\"model\":\"" +
           model.toByteArray() + "\",\"output\":[" + output.toByteArray() +
           "],\"parallel_tool_calls\":true,\"previous_response_id\":null,\"reasoning\":{\"effort\":null,"
           "\"summary\":null},\"service_tier\":\"default\",\"store\":true,\"temperature\":1.0,\"text\":{\"format\":"
           "{\"type\":\"text\"}},\"tool_choice\":\"auto\",\"tools\":[],\"top_p\":1.0,\"truncation\":\"disabled\","
           "\"usage\":" +
           usage.toByteArray() + ",\"user\":null,\"metadata\":{}}";
}

QByteArray outputTextPart(QByteArrayView text)
{
    return "{\"type\":\"output_text\",\"annotations\":[],\"logprobs\":[],\"text\":\"" + text.toByteArray() + "\"}";
}

QByteArray messageItem(QByteArrayView id, bool completed, QByteArrayView text)
{
    return "{\"id\":\"msg_" + id.toByteArray() + "\",\"type\":\"message\",\"status\":\"" +
           (completed ? "completed" : "in_progress") + "\",\"content\":[" +
           (completed ? outputTextPart(text) : QByteArray()) + "],\"role\":\"assistant\"}";
}

} // namespace

QByteArray MockWire::responseBody(QByteArrayView id, qint64 created, QByteArrayView model, const MockFaults &faults)
{
    return responseObject(id, created, model, true, messageItem(id, true, fullText(faults)),
                          usageResponsesJson(faults));
}

QList<QByteArray> MockWire::responseEvents(QByteArrayView id, qint64 created, QByteArrayView model,
                                           const MockFaults &faults)
{
    const QByteArray text = fullText(faults);
    const QByteArray itemRef = "\"item_id\":\"msg_" + id.toByteArray() + "\",\"output_index\":0,\"content_index\":0";
    QList<QByteArray> events;
    int seq = 0;
    auto add = [&events, &seq](const char *type, const QByteArray &rest) {
        const QByteArray json = "{\"type\":\"" + QByteArray(type) +
                                "\",\"sequence_number\":" + QByteArray::number(seq++) + ',' + rest + '}';
        events.append(sseEvent(type, json));
    };
    const QByteArray inProgress = responseObject(id, created, model, false, {}, "null");
    add("response.created", "\"response\":" + inProgress);
    add("response.in_progress", "\"response\":" + inProgress);
    add("response.output_item.added", "\"output_index\":0,\"item\":" + messageItem(id, false, {}));
    add("response.content_part.added", itemRef + ",\"part\":" + outputTextPart({}));
    for (int i = 0; i < faults.chunks; ++i)
        add("response.output_text.delta",
            itemRef + ",\"delta\":\"" + piece(i, faults.chunkSize) + "\",\"logprobs\":[]");
    add("response.output_text.done", itemRef + ",\"text\":\"" + text + "\",\"logprobs\":[]");
    add("response.content_part.done", itemRef + ",\"part\":" + outputTextPart(text));
    add("response.output_item.done", "\"output_index\":0,\"item\":" + messageItem(id, true, text));
    add("response.completed", "\"response\":" + responseBody(id, created, model, faults));
    return events;
}

// ---- embeddings, images, transcription, models --------------------------------------------------

QByteArray MockWire::embeddingsBody(QByteArrayView model, const QStringList &inputs, int dimensions, bool base64,
                                    const MockFaults &faults)
{
    QByteArray out = "{\"object\":\"list\",\"data\":[";
    for (qsizetype i = 0; i < inputs.size(); ++i) {
        // A deterministic unit vector per input text (xorshift seeded by the text's hash).
        quint64 state = qHash(inputs[i], 0x5eed) | 1;
        std::vector<float> v(static_cast<size_t>(dimensions));
        double norm = 0;
        for (float &x : v) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            x = float(double(state % 2'000'001) / 1'000'000.0 - 1.0);
            norm += double(x) * double(x);
        }
        norm = std::sqrt(norm > 0 ? norm : 1);
        if (i > 0)
            out += ',';
        out += "{\"object\":\"embedding\",\"index\":" + QByteArray::number(i) + ",\"embedding\":";
        if (base64) {
            QByteArray raw(dimensions * 4, Qt::Uninitialized);
            for (int d = 0; d < dimensions; ++d)
                qToLittleEndian(float(v[size_t(d)] / norm), raw.data() + 4 * d);
            out += '"' + raw.toBase64() + '"';
        } else {
            out += '[';
            for (int d = 0; d < dimensions; ++d) {
                if (d > 0)
                    out += ',';
                out += QByteArray::number(double(v[size_t(d)]) / norm, 'g', 9);
            }
            out += ']';
        }
        out += '}';
    }
    out += "],\"model\":\"" + model.toByteArray() + '"';
    if (!faults.noUsage) {
        out += ",\"usage\":{\"prompt_tokens\":" + QByteArray::number(faults.promptTokens) +
               ",\"total_tokens\":" + QByteArray::number(faults.promptTokens) + '}';
    }
    out += '}';
    return out;
}

QByteArrayView MockWire::tinyPngBase64()
{
    return "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";
}

QByteArray MockWire::imagesBody(qint64 created, QByteArrayView model, QByteArrayView id, int n, bool b64,
                                const QString &prompt, const MockFaults &faults)
{
    const bool gptImage = model.startsWith("gpt-image");
    QByteArray out = "{\"created\":" + QByteArray::number(created) + ",\"data\":[";
    for (int i = 0; i < n; ++i) {
        if (i > 0)
            out += ',';
        if (b64 || gptImage) {
            out += "{\"b64_json\":\"" + tinyPngBase64().toByteArray() + "\"}";
        } else {
            out += "{\"url\":\"https://mock.invalid/images/" + id.toByteArray() + '-' + QByteArray::number(i) +
                   ".png\",\"revised_prompt\":" + jsonString(prompt) + '}';
        }
    }
    out += ']';
    if (gptImage && !faults.noUsage) {
        const int output = faults.effectiveCompletionTokens();
        out +=
            ",\"usage\":{\"input_tokens\":" + QByteArray::number(faults.promptTokens) +
            ",\"input_tokens_details\":{\"image_tokens\":0,\"text_tokens\":" + QByteArray::number(faults.promptTokens) +
            "},\"output_tokens\":" + QByteArray::number(output) +
            ",\"total_tokens\":" + QByteArray::number(qint64(faults.promptTokens) + output) + '}';
    }
    out += '}';
    return out;
}

QByteArray MockWire::transcriptionJson(const QString &text, int seconds, bool verbose, bool noUsage)
{
    const QByteArray usage =
        noUsage ? QByteArray() : ",\"usage\":{\"type\":\"duration\",\"seconds\":" + QByteArray::number(seconds) + '}';
    if (verbose) {
        return "{\"task\":\"transcribe\",\"language\":\"english\",\"duration\":" + QByteArray::number(seconds) +
               ".0,\"text\":" + jsonString(text) + ",\"segments\":[]" + usage + '}';
    }
    return "{\"text\":" + jsonString(text) + usage + '}';
}

QByteArray MockWire::modelObject(const QString &model)
{
    return "{\"id\":" + jsonString(model) + ",\"object\":\"model\",\"created\":1700000000,\"owned_by\":\"mock\"}";
}

QByteArray MockWire::modelsList(const QStringList &models)
{
    QByteArray out = "{\"object\":\"list\",\"data\":[";
    for (qsizetype i = 0; i < models.size(); ++i) {
        if (i > 0)
            out += ',';
        out += modelObject(models[i]);
    }
    out += "]}";
    return out;
}

QByteArray MockWire::faultBody(int status)
{
    // OpenAI's texts for the statuses a gateway must fail over on; a plain one for the others.
    const char *message;
    const char *type;
    const char *code = nullptr;
    switch (status) {
    case 429:
        message = "Rate limit reached for requests (mock). Please try again later.";
        type = "requests";
        code = "rate_limit_exceeded";
        break;
    case 500:
        message = "The server had an error while processing your request. Sorry about that!";
        type = "server_error";
        break;
    case 502:
        message = "Bad gateway.";
        type = "server_error";
        break;
    case 503:
        message = "The engine is currently overloaded, please try again later.";
        type = "server_error";
        break;
    default:
        message = "Injected mock error.";
        type = status >= 500 ? "server_error" : "invalid_request_error";
        break;
    }
    return QByteArray("{\"error\":{\"message\":\"") + message + "\",\"type\":\"" + type +
           "\",\"param\":null,\"code\":" + (code ? '"' + QByteArray(code) + '"' : QByteArray("null")) + "}}";
}

} // namespace llmpool::test
