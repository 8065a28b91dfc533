#pragma once

#include "cli/Command.h"

namespace llmpool::gateway {

// `llmpool migrate`: applies the numbered SQL files of migrations/ that the database lacks.
class MigrateCommand : public Command
{
public:
    MigrateCommand();
    int execute(const QStringList &args, CliContext &ctx) override;

    // Where the migrations are: $LLMPOOL_MIGRATIONS_DIR, then <prefix>/share/llmpool/migrations
    // next to an installed binary, then the source tree this binary was built from.
    static QString migrationsDir(const QProcessEnvironment &env);
};

} // namespace llmpool::gateway
