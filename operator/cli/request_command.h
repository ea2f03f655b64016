#pragma once

#include <CLI/CLI.hpp>
#include <functional>

#include "core/redactor.h"

namespace alembic_sidecar::cli {

/**
 * `alembic-sidecar request --action revision -m MSG [--target-selector app=backend]
 * [--namespace NS] [--wait] [--timeout 900] [--json] [--report FORMAT[=PATH]]...
 * [--fail-on LEVEL]`: creates a MigrationRun and, with --wait, follows it with a watch,
 * printing each step, then the report (the reports built from its status); exit 0/1/3 (as
 * --fail-on says), 4 when the API (or the kubeconfig's exec plugin) cannot be used.
 */
std::function<int()> addRequestCommand(CLI::App& app, const core::RedactorPtr& redactor);

}  // namespace alembic_sidecar::cli
