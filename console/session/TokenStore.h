#pragma once

// TokenStore: where the console keeps admin tokens between runs. The product's store is the
// system keychain (KeychainTokenStore: QtKeychain → Secret Service / KWallet / macOS Keychain /
// Windows Credential Manager) with no plaintext fallback: when no keychain answers, saving a token
// fails and says so. Tests may substitute an in-memory store; nothing else does.
//
// Tokens are keyed by profile AND server URL (account()): a token saved for one server is never
// sent to another, even when a profile's URL is edited.
//
// Asynchronous: every call answers through its callback, on the caller's thread, after the call
// returns, unless `context` died first.

#include "Result.h"

#include <QObject>
#include <QString>
#include <QUrl>

#include <functional>
#include <optional>

namespace llmpool::console {

class TokenStore : public QObject
{
    Q_OBJECT

public:
    // A found token, nullopt when none is stored, or an Error when the keychain failed.
    using ReadCallback = std::function<void(Result<std::optional<QString>>)>;
    using DoneCallback = std::function<void(Status)>;

    using QObject::QObject;
    ~TokenStore() override;

    // "PROFILE@URL"
    static QString account(const QString &profile, const QUrl &server);

    virtual void read(const QString &account, QObject *context, ReadCallback done) = 0;
    virtual void write(const QString &account, const QString &token, QObject *context, DoneCallback done) = 0;
    // Removing what is not there succeeds.
    virtual void remove(const QString &account, QObject *context, DoneCallback done) = 0;
};

// The system keychain, service "llmpool-console".
class KeychainTokenStore : public TokenStore
{
    Q_OBJECT

public:
    static constexpr const char *kService = "llmpool-console";

    explicit KeychainTokenStore(QObject *parent = nullptr, QString service = QString::fromLatin1(kService));

    void read(const QString &account, QObject *context, ReadCallback done) override;
    void write(const QString &account, const QString &token, QObject *context, DoneCallback done) override;
    void remove(const QString &account, QObject *context, DoneCallback done) override;

private:
    QString m_service;
};

} // namespace llmpool::console
