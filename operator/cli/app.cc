#include "cli/app.h"

#include <CLI/CLI.hpp>

#include "core/report.h"

namespace alembic_sidecar::cli {

int runMain(int argc, char** argv) {
  CLI::App app{"alembic-sidecar: autogenerate-only Alembic migrations, validated"};
  app.require_subcommand(1);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : core::kExitUsage;
  }
  return 0;
}

}  // namespace alembic_sidecar::cli
