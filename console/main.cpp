// llmpool-console: with a command, the console's CLI (headless, no display needed); installed as
// llmpool-ctl too. Without one, the desktop window — which comes in a later release.

#include "cli/Cli.h"

#include <QCoreApplication>
#include <QFileInfo>
#include <QTextStream>

#include <cstdio>
#include <unistd.h>

int main(int argc, char **argv)
{
    // Unlike the gateway, the console keeps Qt's glib event dispatcher: QtKeychain's Secret Service
    // backend (libsecret) answers through the glib main loop and would wait forever without it.
    qunsetenv("QT_NO_GLIB");
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("llmpool-console"));
    QCoreApplication::setApplicationVersion(QStringLiteral(LLMPOOL_VERSION));

    QTextStream out(stdout);
    QTextStream err(stderr);
    QTextStream in(stdin);
    const QStringList arguments = QCoreApplication::arguments();
    if (arguments.size() <= 1) {
        const QString program = QFileInfo(arguments.value(0, QStringLiteral("llmpool-console"))).fileName();
        err << program << ": the desktop window comes in a later release; this version is the command line.\n\n";
        err.flush();
        llmpool::console::Cli::printHelp(out, program);
        out.flush();
        return 0;
    }
    llmpool::console::CliIo io{out, err, in, QProcessEnvironment::systemEnvironment(), ::isatty(STDIN_FILENO) == 1};
    llmpool::console::Cli cli;
    return cli.run(arguments, io);
}
