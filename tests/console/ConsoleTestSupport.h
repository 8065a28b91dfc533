#pragma once

// What the console tests share: a real gateway (`llmpool serve`, the executable) on a fresh,
// migrated database of the shared test services with a minted admin JWT; the admin API called
// directly (to compare the CLI's output with); the CLI run in-process with injected stdio; and an
// in-memory TokenStore for tests that are not about the keychain.

#include "SharedServices.h"
#include "cli/Cli.h"
#include "session/TokenStore.h"

#include <QHash>
#include <QJsonObject>
#include <QProcess>
#include <QProcessEnvironment>
#include <QTemporaryDir>

#include <memory>

namespace llmpool::test {

struct CliRun
{
    int exitCode = -1;
    QString out;
    QString err;
};

class TestGateway
{
public:
    TestGateway() = default;
    ~TestGateway();
    TestGateway(const TestGateway &) = delete;
    TestGateway &operator=(const TestGateway &) = delete;

    // Fresh database, config file, `llmpool migrate`, `llmpool serve --bind 127.0.0.1:0`, and an
    // admin token from `llmpool admin create-jwt-token`.
    Status start(SharedServices &services, const QString &dir);
    void stop();

    QString url() const { return m_url; }
    QString token() const { return m_token; }

    struct Reply
    {
        int status = 0;
        QJsonObject body;
    };
    // One admin API call with the admin token (or `token`), waited for.
    Reply api(const QByteArray &method, const QString &path, const QJsonObject &body = {},
              const QString &token = {}) const;

private:
    Result<QString> runTool(const QStringList &arguments) const;

    QString m_config;
    QString m_url;
    QString m_token;
    std::unique_ptr<QProcess> m_process;
};

// Tokens in memory, answered asynchronously like the keychain.
class MemoryTokenStore : public console::TokenStore
{
public:
    using TokenStore::TokenStore;
    void read(const QString &account, QObject *context, ReadCallback done) override;
    void write(const QString &account, const QString &token, QObject *context, DoneCallback done) override;
    void remove(const QString &account, QObject *context, DoneCallback done) override;
    QHash<QString, QString> tokens;
};

// Runs the CLI in-process as main() would, with stdio in strings and `env` as the environment.
CliRun runCli(QStringList arguments, const QProcessEnvironment &env, console::TokenStore *tokens,
              const QString &profilePath, const QString &stdinText = {});

} // namespace llmpool::test
