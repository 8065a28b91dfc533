#pragma once

// ApiJob: one admin API call (Nextcloud's AbstractNetworkJob, smaller). A job is configured
// (method, path, query, JSON body, timeout), started once, and emits finished() exactly once:
// with the answer's JSON, or with an ApiError that says in plain words what went wrong (the HTTP
// status and the server's own message, a connection failure, a timeout, an answer that is not the
// promised JSON). Subclasses (api/Jobs.h) are one per endpoint and add typed accessors; their
// validate() turns an unreadable 2xx answer into an error before anyone sees it.
//
// Ownership: the job owns its QNetworkReply. Parent the job (or delete it after finished()).
// Thread: the ApiClient's thread.

#include "Result.h"

#include <QByteArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QObject>
#include <QPointer>
#include <QString>
#include <QUrlQuery>

#include <optional>

class QNetworkReply;
class QTimer;

namespace llmpool::console {

class ApiClient;

struct ApiError
{
    enum class Kind {
        Connection,      // no answer: refused, DNS, TLS, reset
        Timeout,         // no complete answer within the job's timeout
        Http,            // the server answered with a non-2xx status
        InvalidResponse, // a 2xx answer that is not what the API promises
        Cancelled,       // abort() before the answer
    };

    Kind kind = Kind::Connection;
    int httpStatus = 0; // Http only
    QString type;       // from the server's {"error":{…}} when it sent one
    QString code;
    QString param;
    QString message; // the server's message, or ours

    // One line for people: "HTTP 404: user 7 does not exist", "cannot connect to … (Connection
    // refused)", "no answer from … within 30 s".
    QString text() const;
    // The server refused the request (4xx): the caller's fault, not the server's.
    bool isRefusal() const { return kind == Kind::Http && httpStatus >= 400 && httpStatus < 500; }
};

class ApiJob : public QObject
{
    Q_OBJECT

public:
    ApiJob(ApiClient *client, QByteArray method, QString path, QObject *parent = nullptr);
    ~ApiJob() override;

    void setQuery(const QUrlQuery &query) { m_query = query; }
    void setBody(const QJsonObject &body) { m_body = body; }
    // This job's default (0: the client's); a timeout the user chose on the client wins.
    void setTimeoutMs(int timeoutMs) { m_timeoutMs = timeoutMs; }

    QByteArray method() const { return m_method; }
    QString path() const { return m_path; }
    QUrlQuery query() const { return m_query; }

    // Sends the request. finished() follows, never from inside start().
    void start();
    // Ends the request now; finished() follows with Kind::Cancelled (unless it already finished).
    void abort();

    bool isFinished() const { return m_finished; }
    bool ok() const { return m_finished && !m_error; }
    const std::optional<ApiError> &error() const { return m_error; }
    int httpStatus() const { return m_httpStatus; }
    // The answer as the server sent it (an object for every admin endpoint).
    const QJsonObject &object() const { return m_object; }

Q_SIGNALS:
    void finished(llmpool::console::ApiJob *job);

protected:
    // Checks a 2xx answer against the endpoint's shape; an Error becomes Kind::InvalidResponse.
    virtual Status validate(const QJsonObject &answer) const;

private:
    void onReplyFinished();
    void onTimeout();
    void finish(std::optional<ApiError> error);

    QPointer<ApiClient> m_client;
    QByteArray m_method;
    QString m_path;
    QUrlQuery m_query;
    std::optional<QJsonObject> m_body;
    int m_timeoutMs = 0;
    QPointer<QNetworkReply> m_reply;
    QTimer *m_timer = nullptr;
    bool m_started = false;
    bool m_finished = false;
    bool m_timedOut = false;
    std::optional<ApiError> m_error;
    int m_httpStatus = 0;
    QJsonObject m_object;
};

} // namespace llmpool::console
