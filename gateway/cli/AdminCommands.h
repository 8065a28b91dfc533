#pragma once

#include "cli/Command.h"

namespace llmpool::gateway {

// `llmpool admin …`: create-user, create-api-key, create-jwt-token.
std::unique_ptr<CommandGroup> makeAdminCommands();

} // namespace llmpool::gateway
