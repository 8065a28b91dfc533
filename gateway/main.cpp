// The `llmpool` executable: everything lives in llmpool_gateway; this only sets up the process.

#include "cli/Command.h"

#include <QCoreApplication>
#include <QLoggingCategory>
#include <QTextStream>

#include <cstdio>

int main(int argc, char *argv[])
{
    // Qt's own event dispatcher served ~20% more requests than the glib one on our machines
    // (STYLE §1). It must be chosen before the application object exists.
    qputenv("QT_NO_GLIB", "1");
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("llmpool"));
    QCoreApplication::setApplicationVersion(QStringLiteral(LLMPOOL_VERSION));

    // Command-line tools print their result and their errors, not the storage layer's chatter;
    // `serve` turns informational logging back on. QT_LOGGING_RULES still overrides both.
    QLoggingCategory::setFilterRules(QStringLiteral("llmpool.*.info=false"));

    QTextStream out(stdout);
    QTextStream err(stderr);
    QTextStream in(stdin);
    llmpool::gateway::CliContext ctx{out, err, in, QProcessEnvironment::systemEnvironment(), {}};
    llmpool::gateway::Cli cli;
    return cli.run(QCoreApplication::arguments(), ctx);
}
