#include "usage/UsageEventJson.h"

#include <QJsonDocument>
#include <QJsonObject>

namespace llmpool::gateway {

namespace {

QJsonValue money(Money m)
{
    return m.toString();
}

Error invalid(const QString &why)
{
    return Error::invalidRequest(QStringLiteral("usage_event_invalid"), QStringLiteral("Usage event: %1").arg(why));
}

} // namespace

QByteArray UsageEventJson::encode(const UsageEvent &e)
{
    QJsonObject o;
    o.insert(QLatin1String("request_id"), QString::fromLatin1(e.requestId));
    o.insert(QLatin1String("created_at_ms"), e.createdAtMs);
    o.insert(QLatin1String("user_id"), e.userId);
    o.insert(QLatin1String("key_id"), e.keyId);
    o.insert(QLatin1String("model"), e.model);
    o.insert(QLatin1String("upstream_id"), e.upstreamId);
    o.insert(QLatin1String("upstream_model"), e.upstreamModel);
    o.insert(QLatin1String("endpoint"), e.endpoint);
    o.insert(QLatin1String("status"), e.status);
    o.insert(QLatin1String("stream"), e.stream);
    o.insert(QLatin1String("prompt_tokens"), e.promptTokens);
    o.insert(QLatin1String("cached_tokens"), e.cachedTokens);
    o.insert(QLatin1String("completion_tokens"), e.completionTokens);
    o.insert(QLatin1String("total_tokens"), e.totalTokens);
    o.insert(QLatin1String("images"), e.images);
    o.insert(QLatin1String("characters"), e.characters);
    o.insert(QLatin1String("audio_ms"), e.audioMillis);
    if (e.prices) {
        const ModelPrices &p = *e.prices;
        o.insert(QLatin1String("prices"),
                 QJsonObject{{QLatin1String("input_price_per_1m"), money(p.inputPer1M)},
                             {QLatin1String("cached_input_price_per_1m"), money(p.cachedInputPer1M)},
                             {QLatin1String("output_price_per_1m"), money(p.outputPer1M)},
                             {QLatin1String("image_price"), money(p.perImage)},
                             {QLatin1String("speech_price_per_1m_chars"), money(p.speechPer1MChars)},
                             {QLatin1String("transcription_price_per_minute"), money(p.transcriptionPerMinute)}});
    }
    o.insert(QLatin1String("cost"), money(e.cost));
    o.insert(QLatin1String("usage_estimated"), e.usageEstimated);
    o.insert(QLatin1String("latency_ms"), e.latencyMs);
    o.insert(QLatin1String("ttfb_ms"), e.ttfbMs);
    o.insert(QLatin1String("attempts"), e.attempts);
    o.insert(QLatin1String("bytes_in"), e.bytesIn);
    o.insert(QLatin1String("bytes_out"), e.bytesOut);
    if (!e.errorCode.isEmpty()) {
        o.insert(QLatin1String("error"), e.errorCode);
    }
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

Result<UsageEventJson::Header> UsageEventJson::header(QByteArrayView json)
{
    QJsonParseError error{};
    const QJsonDocument doc = QJsonDocument::fromJson(json.toByteArray(), &error);
    if (error.error != QJsonParseError::NoError || !doc.isObject()) {
        return invalid(QStringLiteral("not a JSON object"));
    }
    const QJsonObject o = doc.object();
    Header h;
    const QString rid = o.value(QLatin1String("request_id")).toString();
    if (rid.isEmpty() || rid.size() > 200) {
        return invalid(QStringLiteral("request_id missing or too long"));
    }
    h.requestId = rid.toLatin1();
    if (!o.value(QLatin1String("created_at_ms")).isDouble()) {
        return invalid(QStringLiteral("created_at_ms missing"));
    }
    h.userId = o.value(QLatin1String("user_id")).toInteger();
    h.keyId = o.value(QLatin1String("key_id")).toInteger();
    if (h.userId < 0 || h.keyId < 0) {
        return invalid(QStringLiteral("negative id"));
    }
    auto cost = Money::parse(o.value(QLatin1String("cost")).toString());
    if (!cost || cost->isNegative()) {
        return invalid(QStringLiteral("cost missing or invalid"));
    }
    h.cost = *cost;
    return h;
}

} // namespace llmpool::gateway
