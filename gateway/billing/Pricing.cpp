#include "billing/Pricing.h"

namespace llmpool::gateway {

namespace {

// Common denominator of the units: per 1M tokens, per 1M characters, per item, per minute of
// milliseconds (60,000): lcm(1,000,000, 60,000) = 3,000,000.
constexpr qint64 kDenominator = 3'000'000;

Error overflow()
{
    return Error::internal(QStringLiteral("amount_out_of_range"), QStringLiteral("the request's cost is out of range"));
}

} // namespace

Result<Money> Pricing::cost(const ModelPrices &prices, const BillableUsage &usage)
{
    if (usage.promptTokens < 0 || usage.cachedTokens < 0 || usage.completionTokens < 0 || usage.images < 0 ||
        usage.characters < 0 || usage.audioMillis < 0) {
        return Error::internal(QStringLiteral("invalid_quantity"), QStringLiteral("a usage quantity is negative"));
    }
    const qint64 cached = std::min(usage.cachedTokens, usage.promptTokens);
    struct Term
    {
        Money price;
        qint64 quantity;
        qint64 factor; // kDenominator / the unit's own denominator
    };
    const Term terms[] = {
        {prices.inputPer1M, usage.promptTokens - cached, 3}, {prices.cachedInputPer1M, cached, 3},
        {prices.outputPer1M, usage.completionTokens, 3},     {prices.perImage, usage.images, kDenominator},
        {prices.speechPer1MChars, usage.characters, 3},      {prices.transcriptionPerMinute, usage.audioMillis, 50},
    };
    // Quantities are clamped far below 2^40 by the callers and prices are checked here, so each
    // product fits in 128 bits; the sum is checked against Money's range by fromNanos128.
    constexpr Money::Nanos kPriceLimit = Money::Nanos(1) << 80;
    Money::Nanos sum = 0;
    for (const Term &t : terms) {
        if (t.quantity == 0 || t.price.isZero()) {
            continue;
        }
        if (t.price.nanos() > kPriceLimit || t.price.nanos() < -kPriceLimit || t.quantity > (qint64(1) << 40)) {
            return overflow();
        }
        sum += t.price.nanos() * Money::Nanos(t.quantity) * Money::Nanos(t.factor);
        if (sum > Money::kMaxNanos || sum < -Money::kMaxNanos) {
            return overflow();
        }
    }
    auto scaled = Money::fromNanos128(sum);
    if (!scaled) {
        return scaled.takeError();
    }
    return scaled->mulDiv(1, kDenominator);
}

} // namespace llmpool::gateway
