#include "core/reasons.h"
#include "report/renderers.h"

namespace alembic_sidecar::report {
namespace {

// Workflow command escaping (actions/toolkit, command.ts): data escapes %, CR and LF;
// property values escape ':' and ',' as well.
std::string escapeData(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '%':
        out += "%25";
        break;
      case '\r':
        out += "%0D";
        break;
      case '\n':
        out += "%0A";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string escapeProperty(const std::string& text) {
  std::string out;
  for (char c : escapeData(text)) {
    if (c == ':') {
      out += "%3A";
    } else if (c == ',') {
      out += "%2C";
    } else {
      out += c;
    }
  }
  return out;
}

std::string command(const std::string& severity) {
  if (blocking(severity)) {
    return "error";
  }
  return severity == core::severity::kWarning ? "warning" : "notice";
}

}  // namespace

std::string renderGithubCommands(const core::Report& report, const RenderContext& context) {
  std::string out;
  for (const auto& f : report.findings) {
    const auto at = locate(f, report, context);
    std::string properties;
    if (!at.path.empty()) {
      properties += "file=" + escapeProperty(at.path);
      if (at.line > 0) {
        properties += ",line=" + std::to_string(at.line);
      }
      properties += ",";
    }
    properties += "title=" + escapeProperty(f.code);
    std::string message = f.message;
    if (!f.recommendation.empty()) {
      message += "\nRecommendation: " + f.recommendation;
    }
    message += "\n" + context.helpUri(context.findings().lookup(f.code));
    out += "::" + command(f.severity) + " " + properties + "::" + escapeData(message) + "\n";
  }
  if (report.phase == core::phase::kFailed) {
    std::string properties =
        "title=" + escapeProperty("alembic-sidecar " + report.action + " failed: " + report.reason);
    if (auto path = revisionPath(report, context); !path.empty()) {
      properties = "file=" + escapeProperty(path) + "," + properties;
    }
    out += "::error " + properties + "::" + escapeData(report.message) + "\n";
  }
  return out;
}

}  // namespace alembic_sidecar::report
