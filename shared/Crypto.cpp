#include "Crypto.h"

#include <QCryptographicHash>
#include <QMessageAuthenticationCode>
#include <QRandomGenerator>

namespace llmpool {

bool constantTimeEquals(QByteArrayView given, QByteArrayView expected) noexcept
{
    // Walk the whole of `expected` whatever `given` holds; a length mismatch is folded into the same
    // accumulator instead of returning early. The volatile accumulator keeps the compiler from turning
    // the loop into an early-exit memcmp.
    volatile unsigned char diff = given.size() == expected.size() ? 0 : 1;
    const qsizetype n = expected.size();
    const qsizetype g = given.size();
    for (qsizetype i = 0; i < n; ++i) {
        const unsigned char a = i < g ? static_cast<unsigned char>(given[i]) : 0;
        const unsigned char b = static_cast<unsigned char>(expected[i]);
        diff = diff | static_cast<unsigned char>(a ^ b);
    }
    return diff == 0;
}

QByteArray randomBytes(qsizetype count)
{
    QByteArray out(count, Qt::Uninitialized);
    qsizetype i = 0;
    while (i < count) {
        const quint32 word = QRandomGenerator::system()->generate();
        for (int b = 0; b < 4 && i < count; ++b, ++i)
            out[i] = static_cast<char>((word >> (8 * b)) & 0xffu);
    }
    return out;
}

QByteArray sha256Hex(QByteArrayView data)
{
    return QCryptographicHash::hash(data, QCryptographicHash::Sha256).toHex();
}

QByteArray hmacSha256(QByteArrayView key, QByteArrayView data)
{
    QMessageAuthenticationCode mac(QCryptographicHash::Sha256, key.toByteArray());
    mac.addData(data.data(), data.size());
    return mac.result();
}

QByteArray base64UrlEncode(QByteArrayView data)
{
    return data.toByteArray().toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals);
}

std::optional<QByteArray> base64UrlDecode(QByteArrayView text)
{
    for (const char c : text) {
        const bool ok =
            (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
        if (!ok)
            return std::nullopt;
    }
    // A length of 1 mod 4 cannot come from any byte string.
    if (text.size() % 4 == 1)
        return std::nullopt;
    auto decoded = QByteArray::fromBase64Encoding(text.toByteArray(), QByteArray::Base64UrlEncoding |
                                                                          QByteArray::AbortOnBase64DecodingErrors);
    if (!decoded)
        return std::nullopt;
    // Re-encoding catches set padding bits ("QQ" and "QR" would both decode to "A").
    if (base64UrlEncode(decoded.decoded) != text)
        return std::nullopt;
    return std::move(decoded.decoded);
}

} // namespace llmpool
