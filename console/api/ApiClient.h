#pragma once

// ApiClient: the console's connection to one gateway's admin REST API (SPEC §6): the server's base
// URL, the admin token, the default timeout and the QNetworkAccessManager every job sends through.
// It holds no per-request state; each request is an ApiJob (api/ApiJob.h) that owns its reply.
//
// Thread: create and use it on one thread with an event loop (the GUI thread, or the CLI's main
// thread). The token lives only in memory here; where it is kept between runs is session/'s job.

#include "Result.h"

#include <QByteArray>
#include <QObject>
#include <QString>
#include <QUrl>
#include <QUrlQuery>

class QNetworkAccessManager;
class QNetworkReply;

namespace llmpool::console {

class ApiClient : public QObject
{
    Q_OBJECT

public:
    static constexpr int kDefaultTimeoutMs = 30'000;

    explicit ApiClient(QObject *parent = nullptr);
    ~ApiClient() override;

    // "http://host:port", "https://host/prefix", with or without a trailing "/" or "/api/v1": the
    // server's root, normalised (no trailing slash, no /api/v1, no query or fragment). Anything but
    // an absolute http(s) URL with a host is an error (code "invalid_url").
    static Result<QUrl> normalizeServerUrl(const QString &text);

    void setServer(const QUrl &root) { m_root = root; }
    QUrl server() const { return m_root; }
    void setToken(const QString &token) { m_token = token; }
    bool hasToken() const { return !m_token.isEmpty(); }
    // The timeout the user asked for: it also replaces the longer defaults of slow jobs (detect).
    void setTimeoutMs(int timeoutMs)
    {
        m_timeoutMs = timeoutMs;
        m_timeoutChosen = true;
    }
    int timeoutMs() const { return m_timeoutMs; }
    bool timeoutChosen() const { return m_timeoutChosen; }

    // The absolute URL of `path` under /api/v1 ("/users/3/keys").
    QUrl endpoint(const QString &path, const QUrlQuery &query = {}) const;

    // Sends one request with the admin token and JSON headers; the caller (ApiJob) owns the reply.
    QNetworkReply *send(const QByteArray &method, const QUrl &url, const QByteArray &body);

private:
    QNetworkAccessManager *m_network;
    QUrl m_root;
    QString m_token;
    int m_timeoutMs = kDefaultTimeoutMs;
    bool m_timeoutChosen = false;
};

} // namespace llmpool::console
