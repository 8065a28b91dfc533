#include "Gateway.h"

#include "Log.h"
#include "admin/AdminRoutes.h"
#include "http/HttpServer.h"
#include "http/Router.h"
#include "ops/OpsRoutes.h"
#include "proxy/CatalogStore.h"
#include "proxy/Invalidation.h"
#include "proxy/KeyCache.h"
#include "proxy/ProxyService.h"
#include "billing/BillingService.h"
#include "billing/UsageWorker.h"
#include "storage/Database.h"
#include "storage/RedisPool.h"

#include <QDeadlineTimer>

namespace llmpool::gateway {

Gateway::Gateway(Config config, QObject *parent) : QObject(parent), m_config(std::move(config)) {}

Gateway::~Gateway()
{
    stop(0);
}

Status Gateway::start()
{
    DatabaseOptions dbOptions;
    dbOptions.url = m_config.database.url;
    dbOptions.poolSize = m_config.database.poolSize;
    m_database = std::make_unique<Database>(dbOptions);
    if (auto started = m_database->start(); !started) {
        return started;
    }

    RedisClient::Options redisOptions;
    redisOptions.url = m_config.redis.url;
    m_redis = std::make_unique<RedisPool>(redisOptions);

    // Admin changes are announced over Redis (Invalidation); while that channel is down, cached
    // keys and the catalog are trusted for one second at most, the propagation promise of SPEC §9.
    m_keys = std::make_unique<KeyCache>();
    m_catalog = std::make_unique<CatalogStore>(m_database.get(), SecretBox(m_config.security.encryptionKey));
    if (auto loaded = m_catalog->loadNow(); !loaded) {
        qCWarning(lcProxy).noquote() << "catalog not loaded yet (retrying in the background):" << loaded.error().message;
        m_catalog->reload();
    }
    m_invalidation = std::make_unique<Invalidation>(m_config.redis.url, m_keys.get(), m_catalog.get());
    m_invalidation->start();
    // Billing: usage events go to the Redis Stream (or the local spool while Redis is away);
    // admission reserves each request's maximum cost first (SPEC §5).
    m_billing = std::make_unique<billing::BillingService>(m_config, m_database.get(), m_redis.get());
    if (auto started = m_billing->start(); !started) {
        return started;
    }
    if (m_config.worker.inProcess) {
        m_worker = std::make_unique<billing::UsageWorker>(billing::UsageWorker::optionsFrom(m_config), m_database.get());
        m_worker->start();
    }
    m_proxy = std::make_unique<ProxyService>(m_config, m_database.get(), m_keys.get(), m_catalog.get(), m_billing.get());
    if (m_config.billing.reservation) {
        m_proxy->setAdmission(m_billing.get());
    }
    m_proxy->startHealthProbes();

    HttpServerConfig http;
    const ServerConfig &server = m_config.server;
    http.address = server.bind.host == QLatin1String("localhost") ? QHostAddress(QHostAddress::LocalHost)
                                                                  : QHostAddress(server.bind.host);
    http.port = server.bind.port;
    http.threads = server.effectiveThreads();
    http.maxConnections = server.maxConnections;
    http.maxBodyBytes = server.maxBodyBytes;
    http.maxHeaderBytes = int(std::min<qint64>(server.maxHeaderBytes, 80 * 1024));
    http.idleTimeoutMs = server.idleTimeoutMs;
    http.headerTimeoutMs = server.headerTimeoutMs;
    http.bodyTimeoutMs = server.bodyTimeoutMs;
    m_http = std::make_unique<HttpServer>(http, buildRouter());
    if (auto started = m_http->start(); !started) {
        return started;
    }
    qCInfo(lcServer).noquote() << "listening on" << server.bind.host << m_http->port() << "with"
                               << m_http->threadCount() << "threads; database" << m_database->redactedUrl()
                               << "redis" << redactUrlSecrets(m_config.redis.url);
    return Ok{};
}

std::shared_ptr<Router> Gateway::buildRouter()
{
    auto router = std::make_shared<Router>();
    addOpsRoutes(*router, m_database.get(), m_redis.get());
    addAdminRoutes(*router, m_config, m_database.get(), m_redis.get(), &m_proxy->health());
    m_proxy->addRoutes(*router);
    return router;
}

void Gateway::stop(int drainMs)
{
    if (m_http) {
        if (drainMs > 0) {
            m_http->drain(QDeadlineTimer(drainMs));
        }
        m_http->stop(); // joins the event-loop threads, which destroys their Redis clients
        m_http.reset();
    }
    m_proxy.reset();
    if (m_billing) {
        m_billing->stop(); // the spool is on disk from here on
        m_billing.reset();
    }
    if (m_worker) {
        m_worker->stop(); // finishes its batch in hand
        m_worker.reset();
    }
    m_invalidation.reset();
    m_catalog.reset();
    m_keys.reset();
    m_redis.reset();
    if (m_database) {
        m_database->stop();
        m_database.reset();
    }
}

quint16 Gateway::port() const
{
    return m_http ? m_http->port() : 0;
}

} // namespace llmpool::gateway
