#pragma once

#include <string>

#include "core/report.h"
#include "report/render_context.h"

namespace alembic_sidecar::report {

// Each rendering reads only the Report (plus the context), so a local run and a MigrationRun
// followed by `request --wait` give the same document, and a finding code added later renders
// with whatever the findings reference says about it (or a generic entry).

/**
 * JUnit XML (the Jenkins/GitLab dialect): one <testsuite> per step (condition); in it one test
 * case for the step (per revision checked, for Validated and RoundTripPassed) and one per
 * finding rule of that step. Escalations and errors are <failure>s with the message,
 * recommendation, file and line; a step that did not run and a check that was skipped are
 * <skipped> with the reason.
 */
std::string renderJunit(const core::Report& report, const RenderContext& context);

/**
 * SARIF 2.1.0: one rule per finding code (description, help text and helpUri from the findings
 * reference), one result per finding at its file and line; escalation and error are `error`,
 * warning `warning`, info `note`. A Failed run's reason is a tool execution notification.
 */
std::string renderSarif(const core::Report& report, const RenderContext& context);

/**
 * GitHub Actions workflow commands, one line per finding:
 * `::error file=F,line=L,title=CODE::message` (`warning` / `notice` for the milder severities),
 * plus one for a failed run's reason.
 */
std::string renderGithubCommands(const core::Report& report, const RenderContext& context);

/**
 * The pull-request comment (Markdown): a hidden marker, the verdict, the steps, the operations
 * table, findings grouped by severity with file:line, the round-trip line and the generated
 * revision folded. No durations or times: the same verdict renders the same text, so a CI step
 * can update its one comment only when something changed.
 */
std::string renderMarkdown(const core::Report& report, const RenderContext& context);

/** The first line of every Markdown comment for `action`: what a CI step looks for. */
std::string markdownMarker(const std::string& action);

/** GitLab Code Quality (Code Climate subset): one issue per finding. */
std::string renderGitlabCodeQuality(const core::Report& report, const RenderContext& context);

}  // namespace alembic_sidecar::report
