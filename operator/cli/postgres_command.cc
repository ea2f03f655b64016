#include "cli/postgres_command.h"

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "core/report.h"
#include "database/local_postgres.h"

namespace alembic_sidecar::cli {
namespace {

struct PostgresOptions {
  std::string dir = database::LocalPostgres::defaultStateDir();
  std::string database = "app";
  int port = 0;
  bool json = false;
  bool remove = false;
  bool showUrl = false;
};

/** With --json the URL (and so the password) is printed: it is the caller's own server. */
void printState(const database::LocalPostgresState& s, bool json, bool showUrl) {
  if (json) {
    nlohmann::json j = {{"pid", s.pid},          {"port", s.port}, {"dataDir", s.dataDir},
                        {"stateDir", s.stateDir}, {"logFile", s.logFile},
                        {"database", s.database}, {"user", s.user}};
    if (showUrl) {
      j["url"] = s.connection().url();
    }
    std::cout << j.dump() << std::endl;
    return;
  }
  std::cout << "PostgreSQL running: pid " << s.pid << ", 127.0.0.1:" << s.port << ", database "
            << s.database << "\n  "
            << (showUrl ? s.connection().url() : s.connection().redactedUrl())
            << "\n  stop: alembic-sidecar postgres stop --dir " << s.stateDir << std::endl;
}

}  // namespace

std::function<int()> addPostgresCommand(CLI::App& app, const core::RedactorPtr& redactor) {
  auto options = std::make_shared<PostgresOptions>();
  auto* cmd = app.add_subcommand("postgres", "Manage the throwaway local PostgreSQL");
  cmd->require_subcommand(1);
  auto* start = cmd->add_subcommand("start", "Start (creating if needed) and print its state");
  auto* stop = cmd->add_subcommand("stop", "Stop it (by pid)");
  auto* status = cmd->add_subcommand("status", "Print its state if it runs");
  for (auto* sub : {start, stop, status}) {
    sub->add_option("--dir", options->dir, "State directory");
  }
  start->add_option("--database", options->database, "Database to create");
  start->add_option("--port", options->port, "Port (default: a free one)");
  for (auto* sub : {start, status}) {
    sub->add_flag("--json", options->json, "Print the state as JSON");
    sub->add_flag("--show-url", options->showUrl, "Include the URL with its password");
  }
  stop->add_flag("--remove", options->remove, "Also delete the data directory");

  return [options, start, stop, redactor]() -> int {
    if (start->parsed()) {
      database::LocalPostgresOptions pg;
      pg.stateDir = options->dir;
      pg.database = options->database;
      pg.port = options->port;
      auto state = database::LocalPostgres::start(pg, redactor);
      if (!state) {
        std::cerr << "alembic-sidecar: " << state.error().reason << ": "
                  << state.error().message << std::endl;
        return core::kExitFailed;
      }
      printState(*state, options->json, options->showUrl);
      return core::kExitSucceeded;
    }
    if (stop->parsed()) {
      auto stopped = database::LocalPostgres::stop(options->dir, options->remove);
      if (!stopped) {
        std::cerr << "alembic-sidecar: " << stopped.error().message << std::endl;
        return core::kExitFailed;
      }
      return core::kExitSucceeded;
    }
    auto state = database::LocalPostgres::running(options->dir);
    if (!state) {
      std::cerr << "alembic-sidecar: " << state.error().message << std::endl;
      return core::kExitFailed;
    }
    printState(*state, options->json, options->showUrl);
    return core::kExitSucceeded;
  };
}

}  // namespace alembic_sidecar::cli
