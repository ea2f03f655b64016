#pragma once

#include <signal.h>

#include <atomic>
#include <functional>
#include <thread>

namespace alembic_sidecar::cli {

/**
 * Turns SIGINT and SIGTERM into a flag the run polls (PipelineDeps::cancelled between
 * steps, ProcessSpec::cancelled while a command runs). The constructor blocks both signals
 * in the calling thread, so every thread started afterwards has them blocked too, and a
 * watcher thread reads them from a signalfd: no work happens in a signal handler. Create it
 * before any other thread exists (first thing in a subcommand). Children start with an empty
 * signal mask (runProcess resets it), so they can still be stopped.
 *
 * The first signal is remembered and announced on stderr; later ones are noted and ignored
 * (the cleanup that follows is bounded: children get SIGKILL 2 s after SIGTERM).
 */
class SignalCancellation {
 public:
  SignalCancellation();
  /** Stops the watcher and restores the previous signal mask. */
  ~SignalCancellation();
  SignalCancellation(const SignalCancellation&) = delete;
  SignalCancellation& operator=(const SignalCancellation&) = delete;

  /** The first signal received (SIGINT or SIGTERM), 0 while none. */
  int received() const { return received_.load(); }
  bool cancelled() const { return received() != 0; }
  /** A cancellation hook reading the flag; valid while this object lives. */
  std::function<bool()> hook() const;
  /** The exit code a shell expects after the signal: 130 (SIGINT), 143 (SIGTERM); 0 if none. */
  int exitCode() const;

 private:
  void watch();

  sigset_t signals_{};
  sigset_t previousMask_{};
  int signalFd_ = -1;
  int wakeFd_ = -1;
  std::atomic<int> received_{0};
  std::thread watcher_;
};

}  // namespace alembic_sidecar::cli
