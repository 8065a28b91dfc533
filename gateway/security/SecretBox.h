#pragma once

// SecretBox: encryption at rest of upstream API keys (SPEC §4): AES-256-GCM with a random 12-byte
// nonce, stored as base64(nonce ‖ ciphertext ‖ 16-byte tag). The key is [security]
// encryption_key (32 bytes). An empty key means "plaintext" mode: seal() returns the plaintext
// prefixed with "plain:" so that open() can tell the two apart and a later switch to encryption
// (`llmpool security rotate-key`) can find every plaintext row.
//
// Stateless apart from the key; safe to use from any thread (each call makes its own EVP context).

#include "Result.h"

#include <QByteArray>

namespace llmpool::gateway {

struct SealedSecret
{
    QByteArray stored;
    QString format; // SecretBox::kPlain or SecretBox::kAesGcm
};

class SecretBox
{
public:
    static constexpr QLatin1StringView kPlain{"plain"};
    static constexpr QLatin1StringView kAesGcm{"aes-256-gcm"};

    static constexpr int kKeyBytes = 32;
    static constexpr int kNonceBytes = 12;
    static constexpr int kTagBytes = 16;

    // `key` is empty (plaintext mode) or exactly 32 bytes; anything else makes every call fail.
    explicit SecretBox(QByteArray key);

    bool encrypts() const { return !m_key.isEmpty(); }

    // The stored form of `plaintext`: encrypted when a key is configured, else as is.
    Result<SealedSecret> seal(QByteArrayView plaintext) const;
    // The plaintext of a stored value. Errors (code "secret_undecryptable", 500): wrong key,
    // tampered or truncated data, an encrypted value while no key is configured, an unknown
    // format. Never returns garbage: GCM's tag is checked before anything is released.
    Result<QByteArray> open(QByteArrayView stored, QStringView format) const;

    // "sk-a…wxyz": enough for an operator to recognise a key, never enough to use it.
    static QString preview(QByteArrayView plaintext);

private:
    QByteArray m_key;
};

} // namespace llmpool::gateway
