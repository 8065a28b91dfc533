#include "http/ErrorReply.h"

#include "JsonText.h"

namespace llmpool::gateway {

namespace {

void appendJsonStringOrNull(QByteArray &out, const QString &text)
{
    if (text.isEmpty())
        out.append("null");
    else
        appendJsonString(out, text);
}

} // namespace

QByteArray errorBody(const Error &error)
{
    QByteArray out;
    out.reserve(96 + error.message.size());
    out.append("{\"error\":{\"message\":");
    appendJsonString(out, error.message);
    out.append(",\"type\":");
    appendJsonString(out, error.type);
    out.append(",\"param\":");
    appendJsonStringOrNull(out, error.param);
    out.append(",\"code\":");
    appendJsonStringOrNull(out, error.code);
    out.append("}}");
    return out;
}

void replyError(HttpResponder &responder, const Error &error, const HttpHeaders &extraHeaders)
{
    HttpHeaders headers = extraHeaders;
    headers.append({QByteArrayLiteral("content-type"), QByteArrayLiteral("application/json")});
    responder.respond(error.httpStatus, headers, errorBody(error));
}

namespace httpErrors {

namespace {
Error make(int status, const char *code, const QString &message)
{
    return Error{status >= 500 ? QStringLiteral("server_error") : QStringLiteral("invalid_request_error"),
                 QString::fromLatin1(code),
                 status,
                 message,
                 {}};
}
QString describe(QByteArrayView method, QByteArrayView path)
{
    // The path is client input: keep it short and printable in the message.
    QByteArray shown = path.first(std::min<qsizetype>(path.size(), 200)).toByteArray();
    for (char &c : shown) {
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f)
            c = '?';
    }
    return QString::fromLatin1(method.toByteArray()) + QLatin1Char(' ') + QString::fromLatin1(shown);
}
} // namespace

Error badRequest(const QString &message)
{
    return make(400, "invalid_request", message);
}
Error notFound(QByteArrayView method, QByteArrayView path)
{
    return make(404, "not_found", QStringLiteral("Invalid URL (%1)").arg(describe(method, path)));
}
Error methodNotAllowed(QByteArrayView method, QByteArrayView path)
{
    return make(405, "method_not_allowed", QStringLiteral("Method not allowed (%1)").arg(describe(method, path)));
}
Error requestTimeout()
{
    return make(408, "request_timeout", QStringLiteral("The request was not received in time"));
}
Error bodyTooLarge(qint64 limit)
{
    return make(413, "request_too_large", QStringLiteral("The request body exceeds %1 bytes").arg(limit));
}
Error expectationFailed()
{
    return make(417, "expectation_failed", QStringLiteral("Only 'Expect: 100-continue' is supported"));
}
Error headersTooLarge(qint64 limit)
{
    return make(431, "headers_too_large", QStringLiteral("The request head exceeds %1 bytes").arg(limit));
}
Error noResponse()
{
    return make(500, "handler_no_response", QStringLiteral("The request handler produced no response"));
}
Error notImplemented(const QString &message)
{
    return make(501, "not_implemented", message);
}
Error serverBusy()
{
    return make(503, "server_busy", QStringLiteral("Too many connections"));
}
Error versionNotSupported()
{
    return make(505, "http_version_not_supported", QStringLiteral("Only HTTP/1.0 and HTTP/1.1 are supported"));
}

} // namespace httpErrors

} // namespace llmpool::gateway
