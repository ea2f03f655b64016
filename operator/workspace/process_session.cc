#include "workspace/process_session.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "core/reasons.h"
#include "workspace/child_process.h"

namespace alembic_sidecar::workspace {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kStderrKept = 16 * 1024;
constexpr size_t kMaxLine = 256 * 1024 * 1024;

class ProcessSession final : public Session {
 public:
  ProcessSession(pid_t pid, child::Fd in, child::Fd out, child::Fd err)
      : pid_(pid), in_(std::move(in)), out_(std::move(out)), err_(std::move(err)) {
    reader_ = std::thread([this] { readLoop(); });
  }

  ~ProcessSession() override { close(std::chrono::milliseconds(0)); }

  core::Status write(const std::string& data) override {
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n = ::write(in_.get(), data.data() + done, data.size() - done);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        return core::Error::retryable(core::reason::kWorkspaceUnavailable,
                                      "the driver process no longer reads its input (" +
                                          std::string(strerror(errno)) + ")" + endedText());
      }
      done += static_cast<size_t>(n);
    }
    return {};
  }

  core::Result<std::optional<std::string>> readLine(Clock::time_point deadline) override {
    std::unique_lock lock(mutex_);
    cv_.wait_until(lock, deadline, [this] { return !lines_.empty() || ended_; });
    if (!lines_.empty()) {
      std::string line = std::move(lines_.front());
      lines_.pop_front();
      return std::optional<std::string>(std::move(line));
    }
    if (ended_) {
      return core::Error::retryable(core::reason::kWorkspaceUnavailable,
                                    "the driver process ended" + endedTextLocked());
    }
    return std::optional<std::string>();
  }

  std::string stderrTail() override {
    std::lock_guard lock(mutex_);
    return stderr_;
  }

  void close(std::chrono::milliseconds grace) override {
    std::lock_guard closing(closeMutex_);
    if (closed_) {
      return;
    }
    closed_ = true;
    in_.reset();  // end of input: the driver exits by itself
    const auto deadline = Clock::now() + grace;
    while (Clock::now() < deadline && !reaped()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!reaped()) {
      child::killGroup(pid_, SIGKILL);
      int status = 0;
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      std::lock_guard lock(mutex_);
      exitCode_ = child::decodeStatus(status);
    }
    // Anything the child started in its group goes with it.
    child::killGroup(pid_, SIGKILL);
    stop_ = true;
    if (reader_.joinable()) {
      reader_.join();
    }
  }

 private:
  /** Reaps the child if it exited; true once it has. */
  bool reaped() {
    std::lock_guard lock(mutex_);
    if (exitCode_) {
      return true;
    }
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      exitCode_ = child::decodeStatus(status);
      return true;
    }
    return false;
  }

  std::string endedText() {
    std::lock_guard lock(mutex_);
    return endedTextLocked();
  }

  std::string endedTextLocked() const {
    std::string text;
    if (exitCode_) {
      text += " with exit code " + std::to_string(*exitCode_);
    }
    if (!stderr_.empty()) {
      text += "; its last output:\n" + stderr_;
    }
    return text;
  }

  void readLoop() {
    ::fcntl(out_.get(), F_SETFL, ::fcntl(out_.get(), F_GETFL) | O_NONBLOCK);
    ::fcntl(err_.get(), F_SETFL, ::fcntl(err_.get(), F_GETFL) | O_NONBLOCK);
    std::string partial;
    char buffer[65536];
    bool outOpen = true;
    bool errOpen = true;
    while ((outOpen || errOpen) && !stop_) {
      pollfd fds[2] = {{outOpen ? out_.get() : -1, POLLIN, 0},
                       {errOpen ? err_.get() : -1, POLLIN, 0}};
      int ready = ::poll(fds, 2, 100);
      if (ready < 0 && errno != EINTR) {
        break;
      }
      if (ready <= 0) {
        continue;
      }
      if (fds[0].revents != 0) {
        ssize_t n = ::read(out_.get(), buffer, sizeof(buffer));
        if (n > 0) {
          partial.append(buffer, static_cast<size_t>(n));
          takeLines(partial);
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
          outOpen = false;
        }
      }
      if (fds[1].revents != 0) {
        ssize_t n = ::read(err_.get(), buffer, sizeof(buffer));
        if (n > 0) {
          std::lock_guard lock(mutex_);
          stderr_.append(buffer, static_cast<size_t>(n));
          if (stderr_.size() > kStderrKept) {
            stderr_.erase(0, stderr_.size() - kStderrKept);
          }
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
          errOpen = false;
        }
      }
    }
    reaped();
    {
      std::lock_guard lock(mutex_);
      ended_ = true;
    }
    cv_.notify_all();
  }

  void takeLines(std::string& partial) {
    size_t start = 0;
    std::vector<std::string> found;
    for (size_t nl; (nl = partial.find('\n', start)) != std::string::npos; start = nl + 1) {
      found.push_back(partial.substr(start, nl - start));
    }
    partial.erase(0, start);
    if (partial.size() > kMaxLine) {
      partial.clear();  // a runaway line is dropped rather than exhausting memory
    }
    if (!found.empty()) {
      std::lock_guard lock(mutex_);
      for (auto& line : found) {
        lines_.push_back(std::move(line));
      }
      cv_.notify_all();
    }
  }

  pid_t pid_;
  child::Fd in_;
  child::Fd out_;
  child::Fd err_;
  std::thread reader_;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::string> lines_;
  std::string stderr_;
  bool ended_ = false;
  std::optional<int> exitCode_;
  std::mutex closeMutex_;
  bool closed_ = false;
};

}  // namespace

core::Result<std::unique_ptr<Session>> startProcessSession(const ProcessSpec& spec) {
  child::ignoreSigpipeOnce();
  auto image = child::buildImage(spec);
  if (!image) {
    return image.error();
  }
  auto in = child::makePipe();
  auto out = child::makePipe();
  auto err = child::makePipe();
  auto errorPipe = child::makePipe();
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
    child::execChild(*image, spec, errorPipe->write.get(), /*dieWithParent=*/true);
  }
  ::setpgid(pid, pid);
  in->read.reset();
  out->write.reset();
  err->write.reset();
  errorPipe->write.reset();
  if (auto status = child::checkExecFailure(errorPipe->read, spec); !status) {
    int ignored;
    ::waitpid(pid, &ignored, 0);
    return status.error();
  }
  return std::unique_ptr<Session>(std::make_unique<ProcessSession>(
      pid, std::move(in->write), std::move(out->read), std::move(err->read)));
}

}  // namespace alembic_sidecar::workspace
