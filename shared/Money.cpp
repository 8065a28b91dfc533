#include "Money.h"

#include <limits>

namespace llmpool {

namespace {

Error outOfRange(const QString &what)
{
    return Error::invalidRequest(QStringLiteral("amount_out_of_range"), what);
}

Error invalidAmount(const QString &why)
{
    return Error::invalidRequest(QStringLiteral("invalid_amount"), QStringLiteral("invalid amount: ") + why);
}

bool inRange(Money::Nanos n)
{
    return n >= -Money::kMaxNanos && n <= Money::kMaxNanos;
}

// n / d rounded half to even; d > 0. Division in C++ truncates toward zero, so the remainder has
// the sign of n; compare its magnitude with the other part of the divisor to avoid computing 2*r
// (which could overflow for huge n only in theory, but costs nothing to avoid).
Money::Nanos divideHalfEven(Money::Nanos n, Money::Nanos d)
{
    Money::Nanos q = n / d;
    Money::Nanos r = n % d;
    if (r == 0)
        return q;
    const Money::Nanos absR = r < 0 ? -r : r;
    const Money::Nanos rest = d - absR;
    const bool roundAway = absR > rest || (absR == rest && (q % 2 != 0));
    if (roundAway)
        q += (n < 0) ? -1 : 1;
    return q;
}

// Decimal digits of |n| (n within range, so no overflow on negation).
QString absDigits(Money::Nanos n)
{
    if (n < 0)
        n = -n;
    if (n == 0)
        return QStringLiteral("0");
    char buf[48];
    int pos = sizeof(buf);
    while (n > 0) {
        buf[--pos] = static_cast<char>('0' + static_cast<int>(n % 10));
        n /= 10;
    }
    return QString::fromLatin1(buf + pos, static_cast<qsizetype>(sizeof(buf)) - pos);
}

} // namespace

Result<Money> Money::fromNanos128(Nanos nanos)
{
    if (!inRange(nanos))
        return outOfRange(QStringLiteral("amount out of range (maximum magnitude 10^29 - 10^-9)"));
    return Money(nanos);
}

Result<Money> Money::parse(QStringView text)
{
    if (text.isEmpty())
        return invalidAmount(QStringLiteral("empty string"));

    qsizetype i = 0;
    const bool negative = text.at(0) == u'-';
    if (negative)
        ++i;

    // Integer part: at least one digit. Leading zeros are harmless (the value is unambiguous).
    const qsizetype intStart = i;
    while (i < text.size() && text.at(i) >= u'0' && text.at(i) <= u'9')
        ++i;
    const qsizetype intEnd = i;
    if (intEnd == intStart) {
        if (i < text.size() && text.at(i) == u'.')
            return invalidAmount(QStringLiteral("a digit is required before the decimal point"));
        return invalidAmount(QStringLiteral("expected a decimal number like \"12.5\""));
    }

    qsizetype fracStart = i;
    qsizetype fracEnd = i;
    if (i < text.size() && text.at(i) == u'.') {
        ++i;
        fracStart = i;
        while (i < text.size() && text.at(i) >= u'0' && text.at(i) <= u'9')
            ++i;
        fracEnd = i;
        if (fracEnd == fracStart)
            return invalidAmount(QStringLiteral("a digit is required after the decimal point"));
    }
    if (i != text.size())
        return invalidAmount(QStringLiteral("unexpected character at position %1 (only digits, one '.' and a "
                                            "leading '-' are allowed)")
                                 .arg(i + 1));
    if (fracEnd - fracStart > kScale)
        return invalidAmount(QStringLiteral("more than %1 decimal places").arg(kScale));

    // Skip leading zeros so that the digit count check below is about significant digits.
    qsizetype sig = intStart;
    while (sig < intEnd - 1 && text.at(sig) == u'0')
        ++sig;
    if (intEnd - sig > 29)
        return outOfRange(QStringLiteral("invalid amount: out of range (at most 29 integer digits)"));

    Nanos value = 0;
    for (qsizetype k = sig; k < intEnd; ++k)
        value = value * 10 + (text.at(k).unicode() - u'0');
    for (qsizetype k = fracStart; k < fracEnd; ++k)
        value = value * 10 + (text.at(k).unicode() - u'0');
    for (qsizetype k = fracEnd - fracStart; k < kScale; ++k)
        value *= 10;
    // 29 integer digits + 9 fraction digits = 38 digits <= 10^38 - 1: always in range here.
    return Money(negative ? -value : value);
}

std::optional<qint64> Money::toNanos64() const
{
    if (m_nanos < std::numeric_limits<qint64>::min() || m_nanos > std::numeric_limits<qint64>::max())
        return std::nullopt;
    return static_cast<qint64>(m_nanos);
}

QString Money::toString() const
{
    const Nanos a = m_nanos < 0 ? -m_nanos : m_nanos;
    QString intPart = absDigits(a / kNanosPerUnit);
    QString frac = absDigits(a % kNanosPerUnit);
    frac = QString(kScale - frac.size(), u'0') + frac;
    return (m_nanos < 0 ? QStringLiteral("-") : QString()) + intPart + u'.' + frac;
}

namespace {

// Writes the decimal digits of a (>= 0) right-aligned ending at `end`; returns the first digit.
char *digitsBackwards(__int128 a, char *end)
{
    do {
        *--end = char('0' + int(a % 10));
        a /= 10;
    } while (a != 0);
    return end;
}

} // namespace

void Money::appendTo(QByteArray &out) const
{
    const Nanos a = m_nanos < 0 ? -m_nanos : m_nanos;
    char buf[64];
    char *end = buf + sizeof buf;
    char *p = end;
    Nanos frac = a % kNanosPerUnit;
    for (int i = 0; i < kScale; ++i) {
        *--p = char('0' + int(frac % 10));
        frac /= 10;
    }
    *--p = '.';
    p = digitsBackwards(a / kNanosPerUnit, p);
    if (m_nanos < 0)
        *--p = '-';
    out.append(p, end - p);
}

QByteArray Money::nanosText() const
{
    const Nanos a = m_nanos < 0 ? -m_nanos : m_nanos;
    char buf[64];
    char *end = buf + sizeof buf;
    char *p = digitsBackwards(a, end);
    if (m_nanos < 0)
        *--p = '-';
    return QByteArray(p, end - p);
}

QString Money::toTrimmedString() const
{
    QString s = toString();
    while (s.endsWith(u'0'))
        s.chop(1);
    if (s.endsWith(u'.'))
        s.chop(1);
    return s;
}

double Money::toDouble() const
{
    const Nanos a = m_nanos < 0 ? -m_nanos : m_nanos;
    const double v = static_cast<double>(a / kNanosPerUnit) + static_cast<double>(a % kNanosPerUnit) / 1e9;
    return m_nanos < 0 ? -v : v;
}

Result<Money> Money::add(Money other) const
{
    Nanos r = 0;
    if (__builtin_add_overflow(m_nanos, other.m_nanos, &r) || !inRange(r))
        return outOfRange(QStringLiteral("amount out of range in addition"));
    return Money(r);
}

Result<Money> Money::sub(Money other) const
{
    Nanos r = 0;
    if (__builtin_sub_overflow(m_nanos, other.m_nanos, &r) || !inRange(r))
        return outOfRange(QStringLiteral("amount out of range in subtraction"));
    return Money(r);
}

Result<Money> Money::multiply(qint64 count) const
{
    Nanos r = 0;
    if (__builtin_mul_overflow(m_nanos, Nanos(count), &r) || !inRange(r))
        return outOfRange(QStringLiteral("amount out of range in multiplication"));
    return Money(r);
}

Result<Money> Money::mulDiv(qint64 numerator, qint64 denominator) const
{
    if (denominator <= 0)
        return Error::internal(QStringLiteral("invalid_divisor"), QStringLiteral("money divisor must be positive"));
    Nanos product = 0;
    if (__builtin_mul_overflow(m_nanos, Nanos(numerator), &product))
        return outOfRange(QStringLiteral("amount out of range in multiplication"));
    const Nanos r = divideHalfEven(product, Nanos(denominator));
    if (!inRange(r))
        return outOfRange(QStringLiteral("amount out of range in multiplication"));
    return Money(r);
}

namespace {

Result<Money> priced(Money price, qint64 quantity, qint64 divisor, const char *what)
{
    if (quantity < 0)
        return Error::internal(QStringLiteral("invalid_quantity"),
                               QStringLiteral("negative %1 count cannot be priced").arg(QLatin1StringView(what)));
    return price.mulDiv(quantity, divisor);
}

} // namespace

Result<Money> Money::costForTokens(Money pricePer1M, qint64 tokens)
{
    return priced(pricePer1M, tokens, 1'000'000, "token");
}

Result<Money> Money::costForCharacters(Money pricePer1MChars, qint64 characters)
{
    return priced(pricePer1MChars, characters, 1'000'000, "character");
}

Result<Money> Money::costForCount(Money pricePerItem, qint64 count)
{
    return priced(pricePerItem, count, 1, "item");
}

Result<Money> Money::costForSeconds(Money pricePerMinute, qint64 seconds)
{
    return priced(pricePerMinute, seconds, 60, "second");
}

Result<Money> Money::costForMilliseconds(Money pricePerMinute, qint64 milliseconds)
{
    return priced(pricePerMinute, milliseconds, 60'000, "millisecond");
}

} // namespace llmpool
