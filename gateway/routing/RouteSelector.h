#pragma once

// RouteSelector: public model + the capability an endpoint needs → a FailoverPlan, the ordered
// upstreams to try (SPEC §3 "Routing").
//
// Candidates are the model's rows that are enabled, on an enabled upstream the HealthTracker
// calls available, with the capability, and with an effective weight (row weight × upstream
// weight) above 0. The plan is a weighted random draw without replacement over them, at most
// maxAttempts long, and names each upstream once: when a row is drawn, the other rows of its
// upstream leave the draw (so an upstream's chance is the sum of its rows' weights), because a
// second attempt at an upstream that just failed is rarely a different outcome.
//
// Errors, checked in this order (OpenAI's shapes):
//   404 invalid_request_error "model_not_found"  no row has this name, or none is enabled on an
//       enabled upstream — a model that is not offered is not listed by /v1/models either;
//   400 invalid_request_error "model_not_supported" (param "model")  the model is offered but no
//       offered row has the capability: the request is wrong for this model, and retrying it will
//       not help, so not a 404 that reads like a typo in the name nor a 5xx;
//   503 server_error "no_healthy_upstream"  capable rows exist but every one is ejected or has
//       weight 0 — a temporary state, hence 503.
//
// Pure: the randomness comes in as a RandomSource (tests seed it) and the health as a const
// tracker. Thread: any; plan() touches no shared mutable state beyond the tracker's own lock.

#include "Result.h"
#include "routing/Capability.h"
#include "routing/Catalog.h"

#include <QRandomGenerator>

#include <functional>
#include <memory>
#include <vector>

namespace llmpool::gateway {

class HealthTracker;

// A uniform integer in [0, bound); bound ≥ 1.
using RandomSource = std::function<quint64(quint64 bound)>;
// Wraps a generator (not owned; QRandomGenerator::global() is thread-safe, others are not).
RandomSource randomSourceFrom(QRandomGenerator *generator);

struct RouteAttempt
{
    const CatalogModel *model = nullptr;       // points into FailoverPlan::catalog
    const CatalogUpstream *upstream = nullptr; // ditto
};

struct FailoverPlan
{
    std::shared_ptr<const Catalog> catalog; // keeps the rows the attempts point at alive
    std::vector<RouteAttempt> attempts;     // non-empty, distinct upstreams, in the order to try
};

class RouteSelector
{
public:
    // The weight a row competes with: row weight × upstream weight, capped so sums cannot overflow.
    static quint64 effectiveWeight(const CatalogModel &row, const CatalogUpstream &upstream);

    static Result<FailoverPlan> plan(std::shared_ptr<const Catalog> catalog, QStringView publicModel, Capability needed,
                                     const HealthTracker &health, const RandomSource &random, int maxAttempts);

    // The three errors above, for callers that detect the same conditions elsewhere.
    static Error modelNotFound(QStringView publicModel);
    static Error modelNotSupported(QStringView publicModel, Capability needed);
    static Error noHealthyUpstream(QStringView publicModel);
};

} // namespace llmpool::gateway
