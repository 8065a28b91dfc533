#pragma once

#include "cli/Command.h"

namespace llmpool::gateway {

// `llmpool security …`: rotate-key.
std::unique_ptr<CommandGroup> makeSecurityCommands();

} // namespace llmpool::gateway
