#include "MockSettings.h"

#include <QJsonArray>

namespace llmpool::test {

namespace {

bool parseInt(QByteArrayView value, int min, int max, int &out)
{
    bool ok = false;
    const int v = value.trimmed().toInt(&ok);
    if (!ok || v < min || v > max)
        return false;
    out = v;
    return true;
}

bool parseBool(QByteArrayView value, bool &out)
{
    const QByteArrayView v = value.trimmed();
    if (v.isEmpty() || v == "1" || v == "true" || v == "yes" || v == "on") {
        out = true;
        return true;
    }
    if (v == "0" || v == "false" || v == "no" || v == "off") {
        out = false;
        return true;
    }
    return false;
}

} // namespace

bool MockFaults::apply(QByteArrayView rawKey, QByteArrayView value)
{
    QByteArray key = rawKey.trimmed().toByteArray().toLower();
    key.replace('-', '_');
    constexpr int kMax = 100'000'000;
    if (key == "status")
        return parseInt(value, 0, 599, status);
    if (key == "delay_ms")
        return parseInt(value, 0, kMax, delayMs);
    if (key == "hang")
        return parseBool(value, hang);
    if (key == "drop_after")
        return parseInt(value, -1, kMax, dropAfter);
    if (key == "chunks")
        return parseInt(value, 0, 1'000'000, chunks);
    if (key == "interval_ms")
        return parseInt(value, 0, kMax, intervalMs);
    if (key == "chunk_size")
        return parseInt(value, 0, 16 * 1024 * 1024, chunkSize);
    if (key == "no_usage")
        return parseBool(value, noUsage);
    if (key == "prompt_tokens")
        return parseInt(value, 0, kMax, promptTokens);
    if (key == "completion_tokens")
        return parseInt(value, -1, kMax, completionTokens);
    if (key == "cached_tokens")
        return parseInt(value, 0, kMax, cachedTokens);
    return false;
}

Status MockSettings::applyJson(const QJsonObject &object)
{
    MockSettings next = *this;
    for (auto it = object.begin(); it != object.end(); ++it) {
        const QString key = it.key();
        const QJsonValue v = it.value();
        auto bad = [&key](const QString &why) {
            return Error::invalidRequest(QStringLiteral("invalid_mock_config"), key + QStringLiteral(": ") + why, key);
        };
        if (key == QLatin1String("models")) {
            if (!v.isArray())
                return bad(QStringLiteral("expected an array of model ids"));
            next.models.clear();
            for (const QJsonValue &m : v.toArray())
                next.models.append(m.toString());
        } else if (key == QLatin1String("strict_models")) {
            if (!v.isBool())
                return bad(QStringLiteral("expected true or false"));
            next.strictModels = v.toBool();
        } else if (key == QLatin1String("fail_requests") || key == QLatin1String("embedding_dimensions") ||
                   key == QLatin1String("audio_chunk_bytes") || key == QLatin1String("audio_seconds")) {
            if (!v.isDouble())
                return bad(QStringLiteral("expected an integer"));
            const int n = v.toInt(-2);
            if (key == QLatin1String("fail_requests")) {
                if (n < -1)
                    return bad(QStringLiteral("expected -1 or more"));
                next.failRequests = n;
            } else if (key == QLatin1String("embedding_dimensions")) {
                if (n < 1 || n > 65'536)
                    return bad(QStringLiteral("expected 1..65536"));
                next.embeddingDimensions = n;
            } else if (key == QLatin1String("audio_chunk_bytes")) {
                if (n < 1 || n > 16 * 1024 * 1024)
                    return bad(QStringLiteral("expected 1..16777216"));
                next.audioChunkBytes = n;
            } else {
                if (n < 0)
                    return bad(QStringLiteral("expected 0 or more"));
                next.audioSeconds = n;
            }
        } else {
            QByteArray text;
            if (v.isBool())
                text = v.toBool() ? "true" : "false";
            else if (v.isDouble())
                text = QByteArray::number(v.toInteger());
            else if (v.isString())
                text = v.toString().toUtf8();
            else
                return bad(QStringLiteral("expected a number or a boolean"));
            if (!next.faults.apply(key.toUtf8(), text))
                return bad(QStringLiteral("unknown key or bad value"));
        }
    }
    *this = next;
    return Ok{};
}

QJsonObject MockSettings::toJson() const
{
    return QJsonObject{
        {QStringLiteral("status"), faults.status},
        {QStringLiteral("delay_ms"), faults.delayMs},
        {QStringLiteral("hang"), faults.hang},
        {QStringLiteral("drop_after"), faults.dropAfter},
        {QStringLiteral("chunks"), faults.chunks},
        {QStringLiteral("interval_ms"), faults.intervalMs},
        {QStringLiteral("chunk_size"), faults.chunkSize},
        {QStringLiteral("no_usage"), faults.noUsage},
        {QStringLiteral("prompt_tokens"), faults.promptTokens},
        {QStringLiteral("completion_tokens"), faults.completionTokens},
        {QStringLiteral("cached_tokens"), faults.cachedTokens},
        {QStringLiteral("fail_requests"), failRequests},
        {QStringLiteral("models"), QJsonArray::fromStringList(models)},
        {QStringLiteral("strict_models"), strictModels},
        {QStringLiteral("embedding_dimensions"), embeddingDimensions},
        {QStringLiteral("audio_chunk_bytes"), audioChunkBytes},
        {QStringLiteral("audio_seconds"), audioSeconds},
    };
}

} // namespace llmpool::test
