#include "report/formats.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/reasons.h"
#include "core/report_json.h"
#include "report/renderers.h"

namespace alembic_sidecar::report {
namespace {

struct Named {
  const char* name;
  Format format;
};
constexpr Named kFormats[] = {{"text", Format::kText},
                              {"json", Format::kJson},
                              {"junit", Format::kJunit},
                              {"sarif", Format::kSarif},
                              {"github", Format::kGithub},
                              {"markdown", Format::kMarkdown},
                              {"gitlab-codequality", Format::kGitlabCodeQuality}};

bool has(const core::Report& report, const char* severity) {
  return std::any_of(report.findings.begin(), report.findings.end(),
                     [&](const core::Finding& f) { return f.severity == severity; });
}

}  // namespace

std::string formatNames() {
  std::string names;
  for (const auto& f : kFormats) {
    names += (names.empty() ? "" : ", ") + std::string(f.name);
  }
  return names;
}

core::Result<ReportTarget> parseReportTarget(const std::string& spec) {
  const auto eq = spec.find('=');
  ReportTarget target;
  target.name = spec.substr(0, eq);
  if (eq != std::string::npos) {
    target.path = spec.substr(eq + 1);
    if (target.path.empty()) {
      return core::Error::terminal(core::reason::kUsageError,
                                   "--report " + spec + ": the path after '=' is empty");
    }
  }
  for (const auto& f : kFormats) {
    if (target.name == f.name) {
      target.format = f.format;
      return target;
    }
  }
  return core::Error::terminal(
      core::reason::kUsageError,
      "--report " + spec + ": unknown format '" + target.name + "' (one of " + formatNames() + ")");
}

std::string render(Format format, const core::Report& report, const RenderContext& context) {
  switch (format) {
    case Format::kText:
      return core::renderText(report);
    case Format::kJson:
      return core::toJson(report).dump() + "\n";
    case Format::kJunit:
      return renderJunit(report, context);
    case Format::kSarif:
      return renderSarif(report, context);
    case Format::kGithub:
      return renderGithubCommands(report, context);
    case Format::kMarkdown:
      return renderMarkdown(report, context);
    case Format::kGitlabCodeQuality:
      return renderGitlabCodeQuality(report, context);
  }
  return {};
}

core::Result<FailOn> parseFailOn(const std::string& name) {
  if (name == "never") {
    return FailOn::kNever;
  }
  if (name == "error") {
    return FailOn::kError;
  }
  if (name == "escalation") {
    return FailOn::kEscalation;
  }
  if (name == "warning") {
    return FailOn::kWarning;
  }
  return core::Error::terminal(core::reason::kUsageError,
                               "--fail-on " + name + ": one of never, error, escalation, warning");
}

int exitCodeFor(const core::Report& report, FailOn failOn) {
  const int byPhase = core::exitCodeFor(report);
  switch (failOn) {
    case FailOn::kNever:
      return core::kExitSucceeded;
    case FailOn::kError:
      return byPhase == core::kExitFailed || has(report, core::severity::kError)
                 ? core::kExitFailed
                 : core::kExitSucceeded;
    case FailOn::kEscalation:
      return byPhase;
    case FailOn::kWarning:
      return byPhase == core::kExitSucceeded && has(report, core::severity::kWarning)
                 ? kExitWarnings
                 : byPhase;
  }
  return byPhase;
}

}  // namespace alembic_sidecar::report
