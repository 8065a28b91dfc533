#pragma once

// ProfileStore: the console's named gateways (SPEC §7 "several gateways as profiles"): a name, the
// server URL, and which profile is current. Kept as JSON in the XDG config directory
// ($XDG_CONFIG_HOME/llmpool/console.json, else ~/.config/llmpool/console.json), written atomically
// with mode 0600. It never holds a token: tokens live in the system keychain (TokenStore).
//
//   {"current": "prod", "profiles": {"prod": {"url": "https://gw.example.com"}}}
//
// Plain value object; load() and save() touch the file. Any thread, one owner.

#include "Result.h"

#include <QList>
#include <QMap>
#include <QProcessEnvironment>
#include <QString>
#include <QUrl>

#include <optional>

namespace llmpool::console {

struct Profile
{
    QString name;
    QUrl url;
};

class ProfileStore
{
public:
    explicit ProfileStore(QString path);

    // The default file for this environment (XDG_CONFIG_HOME, else HOME/.config).
    static QString defaultPath(const QProcessEnvironment &env);
    // Letters, digits, '.', '_', '-'; 1..64 characters.
    static bool isValidName(const QString &name);

    QString path() const { return m_path; }

    // A missing file is an empty store; an unreadable or malformed one is an error naming it.
    Status load();
    Status save() const;

    QList<Profile> profiles() const;
    std::optional<Profile> find(const QString &name) const;
    QString current() const { return m_current; }

    // Adds or replaces. The first profile added becomes current.
    void put(const Profile &profile);
    // Also clears `current` when it named this profile. False when there was none.
    bool remove(const QString &name);
    // False when there is no such profile.
    bool setCurrent(const QString &name);

private:
    QString m_path;
    QString m_current;
    QMap<QString, QUrl> m_profiles;
};

} // namespace llmpool::console
