// POST /upstreams/{id}/detect and /upstreams/{id}/test (SPEC §6, §9). Both ask the upstream itself
// through UpstreamDetector on the request's event-loop thread (its libcurl multi handle), after
// reading the stored upstream on a database thread. `test` only lists the models (a cheap
// reachability and credentials check); `detect` also probes each model's capabilities. Neither
// writes anything, and the upstream key is opened only for the call, never returned.

#include "admin/AdminResource.h"
#include "admin/UpstreamDetector.h"
#include "routing/Capability.h"
#include "routing/UpstreamKind.h"
#include "storage/CatalogAdminRepository.h"

#include <QElapsedTimer>

namespace llmpool::gateway {

namespace {

using namespace admin;

void probeUpstream(AdminCall &call, bool listOnly)
{
    const QByteArray rawId = call.request.pathParam("id");
    const std::optional<qint64> id = parseId(rawId);
    if (!id)
        return replyError(call.responder, notFound(QStringLiteral("upstream"), rawId));
    BodyReader body(call.request.body(), {QLatin1StringView("probe_images")}, true);
    std::optional<bool> probeImages;
    if (!listOnly)
        body.boolean(QLatin1StringView("probe_images"), probeImages);
    if (body.error())
        return replyError(call.responder, *body.error());
    auto context = call.context;
    runJob(
        call, [id = *id](QSqlDatabase &db) { return CatalogAdminRepository::findUpstream(db, id, false); },
        [context, id = *id, listOnly, probeImages](HttpResponder &responder, std::optional<UpstreamRecord> upstream) {
            if (!upstream)
                return replyError(responder, Error::notFound(QStringLiteral("upstream %1 does not exist").arg(id)));
            QObject *thread = responder.threadContext();
            if (!thread)
                return;
            Result<QByteArray> key = context->secrets.open(upstream->row.apiKeyStored, upstream->row.apiKeyFormat);
            if (!key)
                return replyError(responder, key.error());
            DetectorOptions options;
            options.kind = parseUpstreamKind(upstream->row.kind).value_or(UpstreamKind::OpenAI);
            options.apiBase = upstream->row.apiBase;
            options.apiKey = QString::fromUtf8(*key);
            options.azureApiVersion = upstream->row.extra.value(QStringLiteral("api_version")).toString();
            options.proxyUrl = upstream->row.proxyUrl;
            options.probeImages = probeImages.value_or(false);
            auto *detector = new UpstreamDetector(options, thread);
            QElapsedTimer elapsed;
            elapsed.start();
            detector->run(
                [responder, detector, elapsed, listOnly, id](Result<DetectionResult> result) mutable {
                    detector->deleteLater();
                    if (!result)
                        return replyError(responder, result.error());
                    QJsonArray models;
                    for (const DetectedModel &model : result->models) {
                        QJsonObject entry{{QStringLiteral("id"), model.id}};
                        if (!listOnly) {
                            entry.insert(QStringLiteral("capabilities"),
                                         QJsonArray::fromStringList(capabilityNames(model.capabilities)));
                            entry.insert(QStringLiteral("probed"),
                                         QJsonArray::fromStringList(capabilityNames(model.probed)));
                        }
                        models.append(entry);
                    }
                    respondJson(responder, 200,
                                QJsonObject{{QStringLiteral("upstream_id"), id},
                                            {QStringLiteral("ok"), true},
                                            {QStringLiteral("latency_ms"), elapsed.elapsed()},
                                            {QStringLiteral("models"), models}});
                },
                listOnly);
        },
        JobRetry::Idempotent);
}

void detectUpstream(AdminCall &call)
{
    probeUpstream(call, false);
}

void testUpstream(AdminCall &call)
{
    probeUpstream(call, true);
}

} // namespace

std::vector<AdminRoute> upstreamProbeRoutes()
{
    return {{"POST",
             "/upstreams/{id}/detect",
             detectUpstream,
             {.summary = "List the upstream's models and probe their capabilities (stores nothing)",
              .tag = "upstreams",
              .requestSchema = "ProbeOptions",
              .responseSchema = "ProbeResult",
              .optionalBody = true}},
            {"POST",
             "/upstreams/{id}/test",
             testUpstream,
             {.summary = "Check that the upstream answers its model list with the stored key",
              .tag = "upstreams",
              .requestSchema = "ProbeOptions",
              .responseSchema = "ProbeResult",
              .optionalBody = true}}};
}

} // namespace llmpool::gateway
