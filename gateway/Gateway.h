#pragma once

// Gateway: constructs and wires the running server — the database pool, the Redis connections,
// the router with every route, and the HTTP front end. `llmpool serve` owns one; tests start one
// in-process. Lives on the main thread; start() and stop() are called there.

#include "Config.h"
#include "Result.h"

#include <QObject>

#include <memory>

namespace llmpool::gateway {

class CatalogStore;
class Database;
class HttpServer;
class Invalidation;
class KeyCache;
class ProxyService;
class RedisPool;
class Router;
class UsageSink;
namespace billing {
class BillingService;
class UsageWorker;
} // namespace billing

class Gateway : public QObject
{
    Q_OBJECT
public:
    explicit Gateway(Config config, QObject *parent = nullptr);
    ~Gateway() override;

    // Starts the database threads and the listeners. Returns when the port is bound (the database
    // and Redis may still be connecting: /readyz tells).
    Status start();
    // Stops accepting, lets in-flight requests finish until `drainMs` passes, then closes
    // everything. Safe to call twice.
    void stop(int drainMs = 10'000);

    quint16 port() const;
    const Config &config() const { return m_config; }
    CatalogStore *catalog() const { return m_catalog.get(); }
    KeyCache *keyCache() const { return m_keys.get(); }

private:
    std::shared_ptr<Router> buildRouter();

    Config m_config;
    std::unique_ptr<Database> m_database;
    std::unique_ptr<RedisPool> m_redis;
    std::unique_ptr<KeyCache> m_keys;
    std::unique_ptr<CatalogStore> m_catalog;
    std::unique_ptr<Invalidation> m_invalidation;
    std::unique_ptr<billing::BillingService> m_billing;
    std::unique_ptr<billing::UsageWorker> m_worker; // in-process worker ([worker] in_process)
    std::unique_ptr<ProxyService> m_proxy;
    std::unique_ptr<HttpServer> m_http;
};

} // namespace llmpool::gateway
