// llmpool-bench-healthz: serves GET /healthz with the gateway's HttpServer and nothing else, so
// bench/healthz/run.sh can compare the HTTP layer alone against nginx.
//
//   llmpool-bench-healthz [--bind ADDR] [--port N] [--threads N]
// Prints "listening on PORT" on stdout once accepting. Runs until SIGINT/SIGTERM.

#include "http/HttpServer.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QSocketNotifier>

#include <csignal>
#include <cstdio>

#include <sys/socket.h>
#include <unistd.h>

using namespace llmpool::gateway;

namespace {

int g_signalFds[2] = {-1, -1};

void onSignal(int)
{
    const char c = 1;
    [[maybe_unused]] const ssize_t ignored = ::write(g_signalFds[0], &c, 1);
}

} // namespace

int main(int argc, char **argv)
{
    qputenv("QT_NO_GLIB", "1");
    QCoreApplication app(argc, argv);
    QCommandLineParser parser;
    parser.addHelpOption();
    parser.addOption({QStringLiteral("bind"), QStringLiteral("Address to listen on."), QStringLiteral("addr"),
                      QStringLiteral("127.0.0.1")});
    parser.addOption(
        {QStringLiteral("port"), QStringLiteral("Port (0 = any)."), QStringLiteral("port"), QStringLiteral("0")});
    parser.addOption({QStringLiteral("threads"), QStringLiteral("Event-loop threads (0 = one per core)."),
                      QStringLiteral("n"), QStringLiteral("0")});
    parser.process(app);

    HttpServerConfig config;
    config.address = QHostAddress(parser.value(QStringLiteral("bind")));
    config.port = quint16(parser.value(QStringLiteral("port")).toUInt());
    config.threads = parser.value(QStringLiteral("threads")).toInt();

    auto router = std::make_shared<Router>();
    const QByteArray body = QByteArrayLiteral("{\"status\":\"ok\"}");
    router->get("/healthz",
                [body](HttpRequest &, HttpResponder &responder) { responder.respond(200, "application/json", body); });

    HttpServer server(config, router);
    if (const auto started = server.start(); !started) {
        std::fprintf(stderr, "%s\n", qPrintable(started.error().message));
        return 1;
    }

    // Signals end the event loop through a socket pair, so the server stops cleanly.
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, g_signalFds) != 0)
        return 1;
    QSocketNotifier signalNotifier(g_signalFds[1], QSocketNotifier::Read);
    QObject::connect(&signalNotifier, &QSocketNotifier::activated, &app, [] { QCoreApplication::quit(); });
    std::signal(SIGINT, onSignal);
    std::signal(SIGTERM, onSignal);

    std::printf("listening on %u\n", unsigned(server.port()));
    std::fflush(stdout);
    const int rc = QCoreApplication::exec();
    server.stop();
    return rc;
}
