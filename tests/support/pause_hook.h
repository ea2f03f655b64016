#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>

#include "support/example_app.h"

namespace alembic_sidecar::testing {

/**
 * Makes the example app's env.py stop inside one alembic command, so a test can interrupt a
 * run at a known point. With TEST_PAUSE_ON=<point> and TEST_PAUSE_DIR=<dir> in the
 * environment, env.py writes "<pid> <pgid>" to <dir>/paused when it reaches the point and
 * then sleeps until <dir>/resume exists (at most 120 s). A point is
 *
 *   <command>[-sql][#<n>][:after]
 *
 * - command: upgrade, downgrade or revision, from alembic's own command options (or argv),
 *   so helpers that load env.py for other reasons (models, compare) are never counted;
 * - -sql: the offline (`--sql`) run of the command instead of an online one;
 * - #n: the n-th run of that command in the process tree that shares <dir> (default 1);
 * - :after: at the end of env.py (the migrations ran and were committed, the engine is
 *   disposed) instead of at the start (before any connection).
 *
 * Only the first point reached pauses (the marker stays), so a restarted run goes through.
 */
void installPauseHook(ExampleApp& app);

/** Where the paused alembic process is. */
struct PausedProcess {
  /** The process running env.py: the driver's child for the step. */
  pid_t pid = 0;
  pid_t processGroup = 0;
  /** Its parent: the run's driver, which holds the project lock. */
  pid_t parentPid = 0;
};

/** Waits for <dir>/paused; nullopt on timeout. */
std::optional<PausedProcess> waitForPause(const std::string& dir, std::chrono::seconds timeout);

/** Lets a paused env.py go on (creates <dir>/resume). */
void resumePaused(const std::string& dir);

/** Running and not a zombie (a process that only waits to be reaped runs nothing). */
bool processRunning(pid_t pid);

}  // namespace alembic_sidecar::testing
