#include "alembic/driver_launch.h"

#include <nlohmann/json.hpp>

#include "alembic/driver_sources.h"
#include "core/reasons.h"

namespace alembic_sidecar::alembic {
namespace {

bool isAlembic(const std::string& word) {
  return word == "alembic" ||
         (word.size() > 8 && word.compare(word.size() - 8, 8, "/alembic") == 0);
}

}  // namespace

const std::string& driverBootstrap() { return driverBootstrapSource(); }

std::string driverPreamble(const std::string& entry) {
  nlohmann::json modules = nlohmann::json::object();
  for (const auto& [name, source] : driverModules()) {
    modules[name] = {name.find('.') == std::string::npos, source};
  }
  std::string payload = modules.dump();
  return "alembic-sidecar-driver " + std::to_string(kDriverProtocol) + " " +
         std::to_string(payload.size()) + " " + entry + "\n" + payload;
}

FileLauncher fileLauncher() {
  return FileLauncher{driverBootstrapSource(),
                      driverPreamble("alembic_sidecar_driver.files:serve_once")};
}

core::Result<std::vector<std::string>> driverCommand(const DriverLaunch& launch) {
  auto withBoot = [](std::vector<std::string> argv) {
    argv.push_back("-c");
    argv.push_back(driverBootstrapSource());
    return argv;
  };
  if (!launch.python.empty()) {
    return withBoot(launch.python);
  }
  const auto& cmd = launch.alembicCommand;
  if (cmd.empty()) {
    return core::Error::terminal(core::reason::kUsageError, "--alembic-cmd is empty");
  }
  for (size_t i = 0; i + 1 < cmd.size(); ++i) {
    if (cmd[i] == "-m" && cmd[i + 1] == "alembic" && i > 0) {
      return withBoot(std::vector<std::string>(cmd.begin(), cmd.begin() + static_cast<long>(i)));
    }
  }
  if (cmd.size() > 1 && cmd.back() == "alembic") {
    std::vector<std::string> argv(cmd.begin(), cmd.end() - 1);
    argv.push_back("python");
    return withBoot(argv);
  }
  if (cmd.size() == 1 && isAlembic(cmd.front())) {
    std::string resolver =
        "BOOT = " + nlohmann::json(driverBootstrapSource()).dump() + "\n" + driverResolverSource();
    return std::vector<std::string>{launch.bootstrapPython, "-c", resolver, launch.root,
                                    cmd.front()};
  }
  std::string text;
  for (const auto& word : cmd) {
    text += (text.empty() ? "" : " ") + word;
  }
  return core::Error::terminal(core::reason::kUsageError,
                               "cannot tell which Python interpreter runs alembic from "
                               "--alembic-cmd \"" +
                                   text + "\"; pass --python with it");
}

}  // namespace alembic_sidecar::alembic
