#pragma once

#include <CLI/CLI.hpp>
#include <functional>

#include "core/redactor.h"

namespace alembic_sidecar::cli {

/** `alembic-sidecar sidecar ...`: the in-cluster controller. */
std::function<int()> addSidecarCommand(CLI::App& app, const core::RedactorPtr& redactor);

}  // namespace alembic_sidecar::cli
