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
#include "workspace/child_process.h"

namespace alembic_sidecar::workspace {
using child::buildImage;
using child::checkExecFailure;
using child::decodeStatus;
using child::execChild;
using child::Fd;
using child::ignoreSigpipeOnce;
using child::killGroup;
using child::makePipe;

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kKillGrace = std::chrono::seconds(2);
// After the direct child exits, a grandchild may still hold the pipes open (a daemon it
// started); stop reading once nothing has arrived for this long.
constexpr auto kDrainAfterExit = std::chrono::milliseconds(200);

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
    execChild(*image, spec, errorPipe->write.get(), /*dieWithParent=*/true);
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
    execChild(*image, spec, errorPipe->write.get(), /*dieWithParent=*/false);
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
