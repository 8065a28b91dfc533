#pragma once

#include "cli/Command.h"

namespace llmpool::gateway {

// `llmpool serve [--bind HOST:PORT]`: runs the gateway until SIGTERM or SIGINT.
class ServeCommand : public Command
{
public:
    ServeCommand();
    int execute(const QStringList &args, CliContext &ctx) override;
};

} // namespace llmpool::gateway
