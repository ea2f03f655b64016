#include "support/pause_hook.h"

#include <fstream>
#include <sstream>
#include <thread>

namespace alembic_sidecar::testing {
namespace {

constexpr char kHook[] = R"PY(
def _pause_for_test():
    import os, sys, time
    what, where = os.environ.get("TEST_PAUSE_ON"), os.environ.get("TEST_PAUSE_DIR")
    if not what or not where or context.is_offline_mode():
        return
    cmd = getattr(getattr(config, "cmd_opts", None), "cmd", None)
    name = cmd[0].__name__ if cmd else next(
        (a for a in sys.argv[1:] if a in ("upgrade", "downgrade", "revision")), "")
    marker = os.path.join(where, "paused")
    if name != what or os.path.exists(marker):
        return
    with open(marker + ".tmp", "w") as f:
        f.write(f"{os.getpid()} {os.getpgid(0)}\n")
    os.rename(marker + ".tmp", marker)
    time.sleep(120)


_pause_for_test()

)PY";

}  // namespace

void installPauseHook(ExampleApp& app) {
  app.replace("migrations/env.py", "\nif context.is_offline_mode():",
              std::string(kHook) + "\nif context.is_offline_mode():");
}

std::optional<PausedProcess> waitForPause(const std::string& dir, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(dir + "/paused");
    PausedProcess paused;
    if (in >> paused.pid >> paused.processGroup) {
      return paused;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return std::nullopt;
}

bool processRunning(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  auto close = text.rfind(')');
  return close != std::string::npos && close + 2 < text.size() && text[close + 2] != 'Z' &&
         text[close + 2] != 'X';
}

}  // namespace alembic_sidecar::testing
