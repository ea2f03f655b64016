#pragma once

#include <CLI/CLI.hpp>
#include <functional>

#include "core/redactor.h"

namespace alembic_sidecar::cli {

/**
 * `alembic-sidecar revision -m MSG [--project DIR] [--config alembic.ini] [--database-url URL]
 * [--isolation scratch|inplace] [--alembic-cmd "uv run alembic"] [--models PATH]... [--json]`
 */
std::function<int()> addRevisionCommand(CLI::App& app, const core::RedactorPtr& redactor);

}  // namespace alembic_sidecar::cli
