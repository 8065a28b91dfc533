#include "admin/UpstreamDetector.h"

#include "routing/UpstreamTarget.h"
#include "upstream/UpstreamCall.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtEndian>

namespace llmpool::gateway {

namespace {

// 100 ms of 16 kHz mono 16-bit silence: the smallest honest audio file for a transcription probe.
QByteArray silentWav()
{
    const quint32 samples = 1600;
    const quint32 dataBytes = samples * 2;
    QByteArray wav;
    auto u32 = [&wav](quint32 v) {
        char b[4];
        qToLittleEndian(v, b);
        wav.append(b, 4);
    };
    auto u16 = [&wav](quint16 v) {
        char b[2];
        qToLittleEndian(v, b);
        wav.append(b, 2);
    };
    wav.append("RIFF");
    u32(36 + dataBytes);
    wav.append("WAVEfmt ");
    u32(16);
    u16(1);         // PCM
    u16(1);         // mono
    u32(16000);     // sample rate
    u32(16000 * 2); // byte rate
    u16(2);         // block align
    u16(16);        // bits per sample
    wav.append("data");
    u32(dataBytes);
    wav.append(QByteArray(int(dataBytes), '\0'));
    return wav;
}

QByteArray json(const QJsonObject &o)
{
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

} // namespace

UpstreamDetector::UpstreamDetector(DetectorOptions options, QObject *parent)
    : QObject(parent), m_options(std::move(options))
{
}

UpstreamDetector::~UpstreamDetector()
{
    for (UpstreamCall *call : m_calls) {
        call->abort();
        delete call;
    }
}

Result<QStringList> UpstreamDetector::parseModelList(QByteArrayView body)
{
    const QJsonDocument doc = QJsonDocument::fromJson(body.toByteArray());
    const QJsonValue data = doc.object().value(QLatin1String("data"));
    if (!data.isArray()) {
        return Error{QStringLiteral("upstream_error"),
                     QStringLiteral("upstream_invalid_model_list"),
                     502,
                     QStringLiteral("the upstream's model list is not in OpenAI's format (no \"data\" array)"),
                     {}};
    }
    QStringList ids;
    for (const QJsonValue &entry : data.toArray()) {
        const QString id = entry.toObject().value(QLatin1String("id")).toString();
        // Ids become public model names: refuse what could not be one.
        if (!id.isEmpty() && id.size() <= 200 && !ids.contains(id)) {
            ids.append(id);
        }
        if (ids.size() >= 5000) {
            break;
        }
    }
    return ids;
}

void UpstreamDetector::run(Done done, bool listOnly)
{
    m_done = std::move(done);
    auto target = UpstreamTarget::build(m_options.kind, m_options.apiBase, u"models", QString(), m_options.apiKey,
                                        m_options.azureApiVersion);
    if (!target) {
        finish(target.takeError());
        return;
    }
    UpstreamRequest request;
    request.url = target->url;
    if (!target->authHeaderName.isEmpty()) {
        request.headers.append({target->authHeaderName, target->authHeaderValue});
    }
    request.headers.append({QByteArrayLiteral("accept"), QByteArrayLiteral("application/json")});
    request.timeouts.firstByteMs = m_options.timeoutMs;
    request.timeouts.totalMs = m_options.timeoutMs;
    request.maxBodyBytes = 16 * 1024 * 1024;
    request.proxyUrl = m_options.proxyUrl.toUtf8();
    auto *call = new UpstreamCall(std::move(request), nullptr);
    m_calls.push_back(call);
    call->onFinished([this, call, listOnly](const UpstreamOutcome &outcome) {
        std::erase(m_calls, call);
        call->deleteLater();
        if (!outcome.ok()) {
            finish(outcome.toError());
            return;
        }
        if (outcome.httpStatus < 200 || outcome.httpStatus >= 300) {
            finish(Error{QStringLiteral("upstream_error"),
                         QStringLiteral("upstream_error"),
                         502,
                         QStringLiteral("listing the upstream's models answered HTTP %1%2")
                             .arg(outcome.httpStatus)
                             .arg(outcome.httpStatus == 401 || outcome.httpStatus == 403
                                      ? QStringLiteral(" (is the API key right?)")
                                      : QString()),
                         {}});
            return;
        }
        auto ids = parseModelList(call->body());
        if (!ids) {
            finish(ids.takeError());
            return;
        }
        for (const QString &id : *ids) {
            m_result.models.push_back(DetectedModel{id, {}, {}});
        }
        if (listOnly) {
            finish(m_result);
            return;
        }
        for (qsizetype i = 0; i < qsizetype(m_result.models.size()); ++i) {
            for (Capability c : kAllCapabilities) {
                if (c == Capability::Images && !m_options.probeImages) {
                    continue;
                }
                m_queue.push_back(Probe{i, c});
                m_result.models[size_t(i)].probed |= c;
            }
        }
        startNextProbes();
    });
    call->start();
}

void UpstreamDetector::startNextProbes()
{
    while (m_running < m_options.concurrency && m_next < qsizetype(m_queue.size())) {
        startProbe(m_queue[size_t(m_next++)]);
    }
    if (m_running == 0 && m_next >= qsizetype(m_queue.size())) {
        finish(m_result);
    }
}

void UpstreamDetector::startProbe(const Probe &probe)
{
    DetectedModel &model = m_result.models[size_t(probe.model)];
    Endpoint endpoint = Endpoint::ChatCompletions;
    QByteArray body;
    QByteArray contentType = QByteArrayLiteral("application/json");
    const QJsonValue name = model.id;
    switch (probe.capability) {
    case Capability::Chat:
        body = json({{"model", name},
                     {"messages", QJsonArray{QJsonObject{{"role", "user"}, {"content", "hi"}}}},
                     {"max_tokens", 1}});
        break;
    case Capability::Completions:
        endpoint = Endpoint::Completions;
        body = json({{"model", name}, {"prompt", "hi"}, {"max_tokens", 1}});
        break;
    case Capability::Embeddings:
        endpoint = Endpoint::Embeddings;
        body = json({{"model", name}, {"input", "hi"}});
        break;
    case Capability::Responses:
        endpoint = Endpoint::Responses;
        body = json({{"model", name}, {"input", "hi"}, {"max_output_tokens", 16}});
        break;
    case Capability::Speech:
        endpoint = Endpoint::AudioSpeech;
        body = json({{"model", name}, {"input", "hi"}, {"voice", "alloy"}});
        break;
    case Capability::Images:
        endpoint = Endpoint::ImagesGenerations;
        body = json({{"model", name}, {"prompt", "a small dot"}, {"n", 1}, {"size", "256x256"}});
        break;
    case Capability::Transcriptions: {
        endpoint = Endpoint::AudioTranscriptions;
        const QByteArray boundary = QByteArrayLiteral("llmpool-detect-7d1f0a");
        contentType = "multipart/form-data; boundary=" + boundary;
        body = "--" + boundary + "\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\n" + model.id.toUtf8() +
               "\r\n--" + boundary +
               "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"probe.wav\"\r\nContent-Type: "
               "audio/wav\r\n\r\n" +
               silentWav() + "\r\n--" + boundary + "--\r\n";
        break;
    }
    }
    auto target = UpstreamTarget::build(m_options.kind, m_options.apiBase, endpointPath(endpoint), model.id,
                                        m_options.apiKey, m_options.azureApiVersion);
    if (!target) {
        startNextProbes();
        return;
    }
    UpstreamRequest request;
    request.method = QByteArrayLiteral("POST");
    request.url = target->url;
    request.body = body;
    request.headers.append({QByteArrayLiteral("content-type"), contentType});
    if (!target->authHeaderName.isEmpty()) {
        request.headers.append({target->authHeaderName, target->authHeaderValue});
    }
    request.timeouts.firstByteMs = m_options.timeoutMs;
    request.timeouts.totalMs = m_options.timeoutMs;
    request.maxBodyBytes = 8 * 1024 * 1024;
    request.proxyUrl = m_options.proxyUrl.toUtf8();
    auto *call = new UpstreamCall(std::move(request), nullptr);
    m_calls.push_back(call);
    ++m_running;
    const qsizetype index = probe.model;
    const Capability capability = probe.capability;
    call->onFinished([this, call, index, capability](const UpstreamOutcome &outcome) {
        std::erase(m_calls, call);
        call->deleteLater();
        --m_running;
        if (outcome.ok() && outcome.httpStatus >= 200 && outcome.httpStatus < 300) {
            m_result.models[size_t(index)].capabilities |= capability;
        }
        startNextProbes();
    });
    call->start();
}

void UpstreamDetector::finish(Result<DetectionResult> result)
{
    if (!m_done) {
        return;
    }
    auto done = std::exchange(m_done, Done());
    done(std::move(result));
}

QString UpstreamDetector::table(const DetectionResult &result)
{
    QStringList header{QStringLiteral("MODEL")};
    qsizetype width = 5;
    for (const DetectedModel &m : result.models) {
        width = std::max(width, m.id.size());
    }
    QString out = QStringLiteral("MODEL").leftJustified(width + 2);
    for (Capability c : kAllCapabilities) {
        out += capabilityName(c).leftJustified(capabilityName(c).size() + 2);
    }
    out = out.trimmed() + QLatin1Char('\n');
    for (const DetectedModel &m : result.models) {
        QString line = m.id.leftJustified(width + 2);
        for (Capability c : kAllCapabilities) {
            const QString cell = !(m.probed & c)        ? QStringLiteral("-")
                                 : (m.capabilities & c) ? QStringLiteral("yes")
                                                        : QStringLiteral("no");
            line += cell.leftJustified(capabilityName(c).size() + 2);
        }
        out += line.trimmed() + QLatin1Char('\n');
    }
    return out;
}

} // namespace llmpool::gateway
