#pragma once

// addAdminRoutes(): registers every admin REST resource under /api/v1 (SPEC §6, §9), each handler
// behind AdminAuth. Called once by the Gateway while it builds the router (main thread).

#include "Config.h"

namespace llmpool::gateway {

class Database;
class RedisPool;
class Router;

void addAdminRoutes(Router &router, const Config &config, Database *database, RedisPool *redis);

} // namespace llmpool::gateway
