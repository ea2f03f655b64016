#include "cli/signals.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstdint>
#include <string>

namespace alembic_sidecar::cli {
namespace {

void say(const std::string& line) {
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace

SignalCancellation::SignalCancellation() {
  sigemptyset(&signals_);
  sigaddset(&signals_, SIGINT);
  sigaddset(&signals_, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals_, &previousMask_);
  signalFd_ = ::signalfd(-1, &signals_, SFD_CLOEXEC | SFD_NONBLOCK);
  wakeFd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (signalFd_ < 0 || wakeFd_ < 0) {
    say(std::string("alembic-sidecar: cannot watch signals: ") + strerror(errno) + "\n");
    return;
  }
  watcher_ = std::thread([this] { watch(); });
}

SignalCancellation::~SignalCancellation() {
  if (watcher_.joinable()) {
    uint64_t one = 1;
    ssize_t ignored = ::write(wakeFd_, &one, sizeof(one));
    (void)ignored;
    watcher_.join();
  }
  // Signals that came in after the watcher stopped are consumed here, not re-delivered.
  if (signalFd_ >= 0) {
    signalfd_siginfo info{};
    while (::read(signalFd_, &info, sizeof(info)) == static_cast<ssize_t>(sizeof(info))) {
    }
    ::close(signalFd_);
  }
  if (wakeFd_ >= 0) {
    ::close(wakeFd_);
  }
  pthread_sigmask(SIG_SETMASK, &previousMask_, nullptr);
}

void SignalCancellation::watch() {
  pollfd fds[2] = {{signalFd_, POLLIN, 0}, {wakeFd_, POLLIN, 0}};
  while (true) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      return;
    }
    if (fds[1].revents != 0) {
      return;
    }
    signalfd_siginfo info{};
    while (::read(signalFd_, &info, sizeof(info)) == static_cast<ssize_t>(sizeof(info))) {
      int signal = static_cast<int>(info.ssi_signo);
      int none = 0;
      const char* name = signal == SIGINT ? "SIGINT" : "SIGTERM";
      if (received_.compare_exchange_strong(none, signal)) {
        say(std::string("alembic-sidecar: ") + name +
            " received: stopping alembic, dropping the scratch database, removing the "
            "unvalidated file\n");
      } else {
        say(std::string("alembic-sidecar: ") + name + " received again: already stopping\n");
      }
    }
  }
}

std::function<bool()> SignalCancellation::hook() const {
  return [this] { return cancelled(); };
}

int SignalCancellation::exitCode() const {
  int signal = received();
  return signal == 0 ? 0 : 128 + signal;
}

}  // namespace alembic_sidecar::cli
