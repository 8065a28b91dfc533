#include "admin/AdminRoutes.h"

#include "admin/AdminResource.h"
#include "admin/OpenApi.h"
#include "http/Router.h"

#include <QJsonDocument>

namespace llmpool::gateway {

namespace {

// Every resource's table. A new resource adds its function here (and declares it in
// AdminResource.h); its routes then are served and documented.
std::vector<AdminRoute> resourceRoutes()
{
    std::vector<AdminRoute> routes;
    for (auto table : {userRoutes(), keyRoutes(), auditRoutes(), catalogRoutes(), upstreamProbeRoutes(), usageRoutes(),
                       statusRoutes(), walletRoutes()}) {
        for (AdminRoute &route : table)
            routes.push_back(std::move(route));
    }
    return routes;
}

} // namespace

void addAdminRoutes(Router &router, const Config &config, Database *database, RedisPool *redis,
                    const HealthTracker *health)
{
    auto context = std::make_shared<const AdminContext>(
        AdminContext{database, redis, AdminAuth(config.admin.jwtSecret, config.admin.staticKey),
                     SecretBox(config.security.encryptionKey), config.billing.currency, health,
                     QDateTime::currentMSecsSinceEpoch(), config.billing.spoolDir});

    std::vector<AdminRoute> routes = resourceRoutes();
    // The document describes the table it is part of; it is built once, after the table is complete.
    auto document = std::make_shared<QByteArray>();
    routes.push_back({"GET",
                      "/openapi.json",
                      [document](AdminCall &call) { call.responder.respond(200, "application/json", *document); },
                      {.summary = "This API's OpenAPI 3 description", .tag = "meta"}});
    *document = QJsonDocument(buildOpenApi(routes, api::adminSchemas())).toJson(QJsonDocument::Compact);

    for (AdminRoute &route : routes) {
        router.addRoute(route.method, QByteArray("/api/v1" + route.pattern),
                        [context, handler = std::move(route.handler)](HttpRequest &request, HttpResponder &responder) {
                            Result<QString> actor = context->auth.authenticate(request);
                            if (!actor) {
                                replyError(responder, actor.error(),
                                           {{QByteArrayLiteral("www-authenticate"),
                                             QByteArrayLiteral("Bearer realm=\"llmpool-admin\"")}});
                                return;
                            }
                            AdminCall call{request, responder, std::move(*actor), context};
                            handler(call);
                        });
    }
}

} // namespace llmpool::gateway
