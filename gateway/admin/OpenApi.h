#pragma once

// buildOpenApi(): the OpenAPI 3.0 document of the admin REST API, generated from the route table
// addAdminRoutes() registers (each route's api::Operation) and api::adminSchemas(). Pure; any
// thread.

#include "admin/AdminResource.h"

#include <QJsonObject>

#include <vector>

namespace llmpool::gateway {

// `routes` have patterns relative to /api/v1.
QJsonObject buildOpenApi(const std::vector<AdminRoute> &routes, const std::vector<api::Schema> &schemas);

} // namespace llmpool::gateway
