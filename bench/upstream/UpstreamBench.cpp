// llmpool-bench-upstream: the upstream client alone. An in-process HttpServer (its own thread, core
// permitting) plays a mock upstream answering POST /v1/chat/completions with a small JSON body; the
// main thread runs a CurlMulti and sends requests through UpstreamCall.
//
//   llmpool-bench-upstream [--requests N] [--concurrency C] [--no-pool] [--stream-events E]
//
// Prints, for c=1: p50 / p99 µs per request; for c=C: req/s and the client thread's CPU µs per
// request (CLOCK_THREAD_CPUTIME_ID of the main thread, i.e. curl + our glue, not the server).
// Not a test: numbers depend on the machine; compare only within one run.

#include "http/HttpServer.h"
#include "upstream/CurlMulti.h"
#include "upstream/UpstreamCall.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QTimer>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <functional>
#include <vector>

using namespace llmpool::gateway;

namespace {

qint64 threadCpuUs()
{
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return qint64(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

const QByteArray kReply =
    QByteArrayLiteral(R"({"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,)"
                      R"("message":{"role":"assistant","content":"Hello!"},"finish_reason":"stop"}],)"
                      R"("usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}})");
const QByteArray kBody =
    QByteArrayLiteral(R"({"model":"m","messages":[{"role":"user","content":"Say hello"}],"max_tokens":16})");

struct Runner
{
    CurlMulti *multi = nullptr;
    QByteArray url;
    qint64 started = 0;
    qint64 finished = 0;
    qint64 failures = 0;
    qint64 target = 0;
    std::vector<qint64> latenciesUs;
    std::function<void()> done;

    void launch()
    {
        if (started >= target)
            return;
        ++started;
        UpstreamRequest request;
        request.method = "POST";
        request.url = url;
        request.body = kBody;
        request.headers = {{"Content-Type", "application/json"}, {"Authorization", "Bearer sk-upstream"}};
        auto *call = new UpstreamCall(request, multi);
        call->onBodyData([](QByteArrayView) { return true; });
        call->onFinished([this, call](const UpstreamOutcome &o) {
            if (!o.ok() || o.httpStatus != 200)
                ++failures;
            latenciesUs.push_back(o.totalUs);
            delete call;
            ++finished;
            if (finished == target)
                done();
            else
                launch();
        });
        call->start();
    }
};

} // namespace

int main(int argc, char **argv)
{
    qputenv("QT_NO_GLIB", "1");
    QCoreApplication app(argc, argv);
    QCommandLineParser parser;
    parser.addHelpOption();
    parser.addOption({QStringLiteral("requests"), QStringLiteral("Requests per phase."), QStringLiteral("n"),
                      QStringLiteral("20000")});
    parser.addOption({QStringLiteral("concurrency"), QStringLiteral("Calls in flight in the throughput phase."),
                      QStringLiteral("c"), QStringLiteral("64")});
    parser.addOption({QStringLiteral("no-pool"), QStringLiteral("curl_easy_init/cleanup per request.")});
    parser.addOption({QStringLiteral("stream-events"), QStringLiteral("Answer with an SSE stream of E events."),
                      QStringLiteral("e"), QStringLiteral("0")});
    parser.process(app);
    const qint64 requests = parser.value(QStringLiteral("requests")).toLongLong();
    const int concurrency = parser.value(QStringLiteral("concurrency")).toInt();
    const int streamEvents = parser.value(QStringLiteral("stream-events")).toInt();

    auto router = std::make_shared<Router>();
    router->post("/v1/chat/completions", [streamEvents](HttpRequest &, HttpResponder &r) {
        if (streamEvents <= 0) {
            r.respond(200, "application/json", kReply);
            return;
        }
        r.beginStream(200, HttpHeaders{{"content-type", "text/event-stream"}});
        for (int i = 0; i < streamEvents; ++i)
            r.write(QByteArrayLiteral(R"(data: {"choices":[{"delta":{"content":"tok"}}]})") + "\n\n");
        r.write("data: [DONE]\n\n");
        r.end();
    });
    HttpServerConfig config;
    config.threads = 1;
    HttpServer server(config, router);
    if (!server.start()) {
        std::fprintf(stderr, "cannot start the mock upstream\n");
        return 1;
    }

    CurlMulti::Options options;
    if (parser.isSet(QStringLiteral("no-pool")))
        options.maxPooledHandles = 0;
    CurlMulti multi(options);
    const QByteArray url = "http://127.0.0.1:" + QByteArray::number(server.port()) + "/v1/chat/completions";

    const auto phase = [&](int c, qint64 n, const char *name) {
        Runner runner;
        runner.multi = &multi;
        runner.url = url;
        runner.target = n;
        runner.latenciesUs.reserve(size_t(n));
        QEventLoop loop;
        runner.done = [&loop] { loop.quit(); };
        QElapsedTimer wall;
        wall.start();
        const qint64 cpu0 = threadCpuUs();
        QTimer::singleShot(0, &loop, [&] {
            for (int i = 0; i < c; ++i)
                runner.launch();
        });
        loop.exec();
        const qint64 cpuUs = threadCpuUs() - cpu0;
        const double secs = double(wall.nsecsElapsed()) / 1e9;
        std::sort(runner.latenciesUs.begin(), runner.latenciesUs.end());
        const auto pct = [&](double p) {
            return runner.latenciesUs[size_t(double(runner.latenciesUs.size() - 1) * p)];
        };
        std::printf("%-12s c=%-4d n=%-7lld %9.0f req/s  p50 %6lld us  p99 %6lld us  client CPU %5.1f us/req  "
                    "failures %lld\n",
                    name, c, static_cast<long long>(n), double(n) / secs, static_cast<long long>(pct(0.5)),
                    static_cast<long long>(pct(0.99)), double(cpuUs) / double(n),
                    static_cast<long long>(runner.failures));
    };

    phase(1, qMin<qint64>(requests, 2000), "warm-up");
    phase(1, requests, "latency");
    phase(concurrency, requests, "throughput");
    std::printf("tcp connections accepted by the mock: %lld, easy handles pooled: %d\n",
                static_cast<long long>(server.stats().connectionsAccepted), multi.stats().pooledHandles);
    server.stop();
    return 0;
}
