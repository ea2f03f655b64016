#include "cli/check_command.h"

#include <memory>

#include "cli/local_run.h"

namespace alembic_sidecar::cli {

std::function<int()> addCheckCommand(CLI::App& app, const core::RedactorPtr& redactor) {
  struct Options {
    int roundtripLast = 1;
    LocalRunOptions run;
  };
  auto options = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "check", "CI check: models in sync with the migrations, single head, every revision "
               "linted, the last N revisions round-tripped (nothing is written)");
  cmd->add_option("--roundtrip-last", options->roundtripLast,
                  "How many of the newest revisions to downgrade and upgrade again (default 1; "
                  "0: none, for upgrade-only histories)")
      ->check(CLI::Range(0, 10000));
  addLocalRunOptions(*cmd, options->run, /*withIsolation=*/false);
  return [options, redactor]() -> int {
    pipeline::RunRequest request;
    request.action = pipeline::kActionCheck;
    request.roundtripLast = options->roundtripLast;
    return runLocal(std::move(request), options->run, redactor);
  };
}

std::function<int()> addUpgradeCommand(CLI::App& app, const core::RedactorPtr& redactor) {
  auto options = std::make_shared<LocalRunOptions>();
  auto* cmd = app.add_subcommand("upgrade", "alembic upgrade head on the app's database");
  addLocalRunOptions(*cmd, *options, /*withIsolation=*/false, /*withBaseline=*/false);
  return [options, redactor]() -> int {
    pipeline::RunRequest request;
    request.action = pipeline::kActionUpgrade;
    request.isolation = pipeline::kIsolationInplace;
    return runLocal(std::move(request), *options, redactor);
  };
}

}  // namespace alembic_sidecar::cli
