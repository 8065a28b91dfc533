#include "proxy/ProxyService.h"

#include "Clock.h"
#include "Log.h"
#include "http/ErrorReply.h"
#include "http/Router.h"
#include "proxy/CatalogStore.h"
#include "proxy/ProxyExchange.h"
#include "routing/UpstreamTarget.h"
#include "upstream/UpstreamCall.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

namespace llmpool::gateway {

ProxyService::ProxyService(const Config &config, Database *database, KeyCache *keys, CatalogStore *catalog,
                           UsageSink *usage, QObject *parent)
    : QObject(parent), m_config(config), m_auth(database, keys), m_catalog(catalog), m_usage(usage),
      m_health(HealthPolicy::fromConfig(config.upstream))
{
    connect(&m_probeTimer, &QTimer::timeout, this, &ProxyService::probeDueUpstreams);
}

void ProxyService::addRoutes(Router &router)
{
    static constexpr Endpoint kPosted[] = {
        Endpoint::ChatCompletions, Endpoint::Completions,         Endpoint::Embeddings, Endpoint::ImagesGenerations,
        Endpoint::AudioSpeech,     Endpoint::AudioTranscriptions, Endpoint::Responses};
    for (const char *prefix : {"/v1/", "/openai/v1/"}) {
        for (Endpoint endpoint : kPosted) {
            router.post(QByteArray(QByteArray(prefix) + endpointPath(endpoint).toLatin1()),
                        [this, endpoint](HttpRequest &request, HttpResponder &responder) {
                            handle(endpoint, request, responder);
                        });
        }
        router.get(QByteArray(QByteArray(prefix) + "models"), [this](HttpRequest &request, HttpResponder &responder) {
            handleModels(request, responder, QByteArray());
        });
        router.get(QByteArray(QByteArray(prefix) + "models/{id...}"),
                   [this](HttpRequest &request, HttpResponder &responder) {
                       handleModels(request, responder, request.pathParam("id"));
                   });
    }
}

void ProxyService::handle(Endpoint endpoint, HttpRequest &request, HttpResponder &responder)
{
    ProxyExchange::start(this, endpoint, request, responder);
}

void ProxyService::handleModels(HttpRequest &request, HttpResponder &responder, const QByteArray &modelId)
{
    QObject *context = responder.threadContext();
    if (!context) {
        return;
    }
    m_auth.authenticate(request, context, [this, responder, modelId](Result<KeyCache::Entry> key) mutable {
        if (!key) {
            replyError(responder, key.error());
            return;
        }
        const auto catalog = m_catalog->current();
        const QStringList names = catalog->modelsFor((*key)->key.allowedModels);
        auto modelObject = [](const QString &id) {
            return QJsonObject{{QStringLiteral("id"), id},
                               {QStringLiteral("object"), QStringLiteral("model")},
                               {QStringLiteral("created"), 0},
                               {QStringLiteral("owned_by"), QStringLiteral("llmpool")}};
        };
        if (!modelId.isNull()) {
            const QString id = QString::fromUtf8(modelId);
            if (!names.contains(id)) {
                replyError(responder,
                           Error{QStringLiteral("invalid_request_error"), QStringLiteral("model_not_found"), 404,
                                 QStringLiteral("The model '%1' does not exist.").arg(id), QStringLiteral("model")});
                return;
            }
            responder.respond(200, "application/json", QJsonDocument(modelObject(id)).toJson(QJsonDocument::Compact));
            return;
        }
        QJsonArray data;
        for (const QString &name : names) {
            data.append(modelObject(name));
        }
        const QJsonObject list{{QStringLiteral("object"), QStringLiteral("list")}, {QStringLiteral("data"), data}};
        responder.respond(200, "application/json", QJsonDocument(list).toJson(QJsonDocument::Compact));
    });
}

void ProxyService::startHealthProbes()
{
    m_probeTimer.start(std::max(250, std::min(m_config.upstream.healthCheckIntervalMs, m_config.upstream.ejectBaseMs)));
}

void ProxyService::probeDueUpstreams()
{
    const qint64 now = Clock::instance().nowMSecs();
    const auto catalog = m_catalog->current();
    for (qint64 id : m_health.takeDueProbes(now)) {
        const CatalogUpstream *upstream = catalog->upstream(id);
        if (!upstream) {
            continue;
        }
        auto target = UpstreamTarget::build(upstream->kind, upstream->apiBase, u"models", QString(), upstream->apiKey,
                                            upstream->azureApiVersion);
        if (!target) {
            m_health.recordProbeResult(id, now, false, target.error().message);
            continue;
        }
        UpstreamRequest request;
        request.url = target->url;
        if (!target->authHeaderName.isEmpty()) {
            request.headers.append({target->authHeaderName, target->authHeaderValue});
        }
        request.timeouts = UpstreamTimeouts::fromConfig(m_config.upstream);
        request.timeouts.firstByteMs = 10'000;
        request.timeouts.totalMs = 15'000;
        request.maxBodyBytes = 4 * 1024 * 1024;
        request.proxyUrl = upstream->proxyUrl.toUtf8();
        auto *call = new UpstreamCall(std::move(request), nullptr, this);
        call->onFinished([this, call, id](const UpstreamOutcome &outcome) {
            const bool ok = outcome.ok() && outcome.httpStatus >= 200 && outcome.httpStatus < 300;
            m_health.recordProbeResult(
                id, Clock::instance().nowMSecs(), ok,
                ok ? QString() : (outcome.ok() ? QStringLiteral("HTTP %1").arg(outcome.httpStatus) : outcome.message));
            qCInfo(lcProxy).noquote() << "probe of upstream" << id << (ok ? "succeeded: back in rotation" : "failed");
            call->deleteLater();
        });
        call->start();
    }
}

} // namespace llmpool::gateway
