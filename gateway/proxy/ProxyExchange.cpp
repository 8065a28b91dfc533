#include "proxy/ProxyExchange.h"

#include "Clock.h"
#include "Log.h"
#include "billing/Pricing.h"
#include "http/ErrorReply.h"
#include "proxy/CatalogStore.h"
#include "proxy/ProxyService.h"
#include "usage/Admission.h"
#include "routing/UpstreamTarget.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRandomGenerator>
#include <QTimer>

namespace llmpool::gateway {

namespace {

constexpr qsizetype kMaxUsageCopy = 8 * 1024 * 1024; // JSON answers larger than this are estimated

bool isSseContentType(QByteArrayView contentType)
{
    return contentType.size() >= 17 && asciiEqualsIgnoreCase(contentType.first(17), "text/event-stream");
}

AttemptOutcome attemptOutcomeOf(const UpstreamOutcome &o)
{
    using K = UpstreamOutcome::Kind;
    switch (o.kind) {
    case K::Ok:
        return AttemptOutcome::response(o.httpStatus);
    case K::ConnectFailed:
        return AttemptOutcome::of(AttemptOutcome::Kind::ConnectFailed);
    case K::TimeoutBeforeFirstByte:
        return AttemptOutcome::of(AttemptOutcome::Kind::TimeoutBeforeFirstByte);
    case K::IdleTimeout:
    case K::TotalTimeout:
        return AttemptOutcome::of(o.headReceived ? AttemptOutcome::Kind::TimeoutAfterFirstByte
                                                 : AttemptOutcome::Kind::TimeoutBeforeFirstByte);
    case K::ConnectionLost:
        // Closed before any response byte: the request may not have been seen; safe to retry
        // elsewhere like a connect failure.
        return AttemptOutcome::of(o.headReceived ? AttemptOutcome::Kind::BrokenResponse
                                                 : AttemptOutcome::Kind::ConnectFailed);
    case K::ProtocolError:
    case K::ResponseTooLarge:
        return AttemptOutcome::of(AttemptOutcome::Kind::BrokenResponse);
    case K::ClientStalled:
    case K::Aborted:
        return AttemptOutcome::of(AttemptOutcome::Kind::ClientGone);
    }
    return AttemptOutcome::of(AttemptOutcome::Kind::BrokenResponse);
}

qint64 estimateTokens(qint64 bytes)
{
    // ~4 bytes per token for English text and JSON; the event is flagged usage_estimated.
    return (bytes + 3) / 4;
}

} // namespace

QByteArray ProxyExchange::newRequestId()
{
    // 128 random bits: unique across instances without coordination.
    quint64 words[2];
    QRandomGenerator::global()->fillRange(words);
    QByteArray id("req_");
    id.append(QByteArray::number(words[0], 16).rightJustified(16, '0'));
    id.append(QByteArray::number(words[1], 16).rightJustified(16, '0'));
    return id;
}

bool ProxyExchange::isForwardableRequestHeader(QByteArrayView name)
{
    static constexpr QByteArrayView dropped[] = {
        // hop-by-hop (RFC 9110 §7.6.1) and framing, which curl sets itself
        "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization", "te", "trailer",
        "transfer-encoding", "upgrade", "host", "content-length", "expect",
        // credentials: the client's key is ours, the upstream's is set by the gateway
        "authorization", "api-key", "x-api-key", "cookie",
        // we read the body to bill it, so it must come back unencoded
        "accept-encoding"};
    for (QByteArrayView d : dropped) {
        if (asciiEqualsIgnoreCase(name, d)) {
            return false;
        }
    }
    return !(name.size() >= 10 && asciiEqualsIgnoreCase(name.first(10), "x-llmpool-"));
}

bool ProxyExchange::isRelayedResponseHeader(QByteArrayView name)
{
    static constexpr QByteArrayView exact[] = {"content-type", "x-request-id", "openai-processing-ms", "openai-version",
                                               "openai-model", "retry-after",  "content-disposition"};
    for (QByteArrayView e : exact) {
        if (asciiEqualsIgnoreCase(name, e)) {
            return true;
        }
    }
    return name.size() > 12 && asciiEqualsIgnoreCase(name.first(12), "x-ratelimit-");
}

void ProxyExchange::start(ProxyService *service, Endpoint endpoint, HttpRequest &request, HttpResponder &responder)
{
    auto *exchange = new ProxyExchange(service, endpoint, request, responder);
    exchange->m_service->auth().authenticate(exchange->m_request, exchange, [exchange](Result<KeyCache::Entry> key) {
        exchange->authenticated(std::move(key));
    });
}

ProxyExchange::ProxyExchange(ProxyService *service, Endpoint endpoint, const HttpRequest &request,
                             HttpResponder responder)
    : QObject(responder.threadContext()), m_service(service), m_endpoint(endpoint), m_request(request),
      m_responder(std::move(responder))
{
    m_clock.start();
    m_request.setRequestId(newRequestId());
    m_event.requestId = m_request.requestId();
    m_event.endpoint = endpointPath(endpoint);
    m_event.createdAtMs = Clock::instance().nowMSecs();
    m_event.bytesIn = m_request.body().size();
    m_responder.onDisconnected(this, [this] { clientGone(); });
    m_responder.onDrained(this, [this] {
        m_clientFull = false;
        if (m_call) {
            m_call->resume();
        }
    });
}

void ProxyExchange::authenticated(Result<KeyCache::Entry> key)
{
    if (!key) {
        fail(key.error());
        return;
    }
    m_key = std::move(*key);
    m_event.userId = m_key->key.userId;
    m_event.keyId = m_key->key.id;

    const QByteArray &body = m_request.body();
    if (m_endpoint == Endpoint::AudioTranscriptions) {
        m_multipartBoundary = RequestBody::boundary(m_request.header("content-type"));
        if (m_multipartBoundary.isEmpty()) {
            fail(Error::invalidRequest(QStringLiteral("invalid_request"),
                                       QStringLiteral("Transcriptions take a multipart/form-data body.")));
            return;
        }
        const auto model = RequestBody::multipartField(body, m_multipartBoundary, "model");
        if (!model || model->value.trimmed().isEmpty()) {
            fail(Error::invalidRequest(QStringLiteral("missing_model"),
                                       QStringLiteral("You must provide a model parameter."), QStringLiteral("model")));
            return;
        }
        m_fields.model = QString::fromUtf8(model->value.trimmed());
    } else {
        auto fields = RequestBody::readJson(body);
        if (!fields) {
            fail(fields.error());
            return;
        }
        m_fields = std::move(*fields);
    }
    m_event.model = m_fields.model;
    m_event.stream = m_fields.stream;
    m_event.characters = m_endpoint == Endpoint::AudioSpeech ? m_fields.inputChars : 0;

    if (!Catalog::isAllowed(m_fields.model, m_key->key.allowedModels)) {
        fail(Error{QStringLiteral("permission_error"), QStringLiteral("model_not_allowed"), 403,
                   QStringLiteral("This API key may not use the model '%1'.").arg(m_fields.model),
                   QStringLiteral("model")});
        return;
    }
    route();
}

void ProxyExchange::route()
{
    const auto capability = requiredCapability(m_endpoint);
    Q_ASSERT(capability);
    thread_local QRandomGenerator rng(QRandomGenerator::global()->generate());
    static const RandomSource random = [](quint64 bound) { return bound ? rng.bounded(bound) : 0; };
    auto plan = RouteSelector::plan(m_service->catalog()->current(), m_fields.model, *capability, m_service->health(),
                                    random, m_service->config().upstream.maxAttempts);
    if (!plan) {
        fail(plan.error());
        return;
    }
    m_plan = std::move(*plan);
    admit();
}

Money ProxyExchange::reservationAmount() const
{
    // The most this request can cost on any upstream of its plan (failover may pick the
    // priciest): the prompt estimated generously (3 bytes per token), the output at its cap.
    BillableUsage worst;
    const qint64 bodyBytes = m_request.body().size();
    switch (m_endpoint) {
    case Endpoint::ChatCompletions:
    case Endpoint::Completions:
    case Endpoint::Responses:
        worst.promptTokens = (bodyBytes + 2) / 3;
        worst.completionTokens =
            std::clamp<qint64>(m_fields.maxTokens.value_or(m_service->config().billing.defaultMaxOutputTokens), 0,
                               100'000'000);
        break;
    case Endpoint::Embeddings:
        worst.promptTokens = (bodyBytes + 2) / 3;
        break;
    case Endpoint::ImagesGenerations:
        worst.images = 1;
        break;
    case Endpoint::AudioSpeech:
        worst.characters = m_fields.inputChars;
        break;
    case Endpoint::AudioTranscriptions:
        worst.audioMillis = bodyBytes / 16; // 128 kbit/s audio: 16 bytes per millisecond
        break;
    default:
        break;
    }
    Money amount;
    for (const RouteAttempt &attempt : m_plan.attempts) {
        auto cost = Pricing::cost(attempt.model->prices, worst);
        if (cost && *cost > amount) {
            amount = *cost;
        }
    }
    return amount;
}

void ProxyExchange::admit()
{
    Admission *admission = m_service->admission();
    if (!admission) {
        startAttempt();
        return;
    }
    AdmissionRequest request;
    request.requestId = m_request.requestId();
    request.userId = m_key->key.userId;
    request.keyId = m_key->key.id;
    request.amount = reservationAmount();
    request.keySpendLimit = m_key->key.spendLimit;
    admission->reserve(request, this, [this](Status admitted) {
        if (m_finished) {
            return;
        }
        if (!admitted) {
            fail(admitted.error());
            return;
        }
        startAttempt();
    });
}

QByteArray ProxyExchange::upstreamBody(const RouteAttempt &attempt)
{
    const QByteArray &body = m_request.body();
    if (m_endpoint == Endpoint::AudioTranscriptions) {
        const auto field = RequestBody::multipartField(body, m_multipartBoundary, "model");
        return field ? RequestBody::replaceRange(body, field->valueBegin, field->valueEnd,
                                                 attempt.model->upstreamModel.toUtf8())
                     : body;
    }
    if (attempt.model->upstreamModel == m_fields.model && !m_injectedUsage) {
        return body; // nothing to change: no copy
    }
    auto rewritten = RequestBody::rewriteJson(body, attempt.model->upstreamModel, m_injectedUsage);
    return rewritten ? *rewritten : body;
}

void ProxyExchange::startAttempt()
{
    ++m_attempt;
    const RouteAttempt &attempt = m_plan.attempts[size_t(m_attempt)];
    const CatalogUpstream &upstream = *attempt.upstream;
    m_event.attempts = m_attempt + 1;
    m_event.upstreamId = upstream.id;
    m_event.upstreamModel = attempt.model->upstreamModel;
    m_event.prices = attempt.model->prices;

    auto target = UpstreamTarget::build(upstream.kind, upstream.apiBase, endpointPath(m_endpoint),
                                        attempt.model->upstreamModel, upstream.apiKey, upstream.azureApiVersion);
    if (!target) {
        attemptFailed(AttemptOutcome::of(AttemptOutcome::Kind::ConnectFailed), target.error().message);
        return;
    }
    m_injectedUsage = m_endpoint == Endpoint::ChatCompletions && m_fields.stream && !m_fields.includeUsage;

    UpstreamRequest request;
    request.method = QByteArrayLiteral("POST");
    request.url = target->url;
    request.body = upstreamBody(attempt);
    request.headers.reserve(m_request.headerCount() + 1);
    for (qsizetype i = 0; i < m_request.headerCount(); ++i) {
        const QByteArrayView name = m_request.headerName(i);
        if (isForwardableRequestHeader(name)) {
            request.headers.append({name.toByteArray(), m_request.headerValue(i).toByteArray()});
        }
    }
    if (!target->authHeaderName.isEmpty()) {
        request.headers.append({target->authHeaderName, target->authHeaderValue});
    }
    request.timeouts = UpstreamTimeouts::fromConfig(m_service->config().upstream);
    request.proxyUrl = upstream.proxyUrl.toUtf8();

    m_call = std::make_unique<UpstreamCall>(std::move(request));
    m_call->onResponseHead([this](int status, const UpstreamHeaders &headers) { onHead(status, headers); });
    m_call->onBodyData([this](QByteArrayView chunk) { return onBody(chunk); });
    m_call->onFinished([this](const UpstreamOutcome &outcome) { onFinished(outcome); });
    m_call->start();
}

void ProxyExchange::attemptFailed(const AttemptOutcome &outcome, const QString &detail)
{
    m_lastOutcome = outcome;
    m_lastDetail = detail;
    const qint64 upstreamId = m_plan.attempts[size_t(m_attempt)].upstream->id;
    const qint64 now = Clock::instance().nowMSecs();
    if (healthVerdict(outcome) == HealthVerdict::Failure) {
        if (m_service->health().recordFailure(upstreamId, now, outcomeLabel(outcome))) {
            qCWarning(lcProxy).noquote() << "upstream" << upstreamId << "ejected after" << outcomeLabel(outcome);
        }
    }
    // The call may be the one calling us (from inside curl): drop it on the next turn of the loop
    // and start the next attempt from there, never from inside a curl callback.
    if (m_call) {
        m_call->abort();
        m_call.release()->deleteLater();
    }
    const int planned = int(m_plan.attempts.size());
    if (shouldTryNext(outcome, false, m_attempt + 1, planned)) {
        QTimer::singleShot(0, this, [this] {
            if (!m_finished) {
                startAttempt();
            }
        });
        return;
    }
    if (outcome.kind == AttemptOutcome::Kind::Response && (outcome.httpStatus == 401 || outcome.httpStatus == 403)) {
        fail(Error{QStringLiteral("upstream_error"),
                   QStringLiteral("upstream_auth_failed"),
                   502,
                   QStringLiteral("The upstream refused the gateway's credentials (HTTP %1).").arg(outcome.httpStatus),
                   {}});
        return;
    }
    fail(exhaustedError(outcome, m_attempt + 1));
}

void ProxyExchange::onHead(int status, const UpstreamHeaders &headers)
{
    const AttemptOutcome outcome = AttemptOutcome::response(status);
    const bool retryable = isRetryable(outcome) || status == 401 || status == 403;
    if (retryable) {
        attemptFailed(outcome, QString());
        return;
    }
    if (healthVerdict(outcome) == HealthVerdict::Success) {
        m_service->health().recordSuccess(m_plan.attempts[size_t(m_attempt)].upstream->id,
                                          Clock::instance().nowMSecs());
    }
    HttpHeaders out;
    out.reserve(headers.size() + 1);
    qint64 contentLength = -1;
    for (const auto &[name, value] : headers) {
        if (isRelayedResponseHeader(name)) {
            out.append({name.toLower(), value});
            if (asciiEqualsIgnoreCase(name, "content-type") && isSseContentType(value)) {
                m_sse = true;
            }
        } else if (asciiEqualsIgnoreCase(name, "content-length")) {
            bool ok = false;
            contentLength = value.trimmed().toLongLong(&ok);
            if (!ok || contentLength < 0) {
                contentLength = -1;
            }
        }
    }
    out.append({QByteArrayLiteral("x-llmpool-request-id"), m_request.requestId()});
    if (m_sse) {
        m_filter.emplace(m_injectedUsage);
        contentLength = -1; // the filter may drop bytes
        out.append({QByteArrayLiteral("cache-control"), QByteArrayLiteral("no-cache")});
    }
    m_event.status = status;
    m_upstreamStatus = status;
    // An SSE head goes out at once (the client waits for it); any other head rides with the first
    // body bytes, which for a non-streamed answer usually arrive in the same read: one send.
    m_headSent = m_responder.beginStream(status, out, contentLength, m_sse);
    m_event.ttfbMs = m_clock.elapsed();
}

bool ProxyExchange::onBody(QByteArrayView chunk)
{
    if (!m_responder.isConnected()) {
        return true; // the disconnect handler aborts the call
    }
    if (m_clientFull) {
        return false; // not taken: curl pauses and offers the same bytes after resume()
    }
    QByteArray out;
    if (m_filter) {
        bool ok = true;
        out = m_filter->feed(chunk, &ok);
        if (!ok) {
            m_lastDetail = QStringLiteral("an upstream stream event exceeded the size limit");
            m_call->abort();
            QTimer::singleShot(0, this, [this] {
                onFinished(UpstreamOutcome{UpstreamOutcome::Kind::ResponseTooLarge, m_lastDetail});
            });
            return true;
        }
    } else {
        out = chunk.toByteArray();
        if (m_bodyCopyComplete && m_endpoint != Endpoint::AudioSpeech) {
            if (m_bodyCopy.size() + chunk.size() <= kMaxUsageCopy) {
                m_bodyCopy.append(chunk);
            } else {
                m_bodyCopyComplete = false;
                m_bodyCopy.clear();
            }
        }
    }
    if (!out.isEmpty()) {
        m_event.bytesOut += out.size();
        writeOut(std::move(out));
    }
    return true;
}

void ProxyExchange::writeOut(QByteArray bytes)
{
    // The end of the response waits for its usage event to be durable (finish()): a client that
    // got a whole answer must be billed even if the gateway dies a moment later. For a plain
    // body that is the last chunk received so far; for SSE the final event and what follows.
    QByteArray now;
    if (m_sse) {
        if (!m_holding) {
            qsizetype at = bytes.indexOf("data: [DONE]");
            if (at < 0) {
                at = bytes.indexOf("event: response.completed");
            }
            if (at >= 0 && (at == 0 || bytes.at(at - 1) == '\n')) {
                m_holding = true;
                m_held = bytes.mid(at);
                bytes.truncate(at);
            }
            now = std::move(bytes);
        } else {
            m_held.append(bytes);
        }
    } else {
        now = std::exchange(m_held, std::move(bytes));
    }
    if (!now.isEmpty() && !m_responder.write(now)) {
        m_clientFull = true;
    }
}

void ProxyExchange::onFinished(const UpstreamOutcome &outcome)
{
    if (m_finished) {
        return;
    }
    if (!m_headSent) {
        // Failed before any byte reached the client: failover territory.
        attemptFailed(attemptOutcomeOf(outcome), outcome.message);
        return;
    }
    m_call.release()->deleteLater();
    if (outcome.ok()) {
        if (m_filter) {
            QByteArray rest = m_filter->flush();
            if (!rest.isEmpty()) {
                m_event.bytesOut += rest.size();
                writeOut(std::move(rest));
            }
        }
        finish(m_event.status, QString(), true);
        return;
    }
    // Mid-stream failure: never let it look like a complete answer.
    const Error error = outcome.toError();
    qCWarning(lcProxy).noquote() << m_request.requestId() << "upstream failed mid-response:" << error.message;
    if (m_sse) {
        const QJsonObject event{
            {QStringLiteral("error"), QJsonObject{{QStringLiteral("message"), error.message},
                                                  {QStringLiteral("type"), QStringLiteral("upstream_error")},
                                                  {QStringLiteral("code"), error.code}}}};
        m_responder.write("data: " + QJsonDocument(event).toJson(QJsonDocument::Compact) + "\n\n");
        m_responder.end();
    } else {
        m_responder.abort();
    }
    if (m_service->health().recordFailure(m_event.upstreamId, Clock::instance().nowMSecs(),
                                          QString::fromLatin1(UpstreamOutcome::kindName(outcome.kind)))) {
        qCWarning(lcProxy).noquote() << "upstream" << m_event.upstreamId << "ejected";
    }
    finish(502, error.code);
}

void ProxyExchange::clientGone()
{
    if (m_finished) {
        return;
    }
    if (m_call) {
        m_call->abort();
        m_call.reset();
    }
    finish(499, QStringLiteral("client_disconnected"));
}

void ProxyExchange::fail(const Error &error)
{
    if (m_finished) {
        return;
    }
    if (m_responder.isConnected() && !m_responder.isStreaming()) {
        replyError(m_responder, error, {{QByteArrayLiteral("x-llmpool-request-id"), m_request.requestId()}});
    }
    finish(error.httpStatus, error.code);
}

void ProxyExchange::fillUsage()
{
    std::optional<TokenUsage> usage;
    if (m_filter) {
        usage = m_filter->usage();
    } else if (m_bodyCopyComplete && !m_bodyCopy.isEmpty()) {
        usage = usageFromResponseBody(m_bodyCopy);
        if (m_endpoint == Endpoint::ImagesGenerations && m_event.status < 300) {
            const QJsonArray data = QJsonDocument::fromJson(m_bodyCopy).object().value(QLatin1String("data")).toArray();
            m_event.images = std::min<qint64>(data.size(), 1000);
        }
    }
    const bool reachedUpstream = m_event.upstreamId != 0 && m_headSent;
    if (usage) {
        m_event.promptTokens = usage->promptTokens;
        m_event.cachedTokens = usage->cachedTokens;
        m_event.completionTokens = usage->completionTokens;
    } else if (reachedUpstream && m_upstreamStatus < 400 &&
               (m_endpoint == Endpoint::ChatCompletions || m_endpoint == Endpoint::Completions ||
                m_endpoint == Endpoint::Responses || m_endpoint == Endpoint::Embeddings)) {
        // No usage from the upstream (a cut stream, a disconnect, a server that omits it):
        // estimate from the bytes and say so.
        m_event.usageEstimated = true;
        m_event.promptTokens = estimateTokens(m_event.bytesIn);
        m_event.completionTokens = m_endpoint == Endpoint::Embeddings ? 0 : estimateTokens(m_event.bytesOut);
    }
    m_event.totalTokens = m_event.promptTokens + m_event.completionTokens;
    if (m_event.prices && reachedUpstream) {
        BillableUsage billable;
        billable.promptTokens = m_event.promptTokens;
        billable.cachedTokens = m_event.cachedTokens;
        billable.completionTokens = m_event.completionTokens;
        billable.images = m_event.images;
        billable.characters = m_event.characters;
        billable.audioMillis = m_event.audioMillis;
        auto cost = Pricing::cost(*m_event.prices, billable);
        if (cost) {
            m_event.cost = *cost;
        } else {
            qCWarning(lcProxy).noquote() << m_request.requestId() << "cannot price:" << cost.error().message;
        }
    }
}

void ProxyExchange::finish(int status, const QString &errorCode, bool completeResponse)
{
    if (m_finished) {
        return;
    }
    m_finished = true;
    m_event.status = status;
    m_event.errorCode = errorCode;
    m_event.latencyMs = m_clock.elapsed();
    fillUsage();
    auto complete = [this, completeResponse] {
        if (completeResponse && m_responder.isConnected()) {
            if (!m_held.isEmpty()) {
                m_responder.write(std::exchange(m_held, QByteArray()));
            }
            m_responder.end();
        }
        deleteLater();
    };
    if (!m_key) {
        complete();
        return;
    }
    if (!completeResponse) {
        m_service->usage()->record(std::move(m_event));
        deleteLater();
        return;
    }
    m_service->usage()->record(std::move(m_event), this, std::move(complete));
}

} // namespace llmpool::gateway
