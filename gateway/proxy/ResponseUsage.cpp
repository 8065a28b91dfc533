#include "proxy/ResponseUsage.h"

#include "proxy/RequestBody.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QVarLengthArray>

namespace llmpool::gateway {

namespace {

std::optional<qint64> count(const QJsonObject &o, QLatin1String key)
{
    const QJsonValue v = o.value(key);
    if (!v.isDouble()) {
        return std::nullopt;
    }
    const double d = v.toDouble();
    if (!(d >= 0)) { // negative or NaN
        return qint64(0);
    }
    return qint64(std::min(d, double(TokenUsage::kMaxTokens)));
}

// JSON's insignificant whitespace.
bool isBlank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

// The counts a `usage` object carries (-1: absent), however it was read; toUsage() applies
// TokenUsage::fromJson's rules to them.
struct UsageCounts
{
    qint64 prompt = -1, input = -1, completion = -1, output = -1, total = -1;
    qint64 promptCached = -1, inputCached = -1; // *_tokens_details.cached_tokens
};

std::optional<TokenUsage> toUsage(const UsageCounts &c)
{
    TokenUsage u;
    bool any = false;
    const auto take = [&](qint64 v, qint64 &into) {
        if (v >= 0) {
            into = v;
            any = true;
        }
    };
    take(c.prompt, u.promptTokens);
    take(c.input, u.promptTokens);
    take(c.completion, u.completionTokens);
    take(c.output, u.completionTokens);
    take(c.total, u.totalTokens);
    for (qint64 cached : {c.promptCached, c.inputCached}) {
        if (cached >= 0)
            u.cachedTokens = std::min(cached, u.promptTokens);
    }
    if (!any) {
        return std::nullopt;
    }
    // Never trust a total that disagrees with its parts.
    u.totalTokens = std::min(u.promptTokens + u.completionTokens, 2 * TokenUsage::kMaxTokens);
    return u;
}

// Whether `text` has a "usage" key whose value is an object: `"usage"`, blanks, `:`, blanks, `{`.
// A scan, not a parse: a false "yes" only costs the parse that follows.
bool hasUsageObject(QByteArrayView text)
{
    static constexpr QByteArrayView key("\"usage\"");
    for (qsizetype at = text.indexOf(key); at >= 0; at = text.indexOf(key, at + 1)) {
        qsizetype i = at + key.size();
        while (i < text.size() && isBlank(text[i]))
            ++i;
        if (i >= text.size() || text[i] != ':')
            continue;
        ++i;
        while (i < text.size() && isBlank(text[i]))
            ++i;
        if (i < text.size() && text[i] == '{')
            return true;
    }
    return false;
}

// The fast path of usageFromResponseBody: a `usage` object of plain keys (no escapes) whose values
// are non-negative integers, or objects of those one level down — what upstreams send — read
// straight from the bytes into the UsageCounts TokenUsage::fromJson reads. Anything else (a
// fraction, an exponent, a sign, a string, null, an array, deeper nesting, a repeated key,
// malformed text) answers false and the caller parses with QJsonDocument instead: same answer,
// slower.
class PlainUsageReader
{
public:
    explicit PlainUsageReader(QByteArrayView text) : m_s(text) {}

    bool read(std::optional<TokenUsage> *out)
    {
        Fields top;
        if (!object(&top, 0))
            return false;
        skipBlanks();
        if (m_i != m_s.size())
            return false;
        *out = toUsage(top.counts);
        return true;
    }

private:
    struct Fields
    {
        UsageCounts counts; // top level
        qint64 cached = -1; // a details object's cached_tokens
    };

    void skipBlanks()
    {
        while (m_i < m_s.size() && isBlank(m_s[m_i]))
            ++m_i;
    }

    bool key(QByteArrayView *k)
    {
        if (m_i >= m_s.size() || m_s[m_i] != '"')
            return false;
        const qsizetype begin = ++m_i;
        while (m_i < m_s.size() && m_s[m_i] != '"') {
            const auto c = uchar(m_s[m_i]);
            if (c == '\\' || c < 0x20 || c >= 0x80)
                return false;
            ++m_i;
        }
        if (m_i >= m_s.size())
            return false;
        *k = m_s.sliced(begin, m_i - begin);
        ++m_i;
        return true;
    }

