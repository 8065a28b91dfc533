#include "cli/MigrateCommand.h"

#include "storage/Database.h"
#include "storage/Migrator.h"

#include <QCommandLineParser>

namespace llmpool::gateway {

MigrateCommand::MigrateCommand()
    : Command(QStringLiteral("migrate"), QStringLiteral("Apply the database migrations the database lacks."))
{
}

int MigrateCommand::execute(const QStringList &args, CliContext &ctx)
{
    QCommandLineParser parser;
    const QCommandLineOption dir(QStringLiteral("migrations"),
                                 QStringLiteral("Folder of NNNN_name.sql files (default: $LLMPOOL_MIGRATIONS_DIR, the "
                                                "installed share/llmpool/migrations, or the source tree)."),
                                 QStringLiteral("DIR"));
    parser.addOption(dir);
    if (const int rc = parse(parser, args, ctx); rc >= 0) {
        return rc;
    }
    if (!parser.positionalArguments().isEmpty()) {
        return ctx.usage(QStringLiteral("migrate takes no arguments"));
    }
    auto config = ctx.loadConfig();
    if (!config) {
        return ctx.fail(config.error());
    }
    const QString directory = parser.isSet(dir) ? parser.value(dir) : migrationsDir(ctx.env);
    if (directory.isEmpty()) {
        return ctx.fail(Error::internal(QStringLiteral("migrations_invalid"),
                                        QStringLiteral("no migrations folder found; pass --migrations DIR")));
    }
    Migrator migrator(directory);
    if (auto files = migrator.scan(); !files) {
        return ctx.fail(files.error());
    }

    auto db = openCliDatabase(*config, QStringLiteral("llmpool-migrate"), 0);
    if (!db) {
        return ctx.fail(db.error());
    }
    auto applied = (*db)->runSync([&](QSqlDatabase &conn) { return migrator.migrate(conn); });
    if (!applied) {
        return ctx.fail(applied.error());
    }
    if (applied->isEmpty()) {
        ctx.out << "database is up to date" << Qt::endl;
    } else {
        QStringList versions;
        for (int v : *applied) {
            versions << QString::number(v).rightJustified(4, QLatin1Char('0'));
        }
        ctx.out << "applied " << versions.join(QStringLiteral(", ")) << Qt::endl;
    }
    return ExitOk;
}

QString MigrateCommand::migrationsDir(const QProcessEnvironment &env)
{
    const QString fromEnv = env.value(QStringLiteral("LLMPOOL_MIGRATIONS_DIR"));
    if (!fromEnv.isEmpty()) {
        return fromEnv;
    }
    return Migrator::defaultDirectory();
}

} // namespace llmpool::gateway
