#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace alembic_sidecar::workspace {

/**
 * Splits a command prefix such as `uv run alembic` or `poetry run "my alembic"` into argv
 * words: whitespace separates, single and double quotes group, backslash escapes. Nothing is
 * expanded ($, *, ~ stay literal): the words are exec'd directly, never by a shell.
 */
core::Result<std::vector<std::string>> splitCommandLine(std::string_view text);

}  // namespace alembic_sidecar::workspace
