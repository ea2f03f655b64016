#pragma once

#include <string>
#include <vector>

#include "core/report.h"
#include "core/result.h"
#include "report/render_context.h"

namespace alembic_sidecar::report {

enum class Format { kText, kJson, kJunit, kSarif, kGithub, kMarkdown, kGitlabCodeQuality };

/** One `--report FORMAT[=PATH]`: where it goes; an empty path is stdout. */
struct ReportTarget {
  Format format = Format::kText;
  std::string name;  // as the user wrote it: "junit", "gitlab-codequality", ...
  std::string path;
};

/** The names `--report` accepts, for the help text: "text, json, junit, ...". */
std::string formatNames();

/** Parses `FORMAT` or `FORMAT=PATH`; the error says which formats exist. */
core::Result<ReportTarget> parseReportTarget(const std::string& spec);

/** Renders `report` in `format`. */
std::string render(Format format, const core::Report& report, const RenderContext& context);

/** Which findings fail the exit code (--fail-on). */
enum class FailOn { kNever, kError, kEscalation, kWarning };

core::Result<FailOn> parseFailOn(const std::string& name);

/**
 * The process exit code of a finished run under `failOn`; it decides nothing else. The phase
 * says how the run ended (0 Succeeded, 1 Failed, 3 Escalated); --fail-on says which of those
 * fail the job:
 *   escalation (default)  the phase's own code: Failed 1, Escalated 3, Succeeded 0;
 *   error                 1 for a Failed run (or an error finding); Escalated passes (0);
 *   warning               as escalation, and 5 for a Succeeded run with warning findings;
 *   never                 0 whatever the verdict (report-only adoption).
 * Usage errors (2), an unreachable API (4) and signals (130/143) are not verdicts: the caller
 * returns those before asking.
 */
int exitCodeFor(const core::Report& report, FailOn failOn);

/** `--fail-on warning`: the run passed but has warnings. */
inline constexpr int kExitWarnings = 5;

}  // namespace alembic_sidecar::report
