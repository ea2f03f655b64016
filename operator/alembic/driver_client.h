#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "alembic/driver.h"
#include "alembic/driver_launch.h"
#include "core/redactor.h"
#include "workspace/workspace.h"

namespace alembic_sidecar::alembic {

/** What a run's driver needs to know when it starts. */
struct DriverOptions {
  DriverLaunch launch;
  std::string configFile = "alembic.ini";
  /** The variable env.py reads the URL from (also offered as sqlalchemy.url). */
  std::string urlEnvVar = "DATABASE_URL";
  /** Held for the driver's lifetime (one run per project); empty: no lock. */
  std::string lockPath;
  std::chrono::seconds lockWait{0};
  /** Where new revisions are written until they are validated; empty: no staging. */
  std::string stagingDir;
  std::string runId;
  std::chrono::milliseconds startTimeout{std::chrono::minutes(2)};
};

/**
 * Starts the driver in `workspace` (a child process, or one pods/exec session): sends the
 * embedded modules, then `hello`. Errors: WorkspaceUnavailable (no interpreter, alembic not
 * importable), ProjectInvalid (no alembic.ini), ProjectLocked (another run holds the
 * project), UsageError (an --alembic-cmd the interpreter cannot be derived from), Timeout.
 * `cancelled` is polled while waiting for any answer; true kills the driver.
 */
core::Result<std::unique_ptr<Driver>> startDriver(workspace::Workspace& workspace,
                                                  const DriverOptions& options,
                                                  core::RedactorPtr redactor,
                                                  std::function<bool()> cancelled = {});

}  // namespace alembic_sidecar::alembic
