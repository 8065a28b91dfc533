#include "routing/UpstreamKind.h"

namespace llmpool::gateway {

namespace {
constexpr UpstreamKind kKinds[] = {UpstreamKind::OpenAI, UpstreamKind::Azure, UpstreamKind::OpenRouter,
                                   UpstreamKind::DashScope, UpstreamKind::Ark};
}

QString upstreamKindName(UpstreamKind kind)
{
    switch (kind) {
    case UpstreamKind::OpenAI:
        return QStringLiteral("openai");
    case UpstreamKind::Azure:
        return QStringLiteral("azure");
    case UpstreamKind::OpenRouter:
        return QStringLiteral("openrouter");
    case UpstreamKind::DashScope:
        return QStringLiteral("dashscope");
    case UpstreamKind::Ark:
        return QStringLiteral("ark");
    }
    Q_UNREACHABLE();
    return QString();
}

std::optional<UpstreamKind> parseUpstreamKind(QStringView text)
{
    const QStringView t = text.trimmed();
    if (t.isEmpty())
        return UpstreamKind::OpenAI;
    for (UpstreamKind k : kKinds) {
        if (t.compare(upstreamKindName(k), Qt::CaseInsensitive) == 0)
            return k;
    }
    return std::nullopt;
}

QString defaultApiBase(UpstreamKind kind)
{
    switch (kind) {
    case UpstreamKind::OpenAI:
        return QStringLiteral("https://api.openai.com/v1");
    case UpstreamKind::Azure:
        return QString();
    case UpstreamKind::OpenRouter:
        return QStringLiteral("https://openrouter.ai/api/v1");
    case UpstreamKind::DashScope:
        return QStringLiteral("https://dashscope.aliyuncs.com/compatible-mode/v1");
    case UpstreamKind::Ark:
        return QStringLiteral("https://ark.cn-beijing.volces.com/api/v3");
    }
    Q_UNREACHABLE();
    return QString();
}

} // namespace llmpool::gateway
