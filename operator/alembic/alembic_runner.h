#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "core/redactor.h"
#include "database/connection_url.h"
#include "workspace/workspace.h"

namespace alembic_sidecar::alembic {

/** How to invoke alembic in the workspace. */
struct AlembicSettings {
  std::vector<std::string> command = {"alembic"};  // e.g. {"uv", "run", "alembic"}
  std::string configFile = "alembic.ini";
  /** The environment variable env.py reads the URL from. */
  std::string urlEnvVar = "DATABASE_URL";
  std::chrono::milliseconds timeout{std::chrono::minutes(5)};
};

/** The outcome of one alembic invocation, with output already scrubbed of secrets. */
struct AlembicRun {
  std::vector<std::string> args;  // the alembic arguments (after the command prefix)
  int exitCode = -1;
  bool timedOut = false;
  std::string out;
  std::string err;
  int64_t durationMs = 0;

  bool succeeded() const { return exitCode == 0 && !timedOut; }
  /** The last lines of stderr (or stdout), for messages. */
  std::string tail(size_t maxLines = 12) const;
};

/**
 * Runs alembic subcommands in a workspace against a given database. Every invocation is an
 * argv vector: `command... -c <config> <subcommand> <args>`; the URL travels in the
 * environment (never on the command line) and is masked in all output.
 */
class AlembicRunner {
 public:
  AlembicRunner(workspace::Workspace& workspace, AlembicSettings settings,
                core::RedactorPtr redactor);

  core::Result<AlembicRun> run(const std::vector<std::string>& args,
                               const database::ConnectionInfo& db);
  core::Result<AlembicRun> upgrade(const std::string& target, const database::ConnectionInfo& db);
  core::Result<AlembicRun> downgrade(const std::string& target,
                                     const database::ConnectionInfo& db);
  /** `revision --autogenerate -m <message>`: the message is one argv element, verbatim. */
  core::Result<AlembicRun> autogenerate(const std::string& message,
                                        const database::ConnectionInfo& db);
  /** `heads`: revision ids of the current heads (needs no database). */
  core::Result<std::vector<std::string>> heads(const database::ConnectionInfo& db);

  const AlembicSettings& settings() const { return settings_; }
  /** Bounds every later invocation (the run's remaining time). */
  void setTimeout(std::chrono::milliseconds timeout) { settings_.timeout = timeout; }

 private:
  workspace::Workspace& workspace_;
  AlembicSettings settings_;
  core::RedactorPtr redactor_;
};

/** The path in "Generating /abs/path/file.py ...  done" lines of alembic's output. */
std::string generatedPathFromOutput(const std::string& output);

/** Revision ids in `alembic heads` output ("abc123 (head)" lines). */
std::vector<std::string> parseHeads(const std::string& output);

}  // namespace alembic_sidecar::alembic