    // A JSON integer without sign, fraction or exponent, clamped to kMaxTokens.
    bool integer(qint64 *v)
    {
        const qsizetype begin = m_i;
        qint64 n = 0;
        while (m_i < m_s.size() && m_s[m_i] >= '0' && m_s[m_i] <= '9') {
            n = std::min<qint64>(n * 10 + (m_s[m_i] - '0'), TokenUsage::kMaxTokens + 1);
            ++m_i;
        }
        const qsizetype digits = m_i - begin;
        if (digits == 0 || (digits > 1 && m_s[begin] == '0'))
            return false;
        if (m_i < m_s.size() && (m_s[m_i] == '.' || m_s[m_i] == 'e' || m_s[m_i] == 'E'))
            return false;
        *v = std::min(n, TokenUsage::kMaxTokens);
        return true;
    }

    bool object(Fields *f, int depth)
    {
        if (m_i >= m_s.size() || m_s[m_i] != '{')
            return false;
        ++m_i;
        skipBlanks();
        if (m_i < m_s.size() && m_s[m_i] == '}') {
            ++m_i;
            return true;
        }
        QVarLengthArray<QByteArrayView, 16> seen;
        for (;;) {
            skipBlanks();
            QByteArrayView k;
            // (A usage object has a dozen keys; a longer one is left to QJsonDocument rather than
            // checked for repeats in quadratic time.)
            if (!key(&k) || seen.size() >= kMaxKeys || seen.contains(k))
                return false;
            seen.append(k);
            skipBlanks();
            if (m_i >= m_s.size() || m_s[m_i] != ':')
                return false;
            ++m_i;
            skipBlanks();
            if (m_i < m_s.size() && m_s[m_i] == '{') {
                if (depth > 0)
                    return false;
                Fields details;
                if (!object(&details, depth + 1))
                    return false;
                if (k == "prompt_tokens_details")
                    f->counts.promptCached = details.cached;
                else if (k == "input_tokens_details")
                    f->counts.inputCached = details.cached;
            } else {
                qint64 v = 0;
                if (!integer(&v))
                    return false;
                if (depth > 0) {
                    if (k == "cached_tokens")
                        f->cached = v;
                } else if (k == "prompt_tokens") {
                    f->counts.prompt = v;
                } else if (k == "input_tokens") {
                    f->counts.input = v;
                } else if (k == "completion_tokens") {
                    f->counts.completion = v;
                } else if (k == "output_tokens") {
                    f->counts.output = v;
                } else if (k == "total_tokens") {
                    f->counts.total = v;
                }
            }
            skipBlanks();
            if (m_i < m_s.size() && m_s[m_i] == ',') {
                ++m_i;
                continue;
            }
            if (m_i < m_s.size() && m_s[m_i] == '}') {
                ++m_i;
                return true;
            }
            return false;
        }
    }

