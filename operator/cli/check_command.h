#pragma once

#include <CLI/CLI.hpp>
#include <functional>

#include "core/redactor.h"

namespace alembic_sidecar::cli {

/**
 * `alembic-sidecar check [--project DIR] [--database-url URL] [--roundtrip-last N] [--json]
 * [--report FORMAT[=PATH]]... [--fail-on LEVEL]`: for CI. On a scratch database: upgrade head,
 * compare the models with the migrations (no file written), lint every revision, round-trip
 * the last N. Exit codes as for revision.
 */
std::function<int()> addCheckCommand(CLI::App& app, const core::RedactorPtr& redactor);

/** `alembic-sidecar upgrade`: alembic upgrade head on the app's database, with the report. */
std::function<int()> addUpgradeCommand(CLI::App& app, const core::RedactorPtr& redactor);

}  // namespace alembic_sidecar::cli
