#pragma once

#include <CLI/CLI.hpp>
#include <functional>

#include "core/redactor.h"

namespace alembic_sidecar::cli {

/**
 * `alembic-sidecar sweep [--project DIR] [--database-url URL] [--url-env NAME] [--dry-run]
 * [--json]`: lists the scratch databases of the app's database and drops the orphans: those
 * whose owner (a run's lease) is provably gone at once, unmarked ones after 3 h. Exit 0 when
 * every orphan was dropped (or --dry-run), 1 when the server or a drop failed, 2 usage.
 */
std::function<int()> addSweepCommand(CLI::App& app, const core::RedactorPtr& redactor);

}  // namespace alembic_sidecar::cli
