#include "routing/Capability.h"

namespace llmpool::gateway {

QString capabilityName(Capability capability)
{
    switch (capability) {
    case Capability::Chat:
        return QStringLiteral("chat");
    case Capability::Completions:
        return QStringLiteral("completions");
    case Capability::Embeddings:
        return QStringLiteral("embeddings");
    case Capability::Images:
        return QStringLiteral("images");
    case Capability::Speech:
        return QStringLiteral("speech");
    case Capability::Transcriptions:
        return QStringLiteral("transcriptions");
    case Capability::Responses:
        return QStringLiteral("responses");
    }
    Q_UNREACHABLE();
    return QString();
}

std::optional<Capability> parseCapability(QStringView text)
{
    const QString t = text.trimmed().toString().toLower();
    for (Capability c : kAllCapabilities) {
        if (t == capabilityName(c))
            return c;
    }
    // Singular aliases: SPEC §3 names detection results in the singular ("embedding", "image").
    if (t == QLatin1String("completion"))
        return Capability::Completions;
    if (t == QLatin1String("embedding"))
        return Capability::Embeddings;
    if (t == QLatin1String("image"))
        return Capability::Images;
    if (t == QLatin1String("transcription"))
        return Capability::Transcriptions;
    if (t == QLatin1String("response"))
        return Capability::Responses;
    return std::nullopt;
}

Capabilities allCapabilities()
{
    Capabilities all;
    for (Capability c : kAllCapabilities)
        all |= c;
    return all;
}

QStringList capabilityNames(Capabilities capabilities)
{
    QStringList names;
    for (Capability c : kAllCapabilities) {
        if (capabilities.testFlag(c))
            names.append(capabilityName(c));
    }
    return names;
}

Result<Capabilities> parseCapabilities(const QStringList &names)
{
    Capabilities set;
    for (const QString &name : names) {
        const std::optional<Capability> c = parseCapability(name);
        if (!c) {
            return Error::invalidRequest(QStringLiteral("invalid_capability"),
                                         QStringLiteral("unknown capability \"%1\" (expected a subset of %2)")
                                             .arg(name, capabilityNames(allCapabilities()).join(u", ")),
                                         QStringLiteral("capabilities"));
        }
        set |= *c;
    }
    return set;
}

QString endpointPath(Endpoint endpoint)
{
    switch (endpoint) {
    case Endpoint::ChatCompletions:
        return QStringLiteral("chat/completions");
    case Endpoint::Completions:
        return QStringLiteral("completions");
    case Endpoint::Embeddings:
        return QStringLiteral("embeddings");
    case Endpoint::ImagesGenerations:
        return QStringLiteral("images/generations");
    case Endpoint::AudioSpeech:
        return QStringLiteral("audio/speech");
    case Endpoint::AudioTranscriptions:
        return QStringLiteral("audio/transcriptions");
    case Endpoint::Responses:
        return QStringLiteral("responses");
    case Endpoint::Models:
        return QStringLiteral("models");
    }
    Q_UNREACHABLE();
    return QString();
}

std::optional<Endpoint> parseEndpoint(QStringView path)
{
    if (path.startsWith(u'/'))
        path = path.mid(1);
    static constexpr Endpoint kAll[] = {
        Endpoint::ChatCompletions, Endpoint::Completions,         Endpoint::Embeddings, Endpoint::ImagesGenerations,
        Endpoint::AudioSpeech,     Endpoint::AudioTranscriptions, Endpoint::Responses,  Endpoint::Models};
    for (Endpoint e : kAll) {
        if (path == endpointPath(e))
            return e;
    }
    if (path.startsWith(u"models/") && path.size() > 7)
        return Endpoint::Models;
    return std::nullopt;
}

std::optional<Capability> requiredCapability(Endpoint endpoint)
{
    switch (endpoint) {
    case Endpoint::ChatCompletions:
        return Capability::Chat;
    case Endpoint::Completions:
        return Capability::Completions;
    case Endpoint::Embeddings:
        return Capability::Embeddings;
    case Endpoint::ImagesGenerations:
        return Capability::Images;
    case Endpoint::AudioSpeech:
        return Capability::Speech;
    case Endpoint::AudioTranscriptions:
        return Capability::Transcriptions;
    case Endpoint::Responses:
        return Capability::Responses;
    case Endpoint::Models:
        return std::nullopt;
    }
    Q_UNREACHABLE();
    return std::nullopt;
}

} // namespace llmpool::gateway
