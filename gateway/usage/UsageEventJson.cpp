#include "usage/UsageEventJson.h"

#include "JsonText.h"

#include <QJsonDocument>
#include <QJsonObject>

#include <charconv>

namespace llmpool::gateway {

namespace {

Error invalid(const QString &why)
{
    return Error::invalidRequest(QStringLiteral("usage_event_invalid"), QStringLiteral("Usage event: %1").arg(why));
}

} // namespace

// Written by hand: this runs once per proxied request, and QJsonObject + toJson cost about as much
// as the rest of the request's bookkeeping together (bench/proxy, perf).
QByteArray UsageEventJson::encode(const UsageEvent &e)
{
    QByteArray out;
    out.reserve(640 + e.model.size() + e.upstreamModel.size() + e.errorCode.size());
    out.append("{\"request_id\":");
    appendJsonString(out, QByteArrayView(e.requestId));
    const auto number = [&out](const char *name, qint64 value) {
        out.append(name);
        char digits[24];
        const auto written = std::to_chars(digits, digits + sizeof digits, value);
        out.append(digits, written.ptr - digits);
    };
    number(",\"created_at_ms\":", e.createdAtMs);
    number(",\"user_id\":", e.userId);
    number(",\"key_id\":", e.keyId);
    out.append(",\"model\":");
    appendJsonString(out, e.model);
    number(",\"upstream_id\":", e.upstreamId);
    out.append(",\"upstream_model\":");
    appendJsonString(out, e.upstreamModel);
    out.append(",\"endpoint\":");
    appendJsonString(out, e.endpoint);
    number(",\"status\":", e.status);
    out.append(e.stream ? ",\"stream\":true" : ",\"stream\":false");
    number(",\"prompt_tokens\":", e.promptTokens);
    number(",\"cached_tokens\":", e.cachedTokens);
    number(",\"completion_tokens\":", e.completionTokens);
    number(",\"total_tokens\":", e.totalTokens);
    number(",\"images\":", e.images);
    number(",\"characters\":", e.characters);
    number(",\"audio_ms\":", e.audioMillis);
    const auto money = [&out](const char *name, Money value) {
        out.append(name);
        out.append('"');
        value.appendTo(out);
        out.append('"');
    };
    if (e.prices) {
        const ModelPrices &p = *e.prices;
        money(",\"prices\":{\"input_price_per_1m\":", p.inputPer1M);
        money(",\"cached_input_price_per_1m\":", p.cachedInputPer1M);
        money(",\"output_price_per_1m\":", p.outputPer1M);
        money(",\"image_price\":", p.perImage);
        money(",\"speech_price_per_1m_chars\":", p.speechPer1MChars);
        money(",\"transcription_price_per_minute\":", p.transcriptionPerMinute);
        out.append('}');
    }
    money(",\"cost\":", e.cost);
    out.append(e.usageEstimated ? ",\"usage_estimated\":true" : ",\"usage_estimated\":false");
    number(",\"latency_ms\":", e.latencyMs);
    number(",\"ttfb_ms\":", e.ttfbMs);
    number(",\"attempts\":", e.attempts);
    number(",\"bytes_in\":", e.bytesIn);
    number(",\"bytes_out\":", e.bytesOut);
    if (!e.errorCode.isEmpty()) {
        out.append(",\"error\":");
        appendJsonString(out, e.errorCode);
    }
    out.append('}');
    return out;
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
