#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "core/redactor.h"
#include "core/report.h"

namespace alembic_sidecar::cli {

/** `--report FORMAT[=PATH]` (repeatable) and `--fail-on`, shared by revision, check, request. */
struct ReportOptions {
  std::vector<std::string> reports;
  std::string failOn = "escalation";
  /** --json: the JSON report on stdout (the same as --report json). */
  bool json = false;
};

/** Declares --report and --fail-on on `command` (--json stays where each command has it). */
void addReportOptions(CLI::App& command, ReportOptions& options);

/**
 * Checks the combination before a run starts (at most one document on stdout); prints the
 * problem and returns false when it is a usage error.
 */
bool reportOptionsUsable(const ReportOptions& options);

/** What the CLI knows about a run besides its report. */
struct ReportInputs {
  /** The generated file's text (the Markdown comment folds it in); may be empty. */
  std::string revisionText;
  /** Prepended to the report's relative paths: the project directory seen from here. */
  std::string pathPrefix;
};

/**
 * Writes the report in every requested format, scrubbed of secrets: each to its PATH, or to
 * stdout; the text report goes to stdout unless another document does (`github` commands share
 * stdout with it). With `github` and $GITHUB_STEP_SUMMARY set, the Markdown summary is appended
 * to that file. Returns the exit code --fail-on gives the report, or 2 when a report could not
 * be written.
 */
int emitReports(const core::Report& report, const ReportOptions& options,
                const ReportInputs& inputs, const core::RedactorPtr& redactor);

/** `project` relative to the working directory, with a trailing '/'; empty for "." or outside. */
std::string projectPathPrefix(const std::string& project);

}  // namespace alembic_sidecar::cli
