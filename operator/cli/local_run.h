#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "cli/report_options.h"
#include "core/redactor.h"
#include "pipeline/run_request.h"

namespace alembic_sidecar::cli {

/** Options shared by the local subcommands (revision, check). */
struct LocalRunOptions {
  std::string project = ".";
  std::string config = "alembic.ini";
  std::string databaseUrl;
  std::string isolation = pipeline::kIsolationScratch;
  std::string alembicCmd = "alembic";
  std::string python;
  std::vector<std::string> models;
  std::vector<std::string> approvals;
  std::string urlEnv = "DATABASE_URL";
  int timeoutSeconds = 900;
  int lockWaitSeconds = 60;
  int64_t largeTableRows = 100000;
  bool json = false;
  bool ephemeral = false;
  /** --report and --fail-on (--json is `json` above). */
  ReportOptions reports;
};

/** Declares the shared options on a subcommand (--isolation only where it applies). */
void addLocalRunOptions(CLI::App& command, LocalRunOptions& options, bool withIsolation = true);

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
