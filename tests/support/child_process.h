#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace alembic_sidecar::testing {

/**
 * A child process the test starts and controls (the sidecar): argv (no shell), extra
 * environment, stdout+stderr to a log file. Killed with SIGKILL on destruction if alive.
 */
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
               const std::string& logFile);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int sig);
  /** Waits for the exit; the exit code (128+signal when killed), nullopt on timeout. */
  std::optional<int> wait(std::chrono::milliseconds timeout);
  bool running();
  std::string log() const;

 private:
  pid_t pid_ = -1;
  std::optional<int> exitCode_;
  std::string logFile_;
};

}  // namespace alembic_sidecar::testing
