#include "cli/app.h"

#include <signal.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <map>

#include "cli/check_command.h"
#include "cli/logging.h"
#include "cli/postgres_command.h"
#include "cli/request_command.h"
#include "cli/revision_command.h"
#include "cli/sidecar_command.h"
#include "cli/sweep_command.h"
#include "core/report.h"

namespace alembic_sidecar::cli {

int runMain(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  auto redactor = std::make_shared<core::Redactor>();
  setUpLogging(redactor, LogFormat::kText, "warn");

  CLI::App app{"alembic-sidecar: Alembic migrations only through autogenerate, validated and "
               "round-tripped on real PostgreSQL"};
  app.require_subcommand(1);
  app.set_version_flag("--version", ALEMBIC_SIDECAR_VERSION);
  std::map<std::string, std::function<int()>> commands;
  commands["revision"] = addRevisionCommand(app, redactor);
  commands["check"] = addCheckCommand(app, redactor);
  commands["upgrade"] = addUpgradeCommand(app, redactor);
  commands["postgres"] = addPostgresCommand(app, redactor);
  commands["sidecar"] = addSidecarCommand(app, redactor);
  commands["request"] = addRequestCommand(app, redactor);
  commands["sweep"] = addSweepCommand(app, redactor);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : core::kExitUsage;
  }
  for (auto* sub : app.get_subcommands()) {
    auto it = commands.find(sub->get_name());
    if (it != commands.end()) {
      return it->second();
    }
  }
  std::cerr << app.help() << std::endl;
  return core::kExitUsage;
}

}  // namespace alembic_sidecar::cli
