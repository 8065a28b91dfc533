#pragma once

// User API keys (SPEC §4): "sk-lp-" + 48 base62 characters from the OS CSPRNG (~285 bits).
// Only hash() of a key is stored; prefix() is what lists show. Stateless and thread-safe.

#include <QByteArray>
#include <QByteArrayView>
#include <QString>
#include <QStringView>

namespace llmpool {

class ApiKeys
{
public:
    static constexpr QLatin1StringView kPrefix{"sk-lp-"};
    static constexpr qsizetype kRandomLength = 48;
    static constexpr qsizetype kKeyLength = 6 + kRandomLength;
    // Accepted random-part lengths for looksLikeKey(): the spec's minimum of 32 up to a bound that
    // keeps absurd header values away from the hash and the cache.
    static constexpr qsizetype kMinRandomLength = 32;
    static constexpr qsizetype kMaxRandomLength = 128;
    // "sk-lp-" + 6 characters: enough to tell keys apart in a list, far too little to guess one.
    static constexpr qsizetype kDisplayPrefixLength = 12;

    // A fresh key. Each character is drawn uniformly from [0-9A-Za-z] by rejection sampling on
    // random bytes (bytes >= 248 are discarded), so there is no modulo bias.
    static QString generate();

    // SHA-256 of the key's bytes as 64 lowercase hex characters: the value stored and looked up.
    static QByteArray hash(QByteArrayView plaintext);
    static QByteArray hash(QStringView plaintext);

    // The first kDisplayPrefixLength characters ("sk-lp-AbCdEf"), for display and audit logs.
    static QString prefix(QStringView plaintext);

    // Cheap format check before hashing: kPrefix + kMinRandomLength..kMaxRandomLength base62
    // characters. Says nothing about whether the key exists.
    static bool looksLikeKey(QByteArrayView text);
    static bool looksLikeKey(QStringView text);
};

} // namespace llmpool
