#pragma once

// Operational endpoints outside /api/v1 (SPEC §6): /healthz and /readyz. /metrics joins them with
// the operations issue.
//   GET /healthz  200 {"status":"ok"} while the process serves requests at all.
//   GET /readyz   200 when PostgreSQL and Redis both answer a round trip within the deadline,
//                 503 otherwise, with each dependency's state: {"status":"ready"|"not_ready",
//                 "checks":{"database":"ok"|<error text>,"redis":"ok"|<error text>}}.

namespace llmpool::gateway {

class Database;
class RedisPool;
class Router;

void addOpsRoutes(Router &router, Database *database, RedisPool *redis);

} // namespace llmpool::gateway
