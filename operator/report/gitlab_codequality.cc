#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/reasons.h"
#include "report/renderers.h"

namespace alembic_sidecar::report {
namespace {

// GitLab's Code Quality severities: info, minor, major, critical, blocker.
std::string gitlabSeverity(const std::string& severity) {
  if (severity == core::severity::kError) {
    return "blocker";
  }
  if (severity == core::severity::kEscalation) {
    return "critical";
  }
  return severity == core::severity::kWarning ? "minor" : "info";
}

}  // namespace

std::string renderGitlabCodeQuality(const core::Report& report, const RenderContext& context) {
  nlohmann::json issues = nlohmann::json::array();
  for (const auto& f : report.findings) {
    auto at = locate(f, report, context);
    if (at.path.empty()) {
      at.path = projectFilePath(context);
    }
    const auto rule = context.findings().lookup(f.code);
    std::string body = f.message;
    if (!f.recommendation.empty()) {
      body += "\n\nRecommendation: " + f.recommendation;
    }
    body += "\n\n" + context.helpUri(rule);
    issues.push_back(
        {{"type", "issue"},
         {"check_name", f.code},
         {"description", f.code + ": " + f.message},
         {"content", {{"body", body}}},
         {"categories", nlohmann::json::array({"Bug Risk"})},
         {"fingerprint", fingerprint(f, at)},
         {"severity", gitlabSeverity(f.severity)},
         {"location", {{"path", at.path}, {"lines", {{"begin", std::max(1, at.line)}}}}}});
  }
  if (report.phase == core::phase::kFailed) {
    // The reason the run failed is the first thing a reviewer needs, findings or not.
    std::string path = revisionPath(report, context);
    if (path.empty()) {
      path = projectFilePath(context);
    }
    core::Finding failure{report.reason, core::severity::kError, report.message, "", path, 0};
    issues.push_back({{"type", "issue"},
                      {"check_name", report.reason},
                      {"description", "alembic-sidecar " + report.action +
                                          " failed: " + report.reason + ": " + report.message},
                      {"categories", nlohmann::json::array({"Bug Risk"})},
                      {"fingerprint", fingerprint(failure, {path, 0})},
                      {"severity", "blocker"},
                      {"location", {{"path", path}, {"lines", {{"begin", 1}}}}}});
  }
  return issues.dump(2) + "\n";
}

}  // namespace alembic_sidecar::report
