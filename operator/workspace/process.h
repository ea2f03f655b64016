#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"

namespace alembic_sidecar::workspace {

/** A child process to run from an argv vector. Nothing here ever goes through a shell. */
struct ProcessSpec {
  std::vector<std::string> argv;
  /** Added to (and overriding) the parent's environment, unless clearEnv. */
  std::map<std::string, std::string> env;
  bool clearEnv = false;
  std::string cwd;  // empty: the parent's
  std::string stdinData;
  std::chrono::milliseconds timeout{std::chrono::minutes(10)};
  /** When set (and the parent is root), the child drops to this user and group. */
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
  /** Bytes kept per output stream; the rest is dropped and `truncated` is set. */
  size_t maxOutputBytes = 64 * 1024 * 1024;
  /**
   * Cancellation hook, polled before the child starts and about every 50 ms while it runs.
   * Once it returns true the child's whole process group is stopped (SIGTERM, SIGKILL after
   * a grace period of 2 s) and runProcess returns with `cancelled` set. Called on the
   * caller's thread; must be cheap (e.g. read an atomic flag). Empty: never cancelled.
   */
  std::function<bool()> cancelled;
};

struct ProcessResult {
  int exitCode = -1;  // 128 + signal when killed by a signal
  bool timedOut = false;
  /** The cancellation hook fired: the process group was stopped (exitCode says how). */
  bool cancelled = false;
  bool truncated = false;
  std::string out;
  std::string err;
};

/**
 * Runs the process to completion, feeding stdinData and collecting both output streams.
 * The child gets its own process group; on timeout or cancellation the whole group is
 * terminated (SIGTERM, then SIGKILL after a grace period). Returns an error only when the
 * process could not be started (e.g. executable not found: reason WorkspaceUnavailable; the
 * hook had already fired: reason Cancelled).
 */
core::Result<ProcessResult> runProcess(const ProcessSpec& spec);

/**
 * Starts a long-lived daemon that outlives this process (double fork, new session,
 * stdin from /dev/null, stdout+stderr appended to logFile). Returns the daemon's pid.
 */
core::Result<pid_t> spawnDetached(const ProcessSpec& spec, const std::string& logFile);

/** Finds an executable: a path with '/' is checked as is, otherwise searched in PATH. */
std::optional<std::string> findExecutable(const std::string& name, const std::string& path);

}  // namespace alembic_sidecar::workspace
