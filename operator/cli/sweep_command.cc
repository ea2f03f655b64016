#include "cli/sweep_command.h"

#include <cstdlib>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/local_run.h"
#include "core/reasons.h"
#include "core/report.h"
#include "database/local_postgres.h"
#include "database/local_resolver.h"
#include "database/pg_database.h"
#include "database/scratch.h"
#include "workspace/local_workspace.h"

namespace alembic_sidecar::cli {
namespace {

struct SweepOptions {
  std::string project = ".";
  std::string databaseUrl;
  std::string urlEnv = "DATABASE_URL";
  bool dryRun = false;
  bool json = false;
};

nlohmann::json ownerJson(const database::ScratchOwner& owner) {
  return {{"host", owner.host},
          {"pid", owner.pid},
          {"started", owner.started},
          {"lock",
           {{"database", owner.lockDatabase}, {"class", owner.lockClass}, {"key", owner.lockKey}}}};
}

nlohmann::json toJson(const database::SweepResult& result, const database::ResolvedDatabase& db,
                      const std::string& prefix, bool dryRun) {
  nlohmann::json entries = nlohmann::json::array();
  for (const auto& e : result.entries) {
    nlohmann::json j = {{"name", e.name},       {"verdict", database::toString(e.verdict)},
                        {"orphan", e.orphan()}, {"dropped", e.dropped},
                        {"why", e.why},         {"owner", nullptr}};
    if (e.owner) {
      j["owner"] = ownerJson(*e.owner);
    }
    if (!e.error.empty()) {
      j["error"] = e.error;
    }
    entries.push_back(std::move(j));
  }
  return {{"database",
           {{"source", db.source},
            {"host", db.connection.host},
            {"port", db.connection.port},
            {"name", db.connection.database}}},
          {"prefix", prefix},
          {"dryRun", dryRun},
          {"databases", entries},
          {"dropped", result.dropped()},
          {"failed", result.failed()}};
}

void printText(const database::SweepResult& result, const database::ResolvedDatabase& db,
               const std::string& prefix, bool dryRun) {
  std::cout << "Scratch databases " << prefix << "* on " << db.connection.endpoint() << " ("
            << db.source << "):\n";
  int orphans = 0;
  for (const auto& e : result.entries) {
    const char* action = !e.orphan() ? "kept    "
                         : dryRun    ? "orphan  "
                         : e.dropped ? "dropped "
                                     : "FAILED  ";
    orphans += e.orphan() ? 1 : 0;
    std::cout << "  " << action << e.name << "  " << e.why
              << (e.error.empty() ? "" : "  (" + e.error + ")") << "\n";
  }
  std::cout << result.entries.size() << " found, " << orphans << " orphaned, "
            << (dryRun ? std::string("none dropped (--dry-run)")
                       : std::to_string(result.dropped()) + " dropped")
            << "\n";
}

int runSweep(const SweepOptions& o, const core::RedactorPtr& redactor) {
  workspace::LocalWorkspace ws(o.project);
  database::LocalResolverOptions resolverOptions;
  resolverOptions.flagUrl = o.databaseUrl;
  if (const char* env = std::getenv(o.urlEnv.c_str())) {
    resolverOptions.envUrl = env;
  }
  resolverOptions.projectDir = ws.root();
  resolverOptions.localStateDir = localPostgresStateDir();
  // A sweep never starts a server; a throwaway one that is running is swept like any other.
  resolverOptions.allowLocalServer = false;
  database::LocalResolver resolver(resolverOptions, redactor);
  const bool explicitUrl =
      !o.databaseUrl.empty() || (resolverOptions.envUrl && !resolverOptions.envUrl->empty());
  auto resolved = resolver.resolve();
  if (!resolved && explicitUrl) {
    std::cerr << "alembic-sidecar sweep: " << redactor->scrub(resolved.error().message) << "\n";
    return resolved.error().reason == core::reason::kInvalidDatabaseUrl ? core::kExitUsage
                                                                        : core::kExitFailed;
  }
  if (!resolved) {
    auto local = database::LocalPostgres::running(resolverOptions.localStateDir);
    if (!local) {
      std::cerr << "alembic-sidecar sweep: " << redactor->scrub(resolved.error().message)
                << " (and no throwaway PostgreSQL is running)\n";
      return core::kExitFailed;
    }
    redactor->add(local->password);
    resolved = database::ResolvedDatabase{local->connection(), "local-postgres", {}};
  }
  database::PgDatabase db(resolved->connection, redactor);
  const std::string& base = resolved->connection.database;
  const std::string prefix = database::scratchPrefix(base);
  auto result =
      database::sweepScratchDatabases(db, base, std::chrono::system_clock::now(), o.dryRun);
  if (result.error) {
    std::cerr << "alembic-sidecar sweep: " << redactor->scrub(result.error->message) << "\n";
    return core::kExitFailed;
  }
  if (o.json) {
    std::cout << redactor->scrubJson(toJson(result, *resolved, prefix, o.dryRun)).dump()
              << std::endl;
  } else {
    printText(result, *resolved, prefix, o.dryRun);
  }
  return result.failed() > 0 ? core::kExitFailed : core::kExitSucceeded;
}

}  // namespace

std::function<int()> addSweepCommand(CLI::App& app, const core::RedactorPtr& redactor) {
  auto o = std::make_shared<SweepOptions>();
  auto* cmd = app.add_subcommand(
      "sweep",
      "Drop scratch databases left by runs that are gone (owner's lease released), "
      "and unmarked ones older than 3 h");
  cmd->add_option("--project", o->project, "Project directory (for a compose file)")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--database-url", o->databaseUrl,
                  "SQLAlchemy URL of the app's database (default: $DATABASE_URL, a compose "
                  "service, or the running throwaway PostgreSQL)");
  cmd->add_option("--url-env", o->urlEnv, "Environment variable holding the URL");
  cmd->add_flag("--dry-run", o->dryRun, "List what would be dropped; drop nothing");
  cmd->add_flag("--json", o->json, "Print the result as one JSON object on stdout");
  return [o, redactor]() -> int { return runSweep(*o, redactor); };
}

}  // namespace alembic_sidecar::cli
