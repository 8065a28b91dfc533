#pragma once

#include "cli/Command.h"

namespace llmpool::gateway {

// `llmpool billing …`: reconcile.
std::unique_ptr<CommandGroup> makeBillingCommands();

} // namespace llmpool::gateway
