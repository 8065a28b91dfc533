// llmpool-mock-openai: the mock OpenAI upstream, a test and benchmark fixture (never shipped).
// Prints "listening on http://HOST:PORT" on stdout once it accepts connections; see MockRoutes.h
// for the API and MockSettings.h for the fault keys. Every settings key is also a flag:
//   --status N --delay-ms N --drop-after N --chunks N --interval-ms N --chunk-size N
//   --prompt-tokens N --completion-tokens N --cached-tokens N --fail-requests N
//   --embedding-dimensions N --audio-chunk-bytes N --audio-seconds N --hang --no-usage
//   --strict-models
// plus --host, --port (0 = any), --threads (0 = one per core), --api-key KEY (repeatable),
// --models a,b,c, --name NAME (x-mock-instance header) and --die-with-parent.

#include "MockRoutes.h"
#include "MockState.h"
#include "http/HttpServer.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QJsonObject>

#include <cstdio>

#include <csignal>
#include <sys/prctl.h>
#include <unistd.h>

using namespace llmpool;
using namespace llmpool::test;

namespace {

struct ValueKey
{
    const char *flag; // kebab-case flag, also the snake_case settings key after '-' → '_'
    bool isFlag;      // boolean switch
};

constexpr ValueKey kSettingKeys[] = {{"status", false},
                                     {"delay-ms", false},
                                     {"drop-after", false},
                                     {"chunks", false},
                                     {"interval-ms", false},
                                     {"chunk-size", false},
                                     {"prompt-tokens", false},
                                     {"completion-tokens", false},
                                     {"cached-tokens", false},
                                     {"fail-requests", false},
                                     {"embedding-dimensions", false},
                                     {"audio-chunk-bytes", false},
                                     {"audio-seconds", false},
                                     {"hang", true},
                                     {"no-usage", true},
                                     {"strict-models", true}};

} // namespace

int main(int argc, char *argv[])
{
    qputenv("QT_NO_GLIB", "1"); // Qt's own dispatcher, as the gateway (STYLE §1)
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("llmpool-mock-openai"));

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Mock OpenAI-compatible upstream for LLMPool tests"));
    parser.addHelpOption();
    parser.addOption({QStringLiteral("host"), QStringLiteral("Address to listen on."), QStringLiteral("ADDRESS"),
                      QStringLiteral("127.0.0.1")});
    parser.addOption({QStringLiteral("port"), QStringLiteral("Port (0 = any free one)."), QStringLiteral("PORT"),
                      QStringLiteral("0")});
    parser.addOption({QStringLiteral("threads"), QStringLiteral("Event-loop threads (0 = one per core)."),
                      QStringLiteral("N"), QStringLiteral("0")});
    parser.addOption(
        {QStringLiteral("api-key"), QStringLiteral("Accepted key (repeatable; none = open)."), QStringLiteral("KEY")});
    parser.addOption({QStringLiteral("models"), QStringLiteral("Comma-separated model ids for /v1/models."),
                      QStringLiteral("LIST")});
    parser.addOption(
        {QStringLiteral("name"), QStringLiteral("Instance name, sent as x-mock-instance."), QStringLiteral("NAME")});
    parser.addOption({QStringLiteral("max-connections"), QStringLiteral("Connection limit."), QStringLiteral("N"),
                      QStringLiteral("20000")});
    parser.addOption({QStringLiteral("die-with-parent"), QStringLiteral("Exit when the parent process exits.")});
    for (const ValueKey &k : kSettingKeys) {
        const QString name = QString::fromLatin1(k.flag);
        if (k.isFlag)
            parser.addOption({name, QStringLiteral("Setting %1 = true.").arg(name)});
        else
            parser.addOption({name, QStringLiteral("Setting %1.").arg(name), QStringLiteral("N")});
    }
    parser.process(app);

    if (parser.isSet(QStringLiteral("die-with-parent"))) {
        // A test that crashes must not leave its upstream behind.
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (::getppid() == 1)
            return 1;
    }

    MockSettings settings;
    QJsonObject overrides;
    for (const ValueKey &k : kSettingKeys) {
        const QString name = QString::fromLatin1(k.flag);
        if (!parser.isSet(name))
            continue;
        const QString key = QString(name).replace(u'-', u'_');
        if (k.isFlag) {
            overrides.insert(key, true);
        } else {
            bool ok = false;
            const int v = parser.value(name).toInt(&ok);
            if (!ok) {
                std::fprintf(stderr, "llmpool-mock-openai: --%s needs an integer\n", k.flag);
                return 2;
            }
            overrides.insert(key, v);
        }
    }
    if (parser.isSet(QStringLiteral("models")))
        settings.models = parser.value(QStringLiteral("models")).split(u',', Qt::SkipEmptyParts);
    if (const Status st = settings.applyJson(overrides); !st) {
        std::fprintf(stderr, "llmpool-mock-openai: %s\n", qPrintable(st.error().message));
        return 2;
    }
    QList<QByteArray> keys;
    for (const QString &k : parser.values(QStringLiteral("api-key")))
        keys.append(k.toUtf8());

    MockState state(settings, keys, parser.value(QStringLiteral("name")).toUtf8());
    auto router = std::make_shared<gateway::Router>();
    MockRoutes::install(*router, state);

    gateway::HttpServerConfig config;
    config.address = QHostAddress(parser.value(QStringLiteral("host")));
    config.port = quint16(parser.value(QStringLiteral("port")).toUInt());
    config.threads = parser.value(QStringLiteral("threads")).toInt();
    config.maxConnections = parser.value(QStringLiteral("max-connections")).toInt();
    config.idleTimeoutMs = 300'000;
    config.writeTimeoutMs = 300'000;
    if (config.address.isNull()) {
        std::fprintf(stderr, "llmpool-mock-openai: --host must be an IP address\n");
        return 2;
    }
    gateway::HttpServer server(config, router);
    if (const Status st = server.start(); !st) {
        std::fprintf(stderr, "llmpool-mock-openai: %s\n", qPrintable(st.error().message));
        return 1;
    }
    const QString host = config.address.protocol() == QAbstractSocket::IPv6Protocol
                             ? QStringLiteral("[%1]").arg(config.address.toString())
                             : config.address.toString();
    std::printf("listening on http://%s:%u\n", qPrintable(host), unsigned(server.port()));
    std::fflush(stdout);
    return app.exec();
}
