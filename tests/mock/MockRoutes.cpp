#include "MockRoutes.h"

#include "JsonText.h"
#include "MockThread.h"
#include "MockWire.h"
#include "http/ErrorReply.h"

#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTimer>

#include <cmath>

namespace llmpool::test {

using gateway::HttpHeaders;
using gateway::HttpRequest;
using gateway::HttpResponder;

namespace {

enum class Api { Chat, Completions, Embeddings, Images, Speech, Transcriptions, Responses };

// Everything a reply needs, taken from the request before the handler returns (the request object
// is recycled by the connection afterwards; a delayed reply keeps this instead).
struct Call
{
    Api api = Api::Chat;
    QByteArray body;  // shares the request's buffer
    QByteArray model; // raw JSON string contents, directives removed
    bool stream = false;
    bool includeUsage = false;
    MockFaults faults;
    qint64 startedMs = 0;
    // Transcriptions (parsed from the multipart body).
    qint64 fileBytes = -1;
    QByteArray responseFormat;
};

Error invalid(const QString &message, const QString &param = {}, const QString &code = {})
{
    return Error{QStringLiteral("invalid_request_error"), code, 400, message, param};
}

HttpHeaders replyHeaders(MockThread &t, const Call &call, QByteArrayView contentType)
{
    HttpHeaders h;
    h.reserve(9);
    h.append({QByteArrayLiteral("content-type"), contentType.toByteArray()});
    h.append({QByteArrayLiteral("x-request-id"), "req_" + t.nextId()});
    h.append({QByteArrayLiteral("openai-processing-ms"),
              QByteArray::number(std::max<qint64>(0, MockThread::nowMs() - call.startedMs))});
    h.append({QByteArrayLiteral("openai-version"), QByteArrayLiteral("2020-10-01")});
    h.append({QByteArrayLiteral("x-ratelimit-limit-requests"), QByteArrayLiteral("10000")});
    h.append({QByteArrayLiteral("x-ratelimit-remaining-requests"), QByteArrayLiteral("9999")});
    h.append({QByteArrayLiteral("x-ratelimit-limit-tokens"), QByteArrayLiteral("30000000")});
    h.append({QByteArrayLiteral("x-ratelimit-remaining-tokens"), QByteArrayLiteral("29999000")});
    if (!t.state().instanceName().isEmpty())
        h.append({QByteArrayLiteral("x-mock-instance"), t.state().instanceName()});
    return h;
}

void replyJson(MockThread &t, const Call &call, HttpResponder &res, int status, const QByteArray &body)
{
    t.state().recordStatus(status);
    res.respond(status, replyHeaders(t, call, "application/json"), body);
}

void replyError(MockThread &t, const Call &call, HttpResponder &res, const Error &error)
{
    replyJson(t, call, res, error.httpStatus, gateway::errorBody(error));
}

void beginStream(MockThread &t, const Call &call, HttpResponder &res, QByteArrayView contentType,
                 QList<QByteArray> events, int leading, int paced)
{
    t.state().recordStatus(200);
    if (!res.beginStream(200, replyHeaders(t, call, contentType)))
        return;
    auto s = std::make_unique<MockStream>();
    s->responder = res;
    s->events = std::move(events);
    s->leading = leading;
    s->paced = std::max(paced, 0);
    s->intervalMs = call.faults.intervalMs;
    s->dropAfter = call.faults.dropAfter;
    s->startMs = MockThread::nowMs();
    t.startStream(std::move(s));
}

// --- request parsing -----------------------------------------------------------------------------

// "k=v,k2=v2,flag" after the '@' of a model name.
bool applyDirectives(MockFaults &faults, QByteArrayView list, QString &bad)
{
    for (QByteArrayView item : QByteArray(list.toByteArray()).split(',')) {
        if (item.trimmed().isEmpty())
            continue;
        const qsizetype eq = item.indexOf('=');
        const QByteArrayView key = eq < 0 ? item : item.first(eq);
        const QByteArrayView value = eq < 0 ? QByteArrayView() : item.sliced(eq + 1);
        if (!faults.apply(key, value)) {
            bad = QString::fromUtf8(item);
            return false;
        }
    }
    return true;
}

QByteArray boundaryOf(QByteArrayView contentType)
{
    const qsizetype at = contentType.indexOf("boundary=");
    if (at < 0)
        return {};
    QByteArrayView b = contentType.sliced(at + 9);
    const qsizetype semi = b.indexOf(';');
    if (semi >= 0)
        b = b.first(semi);
    b = b.trimmed();
    if (b.size() >= 2 && b.front() == '"' && b.back() == '"')
        b = b.sliced(1, b.size() - 2);
    return b.toByteArray();
}

QByteArray dispositionParam(QByteArrayView headers, QByteArrayView param)
{
    const QByteArray needle = param.toByteArray() + "=\"";
    qsizetype at = 0;
    while ((at = headers.indexOf(needle, at)) >= 0) {
        // "name=" must not match the tail of "filename=".
        if (at == 0 || headers[at - 1] == ' ' || headers[at - 1] == ';') {
            const qsizetype start = at + needle.size();
            const qsizetype end = headers.indexOf('"', start);
            if (end > start)
                return headers.sliced(start, end - start).toByteArray();
            return {};
        }
        at += needle.size();
    }
    return {};
}

// Enough of multipart/form-data to find the file's size and the text fields we care about.
bool parseMultipart(const HttpRequest &req, Call &call, QString &error)
{
    const QByteArray boundary = boundaryOf(req.header("content-type"));
    if (boundary.isEmpty()) {
        error = QStringLiteral("Expected a multipart/form-data body with a boundary.");
        return false;
    }
    const QByteArrayView body = req.body();
    const QByteArray delimiter = "--" + boundary;
    qsizetype pos = body.indexOf(delimiter);
    if (pos < 0) {
        error = QStringLiteral("The multipart body has no parts.");
        return false;
    }
    pos += delimiter.size();
    const QByteArray next = "\r\n--" + boundary;
    while (pos + 2 <= body.size() && body.sliced(pos, 2) != "--") {
        const qsizetype headStart = pos + 2; // skip CRLF after the delimiter
        const qsizetype headEnd = body.indexOf("\r\n\r\n", headStart);
        if (headEnd < 0)
            break;
        const qsizetype contentStart = headEnd + 4;
        const qsizetype contentEnd = body.indexOf(next, contentStart);
        if (contentEnd < 0)
            break;
        const QByteArrayView head = body.sliced(headStart, headEnd - headStart);
        const QByteArrayView content = body.sliced(contentStart, contentEnd - contentStart);
        const QByteArray name = dispositionParam(head, "name");
        if (name == "file")
            call.fileBytes = content.size();
        else if (name == "model")
            call.model = llmpool::jsonString(QString::fromUtf8(content)).sliced(1).chopped(1);
        else if (name == "response_format")
            call.responseFormat = content.trimmed().toByteArray();
        pos = contentEnd + next.size();
    }
    if (call.fileBytes < 0) {
        error = QStringLiteral("'file' is a required property");
        return false;
    }
    return true;
}

// --- replies -------------------------------------------------------------------------------------

void replyEmbeddings(MockThread &t, Call &call, HttpResponder &res)
{
    const QJsonObject o = QJsonDocument::fromJson(call.body).object();
    const QJsonValue input = o.value(QLatin1String("input"));
    QStringList inputs;
    if (input.isString()) {
        inputs.append(input.toString());
    } else if (input.isArray()) {
        const QJsonArray a = input.toArray();
        if (!a.isEmpty() && a.first().isDouble()) {
            inputs.append(QString::fromUtf8(QJsonDocument(a).toJson(QJsonDocument::Compact))); // one token list
        } else {
            for (const QJsonValue &v : a) {
                inputs.append(v.isString()
                                  ? v.toString()
                                  : QString::fromUtf8(QJsonDocument(v.toArray()).toJson(QJsonDocument::Compact)));
            }
        }
    }
    if (inputs.isEmpty())
        return replyError(t, call, res,
                          invalid(QStringLiteral("'input' is a required property"), QStringLiteral("input")));
    const int dimensions = o.contains(QLatin1String("dimensions"))
                               ? std::clamp(o.value(QLatin1String("dimensions")).toInt(), 1, 65'536)
                               : t.snapshot().settings.embeddingDimensions;
    const bool base64 = o.value(QLatin1String("encoding_format")).toString() == QLatin1String("base64");
    replyJson(t, call, res, 200, MockWire::embeddingsBody(call.model, inputs, dimensions, base64, call.faults));
}

void replyImages(MockThread &t, Call &call, HttpResponder &res)
{
    const QJsonObject o = QJsonDocument::fromJson(call.body).object();
    const QString prompt = o.value(QLatin1String("prompt")).toString();
    if (prompt.isEmpty())
        return replyError(t, call, res,
                          invalid(QStringLiteral("'prompt' is a required property"), QStringLiteral("prompt")));
    const int n = std::clamp(o.value(QLatin1String("n")).toInt(1), 1, 10);
    const bool b64 = o.value(QLatin1String("response_format")).toString() == QLatin1String("b64_json");
    replyJson(
        t, call, res, 200,
        MockWire::imagesBody(QDateTime::currentSecsSinceEpoch(), call.model, t.nextId(), n, b64, prompt, call.faults));
}

void replySpeech(MockThread &t, Call &call, HttpResponder &res)
{
    const QJsonObject o = QJsonDocument::fromJson(call.body).object();
    if (!o.value(QLatin1String("input")).isString())
        return replyError(t, call, res,
                          invalid(QStringLiteral("'input' is a required property"), QStringLiteral("input")));
    static const QHash<QString, QByteArray> kTypes = {
        {QStringLiteral("mp3"), "audio/mpeg"}, {QStringLiteral("opus"), "audio/opus"},
        {QStringLiteral("aac"), "audio/aac"},  {QStringLiteral("flac"), "audio/flac"},
        {QStringLiteral("wav"), "audio/wav"},  {QStringLiteral("pcm"), "audio/pcm"}};
    const QByteArray type = kTypes.value(o.value(QLatin1String("response_format")).toString(QStringLiteral("mp3")),
                                         QByteArrayLiteral("audio/mpeg"));
    const MockSnapshot &snap = t.snapshot();
    QByteArray first = snap.audioFirstChunk;
    QByteArray chunk = snap.audioChunk;
    if (call.faults.chunkSize > 0 && call.faults.chunkSize != chunk.size()) {
        chunk = QByteArray(call.faults.chunkSize, char(0xfb));
        first = chunk;
        first.replace(0, std::min<qsizetype>(3, first.size()), QByteArray("ID3").left(first.size()));
    }
    QList<QByteArray> events;
    events.reserve(call.faults.chunks);
    for (int i = 0; i < call.faults.chunks; ++i)
        events.append(i == 0 ? first : chunk); // implicitly shared: no copy per chunk
    beginStream(t, call, res, type, std::move(events), 1, call.faults.chunks - 1);
}

void replyTranscription(MockThread &t, Call &call, HttpResponder &res)
{
    const MockSnapshot &snap = t.snapshot();
    const int seconds = snap.settings.audioSeconds > 0 ? snap.settings.audioSeconds
                                                       : int(std::max<qint64>(1, (call.fileBytes + 15'999) / 16'000));
    const QString text = QString::fromUtf8(MockWire::fullText(call.faults));
    const QByteArray format = call.responseFormat.isEmpty() ? QByteArrayLiteral("json") : call.responseFormat;
    if (format == "text" || format == "srt" || format == "vtt") {
        t.state().recordStatus(200);
        res.respond(200, replyHeaders(t, call, "text/plain; charset=utf-8"), text.toUtf8() + '\n');
        return;
    }
    replyJson(t, call, res, 200,
              MockWire::transcriptionJson(text, seconds, format == "verbose_json", call.faults.noUsage));
}

// The reply once hang and delay are behind us.
void respond(MockThread &t, Call &call, HttpResponder &res)
{
    if (!res.isConnected())
        return;
    const MockFaults &f = call.faults;
    if (f.status != 0) {
        replyJson(t, call, res, f.status, MockWire::faultBody(f.status));
        return;
    }
    const bool streamed = call.stream || call.api == Api::Speech;
    if (f.dropAfter >= 0 && !streamed) {
        // A connection-level failure: no status line at all.
        t.state().droppedStreams.fetch_add(1, std::memory_order_relaxed);
        res.abort();
        return;
    }
    const MockSnapshot &snap = t.snapshot();
    const qint64 created = QDateTime::currentSecsSinceEpoch();
    switch (call.api) {
    case Api::Chat: {
        const QByteArray id = t.nextId();
        if (call.stream) {
            beginStream(t, call, res, "text/event-stream; charset=utf-8",
                        MockWire::chatEvents(id, created, call.model, f, call.includeUsage), 1, f.chunks);
        } else {
            const QByteArray tail = f.sameContentAs(snap.settings.faults) ? snap.chatTail : MockWire::chatTail(f);
            replyJson(t, call, res, 200, MockWire::chatBody(id, created, call.model, tail));
        }
        return;
    }
    case Api::Completions: {
        const QByteArray id = t.nextId();
        if (call.stream) {
            beginStream(t, call, res, "text/event-stream; charset=utf-8",
                        MockWire::completionEvents(id, created, call.model, f, call.includeUsage), 1, f.chunks - 1);
        } else {
            const QByteArray tail =
                f.sameContentAs(snap.settings.faults) ? snap.completionTail : MockWire::completionTail(f);
            replyJson(t, call, res, 200, MockWire::completionBody(id, created, call.model, tail));
        }
        return;
    }
    case Api::Responses: {
        const QByteArray id = t.nextId();
        if (call.stream) {
            beginStream(t, call, res, "text/event-stream; charset=utf-8",
                        MockWire::responseEvents(id, created, call.model, f), MockWire::kResponseLeadingEvents,
                        f.chunks);
        } else {
            replyJson(t, call, res, 200, MockWire::responseBody(id, created, call.model, f));
        }
        return;
    }
    case Api::Embeddings:
        return replyEmbeddings(t, call, res);
    case Api::Images:
        return replyImages(t, call, res);
    case Api::Speech:
        return replySpeech(t, call, res);
    case Api::Transcriptions:
        return replyTranscription(t, call, res);
    }
}

void handleDataPlane(MockState &state, Api api, HttpRequest &req, HttpResponder &res, const QByteArray *deployment)
{
    MockThread *t = MockThread::of(res, state);
    if (!t)
        return;
    const MockSnapshot &snap = t->snapshot();
    Call call;
    call.api = api;
    call.startedMs = MockThread::nowMs();

    if (!state.authorized(req)) {
        state.recordRequest(req, {});
        state.authFailures.fetch_add(1, std::memory_order_relaxed);
        const bool none = !req.hasHeader("authorization") && !req.hasHeader("api-key");
        replyError(*t, call, res,
                   none ? Error{QStringLiteral("invalid_request_error"),
                                {},
                                401,
                                QStringLiteral("You didn't provide an API key. You need to provide your API key in an "
                                               "Authorization header using Bearer auth (i.e. Authorization: Bearer "
                                               "YOUR_KEY)."),
                                {}}
                        : Error{QStringLiteral("invalid_request_error"),
                                QStringLiteral("invalid_api_key"),
                                401,
                                QStringLiteral("Incorrect API key provided."),
                                {}});
        return;
    }

    bool bodyOk = true;
    QString bodyError;
    if (api == Api::Transcriptions) {
        bodyOk = parseMultipart(req, call, bodyError);
    } else {
        MockWire::Members members;
        bodyOk = MockWire::scanObject(req.body(), members);
        if (bodyOk) {
            call.model =
                MockWire::stringContents(MockWire::find(members, "model")).value_or(QByteArrayView()).toByteArray();
            call.stream = MockWire::find(members, "stream") == "true";
            const QByteArrayView options = MockWire::find(members, "stream_options");
            MockWire::Members nested;
            if (!options.isEmpty() && MockWire::scanObject(options, nested))
                call.includeUsage = MockWire::find(nested, "include_usage") == "true";
            call.body = req.body();
        } else {
            bodyError = QStringLiteral("We could not parse the JSON body of your request. (HINT: This likely means "
                                       "you aren't using your HTTP library correctly. The OpenAI API expects a JSON "
                                       "payload, but what was sent was not valid JSON.)");
        }
    }
    if (deployment) // Azure serves the deployment, whatever the body says
        call.model = llmpool::jsonString(QString::fromUtf8(*deployment)).sliced(1).chopped(1);
    state.recordRequest(req, call.model);
    if (!bodyOk)
        return replyError(*t, call, res, invalid(bodyError));

    call.faults = snap.settings.faults;
    if (call.faults.status != 0 && !state.consumeConfiguredFailure())
        call.faults.status = 0;
    QString bad;
    if (const qsizetype at = call.model.indexOf('@'); at >= 0) {
        if (!applyDirectives(call.faults, QByteArrayView(call.model).sliced(at + 1), bad)) {
            return replyError(*t, call, res,
                              invalid(QStringLiteral("Unknown mock directive in the model name: %1").arg(bad),
                                      QStringLiteral("model"), QStringLiteral("invalid_mock_directive")));
        }
        call.model.truncate(at);
    }
    for (qsizetype i = 0; i < req.headerCount(); ++i) {
        const QByteArrayView name = req.headerName(i);
        if (name.size() > 7 && gateway::asciiEqualsIgnoreCase(name.first(7), "x-mock-") &&
            !call.faults.apply(name.sliced(7), req.headerValue(i))) {
            return replyError(
                *t, call, res,
                invalid(QStringLiteral("Unknown mock header or bad value: %1").arg(QString::fromLatin1(name)), {},
                        QStringLiteral("invalid_mock_directive")));
        }
    }
    if (call.model.isEmpty()) {
        return replyError(*t, call, res,
                          invalid(QStringLiteral("you must provide a model parameter"), QStringLiteral("model")));
    }
    if (snap.settings.strictModels && !snap.modelSet.contains(MockWire::decodeRaw(call.model))) {
        return replyError(*t, call, res,
                          Error{QStringLiteral("invalid_request_error"),
                                QStringLiteral("model_not_found"),
                                404,
                                QStringLiteral("The model `%1` does not exist or you do not have access to it.")
                                    .arg(MockWire::decodeRaw(call.model)),
                                {}});
    }

    if (call.faults.hang) {
        t->hang(res);
        return;
    }
    if (call.faults.delayMs > 0) {
        QTimer::singleShot(call.faults.delayMs, t,
                           [t, call = std::move(call), res]() mutable { respond(*t, call, res); });
        return;
    }
    respond(*t, call, res);
}

void handleModels(MockState &state, HttpRequest &req, HttpResponder &res, const QByteArray *id)
{
    MockThread *t = MockThread::of(res, state);
    if (!t)
        return;
    Call call;
    call.startedMs = MockThread::nowMs();
    state.recordRequest(req, {});
    if (!state.authorized(req)) {
        state.authFailures.fetch_add(1, std::memory_order_relaxed);
        return replyError(*t, call, res,
                          Error{QStringLiteral("invalid_request_error"),
                                QStringLiteral("invalid_api_key"),
                                401,
                                QStringLiteral("Incorrect API key provided."),
                                {}});
    }
    const MockSnapshot &snap = t->snapshot();
    call.faults = snap.settings.faults;
    if (call.faults.status != 0 && !state.consumeConfiguredFailure())
        call.faults.status = 0;
    if (call.faults.status != 0)
        return replyJson(*t, call, res, call.faults.status, MockWire::faultBody(call.faults.status));
    if (!id)
        return replyJson(*t, call, res, 200, snap.modelsBody);
    const QString model = QString::fromUtf8(*id);
    if (!snap.modelSet.contains(model)) {
        return replyError(
            *t, call, res,
            Error{QStringLiteral("invalid_request_error"), QStringLiteral("model_not_found"), 404,
                  QStringLiteral("The model `%1` does not exist or you do not have access to it.").arg(model),
                  QStringLiteral("model")});
    }
    replyJson(*t, call, res, 200, MockWire::modelObject(model));
}

std::optional<Api> apiForPath(QByteArrayView path)
{
    if (path == "chat/completions")
        return Api::Chat;
    if (path == "completions")
        return Api::Completions;
    if (path == "embeddings")
        return Api::Embeddings;
    if (path == "images/generations")
        return Api::Images;
    if (path == "audio/speech")
        return Api::Speech;
    if (path == "audio/transcriptions")
        return Api::Transcriptions;
    if (path == "responses")
        return Api::Responses;
    return std::nullopt;
}

// Azure rejects a data-plane call without api-version.
bool requireApiVersion(MockState &state, HttpRequest &req, HttpResponder &res)
{
    if (!req.queryParam("api-version").isEmpty())
        return true;
    state.recordRequest(req, {});
    state.recordStatus(400);
    gateway::replyError(res, invalid(QStringLiteral("Missing required query parameter: api-version"),
                                     QStringLiteral("api-version"), QStringLiteral("missing_api_version")));
    return false;
}

void respondJsonPlain(HttpResponder &res, int status, const QJsonObject &o)
{
    res.respond(status, "application/json", QJsonDocument(o).toJson(QJsonDocument::Compact));
}

} // namespace

void MockRoutes::install(gateway::Router &router, MockState &state)
{
    MockState *s = &state;
    for (const QByteArray &prefix : {QByteArrayLiteral("/v1"), QByteArrayLiteral("/openai/v1")}) {
        const std::pair<const char *, Api> posts[] = {
            {"/chat/completions", Api::Chat}, {"/completions", Api::Completions},
            {"/embeddings", Api::Embeddings}, {"/images/generations", Api::Images},
            {"/audio/speech", Api::Speech},   {"/audio/transcriptions", Api::Transcriptions},
            {"/responses", Api::Responses}};
        for (const auto &[path, api] : posts) {
            router.post(QByteArray(prefix + path), [s, api](HttpRequest &req, HttpResponder &res) {
                handleDataPlane(*s, api, req, res, nullptr);
            });
        }
        router.get(QByteArray(prefix + "/models"),
                   [s](HttpRequest &req, HttpResponder &res) { handleModels(*s, req, res, nullptr); });
        router.get(QByteArray(prefix + "/models/{id...}"), [s](HttpRequest &req, HttpResponder &res) {
            const QByteArray id = req.pathParam("id");
            handleModels(*s, req, res, &id);
        });
    }

    router.post("/openai/deployments/{deployment}/{endpoint...}", [s](HttpRequest &req, HttpResponder &res) {
        const std::optional<Api> api = apiForPath(req.pathParam("endpoint"));
        if (!api) {
            gateway::replyError(res, gateway::httpErrors::notFound(req.method(), req.path()));
            return;
        }
        if (!requireApiVersion(*s, req, res))
            return;
        const QByteArray deployment = req.pathParam("deployment");
        handleDataPlane(*s, *api, req, res, &deployment);
    });
    router.get("/openai/models", [s](HttpRequest &req, HttpResponder &res) {
        if (requireApiVersion(*s, req, res))
            handleModels(*s, req, res, nullptr);
    });
    router.post("/openai/responses", [s](HttpRequest &req, HttpResponder &res) {
        if (requireApiVersion(*s, req, res))
            handleDataPlane(*s, Api::Responses, req, res, nullptr);
    });

    router.get("/mock/stats", [s](HttpRequest &, HttpResponder &res) { respondJsonPlain(res, 200, s->statsJson()); });
    router.get("/mock/config", [s](HttpRequest &, HttpResponder &res) {
        respondJsonPlain(res, 200, s->snapshot()->settings.toJson());
    });
    router.post("/mock/config", [s](HttpRequest &req, HttpResponder &res) {
        QJsonParseError error;
        const QJsonDocument doc = QJsonDocument::fromJson(req.body(), &error);
        if (!doc.isObject()) {
            gateway::replyError(res, invalid(QStringLiteral("expected a JSON object")));
            return;
        }
        if (const Status st = s->configure(doc.object()); !st) {
            gateway::replyError(res, st.error());
            return;
        }
        respondJsonPlain(res, 200, s->snapshot()->settings.toJson());
    });
    router.post("/mock/reset", [s](HttpRequest &, HttpResponder &res) {
        s->reset();
        respondJsonPlain(res, 200, s->snapshot()->settings.toJson());
    });
}

} // namespace llmpool::test
