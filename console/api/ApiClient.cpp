#include "api/ApiClient.h"

#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>

namespace llmpool::console {

ApiClient::ApiClient(QObject *parent) : QObject(parent), m_network(new QNetworkAccessManager(this))
{
    // The admin token goes in a header: never follow a redirect with it to somewhere else.
    m_network->setRedirectPolicy(QNetworkRequest::ManualRedirectPolicy);
}

ApiClient::~ApiClient() = default;

Result<QUrl> ApiClient::normalizeServerUrl(const QString &text)
{
    const QString trimmed = text.trimmed();
    QUrl url(trimmed, QUrl::StrictMode);
    if (trimmed.isEmpty() || !url.isValid() || url.host().isEmpty() ||
        (url.scheme() != QLatin1String("http") && url.scheme() != QLatin1String("https")))
        return Error::invalidRequest(
            QStringLiteral("invalid_url"),
            QStringLiteral("\"%1\" is not a server URL (expected http://HOST:PORT or https://HOST)").arg(trimmed),
            QStringLiteral("url"));
    if (!url.userInfo().isEmpty())
        return Error::invalidRequest(QStringLiteral("invalid_url"),
                                     QStringLiteral("the server URL must not carry a user name or password"),
                                     QStringLiteral("url"));
    url.setQuery(QString());
    url.setFragment(QString());
    QString path = url.path();
    while (path.endsWith(QLatin1Char('/')))
        path.chop(1);
    if (path.endsWith(QLatin1String("/api/v1")))
        path.chop(7);
    url.setPath(path);
    return url;
}

QUrl ApiClient::endpoint(const QString &path, const QUrlQuery &query) const
{
    QUrl url = m_root;
    url.setPath(QString(m_root.path() + QStringLiteral("/api/v1") + path));
    if (!query.isEmpty())
        url.setQuery(query);
    return url;
}

QNetworkReply *ApiClient::send(const QByteArray &method, const QUrl &url, const QByteArray &body)
{
    QNetworkRequest request(url);
    request.setRawHeader("Accept", "application/json");
    request.setRawHeader("User-Agent", "llmpool-console/" LLMPOOL_VERSION);
    if (!m_token.isEmpty())
        request.setRawHeader("Authorization", QByteArray("Bearer " + m_token.toUtf8()));
    if (!body.isEmpty())
        request.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
    // Each command is one short exchange; HTTP/2 negotiation buys nothing here.
    request.setAttribute(QNetworkRequest::Http2AllowedAttribute, false);
    if (method == "GET")
        return m_network->get(request);
    if (method == "DELETE" && body.isEmpty())
        return m_network->deleteResource(request);
    return m_network->sendCustomRequest(request, method, body);
}

} // namespace llmpool::console
