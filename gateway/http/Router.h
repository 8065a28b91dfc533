#pragma once

// Router: (method, path pattern) → handler.
//
// Patterns are literal segments and parameters: "/v1/models", "/api/v1/users/{id}/keys", and a
// trailing "{name...}" that takes the rest of the path (one or more segments). Matching works on
// the raw path segment by segment and decodes each parameter on its own, so "/v1/models/a%2Fb"
// gives id "a/b". Exact (parameterless) routes are found by hash first; among patterns the more
// literal one wins ("/users/me" before "/users/{id}"). A GET route also answers HEAD.
//
// Thread: built once on one thread before HttpServer::start(), then read-only and shared by all
// event-loop threads (match() is const and touches no mutable state).

#include "http/HttpRequest.h"
#include "http/HttpResponder.h"

#include <QByteArray>
#include <QHash>
#include <QList>

#include <memory>
#include <vector>

namespace llmpool::gateway {

class Router
{
public:
    struct Match
    {
        // 200 with a handler, 404 (no route has this path) or 405 (see allow).
        int status = 404;
        const HttpHandler *handler = nullptr;
        QByteArray allow; // "GET, HEAD, POST" for 405
    };

    // An invalid pattern (not starting with '/', unbalanced braces, "{x...}" not last) is a bug in
    // the caller: it asserts in debug builds and is skipped with a warning otherwise.
    void addRoute(QByteArrayView method, QByteArrayView pattern, HttpHandler handler);
    void get(QByteArrayView pattern, HttpHandler h) { addRoute("GET", pattern, std::move(h)); }
    void post(QByteArrayView pattern, HttpHandler h) { addRoute("POST", pattern, std::move(h)); }
    void put(QByteArrayView pattern, HttpHandler h) { addRoute("PUT", pattern, std::move(h)); }
    void patch(QByteArrayView pattern, HttpHandler h) { addRoute("PATCH", pattern, std::move(h)); }
    void del(QByteArrayView pattern, HttpHandler h) { addRoute("DELETE", pattern, std::move(h)); }

    // `params` receives decoded path parameters of the matched route (cleared first).
    Match match(QByteArrayView method, QByteArrayView rawPath, QVarLengthArray<HttpRequest::Param, 4> &params) const;

    qsizetype routeCount() const;

    struct RouteEntry
    {
        QByteArray method;
        QByteArray pattern;
    };
    // Every (method, pattern) registered, patterns in matching order (HEAD implied by GET is not
    // listed). For tests and generated documentation.
    std::vector<RouteEntry> routes() const;

private:
    struct Segment
    {
        enum Kind : quint8 { Literal, Param, Rest } kind;
        QByteArray text; // literal text, or the parameter name
    };
    struct MethodHandler
    {
        QByteArray method;
        HttpHandler handler;
    };
    struct Pattern
    {
        QByteArray source;
        std::vector<Segment> segments;
        std::vector<MethodHandler> methods;
    };

    static const HttpHandler *findMethod(const Pattern &p, QByteArrayView method);
    static void appendAllow(const Pattern &p, QList<QByteArray> &allow);
    static bool matchSegments(const Pattern &p, QByteArrayView rawPath, QVarLengthArray<HttpRequest::Param, 4> *params);

    // Exact routes by raw path, and all routes (exact ones included, for paths with escapes) in
    // order of specificity. Patterns are heap nodes so pointers stay stable while adding.
    std::vector<std::unique_ptr<Pattern>> m_patterns;
    QHash<QByteArray, const Pattern *> m_exact;
};

} // namespace llmpool::gateway
