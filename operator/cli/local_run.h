#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "cli/report_options.h"
#include "core/redactor.h"
#include "core/result.h"
#include "pipeline/run_request.h"

namespace alembic_sidecar::cli {

/** Options shared by the local subcommands (revision, check). */
struct LocalRunOptions {
  std::string project = ".";
  std::string config = "alembic.ini";
  std::string databaseUrl;
  std::string isolation = pipeline::kIsolationScratch;
  std::string baseline = pipeline::kBaselineAuto;
  std::string alembicCmd = "alembic";
  std::string python;
  std::vector<std::string> models;
  std::vector<std::string> approvals;
  std::string urlEnv = "DATABASE_URL";
  int timeoutSeconds = 900;
  int lockWaitSeconds = 60;
  int64_t largeTableRows = 100000;
  double liveCheckTimeoutSeconds = 10;
  std::string liveRole;
  bool json = false;
  bool ephemeral = false;
  /** --report and --fail-on (--json is `json` above). */
  ReportOptions reports;
};

/**
 * Declares the shared options on a subcommand (--isolation and --baseline only where they
 * apply).
 */
void addLocalRunOptions(CLI::App& command, LocalRunOptions& options, bool withIsolation = true,
                        bool withBaseline = true);

/**
 * The --models entries as the driver takes them: a path that exists relative to the current
 * directory becomes absolute, else one that exists under `project` stays as given (the
 * driver reads it there), else a dotted module name stays a module name. Error (UsageError)
 * naming every place tried for an entry that is neither.
 */
core::Result<std::vector<std::string>> resolveModelPaths(const std::vector<std::string>& models,
                                                         const std::string& cwd,
                                                         const std::string& project);

/** The throwaway PostgreSQL's state directory ($ALEMBIC_SIDECAR_LOCAL_PG_DIR or the default). */
std::string localPostgresStateDir();

/**
 * Runs the pipeline for `request` in the local project with the local database resolution,
 * prints the report (JSON on stdout with --json, text otherwise; progress on stderr), writes the
 * --report files and returns the exit code --fail-on gives it.
 */
int runLocal(pipeline::RunRequest request, const LocalRunOptions& options,
             const core::RedactorPtr& redactor);

}  // namespace alembic_sidecar::cli
