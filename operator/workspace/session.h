#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "core/result.h"

namespace alembic_sidecar::workspace {

/**
 * A long-lived command in a workspace, spoken to over its stdin and stdout: a local child
 * process, or one pods/exec session. Used for the alembic driver, which answers one line
 * per request. Not thread-safe: one caller at a time.
 */
class Session {
 public:
  virtual ~Session() = default;

  /** Writes to the command's stdin. */
  virtual core::Status write(const std::string& data) = 0;
  /**
   * The next line the command wrote to stdout, without its newline. nullopt: `deadline`
   * passed first. An error: the command ended before writing one (the message says how, with
   * the end of its stderr).
   */
  virtual core::Result<std::optional<std::string>> readLine(
      std::chrono::steady_clock::time_point deadline) = 0;
  /** The end of what the command wrote to stderr so far (at most a few KiB). */
  virtual std::string stderrTail() = 0;
  /** Closes stdin, gives the command `grace` to exit, then kills it. Idempotent. */
  virtual void close(std::chrono::milliseconds grace) = 0;
};

}  // namespace alembic_sidecar::workspace
