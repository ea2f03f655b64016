#pragma once

#include <string>
#include <vector>

#include "core/result.h"

namespace alembic_sidecar::alembic {

/** How the user runs alembic, from which the driver's interpreter is derived. */
struct DriverLaunch {
  /** --alembic-cmd: `alembic`, `python -m alembic`, `uv run alembic`, a path... */
  std::vector<std::string> alembicCommand = {"alembic"};
  /** --python: when set, the interpreter to use as is. */
  std::vector<std::string> python;
  /** The project directory as the workspace sees it (empty: the command's cwd). */
  std::string root;
  /** The interpreter that reads a bare `alembic`'s shebang and re-executes the right one. */
  std::string bootstrapPython = "python3";
};

/**
 * The argv that starts the driver in the application's interpreter:
 * - `--python P...`                → P... -c BOOT
 * - `X... -m alembic`              → X... -c BOOT
 * - `uv run alembic` (any prefix)  → uv run python -c BOOT
 * - `alembic` or `/path/alembic`   → python3 -c RESOLVE ROOT alembic: RESOLVE reads the
 *   script's shebang (including pip's `#!/bin/sh` trampoline) and execs that interpreter.
 * BOOT reads the driver's modules from the first stdin line and runs it.
 */
core::Result<std::vector<std::string>> driverCommand(const DriverLaunch& launch);

/** The small program every driver starts with (driver/bootstrap.py; exposed for tests). */
const std::string& driverBootstrap();

/** The line protocol's version, checked against the driver's `hello` answer. */
inline constexpr int kDriverProtocol = 2;

/**
 * What the bootstrap reads first on stdin: the header line naming `entry` (module:function)
 * and the embedded package. `alembic_sidecar_driver.server:main` is the driver,
 * `alembic_sidecar_driver.files:serve_once` the exec workspace's one-shot file launcher.
 */
std::string driverPreamble(const std::string& entry = "alembic_sidecar_driver.server:main");

/** The exec workspace's launcher: `python -c program`, fed `preamble` and one request. */
struct FileLauncher {
  std::string program;
  std::string preamble;
};
/** The driver's bootstrap and package, entering at files.serve_once. */
FileLauncher fileLauncher();

}  // namespace alembic_sidecar::alembic
