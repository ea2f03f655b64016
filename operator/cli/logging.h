#pragma once

#include "core/redactor.h"

namespace alembic_sidecar::cli {

enum class LogFormat { kText, kJson };

/**
 * Installs the default spdlog logger: stderr, every line scrubbed by `redactor` before it is
 * written. Level from ALEMBIC_SIDECAR_LOG_LEVEL (trace|debug|info|warn|error; default warn
 * for the CLI, info for the sidecar).
 */
void setUpLogging(const core::RedactorPtr& redactor, LogFormat format, const char* defaultLevel);

}  // namespace alembic_sidecar::cli
