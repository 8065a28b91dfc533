#pragma once

// Pricing: what one request costs (SPEC §5). Every component is summed exactly first and the total
// is rounded half-even to 9 places ONCE (the rule stated in shared/Money.h): pricing input,
// cached input, output, images, speech characters and transcription time separately and adding
// the rounded parts would round up to six times.
//
// Pure; any thread.

#include "Money.h"
#include "Result.h"
#include "routing/Catalog.h"

namespace llmpool::gateway {

struct BillableUsage
{
    qint64 promptTokens = 0; // all input tokens, cached ones included
    qint64 cachedTokens = 0; // the part of promptTokens served from the prompt cache
    qint64 completionTokens = 0;
    qint64 images = 0;
    qint64 characters = 0;  // speech input
    qint64 audioMillis = 0; // transcription
};

class Pricing
{
public:
    static Result<Money> cost(const ModelPrices &prices, const BillableUsage &usage);
};

} // namespace llmpool::gateway
