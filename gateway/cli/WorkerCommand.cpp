#include "cli/WorkerCommand.h"

#include "Log.h"
#include "SignalWatcher.h"
#include "billing/UsageWorker.h"
#include "storage/Database.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QLoggingCategory>

namespace llmpool::gateway {

WorkerCommand::WorkerCommand()
    : Command(QStringLiteral("worker"),
              QStringLiteral("Write usage events from the Redis stream to PostgreSQL until SIGTERM or SIGINT."))
{
}

int WorkerCommand::execute(const QStringList &args, CliContext &ctx)
{
    QCommandLineParser parser;
    const QCommandLineOption concurrency(QStringLiteral("concurrency"),
                                         QStringLiteral("Parallel consumers (overrides [worker] concurrency)."),
                                         QStringLiteral("N"));
    parser.addOption(concurrency);
    if (const int rc = parse(parser, args, ctx); rc >= 0) {
        return rc;
    }
    if (!parser.positionalArguments().isEmpty()) {
        return ctx.usage(QStringLiteral("worker takes no arguments (see 'llmpool worker --help')"));
    }
    auto config = ctx.loadConfig();
    if (!config) {
        return ctx.fail(config.error());
    }
    billing::WorkerOptions options = billing::UsageWorker::optionsFrom(*config);
    if (parser.isSet(concurrency)) {
        bool ok = false;
        const int n = parser.value(concurrency).toInt(&ok);
        if (!ok || n < 1 || n > 256) {
            return ctx.usage(QStringLiteral("--concurrency: expected a number from 1 to 256, got '%1'")
                                 .arg(parser.value(concurrency)));
        }
        options.concurrency = n;
    }
    QLoggingCategory::setFilterRules(QString());
    Log::install(config->telemetry.logFormat == TelemetryConfig::LogFormat::Json ? Log::Format::Json
                                                                                 : Log::Format::Text);

    DatabaseOptions dbOptions;
    dbOptions.url = config->database.url;
    dbOptions.poolSize = options.concurrency + 1;
    dbOptions.applicationName = QStringLiteral("llmpool-worker");
    Database database(dbOptions);
    if (auto started = database.start(); !started) {
        return ctx.fail(started.error());
    }
    SignalWatcher watcher;
    billing::UsageWorker worker(options, &database);
    worker.start();
    ctx.out << "llmpool: usage worker running with " << options.concurrency << " consumers" << Qt::endl;
    QObject::connect(&watcher, &SignalWatcher::terminationRequested, qApp, [&worker](int signalNumber) {
        qCInfo(lcUsage) << "signal" << signalNumber << "received: stopping the worker";
        worker.stop();
        QCoreApplication::exit(ExitOk);
    });
    const int rc = QCoreApplication::exec();
    worker.stop();
    database.stop();
    return rc;
}

} // namespace llmpool::gateway
