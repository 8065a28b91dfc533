#include "session/ProfileStore.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QSaveFile>

namespace llmpool::console {

namespace {

Error fileError(const QString &code, const QString &message)
{
    return Error{QStringLiteral("config_error"), code, 0, message, {}};
}

} // namespace

ProfileStore::ProfileStore(QString path) : m_path(std::move(path)) {}

QString ProfileStore::defaultPath(const QProcessEnvironment &env)
{
    QString base = env.value(QStringLiteral("XDG_CONFIG_HOME"));
    // XDG: a relative value is invalid and must be ignored.
    if (base.isEmpty() || QDir::isRelativePath(base))
        base = QString(env.value(QStringLiteral("HOME"), QDir::homePath()) + QStringLiteral("/.config"));
    return QString(base + QStringLiteral("/llmpool/console.json"));
}

bool ProfileStore::isValidName(const QString &name)
{
    static const QRegularExpression pattern(QStringLiteral("^[A-Za-z0-9._-]{1,64}$"));
    return pattern.match(name).hasMatch();
}

Status ProfileStore::load()
{
    m_current.clear();
    m_profiles.clear();
    QFile file(m_path);
    if (!file.exists())
        return Ok{};
    if (!file.open(QIODevice::ReadOnly))
        return fileError(QStringLiteral("profiles_unreadable"),
                         QStringLiteral("cannot read %1: %2").arg(m_path, file.errorString()));
    QJsonParseError parseError;
    const QJsonDocument document = QJsonDocument::fromJson(file.readAll(), &parseError);
    if (parseError.error != QJsonParseError::NoError || !document.isObject())
        return fileError(QStringLiteral("profiles_invalid"),
                         QStringLiteral("%1 is not a console profile file (%2)")
                             .arg(m_path, parseError.error != QJsonParseError::NoError
                                              ? parseError.errorString()
                                              : QStringLiteral("not an object")));
    const QJsonObject root = document.object();
    const QJsonObject profiles = root.value(QStringLiteral("profiles")).toObject();
    for (auto it = profiles.constBegin(); it != profiles.constEnd(); ++it) {
        const QUrl url(it.value().toObject().value(QStringLiteral("url")).toString(), QUrl::StrictMode);
        if (!isValidName(it.key()) || !url.isValid() || url.host().isEmpty())
            return fileError(QStringLiteral("profiles_invalid"),
                             QStringLiteral("%1: profile \"%2\" has no valid url").arg(m_path, it.key().left(64)));
        m_profiles.insert(it.key(), url);
    }
    const QString current = root.value(QStringLiteral("current")).toString();
    if (m_profiles.contains(current))
        m_current = current;
    return Ok{};
}

Status ProfileStore::save() const
{
    const QFileInfo info(m_path);
    if (!QDir().mkpath(info.absolutePath()))
        return fileError(QStringLiteral("profiles_unwritable"),
                         QStringLiteral("cannot create the directory %1").arg(info.absolutePath()));
    QJsonObject profiles;
    for (auto it = m_profiles.constBegin(); it != m_profiles.constEnd(); ++it)
        profiles.insert(it.key(), QJsonObject{{QStringLiteral("url"), it.value().toString()}});
    QJsonObject root{{QStringLiteral("profiles"), profiles}};
    if (!m_current.isEmpty())
        root.insert(QStringLiteral("current"), m_current);
    QSaveFile file(m_path);
    if (!file.open(QIODevice::WriteOnly))
        return fileError(QStringLiteral("profiles_unwritable"),
                         QStringLiteral("cannot write %1: %2").arg(m_path, file.errorString()));
    // Only URLs and names, but still nobody else's business.
    file.setPermissions(QFileDevice::ReadOwner | QFileDevice::WriteOwner);
    file.write(QJsonDocument(root).toJson(QJsonDocument::Indented));
    if (!file.commit())
        return fileError(QStringLiteral("profiles_unwritable"),
                         QStringLiteral("cannot write %1: %2").arg(m_path, file.errorString()));
    return Ok{};
}

QList<Profile> ProfileStore::profiles() const
{
    QList<Profile> out;
    for (auto it = m_profiles.constBegin(); it != m_profiles.constEnd(); ++it)
        out.append(Profile{it.key(), it.value()});
    return out;
}

std::optional<Profile> ProfileStore::find(const QString &name) const
{
    const auto it = m_profiles.constFind(name);
    if (it == m_profiles.constEnd())
        return std::nullopt;
    return Profile{it.key(), it.value()};
}

void ProfileStore::put(const Profile &profile)
{
    m_profiles.insert(profile.name, profile.url);
    if (m_current.isEmpty())
        m_current = profile.name;
}

bool ProfileStore::remove(const QString &name)
{
    if (!m_profiles.remove(name))
        return false;
    if (m_current == name)
        m_current.clear();
    return true;
}

bool ProfileStore::setCurrent(const QString &name)
{
    if (!m_profiles.contains(name))
        return false;
    m_current = name;
    return true;
}

} // namespace llmpool::console
