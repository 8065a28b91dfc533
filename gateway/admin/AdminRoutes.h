#pragma once

// addAdminRoutes(): registers every admin REST resource under /api/v1 (SPEC §6, §9), each handler
// behind AdminAuth, and GET /api/v1/openapi.json generated from that same route table. Called once
// by the Gateway while it builds the router (main thread).
//
// A resource adds its routes as a table (std::vector<AdminRoute>, see AdminResource.h) listed in
// AdminRoutes.cpp; each row carries its api::Operation (ApiDoc.h), which is all the OpenAPI
// document needs besides the schemas in AdminSchemas.cpp.

#include "Config.h"

namespace llmpool::gateway {

class Database;
class HealthTracker;
class RedisPool;
class Router;

// `health`: the proxy's live upstream health (upstreams show "unknown" without one); it must
// outlive the router.
void addAdminRoutes(Router &router, const Config &config, Database *database, RedisPool *redis,
                    const HealthTracker *health = nullptr);

} // namespace llmpool::gateway
