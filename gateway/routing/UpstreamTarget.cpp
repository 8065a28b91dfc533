#include "routing/UpstreamTarget.h"

#include <QDebug>
#include <QUrl>

#include <vector>

namespace llmpool::gateway {

namespace {

Error baseError(QString code, QString message)
{
    return Error::invalidRequest(std::move(code), std::move(message), QStringLiteral("api_base"));
}

QStringView stripSlashes(QStringView s)
{
    while (s.startsWith(u'/'))
        s = s.mid(1);
    while (s.endsWith(u'/'))
        s.chop(1);
    return s;
}

bool hasControlCharacters(QStringView s)
{
    for (QChar c : s) {
        if (c.unicode() < 0x20 || c.unicode() == 0x7f)
            return true;
    }
    return false;
}

// resolveApiBase() for the data plane: the same few bases on every request, so each thread keeps
// what it resolved (a QUrl parse per request was ~2% of the proxy's CPU). Errors are not kept.
Result<QString> resolveApiBaseCached(UpstreamKind kind, QStringView apiBase)
{
    struct Entry
    {
        UpstreamKind kind;
        QString apiBase;
        QString resolved;
    };
    static constexpr int kEntries = 64;
    thread_local std::vector<Entry> cache;
    for (const Entry &e : cache) {
        if (e.kind == kind && e.apiBase == apiBase)
            return e.resolved;
    }
    Result<QString> resolved = UpstreamTarget::resolveApiBase(kind, apiBase);
    if (resolved) {
        if (cache.size() >= size_t(kEntries))
            cache.erase(cache.begin());
        cache.push_back({kind, apiBase.toString(), *resolved});
    }
    return resolved;
}

// Path characters that toPercentEncoding(…, "/") leaves alone.
bool needsNoEncoding(QStringView path)
{
    for (QChar c : path) {
        const char16_t u = c.unicode();
        const bool plain = (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || u == '-' ||
                           u == '.' || u == '_' || u == '~' || u == '/';
        if (!plain)
            return false;
    }
    return true;
}

} // namespace

Result<QString> UpstreamTarget::resolveApiBase(UpstreamKind kind, QStringView apiBase)
{
    const QStringView trimmed = apiBase.trimmed();
    if (trimmed.isEmpty()) {
        const QString fallback = defaultApiBase(kind);
        if (fallback.isEmpty()) {
            return baseError(
                QStringLiteral("api_base_required"),
                QStringLiteral("an %1 upstream needs an api_base (its resource URL)").arg(upstreamKindName(kind)));
        }
        return fallback;
    }
    const QUrl url(trimmed.toString(), QUrl::StrictMode);
    // Never echo user info back: it is a credential.
    const QString shown = url.isValid() ? url.toString(QUrl::RemoveUserInfo) : QStringLiteral("(unparsable)");
    if (!url.isValid() || url.isRelative())
        return baseError(QStringLiteral("invalid_api_base"), QStringLiteral("api_base %1 is not a URL").arg(shown));
    const QString scheme = url.scheme().toLower();
    if (scheme != QLatin1String("http") && scheme != QLatin1String("https")) {
        return baseError(QStringLiteral("invalid_api_base"),
                         QStringLiteral("api_base %1 must be an http or https URL").arg(shown));
    }
    if (url.host().isEmpty())
        return baseError(QStringLiteral("invalid_api_base"), QStringLiteral("api_base %1 has no host").arg(shown));
    if (!url.userInfo().isEmpty()) {
        return baseError(
            QStringLiteral("invalid_api_base"),
            QStringLiteral("api_base %1 must not contain a user name or password; set api_key instead").arg(shown));
    }
    if (url.hasQuery() || url.hasFragment()) {
        return baseError(QStringLiteral("invalid_api_base"),
                         QStringLiteral("api_base %1 must not have a query or fragment").arg(shown));
    }
    QString encoded = QString::fromLatin1(url.toEncoded(QUrl::FullyEncoded));
    while (encoded.endsWith(u'/'))
        encoded.chop(1);
    return encoded;
}

Result<UpstreamTarget> UpstreamTarget::build(UpstreamKind kind, QStringView apiBase, QStringView endpointPath,
                                             QStringView upstreamModel, QStringView apiKey, QStringView azureApiVersion)
{
    Result<QString> base = resolveApiBaseCached(kind, apiBase);
    if (!base)
        return base.takeError();
    if (hasControlCharacters(apiKey)) {
        // Would split the header; the key itself is never quoted.
        return Error{QStringLiteral("server_error"),
                     QStringLiteral("invalid_upstream_key"),
                     500,
                     QStringLiteral("the upstream's API key contains control characters"),
                     {}};
    }
    const QStringView path = stripSlashes(endpointPath);
    const QByteArray encodedPath =
        needsNoEncoding(path) ? path.toLatin1() : QUrl::toPercentEncoding(path.toString(), "/");

    UpstreamTarget target;
    if (kind != UpstreamKind::Azure) {
        target.url = base->toLatin1() + '/' + encodedPath;
        if (!apiKey.isEmpty()) {
            target.authHeaderName = QByteArrayLiteral("authorization");
            target.authHeaderValue = "Bearer " + apiKey.toUtf8();
        }
        return target;
    }

    QString root = *base;
    const QString explicitVersion = azureApiVersion.trimmed().toString();
    QByteArray query;
    if (root.endsWith(QLatin1String("/openai/v1"), Qt::CaseInsensitive)) {
        // The Azure v1 API is OpenAI-shaped: model in the body, no deployment segment, and no
        // api-version unless the operator pinned one.
        target.url = root.toLatin1() + '/' + encodedPath;
        if (!explicitVersion.isEmpty())
            query = "api-version=" + QUrl::toPercentEncoding(explicitVersion);
    } else {
        if (!root.endsWith(QLatin1String("/openai"), Qt::CaseInsensitive))
            root += QLatin1String("/openai");
        const bool resourceLevel =
            path == u"models" || path.startsWith(u"models/") || path == u"responses" || path.startsWith(u"responses/");
        if (resourceLevel) {
            target.url = root.toLatin1() + '/' + encodedPath;
        } else {
            const QStringView deployment = upstreamModel.trimmed();
            if (deployment.isEmpty()) {
                return Error::invalidRequest(QStringLiteral("deployment_required"),
                                             QStringLiteral("an azure upstream needs the deployment name as the "
                                                            "upstream model"),
                                             QStringLiteral("upstream_model"));
            }
            target.url =
                root.toLatin1() + "/deployments/" + QUrl::toPercentEncoding(deployment.toString()) + '/' + encodedPath;
        }
        query = "api-version=" +
                QUrl::toPercentEncoding(explicitVersion.isEmpty() ? QString(kDefaultAzureApiVersion) : explicitVersion);
    }
    if (!query.isEmpty())
        target.url += (target.url.contains('?') ? '&' : '?') + query;
    if (!apiKey.isEmpty()) {
        target.authHeaderName = QByteArrayLiteral("api-key");
        target.authHeaderValue = apiKey.toUtf8();
    }
    return target;
}

QDebug operator<<(QDebug debug, const UpstreamTarget &target)
{
    const QDebugStateSaver saver(debug);
    debug.nospace() << "UpstreamTarget(" << target.url << ", "
                    << (target.authHeaderName.isEmpty() ? QByteArray("no auth")
                                                        : target.authHeaderName + ": <redacted>")
                    << ')';
    return debug;
}

} // namespace llmpool::gateway
