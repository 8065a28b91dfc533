#pragma once

// MockRoutes: the routes of the mock OpenAI upstream (llmpool-mock-openai), a test fixture that is
// never shipped.
//
//   data plane, under /v1 and /openai/v1:  GET models, models/{id}; POST chat/completions,
//     completions, embeddings, images/generations, audio/speech, audio/transcriptions, responses
//   Azure:  POST /openai/deployments/{deployment}/{endpoint}?api-version=V, GET /openai/models,
//     POST /openai/responses (api-version required; the deployment is the model)
//   control (no auth, not counted):  GET /mock/stats, GET|POST /mock/config, POST /mock/reset
//
// Every data-plane request: auth (401) → recorded in the stats → faults (settings, then the model's
// "@key=value,…" directives, then x-mock-* headers) → hang | delay → injected status | drop | reply.
// Replies carry x-request-id, openai-processing-ms, openai-version and x-ratelimit-* like OpenAI's,
// plus x-mock-instance when the instance has a name.
//
// Thread: install() runs once before the server starts; the handlers run on the event-loop
// threads, with per-thread state in MockThread and shared state in MockState.

#include "MockState.h"
#include "http/Router.h"

namespace llmpool::test {

class MockRoutes
{
public:
    static void install(gateway::Router &router, MockState &state);
};

} // namespace llmpool::test
