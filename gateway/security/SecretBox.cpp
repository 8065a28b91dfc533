#include "security/SecretBox.h"

#include "Crypto.h"

#include <openssl/evp.h>

#include <memory>

namespace llmpool::gateway {

namespace {

Error undecryptable(const QString &why)
{
    return Error::internal(QStringLiteral("secret_undecryptable"), why);
}

struct CipherCtxDeleter
{
    void operator()(EVP_CIPHER_CTX *ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter>;

const unsigned char *bytes(QByteArrayView v)
{
    return reinterpret_cast<const unsigned char *>(v.data());
}
unsigned char *bytes(QByteArray &v)
{
    return reinterpret_cast<unsigned char *>(v.data());
}

} // namespace

SecretBox::SecretBox(QByteArray key) : m_key(std::move(key)) {}

Result<SealedSecret> SecretBox::seal(QByteArrayView plaintext) const
{
    if (m_key.isEmpty()) {
        return SealedSecret{plaintext.toByteArray(), QString(kPlain)};
    }
    if (m_key.size() != kKeyBytes) {
        return Error::internal(QStringLiteral("encryption_key_invalid"),
                               QStringLiteral("security.encryption_key must be 32 bytes (64 hex characters)"));
    }
    const QByteArray nonce = randomBytes(kNonceBytes);
    QByteArray out(kNonceBytes + plaintext.size() + kTagBytes, Qt::Uninitialized);
    std::copy(nonce.begin(), nonce.end(), out.begin());

    CipherCtx ctx(EVP_CIPHER_CTX_new());
    int len = 0;
    if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceBytes, nullptr) != 1 ||
        EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, bytes(m_key), bytes(nonce)) != 1 ||
        EVP_EncryptUpdate(ctx.get(), bytes(out) + kNonceBytes, &len, bytes(plaintext), int(plaintext.size())) != 1 ||
        EVP_EncryptFinal_ex(ctx.get(), bytes(out) + kNonceBytes + len, &len) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes, bytes(out) + kNonceBytes + plaintext.size()) !=
            1) {
        return Error::internal(QStringLiteral("encryption_failed"), QStringLiteral("AES-256-GCM encryption failed"));
    }
    return SealedSecret{out.toBase64(), QString(kAesGcm)};
}

Result<QByteArray> SecretBox::open(QByteArrayView stored, QStringView format) const
{
    if (format == kPlain) {
        return stored.toByteArray();
    }
    if (format != kAesGcm) {
        return undecryptable(QStringLiteral("a stored upstream key has an unknown format"));
    }
    if (m_key.isEmpty()) {
        return undecryptable(QStringLiteral("an upstream key is encrypted but security.encryption_key is empty"));
    }
    if (m_key.size() != kKeyBytes) {
        return undecryptable(QStringLiteral("security.encryption_key must be 32 bytes (64 hex characters)"));
    }
    const auto decoded = QByteArray::fromBase64Encoding(stored.toByteArray(), QByteArray::AbortOnBase64DecodingErrors);
    if (!decoded || decoded.decoded.size() < kNonceBytes + kTagBytes) {
        return undecryptable(QStringLiteral("a stored upstream key is malformed"));
    }
    const QByteArray &raw = decoded.decoded;
    const qsizetype cipherLen = raw.size() - kNonceBytes - kTagBytes;
    QByteArray plain(cipherLen, Qt::Uninitialized);
    QByteArray tag = raw.right(kTagBytes);

    CipherCtx ctx(EVP_CIPHER_CTX_new());
    int len = 0;
    if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceBytes, nullptr) != 1 ||
        EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, bytes(m_key), bytes(raw)) != 1 ||
        EVP_DecryptUpdate(ctx.get(), bytes(plain), &len, bytes(raw) + kNonceBytes, int(cipherLen)) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag.data()) != 1 ||
        EVP_DecryptFinal_ex(ctx.get(), bytes(plain) + len, &len) != 1) {
        // Wrong key or tampered data: say so, and release nothing.
        return undecryptable(QStringLiteral("a stored upstream key cannot be decrypted with the configured "
                                            "security.encryption_key (wrong key or tampered data)"));
    }
    return plain;
}

QString SecretBox::preview(QByteArrayView plaintext)
{
    if (plaintext.size() < 12) {
        return QStringLiteral("…");
    }
    return QString::fromLatin1(plaintext.first(4)) + QStringLiteral("…") + QString::fromLatin1(plaintext.last(4));
}

} // namespace llmpool::gateway
