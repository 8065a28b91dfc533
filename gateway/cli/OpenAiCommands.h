#pragma once

#include "cli/Command.h"

namespace llmpool::gateway {

// `llmpool openai detect|add`: inspect an OpenAI-compatible upstream, and store it with its models.
std::unique_ptr<CommandGroup> makeOpenAiCommands();

} // namespace llmpool::gateway
