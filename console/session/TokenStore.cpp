#include "session/TokenStore.h"

#include <QPointer>

#include <qt6keychain/keychain.h>

namespace llmpool::console {

namespace {

Error keychainError(const QKeychain::Job &job, const QString &what)
{
    return Error{QStringLiteral("keychain_error"),
                 QStringLiteral("keychain_error"),
                 0,
                 QStringLiteral("cannot %1 the token in the system keychain: %2").arg(what, job.errorString()),
                 {}};
}

template <class Job> Job *makeJob(const QString &service, const QString &account)
{
    auto *job = new Job(service);
    job->setAutoDelete(true);
    // Never a plaintext file: without a keychain there is no stored token.
    job->setInsecureFallback(false);
    job->setKey(account);
    return job;
}

} // namespace

TokenStore::~TokenStore() = default;

QString TokenStore::account(const QString &profile, const QUrl &server)
{
    return QString(profile + QLatin1Char('@') + server.toString(QUrl::RemoveUserInfo | QUrl::StripTrailingSlash));
}

KeychainTokenStore::KeychainTokenStore(QObject *parent, QString service)
    : TokenStore(parent), m_service(std::move(service))
{
}

void KeychainTokenStore::read(const QString &account, QObject *context, ReadCallback done)
{
    auto *job = makeJob<QKeychain::ReadPasswordJob>(m_service, account);
    QPointer<QObject> guard(context);
    connect(job, &QKeychain::Job::finished, context, [job, guard, done = std::move(done)] {
        if (!guard)
            return;
        if (job->error() == QKeychain::EntryNotFound)
            return done(std::optional<QString>());
        if (job->error() != QKeychain::NoError)
            return done(keychainError(*job, QStringLiteral("read")));
        done(std::optional<QString>(job->textData()));
    });
    job->start();
}

void KeychainTokenStore::write(const QString &account, const QString &token, QObject *context, DoneCallback done)
{
    auto *job = makeJob<QKeychain::WritePasswordJob>(m_service, account);
    job->setTextData(token);
    QPointer<QObject> guard(context);
    connect(job, &QKeychain::Job::finished, context, [job, guard, done = std::move(done)] {
        if (!guard)
            return;
        if (job->error() != QKeychain::NoError)
            return done(keychainError(*job, QStringLiteral("store")));
        done(Ok{});
    });
    job->start();
}

void KeychainTokenStore::remove(const QString &account, QObject *context, DoneCallback done)
{
    auto *job = makeJob<QKeychain::DeletePasswordJob>(m_service, account);
    QPointer<QObject> guard(context);
    connect(job, &QKeychain::Job::finished, context, [job, guard, done = std::move(done)] {
        if (!guard)
            return;
        if (job->error() != QKeychain::NoError && job->error() != QKeychain::EntryNotFound)
            return done(keychainError(*job, QStringLiteral("remove")));
        done(Ok{});
    });
    job->start();
}

} // namespace llmpool::console
