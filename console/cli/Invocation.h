#pragma once

// Invocation: one run of one CLI verb. It holds the parsed command line and the injected stdio,
// connects to the gateway (server and token from --url/--token, else LLMPOOL_URL/LLMPOOL_TOKEN,
// else the chosen or current profile with its token from the keychain), runs API jobs one after
// the other (a local event loop per job: the CLI is a script step, sequential by nature), resolves
// users, upstreams and models given by name, and turns every failure into one message on stderr
// and an exit code (cli/CliIo.h).
//
// Thread: the main thread, inside QCoreApplication.

#include "api/ApiClient.h"
#include "api/Jobs.h"
#include "cli/ArgParser.h"
#include "cli/CliIo.h"
#include "cli/Output.h"
#include "session/ProfileStore.h"

#include <QJsonArray>
#include <QJsonObject>

#include <functional>
#include <memory>
#include <optional>

namespace llmpool::console {

class TokenStore;

class Invocation
{
public:
    Invocation(CliIo &io, ParsedArgs args, QString program, QString commandLine, TokenStore *tokens,
               QString profilePath);
    ~Invocation();

    CliIo &io() { return m_io; }
    const ParsedArgs &args() const { return m_args; }
    QString arg(qsizetype i) const { return m_args.positionals.value(i); }
    bool json() const { return m_json; }
    bool all() const { return m_args.has(QStringLiteral("all")); }
    QString program() const { return m_program; }
    TokenStore *tokens() const { return m_tokens; }
    QString profilePath() const { return m_profilePath; }
    ApiClient &client() { return *m_client; }

    // Reads --format and --timeout; kExitOk or kExitUsage (already reported).
    int readGlobalOptions();

    // --- failures: print one message on stderr, return the exit code ---
    int usageError(const QString &message);
    int fail(int exitCode, const QString &message);
    int apiFailure(const ApiError &error);
    // The exit code of the last failure reported through run() / resolve*(), kExitOk if none.
    int exitCode() const { return m_exit; }

    // Chooses server and token; kExitOk, or the code of the reported failure.
    int connect();
    // Loads the profile file; reports a broken file (kExitUsage) and returns nullopt.
    std::optional<ProfileStore> loadProfiles();

    // Starts the job and waits for it. False after reporting its failure (exitCode() says which).
    bool run(ApiJob &job);
    // The token store (keychain), waited for; an Error when it fails or does not answer in time.
    Result<std::optional<QString>> readToken(const QString &account);
    Status writeToken(const QString &account, const QString &token);
    Status removeToken(const QString &account);

    // Every page (with --all) or the page --page/--page-size ask for. The answer to print: the
    // server's own page object, or {"data":[every item]} with --all. nullopt after a failure.
    std::optional<QJsonObject> list(const std::function<ApiJob *(const PageQuery &)> &makeJob);

    // "42" is an id; anything else a name looked up on the server. nullopt after reporting.
    std::optional<qint64> resolveUser(const QString &text);
    std::optional<qint64> resolveUpstream(const QString &text);
    // A model by id, or by public name when exactly one model has it.
    std::optional<qint64> resolveModel(const QString &text);
    // A positive integer id (keys are given by id only).
    std::optional<qint64> parseId(const QString &text, const QString &what);

    // Option values, checked; nullopt with the usage error reported (or absent when !has()).
    std::optional<qint64> intOption(const QString &name, qint64 min, qint64 max);
    std::optional<bool> boolOption(const QString &name);
    // A decimal amount (Money rules: up to 9 decimals); returns its canonical text.
    std::optional<QString> moneyOption(const QString &name);
    std::optional<QDateTime> timeOption(const QString &name);
    static std::optional<QDateTime> parseTime(const QString &text);
    // "a,b,c" → list (empty items dropped).
    static QStringList listValue(const QString &text);
    bool failed() const { return m_exit != kExitOk; }

    // Prints an answer: JSON as is, or as a record / table with these columns.
    void printRecord(const QJsonObject &object, const QList<Column> &columns = {});
    void printList(const QJsonObject &answer, const QList<Column> &columns);

private:
    std::optional<qint64> resolveByListing(const QString &text, const QString &what,
                                           const std::function<ApiJob *(const PageQuery &)> &makeJob);

    CliIo &m_io;
    ParsedArgs m_args;
    QString m_program;
    QString m_commandLine; // "user list", for hints
    TokenStore *m_tokens;
    QString m_profilePath;
    std::unique_ptr<ApiClient> m_client;
    bool m_json = false;
    int m_exit = kExitOk;
};

} // namespace llmpool::console
