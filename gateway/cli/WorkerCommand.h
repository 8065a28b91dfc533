#pragma once

#include "cli/Command.h"

namespace llmpool::gateway {

// `llmpool worker [--concurrency N]`: drains the usage stream into PostgreSQL (UsageWorker) until
// SIGTERM or SIGINT. Any number may run beside the gateways' in-process workers.
class WorkerCommand : public Command
{
public:
    WorkerCommand();
    int execute(const QStringList &args, CliContext &ctx) override;
};

} // namespace llmpool::gateway
