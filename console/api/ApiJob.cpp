#include "api/ApiJob.h"

#include "api/ApiClient.h"

#include <QJsonParseError>
#include <QNetworkReply>
#include <QTimer>

namespace llmpool::console {

namespace {

constexpr qsizetype kMaxShownBody = 200;

QString serverName(const QUrl &url)
{
    return url.toDisplayString(QUrl::RemoveUserInfo | QUrl::RemoveQuery | QUrl::RemoveFragment);
}

} // namespace

QString ApiError::text() const
{
    switch (kind) {
    case Kind::Http: {
        QString out = QStringLiteral("HTTP %1").arg(httpStatus);
        if (!message.isEmpty())
            out += QStringLiteral(": ") + message;
        return out;
    }
    case Kind::Connection:
    case Kind::Timeout:
    case Kind::InvalidResponse:
    case Kind::Cancelled:
        return message;
    }
    return message;
}

ApiJob::ApiJob(ApiClient *client, QByteArray method, QString path, QObject *parent)
    : QObject(parent), m_client(client), m_method(std::move(method)), m_path(std::move(path))
{
}

ApiJob::~ApiJob()
{
    if (m_reply) {
        m_reply->disconnect(this);
        m_reply->abort();
        delete m_reply;
    }
}

Status ApiJob::validate(const QJsonObject &) const
{
    return Ok{};
}

void ApiJob::start()
{
    Q_ASSERT(!m_started);
    if (m_started)
        return;
    m_started = true;
    if (!m_client) {
        QTimer::singleShot(0, this, [this] {
            finish(ApiError{ApiError::Kind::Connection, 0, {}, {}, {}, QStringLiteral("no server connection")});
        });
        return;
    }
    const QUrl url = m_client->endpoint(m_path, m_query);
    const QByteArray body = m_body ? QJsonDocument(*m_body).toJson(QJsonDocument::Compact) : QByteArray();
    m_reply = m_client->send(m_method, url, body);
    connect(m_reply, &QNetworkReply::finished, this, &ApiJob::onReplyFinished);
    m_timer = new QTimer(this);
    m_timer->setSingleShot(true);
    connect(m_timer, &QTimer::timeout, this, &ApiJob::onTimeout);
    m_timer->start(m_timeoutMs > 0 && !m_client->timeoutChosen() ? m_timeoutMs : m_client->timeoutMs());
}

void ApiJob::abort()
{
    if (m_finished)
        return;
    if (m_reply)
        m_reply->abort(); // finished() of the reply follows synchronously → onReplyFinished
    else if (m_started)
        QTimer::singleShot(0, this, [this] {
            finish(ApiError{ApiError::Kind::Cancelled, 0, {}, {}, {}, QStringLiteral("cancelled")});
        });
}

void ApiJob::onTimeout()
{
    m_timedOut = true;
    if (m_reply)
        m_reply->abort();
}

void ApiJob::onReplyFinished()
{
    QNetworkReply *reply = m_reply;
    if (!reply)
        return;
    reply->deleteLater();
    m_reply = nullptr;
    const QUrl root = m_client ? m_client->server() : reply->url();
    const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    const QByteArray body = reply->isOpen() ? reply->readAll() : QByteArray();

    if (status == 0) {
        if (m_timedOut) {
            const int ms = m_timer ? m_timer->interval() : 0;
            return finish(ApiError{ApiError::Kind::Timeout,
                                   0,
                                   {},
                                   {},
                                   {},
                                   QStringLiteral("no answer from %1 within %2 s")
                                       .arg(serverName(root))
                                       .arg(QString::number(ms / 1000.0, 'g', 3))});
        }
        if (reply->error() == QNetworkReply::OperationCanceledError)
            return finish(ApiError{ApiError::Kind::Cancelled, 0, {}, {}, {}, QStringLiteral("cancelled")});
        return finish(ApiError{ApiError::Kind::Connection,
                               0,
                               {},
                               {},
                               {},
                               QStringLiteral("cannot reach %1 (%2)").arg(serverName(root), reply->errorString())});
    }

    QJsonParseError parseError;
    const QJsonDocument document = QJsonDocument::fromJson(body, &parseError);
    const bool isObject = parseError.error == QJsonParseError::NoError && document.isObject();
    m_httpStatus = status;

    if (status < 200 || status >= 300) {
        ApiError error{ApiError::Kind::Http, status, {}, {}, {}, {}};
        const QJsonObject inner = document.object().value(QStringLiteral("error")).toObject();
        if (isObject && !inner.isEmpty()) {
            error.type = inner.value(QStringLiteral("type")).toString();
            error.code = inner.value(QStringLiteral("code")).toString();
            error.param = inner.value(QStringLiteral("param")).toString();
            error.message = inner.value(QStringLiteral("message")).toString();
        }
        if (error.message.isEmpty()) {
            // Not our API's error shape (a proxy in front, a redirect): say what there is.
            const QString reason = reply->attribute(QNetworkRequest::HttpReasonPhraseAttribute).toString();
            QString shown = QString::fromUtf8(body.left(kMaxShownBody)).simplified();
            error.message =
                reason.isEmpty() ? shown : (shown.isEmpty() ? reason : QString(reason + QStringLiteral(" — ") + shown));
            if (status >= 300 && status < 400)
                error.message = QStringLiteral("the server redirected to %1; use that URL")
                                    .arg(reply->header(QNetworkRequest::LocationHeader).toUrl().toDisplayString());
        }
        return finish(error);
    }

    if (!isObject)
        return finish(ApiError{ApiError::Kind::InvalidResponse,
                               status,
                               {},
                               QStringLiteral("invalid_response"),
                               {},
                               QStringLiteral("%1 answered HTTP %2 but not with a JSON object; is it an LLMPool "
                                              "gateway?")
                                   .arg(serverName(root))
                                   .arg(status)});
    m_object = document.object();
    if (Status valid = validate(m_object); !valid) {
        const Error &e = valid.error();
        return finish(ApiError{ApiError::Kind::InvalidResponse, status, e.type, e.code, e.param, e.message});
    }
    finish(std::nullopt);
}

void ApiJob::finish(std::optional<ApiError> error)
{
    if (m_finished)
        return;
    m_finished = true;
    if (m_timer)
        m_timer->stop();
    m_error = std::move(error);
    Q_EMIT finished(this);
}

} // namespace llmpool::console
