#pragma once

// A CLI command (KeePassXC's Command, per resource): `llmpool-ctl RESOURCE VERB [ARGS] [OPTIONS]`.
// A command lists its verbs; each verb declares its synopsis, the options it accepts besides the
// global ones, how many positionals it takes, and the function that runs it on an Invocation
// (already connected to the server when the verb needs one). The dispatcher (Cli) parses, checks
// and prints help; the verb only does its work.

#include "cli/Invocation.h"

#include <QList>
#include <QString>
#include <QStringList>

#include <functional>
#include <memory>

namespace llmpool::console {

struct Verb
{
    QString name;     // empty: the command takes no verb (status, login)
    QString synopsis; // after "PROG COMMAND ": "show USER", "add NAME [--email E]"
    QString summary;
    QStringList options; // accepted besides the global ones
    int minArgs = 0;
    int maxArgs = 0;
    std::function<int(Invocation &)> run;
    bool needsServer = true;
};

class Command
{
public:
    virtual ~Command() = default;
    virtual QString name() const = 0;
    virtual QString summary() const = 0;
    virtual QList<Verb> verbs() const = 0;
};

// Every command of the console CLI (SPEC §9), in help order.
std::vector<std::unique_ptr<Command>> allCommands();

class UserCommand : public Command
{
public:
    QString name() const override { return QStringLiteral("user"); }
    QString summary() const override { return QStringLiteral("users (accounts): list, show, add, update, disable"); }
    QList<Verb> verbs() const override;
};

class WalletCommand : public Command
{
public:
    QString name() const override { return QStringLiteral("wallet"); }
    QString summary() const override
    {
        return QStringLiteral("a user's wallet: show, deposit, withdraw, credit, ledger");
    }
    QList<Verb> verbs() const override;
};

class KeyCommand : public Command
{
public:
    QString name() const override { return QStringLiteral("key"); }
    QString summary() const override { return QStringLiteral("API keys: list, show, add, update, rotate, revoke"); }
    QList<Verb> verbs() const override;
};

class UpstreamCommand : public Command
{
public:
    QString name() const override { return QStringLiteral("upstream"); }
    QString summary() const override
    {
        return QStringLiteral("upstreams: list, show, add, update, delete, detect, test");
    }
    QList<Verb> verbs() const override;
};

class ModelCommand : public Command
{
public:
    QString name() const override { return QStringLiteral("model"); }
    QString summary() const override { return QStringLiteral("models and prices: list, show, add, update, delete"); }
    QList<Verb> verbs() const override;
};

class UsageCommand : public Command
{
public:
    QString name() const override { return QStringLiteral("usage"); }
    QString summary() const override { return QStringLiteral("usage: events, summary"); }
    QList<Verb> verbs() const override;
};

class AuditCommand : public Command
{
public:
    QString name() const override { return QStringLiteral("audit"); }
    QString summary() const override { return QStringLiteral("the audit log: list"); }
    QList<Verb> verbs() const override;
};

class StatusCommand : public Command
{
public:
    QString name() const override { return QStringLiteral("status"); }
    QString summary() const override { return QStringLiteral("the gateway's version, uptime and health"); }
    QList<Verb> verbs() const override;
};

class OpenApiCommand : public Command
{
public:
    QString name() const override { return QStringLiteral("openapi"); }
    QString summary() const override { return QStringLiteral("print the admin API's OpenAPI description"); }
    QList<Verb> verbs() const override;
};

class ProfileCommand : public Command
{
public:
    QString name() const override { return QStringLiteral("profile"); }
    QString summary() const override { return QStringLiteral("saved gateways: add, list, use, remove"); }
    QList<Verb> verbs() const override;
};

class LoginCommand : public Command
{
public:
    QString name() const override { return QStringLiteral("login"); }
    QString summary() const override { return QStringLiteral("store a profile's admin token in the system keychain"); }
    QList<Verb> verbs() const override;
};

} // namespace llmpool::console
