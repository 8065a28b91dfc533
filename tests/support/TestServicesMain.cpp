// llmpool-test-services: the ctest `services` fixture.
//
//   llmpool-test-services start DIR   start PostgreSQL + Redis as daemons (they outlive this
//                                     process) and write DIR/services.env
//   llmpool-test-services stop DIR    stop them, remove their data and DIR/services.env
//   llmpool-test-services restart-postgres DIR
//                                     restart that PostgreSQL (fast shutdown, same port and data)
//
// `start` first stops whatever a previous, interrupted run left in DIR. Both exit non-zero with
// a message on stderr when they fail.

#include "TestServices.h"

#include <QCoreApplication>
#include <QDir>

#include <cstdio>

using llmpool::Status;
using llmpool::test::TestServices;

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    const QStringList args = app.arguments();
    if (args.size() != 3 || (args[1] != u"start" && args[1] != u"stop" && args[1] != u"restart-postgres")) {
        fprintf(stderr, "usage: llmpool-test-services start|stop|restart-postgres DIR\n");
        return 2;
    }
    const QString dir = QDir(args[2]).absolutePath();
    const QString envFile = dir + QStringLiteral("/services.env");

    if (args[1] == u"restart-postgres") {
        if (Status s = TestServices::restartPostgresDetached(envFile); !s) {
            fprintf(stderr, "llmpool-test-services: %s\n", qPrintable(s.error().message));
            return 1;
        }
        printf("PostgreSQL in %s restarted\n", qPrintable(dir));
        return 0;
    }

    if (Status s = TestServices::stopDetached(envFile); !s)
        fprintf(stderr, "llmpool-test-services: %s\n", qPrintable(s.error().message));
    if (args[1] == u"stop") {
        printf("test services in %s stopped\n", qPrintable(dir));
        return 0;
    }

    if (!QDir().mkpath(dir)) {
        fprintf(stderr, "llmpool-test-services: cannot create %s\n", qPrintable(dir));
        return 1;
    }
    TestServices::Options options;
    options.detached = true;
    TestServices services(options);
    if (Status s = services.start(); !s) {
        fprintf(stderr, "llmpool-test-services: %s\n", qPrintable(s.error().message));
        return 1;
    }
    if (Status s = services.writeEnvFile(envFile); !s) {
        fprintf(stderr, "llmpool-test-services: %s\n", qPrintable(s.error().message));
        services.stop();
        return 1;
    }
    printf("PostgreSQL on 127.0.0.1:%d (pid %lld), Redis on 127.0.0.1:%d (pid %lld); see %s\n", services.postgresPort(),
           services.postgresPid(), services.redisPort(), services.redisPid(), qPrintable(envFile));
    return 0;
}
