// `profile add|list|use|remove` and `login` (SPEC §7, §9). Profiles (name → server URL, and the
// current one) live in the profile file; tokens only in the system keychain, keyed by profile and
// URL. `login` checks the token against the server before it stores it.

#include "cli/Command.h"
#include "session/TokenStore.h"

#include <termios.h>
#include <unistd.h>

namespace llmpool::console {

namespace {

// Echo off while a secret is typed on a terminal.
class NoEcho
{
public:
    explicit NoEcho(bool active)
    {
        if (active && ::tcgetattr(STDIN_FILENO, &m_saved) == 0) {
            termios quiet = m_saved;
            quiet.c_lflag &= ~tcflag_t(ECHO);
            m_active = ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
        }
    }
    ~NoEcho()
    {
        if (m_active)
            ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &m_saved);
    }
    NoEcho(const NoEcho &) = delete;
    NoEcho &operator=(const NoEcho &) = delete;

private:
    termios m_saved{};
    bool m_active = false;
};

// The token from --token, or the first line of stdin ("-" or absent).
std::optional<QString> readTokenInput(Invocation &inv, const QString &profile)
{
    QString token = inv.args().value(QStringLiteral("token")).value_or(QStringLiteral("-"));
    if (token == QLatin1String("-")) {
        if (inv.io().interactive) {
            inv.io().err << "Admin token for profile " << profile << ": ";
            inv.io().err.flush();
        }
        {
            NoEcho quiet(inv.io().interactive);
            token = inv.io().in.readLine();
        }
        if (inv.io().interactive)
            inv.io().err << '\n';
    }
    token = token.trimmed();
    if (token.isEmpty()) {
        inv.usageError(QStringLiteral("no token given (pass --token TOKEN or write it to stdin)"));
        return std::nullopt;
    }
    return token;
}

// Asks the server something every admin may ask: does it take this token?
int verifyToken(Invocation &inv, const QUrl &server, const QString &token)
{
    inv.client().setServer(server);
    inv.client().setToken(token);
    ListUsersJob probe(&inv.client(), PageQuery{1, 1});
    if (!inv.run(probe))
        return inv.exitCode();
    return kExitOk;
}

int add(Invocation &inv)
{
    const QString name = inv.arg(0);
    if (!ProfileStore::isValidName(name))
        return inv.usageError(
            QStringLiteral("a profile name has 1 to 64 letters, digits, '.', '_' or '-', not \"%1\"").arg(name));
    const std::optional<QString> urlText = inv.args().value(QStringLiteral("url"));
    if (!urlText)
        return inv.usageError(QStringLiteral("--url is required"));
    Result<QUrl> url = ApiClient::normalizeServerUrl(*urlText);
    if (!url)
        return inv.usageError(url.error().message);
    std::optional<ProfileStore> store = inv.loadProfiles();
    if (!store)
        return kExitUsage;
    std::optional<QString> token;
    if (inv.args().has(QStringLiteral("token"))) {
        token = readTokenInput(inv, name);
        if (!token)
            return kExitUsage;
    }
    // A token stored for the old URL must not follow the profile to a new one.
    if (const std::optional<Profile> old = store->find(name); old && old->url != *url) {
        if (Status removed = inv.removeToken(TokenStore::account(name, old->url)); !removed)
            return inv.fail(kExitFailure, removed.error().message);
    }
    store->put(Profile{name, *url});
    if (Status saved = store->save(); !saved)
        return inv.fail(kExitFailure, saved.error().message);
    if (token) {
        if (Status stored = inv.writeToken(TokenStore::account(name, *url), *token); !stored)
            return inv.fail(kExitFailure, QStringLiteral("profile %1 saved, but %2").arg(name, stored.error().message));
    }
    const bool current = store->current() == name;
    if (inv.json()) {
        Output::json(inv.io().out, QJsonObject{{QStringLiteral("name"), name},
                                               {QStringLiteral("url"), url->toString()},
                                               {QStringLiteral("current"), current},
                                               {QStringLiteral("token_stored"), token.has_value()}});
    } else {
        inv.io().out << "profile " << name << " → " << url->toString() << (current ? " (current)" : "")
                     << (token ? ", token stored in the system keychain" : "") << '\n';
    }
    return kExitOk;
}

int list(Invocation &inv)
{
    std::optional<ProfileStore> store = inv.loadProfiles();
    if (!store)
        return kExitUsage;
    QJsonArray rows;
    for (const Profile &p : store->profiles())
        rows.append(QJsonObject{{QStringLiteral("name"), p.name},
                                {QStringLiteral("url"), p.url.toString()},
                                {QStringLiteral("current"), p.name == store->current()}});
    if (inv.json()) {
        Output::json(inv.io().out,
                     QJsonObject{{QStringLiteral("current"),
                                  store->current().isEmpty() ? QJsonValue::Null : QJsonValue(store->current())},
                                 {QStringLiteral("profiles"), rows}});
        return kExitOk;
    }
    Output::table(inv.io().out,
                  {{QStringLiteral("CURRENT"), QString(),
                    [](const QJsonObject &row) {
                        return row.value(QStringLiteral("current")).toBool() ? QStringLiteral("*") : QString();
                    }},
                   {QStringLiteral("NAME"), QStringLiteral("name")},
                   {QStringLiteral("URL"), QStringLiteral("url")}},
                  rows);
    return kExitOk;
}

int use(Invocation &inv)
{
    std::optional<ProfileStore> store = inv.loadProfiles();
    if (!store)
        return kExitUsage;
    if (!store->setCurrent(inv.arg(0)))
        return inv.fail(kExitRefused, QStringLiteral("there is no profile named \"%1\"").arg(inv.arg(0)));
    if (Status saved = store->save(); !saved)
        return inv.fail(kExitFailure, saved.error().message);
    if (!inv.json())
        inv.io().out << "current profile: " << inv.arg(0) << '\n';
    else
        Output::json(inv.io().out, QJsonObject{{QStringLiteral("current"), inv.arg(0)}});
    return kExitOk;
}

int remove(Invocation &inv)
{
    std::optional<ProfileStore> store = inv.loadProfiles();
    if (!store)
        return kExitUsage;
    const std::optional<Profile> profile = store->find(inv.arg(0));
    if (!profile)
        return inv.fail(kExitRefused, QStringLiteral("there is no profile named \"%1\"").arg(inv.arg(0)));
    // The token first: a profile that is gone must not leave its secret behind.
    if (Status removed = inv.removeToken(TokenStore::account(profile->name, profile->url)); !removed)
        return inv.fail(kExitFailure,
                        QStringLiteral("profile %1 kept: %2").arg(profile->name, removed.error().message));
    store->remove(profile->name);
    if (Status saved = store->save(); !saved)
        return inv.fail(kExitFailure, saved.error().message);
    if (!inv.json())
        inv.io().out << "profile " << profile->name << " removed\n";
    else
        Output::json(inv.io().out, QJsonObject{{QStringLiteral("removed"), profile->name}});
    return kExitOk;
}

int login(Invocation &inv)
{
    if (inv.args().has(QStringLiteral("url")))
        return inv.usageError(QStringLiteral("login stores a token for a profile; create it first with `%1 profile "
                                             "add NAME --url URL`, then `%1 login --profile NAME`")
                                  .arg(inv.program()));
    std::optional<ProfileStore> store = inv.loadProfiles();
    if (!store)
        return kExitUsage;
    const QString name = inv.args().value(QStringLiteral("profile")).value_or(store->current());
    if (name.isEmpty())
        return inv.usageError(
            QStringLiteral("no profile: add one with `%1 profile add NAME --url URL` or pass --profile NAME")
                .arg(inv.program()));
    const std::optional<Profile> profile = store->find(name);
    if (!profile)
        return inv.usageError(QStringLiteral("there is no profile named \"%1\"").arg(name));
    const std::optional<QString> token = readTokenInput(inv, name);
    if (!token)
        return kExitUsage;
    Result<QUrl> url = ApiClient::normalizeServerUrl(profile->url.toString());
    if (!url)
        return inv.usageError(url.error().message);
    if (const int verified = verifyToken(inv, *url, *token); verified != kExitOk)
        return verified;
    if (Status stored = inv.writeToken(TokenStore::account(name, *url), *token); !stored)
        return inv.fail(kExitFailure, stored.error().message);
    if (inv.json())
        Output::json(inv.io().out, QJsonObject{{QStringLiteral("profile"), name},
                                               {QStringLiteral("url"), url->toString()},
                                               {QStringLiteral("token_stored"), true}});
    else
        inv.io().out << "logged in to " << url->toString() << " (profile " << name
                     << "); the token is in the system keychain\n";
    return kExitOk;
}

} // namespace

QList<Verb> ProfileCommand::verbs() const
{
    return {
        {QStringLiteral("add"),
         QStringLiteral("add NAME --url URL [--token TOKEN|-]"),
         QStringLiteral("save a gateway (the first one becomes current); a token goes to the system keychain"),
         {},
         1,
         1,
         add,
         false},
        {QStringLiteral("list"), QStringLiteral("list"), QStringLiteral("saved gateways"), {}, 0, 0, list, false},
        {QStringLiteral("use"),
         QStringLiteral("use NAME"),
         QStringLiteral("make a profile current"),
         {},
         1,
         1,
         use,
         false},
        {QStringLiteral("remove"),
         QStringLiteral("remove NAME"),
         QStringLiteral("forget a gateway and remove its token from the keychain"),
         {},
         1,
         1,
         remove,
         false},
    };
}

QList<Verb> LoginCommand::verbs() const
{
    return {{QString(),
             QStringLiteral("[--profile NAME] [--token TOKEN]"),
             QStringLiteral("check an admin token against the profile's server and store it in the system keychain "
                            "(read from stdin when --token is not given)"),
             {},
             0,
             0,
             login,
             false}};
}

} // namespace llmpool::console
