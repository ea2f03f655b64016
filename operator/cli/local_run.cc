#include "cli/local_run.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <regex>

#include "cli/progress_printer.h"
#include "cli/signals.h"
#include "core/reasons.h"
#include "database/local_postgres.h"
#include "database/local_resolver.h"
#include "database/pg_database.h"
#include "pipeline/pipeline.h"
#include "workspace/command_line.h"
#include "workspace/local_workspace.h"

namespace alembic_sidecar::cli {
namespace {

namespace fs = std::filesystem;

/** A failed run removes its generated file from the project; keep a copy for the reader. */
std::string saveRejectedCopy(const pipeline::RunOutcome& outcome) {
  if (!outcome.report.revision || outcome.revisionText.empty() || outcome.removedPath.empty()) {
    return {};
  }
  const std::string& text = outcome.revisionText;
  fs::path dir = fs::temp_directory_path() / "alembic-sidecar-rejected";
  std::error_code ec;
  fs::create_directories(dir, ec);
  fs::path file = dir / fs::path(outcome.removedPath).filename();
  std::ofstream out(file, std::ios::binary);
  out << text;
  return out ? file.string() : std::string{};
}

}  // namespace

std::string localPostgresStateDir() {
  const char* dir = std::getenv("ALEMBIC_SIDECAR_LOCAL_PG_DIR");
  return dir != nullptr && *dir != '\0' ? dir : database::LocalPostgres::defaultStateDir();
}

core::Result<std::vector<std::string>> resolveModelPaths(const std::vector<std::string>& models,
                                                         const std::string& cwd,
                                                         const std::string& project) {
  static const std::regex kModule(R"(^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$)");
  std::vector<std::string> out;
  for (const auto& entry : models) {
    fs::path given(entry);
    fs::path inCwd = given.is_absolute() ? given : fs::path(cwd) / given;
    fs::path inProject = given.is_absolute() ? given : fs::path(project) / given;
    std::error_code ec;
    if (fs::exists(inCwd, ec)) {
      out.push_back(fs::absolute(inCwd, ec).lexically_normal().string());
    } else if (fs::exists(inProject, ec)) {
      out.push_back(entry);
    } else if (std::regex_match(entry, kModule) && given.extension() != ".py") {
      out.push_back(entry);  // a dotted module name, imported by the driver
    } else {
      std::string tried = inCwd.lexically_normal().string();
      if (inProject.lexically_normal() != inCwd.lexically_normal()) {
        tried += " and " + inProject.lexically_normal().string();
      }
      return core::Error::terminal(core::reason::kUsageError,
                                   "--models " + entry + ": no such file or directory (tried " +
                                       tried + "), and not a dotted module name");
    }
  }
  return out;
}

void addLocalRunOptions(CLI::App& command, LocalRunOptions& o, bool withIsolation,
                        bool withBaseline) {
  command.add_option("--project", o.project, "Project directory holding alembic.ini")
      ->check(CLI::ExistingDirectory);
  command.add_option("--config", o.config, "Alembic config file, relative to --project");
  command.add_option("--database-url", o.databaseUrl,
                     "SQLAlchemy URL (default: $DATABASE_URL, a compose service, or a throwaway "
                     "local PostgreSQL)");
  if (withIsolation) {
    command
        .add_option("--isolation", o.isolation,
                    "scratch (default) or inplace (the app's database itself; a revision "
                    "that could lose data there is not run)")
        ->check(CLI::IsMember({pipeline::kIsolationScratch, pipeline::kIsolationInplace}));
  }
  if (withBaseline) {
    command
        .add_option("--baseline", o.baseline,
                    "Where the scratch database starts: auto (default: the history from empty "
                    "when it builds the schema, else live-schema), history (upgrade head from "
                    "empty), live-schema (a schema-only copy of the live database at its "
                    "revision); see docs/baselines.md")
        ->check(CLI::IsMember(
            {pipeline::kBaselineAuto, pipeline::kBaselineHistory, pipeline::kBaselineLiveSchema}));
  }
  command.add_option("--alembic-cmd", o.alembicCmd,
                     "How to run alembic, e.g. \"uv run alembic\" (split into words, no shell)");
  command.add_option("--python", o.python,
                     "The app's Python interpreter (default: derived from --alembic-cmd)");
  command.add_option("--models", o.models,
                     "Model module (dotted name) or path to import and check (repeatable)");
  command.add_option("--approve", o.approvals, "Approve raw-sql or destructive changes")
      ->check(CLI::IsMember({"raw-sql", "destructive"}));
  command.add_option("--url-env", o.urlEnv, "Environment variable env.py reads the URL from");
  command.add_option("--timeout", o.timeoutSeconds, "Seconds before the run gives up")
      ->check(CLI::Range(10, 86400));
  command
      .add_option(
          "--lock-wait", o.lockWaitSeconds,
          "Seconds to wait for another run's project lock before ProjectLocked (default 60)")
      ->check(CLI::Range(0, 86400));
  command
      .add_option("--large-table-rows", o.largeTableRows,
                  "Live tables with at least this many rows are large (NonConcurrentIndex)")
      ->check(CLI::PositiveNumber);
  command
      .add_option("--live-check-timeout", o.liveCheckTimeoutSeconds,
                  "Seconds each read-only check of the live rows may run (statement_timeout, "
                  "default 10, fractions allowed); a check that does not finish escalates")
      ->check(CLI::Range(0.001, 3600.0));
  command.add_option("--live-role", o.liveRole,
                     "Role without superuser the live checks run as (SET ROLE; the database "
                     "user must be a member)");
  command.add_flag("--json", o.json, "Print the report as one JSON object on stdout");
  addReportOptions(command, o.reports);
  command.add_flag("--ephemeral", o.ephemeral,
                   "Stop and remove a throwaway PostgreSQL this run started");
}

int runLocal(pipeline::RunRequest request, const LocalRunOptions& o,
             const core::RedactorPtr& redactor) {
  // Before any thread starts: SIGINT/SIGTERM become a flag the run polls.
  SignalCancellation signals;
  ReportOptions reports = o.reports;
  reports.json = o.json;
  if (!reportOptionsUsable(reports)) {
    return core::kExitUsage;
  }
  auto alembicCmd = workspace::splitCommandLine(o.alembicCmd);
  if (!alembicCmd) {
    std::cerr << "alembic-sidecar: --alembic-cmd: " << alembicCmd.error().message << "\n";
    return core::kExitUsage;
  }
  request.alembic.command = *alembicCmd;
  request.alembic.configFile = o.config;
  request.alembic.urlEnvVar = o.urlEnv;
  if (!o.python.empty()) {
    auto python = workspace::splitCommandLine(o.python);
    if (!python) {
      std::cerr << "alembic-sidecar: --python: " << python.error().message << "\n";
      return core::kExitUsage;
    }
    request.pythonCommand = *python;
  }
  std::error_code ec;
  auto models = resolveModelPaths(o.models, fs::current_path(ec).string(), o.project);
  if (!models) {
    std::cerr << "alembic-sidecar: " << models.error().message << "\n";
    return core::kExitUsage;
  }
  request.modelPaths = *models;
  request.isolation = o.isolation;
  request.baseline = o.baseline;
  request.timeout = std::chrono::seconds(o.timeoutSeconds);
  request.lockWait = std::chrono::seconds(o.lockWaitSeconds);
  request.largeTableRows = o.largeTableRows;
  request.liveCheckTimeout =
      std::chrono::milliseconds(static_cast<int64_t>(o.liveCheckTimeoutSeconds * 1000.0 + 0.5));
  request.liveRole = o.liveRole;
  for (const auto& a : o.approvals) {
    request.approvals.rawSQL |= a == "raw-sql";
    request.approvals.destructive |= a == "destructive";
  }

  workspace::LocalWorkspace ws(o.project, signals.hook());
  database::LocalResolverOptions resolverOptions;
  resolverOptions.flagUrl = o.databaseUrl;
  if (const char* env = std::getenv(o.urlEnv.c_str())) {
    resolverOptions.envUrl = env;
  }
  resolverOptions.projectDir = ws.root();
  resolverOptions.localStateDir = localPostgresStateDir();
  bool localWasRunning =
      static_cast<bool>(database::LocalPostgres::running(resolverOptions.localStateDir));
  database::LocalResolver resolver(resolverOptions, redactor);
  ProgressPrinter progress(redactor);

  pipeline::PipelineDeps deps;
  deps.workspace = &ws;
  deps.resolver = &resolver;
  deps.redactor = redactor;
  deps.progress = &progress;
  deps.cancelled = signals.hook();
  deps.databaseFactory = [redactor](const database::ConnectionInfo& info) {
    return std::make_unique<database::PgDatabase>(info, redactor);
  };
  auto outcome = pipeline::runPipeline(request, deps);
  auto& report = outcome.report;
  if (signals.cancelled() && report.reason == core::reason::kCancelled) {
    report.message += signals.received() == SIGINT ? " (SIGINT)" : " (SIGTERM)";
  }

  if (outcome.revisionRemoved && report.revision && !outcome.revisionText.empty()) {
    if (auto copy = saveRejectedCopy(outcome); !copy.empty()) {
      report.message += " A copy of it is at " + copy + ".";
      report.revision->file = copy;      // the only place the file is now
      for (auto& f : report.findings) {  // the reports locate findings in that copy too
        if (!f.file.empty() && f.file == outcome.removedPath) {
          f.file = copy;
        }
      }
    }
  }
  if (o.ephemeral && !localWasRunning && report.database &&
      report.database->source == "local-postgres") {
    auto stopped = database::LocalPostgres::stop(resolverOptions.localStateDir, true);
    if (!stopped) {
      std::cerr << "alembic-sidecar: " << stopped.error().message << "\n";
    }
  }
  int code = emitReports(
      report, reports, ReportInputs{outcome.revisionText, projectPathPrefix(o.project)}, redactor);
  // A signal decides the exit code even when the run had already finished: the caller
  // asked the process to stop (130 SIGINT, 143 SIGTERM), as shells and CI runners expect.
  return signals.cancelled() ? signals.exitCode() : code;
}

}  // namespace alembic_sidecar::cli
