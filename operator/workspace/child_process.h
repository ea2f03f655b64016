#pragma once

// Internal to workspace/: the fork/exec pieces shared by runProcess, spawnDetached and
// ProcessSession. Not part of any interface.

#include <sys/types.h>

#include <string>
#include <vector>

#include "core/result.h"
#include "workspace/process.h"

namespace alembic_sidecar::workspace::child {

/** Owns a file descriptor. */
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept {
    reset(other.release());
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }

  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

struct Pipe {
  Fd read;
  Fd write;
};

/** A close-on-exec pipe. */
core::Result<Pipe> makePipe();

/** argv/envp as the C arrays execve wants; the strings are owned here. */
struct ExecImage {
  std::string path;
  std::vector<std::string> argvStore;
  std::vector<std::string> envStore;
  std::vector<char*> argv;
  std::vector<char*> envp;
};

core::Result<ExecImage> buildImage(const ProcessSpec& spec);

/**
 * In the child after fork, with stdin/stdout/stderr already in place: resets signals,
 * closes every other inherited descriptor (the parent's sockets must not leak into the
 * application's env.py), arranges to be killed when the parent dies (unless detached),
 * enters cwd, drops privileges, execs. Only async-signal-safe calls. Never returns; a
 * failure is reported as two ints on errorFd.
 */
[[noreturn]] void execChild(const ExecImage& image, const ProcessSpec& spec, int errorFd,
                            bool dieWithParent);

/** Reads the child's exec-failure report; an error if exec failed. */
core::Status checkExecFailure(Fd& errorRead, const ProcessSpec& spec);

/** Exit code from a wait status: the code, or 128 + signal. */
int decodeStatus(int status);

/** Signals the child's process group and the child itself. */
void killGroup(pid_t pid, int sig);

/** SIGPIPE ignored in this process, once (writes to a dead child's stdin fail with EPIPE). */
void ignoreSigpipeOnce();

}  // namespace alembic_sidecar::workspace::child
