#include "cli/ServeCommand.h"

#include "Gateway.h"
#include "Log.h"
#include "SignalWatcher.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QLoggingCategory>

namespace llmpool::gateway {

ServeCommand::ServeCommand()
    : Command(QStringLiteral("serve"), QStringLiteral("Run the gateway until SIGTERM or SIGINT."))
{
}

int ServeCommand::execute(const QStringList &args, CliContext &ctx)
{
    QCommandLineParser parser;
    const QCommandLineOption bind(
        QStringLiteral("bind"),
        QStringLiteral("Listen on HOST:PORT (overrides [server] bind; port 0 = any free port)."),
        QStringLiteral("HOST:PORT"));
    parser.addOption(bind);
    if (const int rc = parse(parser, args, ctx); rc >= 0) {
        return rc;
    }
    if (!parser.positionalArguments().isEmpty()) {
        return ctx.usage(QStringLiteral("serve takes no arguments (see 'llmpool serve --help')"));
    }

    auto config = ctx.loadConfig();
    if (!config) {
        return ctx.fail(config.error());
    }
    if (parser.isSet(bind)) {
        auto address = BindAddress::parse(parser.value(bind));
        if (!address) {
            return ctx.usage(QStringLiteral("--bind: ") + address.error().message);
        }
        config->server.bind = *address;
    }
    QLoggingCategory::setFilterRules(QString());
    Log::install(config->telemetry.logFormat == TelemetryConfig::LogFormat::Json ? Log::Format::Json
                                                                                 : Log::Format::Text);
    for (const QString &warning : config->warnings) {
        qCWarning(lcConfig).noquote() << warning;
    }
    if (config->security.encryptionKey.isEmpty()) {
        qCWarning(lcConfig) << "security.encryption_key is empty: upstream API keys are stored in plaintext";
    }

    SignalWatcher watcher;
    Gateway gateway(std::move(*config));
    if (auto started = gateway.start(); !started) {
        return ctx.fail(started.error());
    }
    const BindAddress &address = gateway.config().server.bind;
    const bool v6 = address.host.contains(QLatin1Char(':'));
    ctx.out << "llmpool: listening on http://"
            << (v6 ? QStringLiteral("[") + address.host + QStringLiteral("]") : address.host) << ':' << gateway.port()
            << Qt::endl;

    QObject::connect(&watcher, &SignalWatcher::terminationRequested, &gateway, [&gateway](int signalNumber) {
        qCInfo(lcServer) << "signal" << signalNumber << "received: stopping";
        gateway.stop();
        QCoreApplication::exit(ExitOk);
    });
    return QCoreApplication::exec();
}

} // namespace llmpool::gateway
