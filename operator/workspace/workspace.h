#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "workspace/session.h"

namespace alembic_sidecar::workspace {

/**
 * A command to run in a workspace. argv is executed directly (never through a shell).
 * `env` is added to (and overrides) the workspace's own environment; its values may be
 * secrets, so implementations must not put them on a command line or in a log.
 */
struct Command {
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;
  std::string stdinData;
  /** Relative to the workspace root; empty means the root. */
  std::string cwd;
  std::chrono::milliseconds timeout{std::chrono::minutes(10)};
};

struct CommandOutput {
  int exitCode = -1;
  std::string out;
  std::string err;
  bool timedOut = false;

  bool succeeded() const { return exitCode == 0 && !timedOut; }
};

struct DirEntry {
  std::string name;
  bool isDirectory = false;
};

/** Which files readTree() returns. */
struct TreeOptions {
  std::vector<std::string> suffixes = {".py"};
  /** Directory names never entered (virtualenvs, caches, ...). */
  std::vector<std::string> skipDirs;
  int maxDepth = 8;
  /** The whole answer stops growing past this many bytes of file content. */
  size_t maxBytes = 32 * 1024 * 1024;
};

/** Relative path (from the workspace root) -> file content. */
using FileMap = std::map<std::string, std::string>;

/**
 * Where the application's code lives and where alembic runs: the local file system, or
 * a container reached through pods/exec. Paths are relative to root() unless absolute.
 */
class Workspace {
 public:
  virtual ~Workspace() = default;

  /** Runs argv in the workspace. An error means the command could not be started at all. */
  virtual core::Result<CommandOutput> run(const Command& cmd) = 0;
  /** Returns the file's bytes. */
  virtual core::Result<std::string> readFile(const std::string& path) = 0;
  /** Lists a directory (no "." or ".."), sorted by name. */
  virtual core::Result<std::vector<DirEntry>> listDir(const std::string& path) = 0;
  virtual core::Status removeFile(const std::string& path) = 0;
  virtual bool exists(const std::string& path) = 0;
  /**
   * Every file under `dir` matching the options, read in one go. The default walks with
   * listDir/readFile; a remote workspace overrides it to make one round trip.
   */
  virtual core::Result<FileMap> readTree(const std::string& dir, const TreeOptions& options);
  /**
   * Starts argv as a long-lived session (stdin/stdout stay open); `cmd.env` and `cmd.cwd`
   * apply where the workspace supports them, `cmd.timeout` does not (the caller bounds
   * each exchange). The default says sessions are not supported.
   */
  virtual core::Result<std::unique_ptr<Session>> start(const Command& cmd);
  /** The project directory, as the workspace sees it. */
  virtual std::string root() const = 0;
  /** A short description for messages, e.g. "local /src/app" or "pod ns/app-1 container app". */
  virtual std::string describe() const = 0;
};

}  // namespace alembic_sidecar::workspace
