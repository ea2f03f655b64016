#pragma once

#include <CLI/CLI.hpp>
#include <functional>

#include "core/redactor.h"

namespace alembic_sidecar::cli {

/** `alembic-sidecar postgres start|stop|status`: the throwaway server, for scripts and tests. */
std::function<int()> addPostgresCommand(CLI::App& app, const core::RedactorPtr& redactor);

}  // namespace alembic_sidecar::cli
