#pragma once

#include <optional>
#include <string>
#include <vector>

#include "alembic/revision_analysis.h"
#include "core/redactor.h"
#include "core/report.h"
#include "core/result.h"
#include "database/connection_url.h"
#include "workspace/workspace.h"

namespace alembic_sidecar::alembic {

/** What the models and env.py say, read by running env.py the way alembic does. */
struct InspectResult {
  std::string alembicVersion;
  std::optional<bool> compareType;  // env.py's context.configure(compare_type=...)
  std::vector<std::string> heads;
  std::vector<ModelEnum> enums;     // native enum types of the target metadata
  /** With diff: the operations autogenerate would write now. */
  std::vector<core::Operation> pendingOps;
  bool inSync = true;
};

/**
 * The Python helper: runs env.py through alembic's EnvironmentContext against the given
 * database, with a migration function that inspects instead of migrating (no file is
 * written, nothing is applied). `withDiff` also renders compare_metadata's result.
 */
std::string inspectScript();

/** Parses the helper's output (a marker line followed by JSON). Errors: AutogenerateFailed. */
core::Result<InspectResult> parseInspectOutput(const std::string& stdoutText,
                                               const std::string& stderrTail);

/** Runs the helper in the workspace with the URL in the environment. */
core::Result<InspectResult> runInspect(workspace::Workspace& ws,
                                       const std::vector<std::string>& python,
                                       const std::string& configFile,
                                       const std::string& urlEnvVar,
                                       const database::ConnectionInfo& db, bool withDiff,
                                       std::chrono::milliseconds timeout,
                                       const core::RedactorPtr& redactor);

/**
 * The interpreter that runs alembic: `uv run alembic` -> `uv run python`; a plain `alembic`
 * -> the interpreter of its shebang (found with `which` in the workspace); else `python3`.
 */
std::vector<std::string> pythonFor(workspace::Workspace& ws,
                                   const std::vector<std::string>& alembicCommand);

}  // namespace alembic_sidecar::alembic
