#pragma once

// The one way a request failure becomes a response: OpenAI's error shape
//   {"error":{"message":"…","type":"…","param":null,"code":"…"}}
// with Error::httpStatus. The server itself uses errorBody() for 400/404/405/408/413/431/503, so
// protocol errors and handler errors look the same to clients.

#include "Result.h"
#include "http/HttpResponder.h"

#include <QByteArray>

namespace llmpool::gateway {

// The JSON body for an error; "param" and "code" are null when empty.
QByteArray errorBody(const Error &error);

// Sends `error` as a complete response (content-type: application/json) with extra headers
// (e.g. "allow", "retry-after").
void replyError(HttpResponder &responder, const Error &error, const HttpHeaders &extraHeaders = {});

// Errors the HTTP layer produces itself, with stable codes.
namespace httpErrors {
Error badRequest(const QString &message);                           // 400 invalid_request
Error notFound(QByteArrayView method, QByteArrayView path);         // 404 not_found
Error methodNotAllowed(QByteArrayView method, QByteArrayView path); // 405 method_not_allowed
Error requestTimeout();                                             // 408 request_timeout
Error bodyTooLarge(qint64 limit);                                   // 413 request_too_large
Error expectationFailed();                                          // 417 expectation_failed
Error headersTooLarge(qint64 limit);                                // 431 headers_too_large
Error noResponse();                                                 // 500 handler_no_response
Error notImplemented(const QString &message);                       // 501 not_implemented
Error serverBusy();                                                 // 503 server_busy
Error versionNotSupported();                                        // 505 http_version_not_supported
} // namespace httpErrors

} // namespace llmpool::gateway
