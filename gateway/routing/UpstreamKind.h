#pragma once

// Upstream kinds (SPEC §3) and their default base URLs. The kind decides the URL shape and the
// auth header (UpstreamTarget); everything else about an upstream is OpenAI-compatible.
//
// Pure functions; any thread.

#include <QLatin1StringView>
#include <QString>
#include <QStringView>

#include <optional>

namespace llmpool::gateway {

enum class UpstreamKind : quint8 {
    OpenAI, // the default; also any self-hosted OpenAI-compatible server (vLLM, llama.cpp, Ollama)
    Azure,
    OpenRouter,
    DashScope,
    Ark,
};

// The api-version sent to Azure when an upstream names none: the newest GA data-plane version
// that has chat, embeddings, images and audio.
inline constexpr QLatin1StringView kDefaultAzureApiVersion{"2024-10-21"};

// "openai", "azure", "openrouter", "dashscope", "ark".
QString upstreamKindName(UpstreamKind kind);
// Case-insensitive; an empty string is the default kind (openai). nullopt for anything else.
std::optional<UpstreamKind> parseUpstreamKind(QStringView text);
// The default api_base without a trailing slash; empty for Azure, whose base names the customer's
// own resource and is therefore required.
QString defaultApiBase(UpstreamKind kind);

} // namespace llmpool::gateway
