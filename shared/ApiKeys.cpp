#include "ApiKeys.h"

#include "Crypto.h"

namespace llmpool {

namespace {

constexpr char kAlphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr int kAlphabetSize = 62;
// Largest multiple of 62 that fits in a byte: 4 * 62 = 248. Bytes at or above it would make the
// first 256 - 248 characters more likely, so they are thrown away (probability 8/256 each).
constexpr int kRejectAtOrAbove = 248;

bool isBase62(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

} // namespace

QString ApiKeys::generate()
{
    QByteArray out;
    out.reserve(kKeyLength);
    out.append(kPrefix.data(), kPrefix.size());
    while (out.size() < kKeyLength) {
        const QByteArray pool = randomBytes(kRandomLength);
        for (const char byte : pool) {
            const int v = static_cast<unsigned char>(byte);
            if (v >= kRejectAtOrAbove)
                continue;
            out.append(kAlphabet[v % kAlphabetSize]);
            if (out.size() == kKeyLength)
                break;
        }
    }
    return QString::fromLatin1(out);
}

QByteArray ApiKeys::hash(QByteArrayView plaintext)
{
    return sha256Hex(plaintext);
}

QByteArray ApiKeys::hash(QStringView plaintext)
{
    return sha256Hex(plaintext.toUtf8());
}

QString ApiKeys::prefix(QStringView plaintext)
{
    return plaintext.left(kDisplayPrefixLength).toString();
}

bool ApiKeys::looksLikeKey(QByteArrayView text)
{
    const qsizetype randomLength = text.size() - kPrefix.size();
    if (randomLength < kMinRandomLength || randomLength > kMaxRandomLength)
        return false;
    if (!text.startsWith(QByteArrayView(kPrefix.data(), kPrefix.size())))
        return false;
    for (const char c : text.sliced(kPrefix.size())) {
        if (!isBase62(c))
            return false;
    }
    return true;
}

bool ApiKeys::looksLikeKey(QStringView text)
{
    // Non-Latin-1 characters can never be part of a key; toLatin1 would map them to '?', which
    // isBase62 rejects.
    if (text.size() > kPrefix.size() + kMaxRandomLength)
        return false;
    return looksLikeKey(QByteArrayView(text.toLatin1()));
}

} // namespace llmpool
