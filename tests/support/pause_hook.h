#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>

#include "support/example_app.h"

namespace alembic_sidecar::testing {

/**
 * Makes the example app's env.py stop inside one alembic command, so a test can interrupt a
 * run at a known point: with TEST_PAUSE_ON=<upgrade|downgrade|revision> and TEST_PAUSE_DIR=<dir>
 * in the environment, the first online run of that command writes "<pid> <pgid>" to
 * <dir>/paused and sleeps 120 s before touching the database. The name comes from alembic's
 * own command options (or argv), so helpers that load env.py are not affected.
 */
void installPauseHook(ExampleApp& app);

/** Where the paused alembic process is. */
struct PausedProcess {
  pid_t pid = 0;
  pid_t processGroup = 0;
};

/** Waits for <dir>/paused; nullopt on timeout. */
std::optional<PausedProcess> waitForPause(const std::string& dir, std::chrono::seconds timeout);

/** Running and not a zombie (a process that only waits to be reaped runs nothing). */
bool processRunning(pid_t pid);

}  // namespace alembic_sidecar::testing
