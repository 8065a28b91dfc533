#pragma once

// ProxyService: the data plane (SPEC §3). Registers the OpenAI-compatible routes at /v1 and
// /openai/v1 and holds what every request shares: key authentication, the catalog snapshot,
// upstream health, the configuration and the usage sink. Each request is one ProxyExchange.
//
// Thread: constructed on the main thread before the HTTP server starts; its members are
// thread-safe (KeyCache, CatalogStore::current(), HealthTracker) or immutable (config), so
// handlers on every event-loop thread use it concurrently.

#include "Config.h"
#include "proxy/ApiKeyAuth.h"
#include "routing/Capability.h"
#include "routing/HealthTracker.h"

#include <QObject>
#include <QTimer>

namespace llmpool::gateway {

class CatalogStore;
class Router;
class UsageSink;
class Admission;
class HttpRequest;
class HttpResponder;

class ProxyService : public QObject
{
    Q_OBJECT
public:
    ProxyService(const Config &config, Database *database, KeyCache *keys, CatalogStore *catalog, UsageSink *usage,
                 QObject *parent = nullptr);

    void addRoutes(Router &router);

    // Starts the background probe of ejected upstreams (GET {api_base}/models), on this thread.
    void startHealthProbes();

    HealthTracker &health() { return m_health; }
    CatalogStore *catalog() const { return m_catalog; }
    ApiKeyAuth &auth() { return m_auth; }
    UsageSink *usage() const { return m_usage; }
    // Billing admission (reservations); null = requests are admitted on key and user checks alone.
    Admission *admission() const { return m_admission; }
    void setAdmission(Admission *admission) { m_admission = admission; }
    const Config &config() const { return m_config; }

private:
    void handle(Endpoint endpoint, HttpRequest &request, HttpResponder &responder);
    void handleModels(HttpRequest &request, HttpResponder &responder, const QByteArray &modelId);
    void probeDueUpstreams();

    Config m_config;
    ApiKeyAuth m_auth;
    CatalogStore *m_catalog;
    UsageSink *m_usage;
    Admission *m_admission = nullptr;
    HealthTracker m_health;
    QTimer m_probeTimer;
};

} // namespace llmpool::gateway
