#include "report/render_context.h"

#include "core/hash.h"
#include "core/reasons.h"

namespace alembic_sidecar::report {
namespace {

std::string prefixed(const std::string& path, const RenderContext& context) {
  if (path.empty() || path.front() == '/' || context.pathPrefix.empty()) {
    return path;
  }
  std::string prefix = context.pathPrefix;
  if (prefix.back() != '/') {
    prefix += '/';
  }
  return prefix + (path.rfind("./", 0) == 0 ? path.substr(2) : path);
}

}  // namespace

std::string projectFilePath(const RenderContext& context) {
  return prefixed("alembic.ini", context);
}

std::string revisionPath(const core::Report& report, const RenderContext& context) {
  return report.revision ? prefixed(report.revision->file, context) : std::string();
}

SourceLocation locate(const core::Finding& finding, const core::Report& report,
                      const RenderContext& context) {
  if (!finding.file.empty()) {
    return {prefixed(finding.file, context), finding.line};
  }
  return {revisionPath(report, context), 0};
}

std::string fingerprint(const core::Finding& finding, const SourceLocation& location) {
  return core::sha256Hex(finding.code + "\n" + location.path + "\n" +
                         std::to_string(location.line) + "\n" + finding.message);
}

bool blocking(const std::string& severity) {
  return severity == core::severity::kEscalation || severity == core::severity::kError;
}

}  // namespace alembic_sidecar::report
