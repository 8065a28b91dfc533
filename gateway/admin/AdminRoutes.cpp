#include "admin/AdminRoutes.h"

#include "admin/AdminResource.h"
#include "http/Router.h"

namespace llmpool::gateway {

void addAdminRoutes(Router &router, const Config &config, Database *database, RedisPool *redis)
{
    auto context = std::make_shared<const AdminContext>(
        AdminContext{database, redis, AdminAuth(config.admin.jwtSecret, config.admin.staticKey),
                     SecretBox(config.security.encryptionKey), config.billing.currency});

    std::vector<AdminRoute> routes;
    for (auto table : {userRoutes(), keyRoutes(), auditRoutes(), catalogRoutes(), upstreamProbeRoutes()}) {
        for (AdminRoute &route : table)
            routes.push_back(std::move(route));
    }
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
