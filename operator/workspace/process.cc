#include "workspace/process.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <mutex>
#include <thread>

#include "core/reasons.h"

extern char** environ;

namespace alembic_sidecar::workspace {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kKillGrace = std::chrono::seconds(2);
// After the direct child exits, a grandchild may still hold the pipes open (a daemon it
// started); stop reading once nothing has arrived for this long.
constexpr auto kDrainAfterExit = std::chrono::milliseconds(200);

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
  void reset(int fd = -1) {
    if (fd_ >= 0) {
      ::close(fd_);
    }
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

struct Pipe {
  Fd read;
  Fd write;
};

core::Result<Pipe> makePipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return core::Error::retryable(core::reason::kInternalError,
                                  std::string("pipe2 failed: ") + strerror(errno));
  }
  return Pipe{Fd(fds[0]), Fd(fds[1])};
}

/** argv/envp as the C arrays execve wants; the strings are owned here. */
struct ExecImage {
  std::string path;
  std::vector<std::string> argvStore;
  std::vector<std::string> envStore;
  std::vector<char*> argv;
  std::vector<char*> envp;
};

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

/** In the child after fork: only async-signal-safe calls. Never returns. */
[[noreturn]] void execChild(const ExecImage& image, const ProcessSpec& spec, int errorFd) {
  auto fail = [errorFd](int code) {
    int err = errno;
    int payload[2] = {code, err};
    ssize_t ignored = ::write(errorFd, payload, sizeof(payload));
    (void)ignored;
    ::_exit(127);
  };
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  ::signal(SIGPIPE, SIG_DFL);
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

std::string describeExecFailure(int code, int err, const ProcessSpec& spec) {
  const char* what = code == 1   ? "cannot enter working directory "
                     : code == 4 ? "cannot execute "
                     : code == 5 ? "cannot open the log file for "
                                 : "cannot switch user for ";
  std::string subject = code == 1 ? spec.cwd : spec.argv.front();
  return std::string(what) + subject + ": " + strerror(err);
}

/** Reads the child's exec-failure report; returns an error if exec failed. */
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

}  // namespace

std::optional<std::string> findExecutable(const std::string& name, const std::string& path) {
  if (name.find('/') != std::string::npos) {
    return ::access(name.c_str(), X_OK) == 0 ? std::optional<std::string>(name) : std::nullopt;
  }
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) {
      end = path.size();
    }
    // An empty PATH entry means the current directory.
    std::filesystem::path dir = end > start ? path.substr(start, end - start) : std::string(1, '.');
    std::string candidate = (dir / name).string();
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    start = end + 1;
  }
  return std::nullopt;
}