    static constexpr qsizetype kMaxKeys = 32;
    QByteArrayView m_s;
    qsizetype m_i = 0;
};

} // namespace

std::optional<TokenUsage> TokenUsage::fromJson(const QJsonObject &usage)
{
    const auto get = [](const QJsonObject &o, QLatin1String key) { return count(o, key).value_or(-1); };
    UsageCounts c;
    c.prompt = get(usage, QLatin1String("prompt_tokens"));
    c.input = get(usage, QLatin1String("input_tokens"));
    c.completion = get(usage, QLatin1String("completion_tokens"));
    c.output = get(usage, QLatin1String("output_tokens"));
    c.total = get(usage, QLatin1String("total_tokens"));
    c.promptCached = get(usage.value(QLatin1String("prompt_tokens_details")).toObject(), QLatin1String("cached_tokens"));
    c.inputCached = get(usage.value(QLatin1String("input_tokens_details")).toObject(), QLatin1String("cached_tokens"));
    return toUsage(c);
}

std::optional<TokenUsage> usageFromResponseBody(const QByteArray &body)
{
    // Only the `usage` member is parsed, not the whole answer (which may carry megabytes of
    // choices or embeddings).
    const QByteArrayView usage = RequestBody::topLevelValue(body, "usage");
    if (usage.startsWith('{')) {
        std::optional<TokenUsage> plain;
        if (PlainUsageReader(usage).read(&plain) && plain)
            return plain;
        const QJsonObject u = QJsonDocument::fromJson(usage.toByteArray()).object();
        if (!u.isEmpty()) {
            return TokenUsage::fromJson(u);
        }
    }
    const QJsonObject o = QJsonDocument::fromJson(body).object();
    if (o.value(QLatin1String("usage")).isObject()) {
        return TokenUsage::fromJson(o.value(QLatin1String("usage")).toObject());
    }
    const QJsonObject response = o.value(QLatin1String("response")).toObject();
    if (response.value(QLatin1String("usage")).isObject()) {
        return TokenUsage::fromJson(response.value(QLatin1String("usage")).toObject());
    }
    return std::nullopt;
}

SseRelayFilter::SseRelayFilter(bool dropUsageChunk, qsizetype maxEventBytes)
    : m_dropUsageChunk(dropUsageChunk), m_maxEventBytes(maxEventBytes)
{
}

QByteArray SseRelayFilter::feed(QByteArrayView bytes, bool *ok)
{
    *ok = true;
    m_pending.append(bytes);
    QByteArray out;
    qsizetype start = 0;
    qsizetype keptFrom = 0; // start of the bytes to relay that are not in `out` yet
    while (true) {
        // Events end with a blank line; upstreams use \n\n (OpenAI) or \r\n\r\n.
        qsizetype end = m_pending.indexOf("\n\n", start);
        qsizetype sepLen = 2;
        const qsizetype crlf = m_pending.indexOf("\r\n\r\n", start);
        if (crlf >= 0 && (end < 0 || crlf < end)) {
            end = crlf;
            sepLen = 4;
        }
        if (end < 0) {
            break;
        }
        if (!inspect(QByteArrayView(m_pending.constData() + start, end - start))) {
            out.append(QByteArrayView(m_pending.constData() + keptFrom, start - keptFrom));
            keptFrom = end + sepLen;
        }
        start = end + sepLen;
    }
    if (keptFrom == 0 && start == m_pending.size()) {
        // Only whole events and none dropped (the common case): hand the buffer over, no copy.
        return std::exchange(m_pending, QByteArray());
    }
    out.append(QByteArrayView(m_pending.constData() + keptFrom, start - keptFrom));
    m_pending.remove(0, start);
    if (m_pending.size() > m_maxEventBytes) {
        *ok = false;
    }
    return out;
}

QByteArray SseRelayFilter::flush()
{
    QByteArray rest = std::exchange(m_pending, QByteArray());
    if (!rest.isEmpty()) {
        inspect(rest);
    }
    return rest;
}

bool SseRelayFilter::inspect(QByteArrayView event)
{
    ++m_events;
    // Only events that can carry usage are parsed; the rest pass untouched. Streams that asked
    // for usage carry `"usage":null` in every chunk, so "has a usage key" is not enough: only a
    // usage key whose value is an object is worth a JSON parse (bench/proxy: parsing every chunk
    // was a quarter of the relay's own work).
    if (!hasUsageObject(event)) {
        if (event.contains("data: [DONE]")) {
            m_sawDone = true;
        }
        return true;
    }
    // The data lines of the event, joined (SSE allows several).
    QByteArray data;
    qsizetype pos = 0;
    while (pos < event.size()) {
        qsizetype nl = event.indexOf('\n', pos);
        if (nl < 0) {
            nl = event.size();
        }
        QByteArrayView line = event.sliced(pos, nl - pos);
        if (line.endsWith('\r')) {
            line.chop(1);
        }
        if (line.startsWith("data:")) {
            line = line.sliced(5);
            if (line.startsWith(' ')) {
                line = line.sliced(1);
            }
            if (!data.isEmpty()) {
                data.append('\n');
            }
            data.append(line);
        }
        pos = nl + 1;
    }
    const QJsonObject o = QJsonDocument::fromJson(data).object();
    QJsonObject usage = o.value(QLatin1String("usage")).toObject();
    if (usage.isEmpty()) {
        usage = o.value(QLatin1String("response")).toObject().value(QLatin1String("usage")).toObject();
    }
    if (!usage.isEmpty()) {
        if (auto u = TokenUsage::fromJson(usage)) {
            m_usage = u;
        }
    }
    // The chunk OpenAI sends for include_usage: `choices` empty, `usage` set.
    if (m_dropUsageChunk && !usage.isEmpty() && o.value(QLatin1String("choices")).isArray() &&
        o.value(QLatin1String("choices")).toArray().isEmpty()) {
        return false;
    }
    return true;
}

} // namespace llmpool::gateway
