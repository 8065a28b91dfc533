#include "routing/RouteSelector.h"

#include "routing/HealthTracker.h"

#include <algorithm>
#include <limits>

namespace llmpool::gateway {

namespace {
// 2^40 per row: far above any sensible weight, and a sum over a million rows still fits.
constexpr quint64 kMaxEffectiveWeight = quint64(1) << 40;
} // namespace

RandomSource randomSourceFrom(QRandomGenerator *generator)
{
    return [generator](quint64 bound) -> quint64 {
        if (bound <= 1)
            return 0;
        if (bound <= std::numeric_limits<quint32>::max())
            return generator->bounded(quint32(bound));
        // Rejection sampling keeps large bounds unbiased.
        const quint64 limit = std::numeric_limits<quint64>::max() - std::numeric_limits<quint64>::max() % bound;
        quint64 r;
        do {
            r = generator->generate64();
        } while (r >= limit);
        return r % bound;
    };
}

quint64 RouteSelector::effectiveWeight(const CatalogModel &row, const CatalogUpstream &upstream)
{
    if (row.weight <= 0 || upstream.weight <= 0)
        return 0;
    return std::min(quint64(row.weight) * quint64(upstream.weight), kMaxEffectiveWeight);
}

Error RouteSelector::modelNotFound(QStringView publicModel)
{
    // OpenAI's own wording and code, so SDKs and users recognise it.
    return Error{QStringLiteral("invalid_request_error"),
                 QStringLiteral("model_not_found"),
                 404,
                 QStringLiteral("The model `%1` does not exist or you do not have access to it.").arg(publicModel),
                 {}};
}

Error RouteSelector::modelNotSupported(QStringView publicModel, Capability needed)
{
    return Error::invalidRequest(
        QStringLiteral("model_not_supported"),
        QStringLiteral("The model `%1` does not support %2.").arg(publicModel, capabilityName(needed)),
        QStringLiteral("model"));
}

Error RouteSelector::noHealthyUpstream(QStringView publicModel)
{
    return Error::unavailable(QStringLiteral("no_healthy_upstream"),
                              QStringLiteral("No healthy upstream is available for the model `%1` right now; "
                                             "try again later.")
                                  .arg(publicModel));
}

Result<FailoverPlan> RouteSelector::plan(std::shared_ptr<const Catalog> catalog, QStringView publicModel,
                                         Capability needed, const HealthTracker &health, const RandomSource &random,
                                         int maxAttempts)
{
    if (!catalog)
        return modelNotFound(publicModel);

    struct Candidate
    {
        const CatalogModel *model;
        const CatalogUpstream *upstream;
        quint64 weight;
    };
    // Rows per name are few (one per upstream, typically 1–5): a small vector and linear scans
    // beat any cleverer structure here.
    std::vector<Candidate> candidates;
    bool offered = false;
    bool capable = false;
    for (const CatalogModel &row : catalog->rows(publicModel)) {
        if (!catalog->isServable(row))
            continue;
        offered = true;
        if (!row.capabilities.testFlag(needed))
            continue;
        capable = true;
        const CatalogUpstream *upstream = catalog->upstream(row.upstreamId);
        const quint64 weight = effectiveWeight(row, *upstream);
        if (weight == 0 || !health.isAvailable(upstream->id))
            continue;
        candidates.push_back({&row, upstream, weight});
    }
    if (!offered)
        return modelNotFound(publicModel);
    if (!capable)
        return modelNotSupported(publicModel, needed);
    if (candidates.empty())
        return noHealthyUpstream(publicModel);

    FailoverPlan plan;
    const size_t limit = size_t(std::max(maxAttempts, 1));
    plan.attempts.reserve(std::min(limit, candidates.size()));
    while (!candidates.empty() && plan.attempts.size() < limit) {
        quint64 total = 0;
        for (const Candidate &c : candidates)
            total += c.weight;
        quint64 r = random(total);
        if (r >= total)
            r = total - 1; // a misbehaving source must not pick past the end
        size_t chosen = 0;
        for (; chosen + 1 < candidates.size(); ++chosen) {
            if (r < candidates[chosen].weight)
                break;
            r -= candidates[chosen].weight;
        }
        const CatalogUpstream *upstream = candidates[chosen].upstream;
        plan.attempts.push_back({candidates[chosen].model, upstream});
        std::erase_if(candidates, [upstream](const Candidate &c) { return c.upstream == upstream; });
    }
    plan.catalog = std::move(catalog);
    return plan;
}

} // namespace llmpool::gateway