core::Result<ProcessResult> runProcess(const ProcessSpec& spec) {
  ignoreSigpipeOnce();
  if (spec.cancelled && spec.cancelled()) {
    return core::Error::terminal(core::reason::kCancelled,
                                 "cancelled before " + spec.argv.front() + " started");
  }
  auto image = buildImage(spec);
  if (!image) {
    return image.error();
  }
  auto in = makePipe();
  auto out = makePipe();
  auto err = makePipe();
  auto errorPipe = makePipe();
  if (!in || !out || !err || !errorPipe) {
    return core::Error::retryable(core::reason::kInternalError, "cannot create pipes");
  }

  pid_t pid = ::fork();
  if (pid < 0) {
    return core::Error::retryable(core::reason::kInternalError,
                                  std::string("fork failed: ") + strerror(errno));
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    ::dup2(in->read.get(), STDIN_FILENO);
    ::dup2(out->write.get(), STDOUT_FILENO);
    ::dup2(err->write.get(), STDERR_FILENO);
    execChild(*image, spec, errorPipe->write.get());
  }
  ::setpgid(pid, pid);  // also from the parent, so killGroup works without a race
  in->read.reset();
  out->write.reset();
  err->write.reset();
  errorPipe->write.reset();
  if (auto status = checkExecFailure(errorPipe->read, spec); !status) {
    int ignored;
    ::waitpid(pid, &ignored, 0);
    return status.error();
  }

  ProcessResult result;
  Fd stdinFd = std::move(in->write);
  Fd stdoutFd = std::move(out->read);
  Fd stderrFd = std::move(err->read);
  for (int fd : {stdinFd.get(), stdoutFd.get(), stderrFd.get()}) {
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  }
  size_t stdinOffset = 0;
  if (spec.stdinData.empty()) {
    stdinFd.reset();
  }

  const auto deadline = Clock::now() + spec.timeout;
  bool exited = false;
  int waitStatus = 0;
  Clock::time_point lastData = Clock::now();
  char buffer[65536];

  auto appendCapped = [&](std::string& target, const char* data, size_t n) {
    size_t room = spec.maxOutputBytes > target.size() ? spec.maxOutputBytes - target.size() : 0;
    if (n > room) {
      result.truncated = true;
      n = room;
    }
    target.append(data, n);
  };

  while (stdoutFd.get() >= 0 || stderrFd.get() >= 0 || stdinFd.get() >= 0) {
    if (!exited && ::waitpid(pid, &waitStatus, WNOHANG) == pid) {
      exited = true;
      stdinFd.reset();
    }
    if (exited && Clock::now() - lastData > kDrainAfterExit) {
      break;
    }
    if (Clock::now() >= deadline) {
      result.timedOut = true;
      break;
    }
    if (!exited && spec.cancelled && spec.cancelled()) {
      result.cancelled = true;
      break;
    }
    std::vector<pollfd> fds;
    if (stdinFd.get() >= 0) {
      fds.push_back({stdinFd.get(), POLLOUT, 0});
    }
    if (stdoutFd.get() >= 0) {
      fds.push_back({stdoutFd.get(), POLLIN, 0});
    }
    if (stderrFd.get() >= 0) {
      fds.push_back({stderrFd.get(), POLLIN, 0});
    }
    int ready = ::poll(fds.data(), fds.size(), 50);
    if (ready < 0 && errno != EINTR) {
      break;
    }
    for (const auto& p : fds) {
      if (p.revents == 0) {
        continue;
      }
      if (p.fd == stdinFd.get()) {
        ssize_t n = ::write(p.fd, spec.stdinData.data() + stdinOffset,
                            spec.stdinData.size() - stdinOffset);
        if (n > 0) {
          stdinOffset += static_cast<size_t>(n);
        }
        if ((n < 0 && errno != EAGAIN) || stdinOffset >= spec.stdinData.size()) {
          stdinFd.reset();
        }
        continue;
      }
      ssize_t n = ::read(p.fd, buffer, sizeof(buffer));
      if (n > 0) {
        lastData = Clock::now();
        appendCapped(p.fd == stdoutFd.get() ? result.out : result.err, buffer,
                     static_cast<size_t>(n));
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        (p.fd == stdoutFd.get() ? stdoutFd : stderrFd).reset();
      }
    }
  }

  if (!exited) {
    if (result.timedOut || result.cancelled) {
      killGroup(pid, SIGTERM);
      const auto killDeadline = Clock::now() + kKillGrace;
      while (Clock::now() < killDeadline && ::waitpid(pid, &waitStatus, WNOHANG) != pid) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      if (::waitpid(pid, &waitStatus, WNOHANG) != pid) {
        killGroup(pid, SIGKILL);
      } else {
        exited = true;
      }
    }
    if (!exited) {
      while (::waitpid(pid, &waitStatus, 0) < 0 && errno == EINTR) {
      }
    }
  }
  result.exitCode = decodeStatus(waitStatus);
  return result;
}

core::Result<pid_t> spawnDetached(const ProcessSpec& spec, const std::string& logFile) {
  auto image = buildImage(spec);
  if (!image) {
    return image.error();
  }
  auto pidPipe = makePipe();
  auto errorPipe = makePipe();
  if (!pidPipe || !errorPipe) {
    return core::Error::retryable(core::reason::kInternalError, "cannot create pipes");
  }
  pid_t first = ::fork();
  if (first < 0) {
    return core::Error::retryable(core::reason::kInternalError,
                                  std::string("fork failed: ") + strerror(errno));
  }
  if (first == 0) {
    ::setsid();
    pid_t second = ::fork();
    if (second != 0) {
      ssize_t ignored = ::write(pidPipe->write.get(), &second, sizeof(second));
      (void)ignored;
      ::_exit(second > 0 ? 0 : 1);
    }
    int devnull = ::open("/dev/null", O_RDONLY);
    int log = ::open(logFile.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (devnull < 0 || log < 0) {
      int payload[2] = {5, errno};
      ssize_t ignored = ::write(errorPipe->write.get(), payload, sizeof(payload));
      (void)ignored;
      ::_exit(127);
    }
    if (spec.uid && ::getuid() == 0) {
      int ignored = ::fchown(log, *spec.uid, spec.gid.value_or(static_cast<gid_t>(-1)));
      (void)ignored;
    }
    ::dup2(devnull, STDIN_FILENO);
    ::dup2(log, STDOUT_FILENO);
    ::dup2(log, STDERR_FILENO);
    execChild(*image, spec, errorPipe->write.get());
  }
  pidPipe->write.reset();
  errorPipe->write.reset();
  int status = 0;
  while (::waitpid(first, &status, 0) < 0 && errno == EINTR) {
  }
  pid_t daemon = -1;
  if (::read(pidPipe->read.get(), &daemon, sizeof(daemon)) != sizeof(daemon) || daemon <= 0) {
    return core::Error::retryable(core::reason::kInternalError, "cannot start daemon");
  }
  if (auto failed = checkExecFailure(errorPipe->read, spec); !failed) {
    return failed.error();
  }
  return daemon;
}

}  // namespace alembic_sidecar::workspace
