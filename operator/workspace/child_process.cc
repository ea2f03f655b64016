#include "workspace/child_process.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <mutex>

#include "core/reasons.h"

extern char** environ;

namespace alembic_sidecar::workspace::child {
namespace {

/** The lowest descriptor execChild keeps open besides 0-2: the exec-failure pipe. */
constexpr int kErrorFd = 3;

/** Closes every descriptor from `first` on (close_range, or one by one on old kernels). */
void closeFrom(int first) {
  if (::close_range(static_cast<unsigned>(first), ~0U, 0) == 0) {
    return;
  }
  long max = ::sysconf(_SC_OPEN_MAX);
  for (long fd = first; fd < (max > 0 && max < 65536 ? max : 65536); ++fd) {
    ::close(static_cast<int>(fd));
  }
}

}  // namespace

void Fd::reset(int fd) {
  if (fd_ >= 0) {
    ::close(fd_);
  }
  fd_ = fd;
}

core::Result<Pipe> makePipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return core::Error::retryable(core::reason::kInternalError,
                                  std::string("pipe2 failed: ") + strerror(errno));
  }
  return Pipe{Fd(fds[0]), Fd(fds[1])};
}

core::Result<ExecImage> buildImage(const ProcessSpec& spec) {
  if (spec.argv.empty() || spec.argv.front().empty()) {
    return core::Error::terminal(core::reason::kInternalError, "empty command line");
  }
  std::map<std::string, std::string> env;
  if (!spec.clearEnv) {
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
      std::string entry(*e);
      auto eq = entry.find('=');
      if (eq != std::string::npos) {
        env[entry.substr(0, eq)] = entry.substr(eq + 1);
      }
    }
  }
  for (const auto& [k, v] : spec.env) {
    env[k] = v;
  }
  std::string searchPath = env.count("PATH") ? env["PATH"] : "/usr/local/bin:/usr/bin:/bin";
  auto path = findExecutable(spec.argv.front(), searchPath);
  if (!path) {
    return core::Error::terminal(core::reason::kWorkspaceUnavailable,
                                 "executable not found: " + spec.argv.front());
  }
  ExecImage image;
  image.path = *path;
  image.argvStore = spec.argv;
  for (const auto& [k, v] : env) {
    image.envStore.push_back(k + "=" + v);
  }
  for (auto& s : image.argvStore) {
    image.argv.push_back(s.data());
  }
  image.argv.push_back(nullptr);
  for (auto& s : image.envStore) {
    image.envp.push_back(s.data());
  }
  image.envp.push_back(nullptr);
  return image;
}

[[noreturn]] void execChild(const ExecImage& image, const ProcessSpec& spec, int errorFd,
                            bool dieWithParent) {
  // The failure pipe moves to fd 3 so that everything above it can be closed at once.
  if (errorFd != kErrorFd) {
    ::dup3(errorFd, kErrorFd, O_CLOEXEC);
    errorFd = kErrorFd;
  }
  auto fail = [errorFd](int code) {
    int err = errno;
    int payload[2] = {code, err};
    ssize_t ignored = ::write(errorFd, payload, sizeof(payload));
    (void)ignored;
    ::_exit(127);
  };
  closeFrom(kErrorFd + 1);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  ::signal(SIGPIPE, SIG_DFL);
  ::signal(SIGINT, SIG_DFL);
  ::signal(SIGTERM, SIG_DFL);
  if (dieWithParent) {
    // The forking thread stays in runProcess/ProcessSession for the child's lifetime, so
    // the signal comes when the process holding it dies (kill -9 included).
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  }
  if (!spec.cwd.empty() && ::chdir(spec.cwd.c_str()) != 0) {
    fail(1);
  }
  if (spec.gid && ::getuid() == 0) {
    if (::setgroups(0, nullptr) != 0 || ::setgid(*spec.gid) != 0) {
      fail(2);
    }
  }
  if (spec.uid && ::getuid() == 0 && ::setuid(*spec.uid) != 0) {
    fail(3);
  }
  ::execve(image.path.c_str(), image.argv.data(), image.envp.data());
  fail(4);
  ::_exit(127);
}

namespace {

std::string describeExecFailure(int code, int err, const ProcessSpec& spec) {
  const char* what = code == 1   ? "cannot enter working directory "
                     : code == 4 ? "cannot execute "
                     : code == 5 ? "cannot open the log file for "
                                 : "cannot switch user for ";
  std::string subject = code == 1 ? spec.cwd : spec.argv.front();
  return std::string(what) + subject + ": " + strerror(err);
}

}  // namespace

core::Status checkExecFailure(Fd& errorRead, const ProcessSpec& spec) {
  int payload[2] = {0, 0};
  ssize_t n;
  do {
    n = ::read(errorRead.get(), payload, sizeof(payload));
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof(payload))) {
    return core::Error::terminal(core::reason::kWorkspaceUnavailable,
                                 describeExecFailure(payload[0], payload[1], spec));
  }
  return {};
}

void ignoreSigpipeOnce() {
  static std::once_flag once;
  std::call_once(once, [] { ::signal(SIGPIPE, SIG_IGN); });
}

int decodeStatus(int status) {
  if (WIFEXITED(status)) {
    return WEXITSTATUS(status);
  }
  if (WIFSIGNALED(status)) {
    return 128 + WTERMSIG(status);
  }
  return -1;
}

void killGroup(pid_t pid, int sig) {
  ::kill(-pid, sig);
  ::kill(pid, sig);
}

}  // namespace alembic_sidecar::workspace::child
