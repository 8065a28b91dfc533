#pragma once

// UpstreamDetector: what an OpenAI-compatible upstream offers (SPEC §3 Detection). Lists its
// models (GET {api_base}/models), then decides each model's capabilities with cheap probes:
//   chat          POST chat/completions  {"messages":[…"hi"], "max_tokens":1}
//   completions   POST completions       {"prompt":"hi", "max_tokens":1}
//   embeddings    POST embeddings        {"input":"hi"}
//   responses     POST responses         {"input":"hi", "max_output_tokens":16}
//   speech        POST audio/speech      {"input":"hi", "voice":"alloy"}
//   transcriptions POST audio/transcriptions with 100 ms of silence (WAV)
//   images        POST images/generations — only when asked (probeImages): it is a billable call
// Only a 2xx answer is evidence of support; 400 / 401 / 429 and the rest are not (a 400 may just
// mean "wrong endpoint for this model", a 429 says nothing).
//
// Thread: lives on a thread with an event loop and a CurlMulti (the CLI's main thread, or an
// event-loop thread for the admin API); `done` runs there.

#include "Result.h"
#include "routing/Capability.h"
#include "routing/UpstreamKind.h"

#include <QObject>
#include <QStringList>

#include <functional>
#include <map>

namespace llmpool::gateway {

class UpstreamCall;

struct DetectedModel
{
    QString id;
    Capabilities capabilities;
    Capabilities probed; // which capabilities were probed at all (images only on request)
};

struct DetectionResult
{
    std::vector<DetectedModel> models; // in the upstream's order
};

struct DetectorOptions
{
    UpstreamKind kind = UpstreamKind::OpenAI;
    QString apiBase; // empty = the kind's default
    QString apiKey;  // SECRET
    QString azureApiVersion;
    QString proxyUrl;
    bool probeImages = false;
    int concurrency = 6;
    int timeoutMs = 30'000; // per probe
};

class UpstreamDetector : public QObject
{
    Q_OBJECT
public:
    using Done = std::function<void(Result<DetectionResult>)>;

    explicit UpstreamDetector(DetectorOptions options, QObject *parent = nullptr);
    ~UpstreamDetector() override;

    // Lists and probes; `done` is called once. `listOnly` skips the probes.
    void run(Done done, bool listOnly = false);

    // A table for people: one row per model, one column per capability ("yes", "no", "-").
    static QString table(const DetectionResult &result);
    // The models of a /models answer (OpenAI list format); errors name what is wrong.
    static Result<QStringList> parseModelList(QByteArrayView body);

private:
    struct Probe
    {
        qsizetype model;
        Capability capability;
    };
    void startNextProbes();
    void startProbe(const Probe &probe);
    void finish(Result<DetectionResult> result);

    DetectorOptions m_options;
    Done m_done;
    DetectionResult m_result;
    std::vector<Probe> m_queue;
    qsizetype m_next = 0;
    int m_running = 0;
    std::vector<UpstreamCall *> m_calls;
};

} // namespace llmpool::gateway
