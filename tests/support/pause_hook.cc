#include "support/pause_hook.h"

#include <fstream>
#include <sstream>
#include <thread>

namespace alembic_sidecar::testing {
namespace {

constexpr char kHook[] = R"PY(
def _pause_point_for_test():
    """This run of env.py as a pause point name, counted per command ("upgrade#2")."""
    import os, sys
    where = os.environ.get("TEST_PAUSE_DIR")
    cmd = getattr(getattr(config, "cmd_opts", None), "cmd", None)
    name = cmd[0].__name__ if cmd else next(
        (a for a in sys.argv[1:] if a in ("upgrade", "downgrade", "revision")), "")
    if not where or not name:
        return ""
    name += "-sql" if context.is_offline_mode() else ""
    counter = os.path.join(where, "count-" + name)
    n = 1
    if os.path.exists(counter):
        with open(counter) as f:
            n = int(f.read().strip() or "0") + 1
    with open(counter, "w") as f:
        f.write(str(n))
    return "%s#%d" % (name, n)


def _pause_for_test(point, when):
    import os, time
    what, where = os.environ.get("TEST_PAUSE_ON"), os.environ.get("TEST_PAUSE_DIR")
    if not what or not where or not point:
        return
    wanted, _, wanted_when = what.partition(":")
    wanted = wanted if "#" in wanted else wanted + "#1"
    marker = os.path.join(where, "paused")
    if wanted != point or (wanted_when or "before") != when or os.path.exists(marker):
        return
    with open(marker + ".tmp", "w") as f:
        f.write(f"{os.getpid()} {os.getpgid(0)}\n")
    os.rename(marker + ".tmp", marker)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not os.path.exists(os.path.join(where, "resume")):
        time.sleep(0.05)


_PAUSE_POINT = _pause_point_for_test()
_pause_for_test(_PAUSE_POINT, "before")

)PY";

constexpr char kAfterHook[] = "\n_pause_for_test(_PAUSE_POINT, \"after\")\n";

}  // namespace

void installPauseHook(ExampleApp& app) {
  app.replace("migrations/env.py", "\nif context.is_offline_mode():",
              std::string(kHook) + "\nif context.is_offline_mode():");
  app.write("migrations/env.py", app.read("migrations/env.py") + kAfterHook);
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

void resumePaused(const std::string& dir) {
  std::ofstream(dir + "/resume") << "go\n";
}

bool processRunning(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  try {
    text.assign(std::istreambuf_iterator<char>(stat), std::istreambuf_iterator<char>());
  } catch (const std::ios_base::failure&) {
    // The process exited between open and read: libstdc++'s filebuf throws on read()'s ESRCH.
    return false;
  }
  auto close = text.rfind(')');
  return close != std::string::npos && close + 2 < text.size() && text[close + 2] != 'Z' &&
         text[close + 2] != 'X';
}

}  // namespace alembic_sidecar::testing
