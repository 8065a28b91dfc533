#pragma once

// Money: an exact decimal with 9 fractional digits ("nanos"), the unit of every wallet amount,
// price and cost. Never floating point (SPEC §5).
//
// Representation: a signed __int128 count of 10^-9 units. The accepted range is
//   |value| <= 99,999,999,999,999,999,999,999,999,999.999999999   (10^38 - 1 nanos)
// i.e. exactly what PostgreSQL NUMERIC(38,9) holds, so every Money round-trips through the database,
// and so a sum of billions of realistic costs can never come near the limit. (__int128 itself would
// reach ~1.7 * 10^29 units; the tighter bound keeps us inside NUMERIC(38,9).)
//
// Overflow policy: every operation that can leave the range returns Result<Money> with
// Error.code "amount_out_of_range" (HTTP 400); nothing saturates or wraps silently. Negation and
// comparison cannot overflow because the range is symmetric.
//
// Rounding rule (the only one in the product, SPEC §9): a cost is computed exactly as a rational
// number and rounded ONCE to 9 decimal places, half to even (banker's rounding):
//   0.0000000005 -> 0.000000000, 0.0000000015 -> 0.000000002, -0.0000000025 -> -0.000000002.
// Every cost*() helper below applies it to the exact product; none rounds an intermediate value.

#include "Result.h"

#include <QString>
#include <QStringView>

#include <compare>
#include <optional>

namespace llmpool {

class Money
{
public:
    using Nanos = __int128;

    static constexpr int kScale = 9;
    static constexpr Nanos kNanosPerUnit = 1'000'000'000;
    // 10^38 - 1, written as a product because there are no 128-bit literals.
    static constexpr Nanos kMaxNanos = Nanos(10'000'000'000'000'000'000ULL) * Nanos(10'000'000'000'000'000'000ULL) - 1;

    constexpr Money() = default;

    static constexpr Money zero() { return Money(); }
    // Any qint64 is within range (|qint64| < 10^19 nanos).
    static constexpr Money fromNanos(qint64 nanos) { return Money(Nanos(nanos)); }
    static Result<Money> fromNanos128(Nanos nanos);
    // Whole units (e.g. a deposit of 100 USD); any qint64 fits.
    static constexpr Money fromUnits(qint64 units) { return Money(Nanos(units) * kNanosPerUnit); }

    // Strict decimal: optional '-', one or more digits, optionally '.' followed by 1..9 digits.
    // Rejected: empty, whitespace, '+', exponents ("1e5"), "NaN"/"Infinity", ".5", "1.", more than
    // 9 fractional digits (even trailing zeros: the caller must not lose precision silently), and
    // values outside the range. Error.code "invalid_amount" (HTTP 400), message names the problem.
    static Result<Money> parse(QStringView text);

    constexpr Nanos nanos() const { return m_nanos; }
    // The nanos as qint64 when they fit (|value| < ~9.2 * 10^9 units), for compact storage.
    std::optional<qint64> toNanos64() const;

    // Canonical form, always 9 decimals: "1.500000000", "-0.000000001", "0.000000000".
    // This is the wire format of the admin API and the text sent to PostgreSQL.
    QString toString() const;
    // The same canonical text appended to `out` as ASCII (no QString on the way: hot paths).
    void appendTo(QByteArray &out) const;
    // The value in nanos as decimal integer text ("-1", "0", "1500000000").
    QByteArray nanosText() const;
    // Shortest exact form for people: "1.5", "-0.000000001", "0", "12".
    QString toTrimmedString() const;
    // Approximate, for metrics gauges only (Prometheus exports doubles). Never bill with it.
    double toDouble() const;

    constexpr bool isZero() const { return m_nanos == 0; }
    constexpr bool isNegative() const { return m_nanos < 0; }
    constexpr bool isPositive() const { return m_nanos > 0; }

    constexpr Money negated() const { return Money(-m_nanos); }
    constexpr Money abs() const { return m_nanos < 0 ? negated() : *this; }

    Result<Money> add(Money other) const;
    Result<Money> sub(Money other) const;
    // Exact multiplication by an integer count (e.g. a price per image times the number of images).
    Result<Money> multiply(qint64 count) const;

    // this * numerator / denominator, rounded half-even once. denominator must be > 0.
    Result<Money> mulDiv(qint64 numerator, qint64 denominator) const;

    // Billing helpers. Quantities must be >= 0 (a negative count is a bug upstream of the billing
    // code and is reported, not silently priced). All round half-even once, as stated above.
    // price per 1,000,000 tokens * tokens / 1,000,000
    static Result<Money> costForTokens(Money pricePer1M, qint64 tokens);
    // price per 1,000,000 characters * characters / 1,000,000 (speech)
    static Result<Money> costForCharacters(Money pricePer1MChars, qint64 characters);
    // price per item * count (images); exact, no rounding needed
    static Result<Money> costForCount(Money pricePerItem, qint64 count);
    // price per minute * seconds / 60 (transcription)
    static Result<Money> costForSeconds(Money pricePerMinute, qint64 seconds);
    // price per minute * milliseconds / 60,000 (transcription durations are fractional seconds)
    static Result<Money> costForMilliseconds(Money pricePerMinute, qint64 milliseconds);

    friend constexpr bool operator==(Money a, Money b) = default;
    friend constexpr std::strong_ordering operator<=>(Money a, Money b) { return a.m_nanos <=> b.m_nanos; }

private:
    constexpr explicit Money(Nanos nanos) : m_nanos(nanos) {}

    Nanos m_nanos = 0;
};

} // namespace llmpool
