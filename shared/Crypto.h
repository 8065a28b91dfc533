#pragma once

// Small cryptographic helpers shared by every module that handles secrets (API keys, JWTs, the
// static admin key, webhook-style signatures). Kept in one place so that "compare a secret" always
// means "compare in constant time" and "random" always means "from the OS CSPRNG".

#include <QByteArray>
#include <QByteArrayView>

#include <optional>

namespace llmpool {

// True when `given` equals `expected`. The running time depends only on expected.size(), never on
// where the first difference is or on the content of `given`, so a caller comparing a client-supplied
// token against a stored secret leaks at most the secret's length (which is public: fixed-size hashes,
// fixed-format keys). Pass the secret / stored value as `expected`.
bool constantTimeEquals(QByteArrayView given, QByteArrayView expected) noexcept;

// `count` bytes from QRandomGenerator::system() (getrandom(2) / /dev/urandom): for keys, nonces, jti.
QByteArray randomBytes(qsizetype count);

// Lowercase hex of SHA-256(data).
QByteArray sha256Hex(QByteArrayView data);

// Raw 32-byte HMAC-SHA256(key, data).
QByteArray hmacSha256(QByteArrayView key, QByteArrayView data);

// RFC 4648 §5 base64url without '=' padding, as JWS (RFC 7515 §2) requires.
QByteArray base64UrlEncode(QByteArrayView data);

// Strict inverse of base64UrlEncode: rejects padding, characters outside the url alphabet and
// non-canonical encodings (unused trailing bits set), so one byte string has exactly one accepted
// text form and a token cannot be altered without changing its decoded bytes.
std::optional<QByteArray> base64UrlDecode(QByteArrayView text);

} // namespace llmpool
