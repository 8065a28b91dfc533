#pragma once

// Capabilities of a model row (SPEC §9: `chat, completions, embeddings, images, speech,
// transcriptions, responses`) and the data-plane endpoints that need them.
//
// A model row is only a candidate for an endpoint when it has the endpoint's capability, so the
// mapping endpoint → capability lives here, next to the names, and nowhere else.
//
// Pure value types and functions; any thread.

#include "Result.h"

#include <QFlags>
#include <QString>
#include <QStringList>
#include <QStringView>

#include <optional>

namespace llmpool::gateway {

enum class Capability : quint8 {
    Chat = 1 << 0,
    Completions = 1 << 1,
    Embeddings = 1 << 2,
    Images = 1 << 3,
    Speech = 1 << 4,
    Transcriptions = 1 << 5,
    Responses = 1 << 6,
};
Q_DECLARE_FLAGS(Capabilities, Capability)
Q_DECLARE_OPERATORS_FOR_FLAGS(Capabilities)

// Every capability in the canonical order of SPEC §9.
inline constexpr Capability kAllCapabilities[] = {
    Capability::Chat,   Capability::Completions,    Capability::Embeddings, Capability::Images,
    Capability::Speech, Capability::Transcriptions, Capability::Responses};

// "chat", "completions", … (the SPEC §9 strings).
QString capabilityName(Capability capability);
// Case-insensitive; also takes the singular forms detection uses in prose ("embedding", "image",
// "transcription", "completion", "response") so hand-written input is forgiving. Output is always
// canonical (capabilityName).
std::optional<Capability> parseCapability(QStringView text);

Capabilities allCapabilities();
// Canonical names of a set, in kAllCapabilities order.
QStringList capabilityNames(Capabilities capabilities);
// A list of names (duplicates allowed). Error 400 "invalid_capability" naming the first unknown
// entry, with param "capabilities".
Result<Capabilities> parseCapabilities(const QStringList &names);

// Data-plane endpoints, by their path below /v1 (SPEC §3).
enum class Endpoint : quint8 {
    ChatCompletions,
    Completions,
    Embeddings,
    ImagesGenerations,
    AudioSpeech,
    AudioTranscriptions,
    Responses,
    Models,
};

// "chat/completions", "completions", "embeddings", "images/generations", "audio/speech",
// "audio/transcriptions", "responses", "models" — also the path appended to an upstream's base.
QString endpointPath(Endpoint endpoint);
// The inverse of endpointPath; a leading '/' is ignored. "models/{id}" is Endpoint::Models.
std::optional<Endpoint> parseEndpoint(QStringView path);
// The capability a model row needs to serve the endpoint; nullopt for Models (the gateway answers
// model lists itself from the catalog).
std::optional<Capability> requiredCapability(Endpoint endpoint);

} // namespace llmpool::gateway
