#include <cctype>
#include <map>
#include <nlohmann/json.hpp>

#include "core/reasons.h"
#include "report/renderers.h"

namespace alembic_sidecar::report {
namespace {

using nlohmann::json;

constexpr char kSchema[] =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

std::string level(const std::string& severity) {
  if (blocking(severity)) {
    return "error";
  }
  return severity == core::severity::kWarning ? "warning" : "note";
}

/**
 * A path as a URI reference: RFC 3986 unreserved characters and '/' stay; an absolute path
 * (a rejected revision's copy outside the project) becomes a file:// URI, as SARIF wants.
 */
std::string uriReference(const std::string& path) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out = !path.empty() && path.front() == '/' ? "file://" : "";
  for (unsigned char c : path) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

/** SARIF messages are sentences; its validator wants them to end with a period. */
std::string sentence(std::string text) {
  while (!text.empty() && (text.back() == ' ' || text.back() == '\n')) {
    text.pop_back();
  }
  if (!text.empty() && text.back() != '.' && text.back() != '!' && text.back() != '?') {
    text += '.';
  }
  return text;
}

json rule(const RuleHelp& help, const std::string& code, const RenderContext& context) {
  const std::string markdown = help.markdown.empty() ? help.summary : help.markdown;
  // No `name`: the code is the id, and SARIF wants a name that differs from it.
  json r = {{"id", code},
            {"shortDescription", {{"text", sentence(help.summary)}}},
            {"fullDescription", {{"text", sentence(plainText(markdown))}}},
            {"help", {{"text", sentence(plainText(markdown))}, {"markdown", markdown}}},
            {"helpUri", context.helpUri(help)}};
  if (!help.severity.empty()) {
    r["defaultConfiguration"] = {{"level", level(help.severity)}};
  }
  json tags = json::array({"migration"});
  for (const auto& step : help.steps) {
    tags.push_back(step);
  }
  r["properties"] = {{"tags", tags}};
  return r;
}

}  // namespace

std::string renderSarif(const core::Report& report, const RenderContext& context) {
  const auto& reference = context.findings();
  json rules = json::array();
  std::map<std::string, int> ruleIndex;
  json results = json::array();
  for (const auto& f : report.findings) {
    auto [it, added] = ruleIndex.emplace(f.code, static_cast<int>(rules.size()));
    if (added) {
      rules.push_back(rule(reference.lookup(f.code), f.code, context));
    }
    const auto at = locate(f, report, context);
    std::string text = sentence(f.message);
    if (!f.recommendation.empty()) {
      text += " Recommendation: " + sentence(f.recommendation);
    }
    json result = {
        {"ruleId", f.code},
        {"ruleIndex", it->second},
        {"level", level(f.severity)},
        {"message", {{"text", text}}},
        {"partialFingerprints", {{"alembicSidecarFinding/v1", fingerprint(f, at)}}},
        {"properties", {{"severity", f.severity}, {"recommendation", f.recommendation}}}};
    // GitHub code scanning needs a location on every result: what concerns no file (the
    // database, the models) is shown on the project's alembic.ini.
    json physical = {
        {"artifactLocation",
         {{"uri", uriReference(at.path.empty() ? projectFilePath(context) : at.path)}}}};
    if (at.line > 0) {
      physical["region"] = {{"startLine", at.line}};
    }
    result["locations"] = json::array({{{"physicalLocation", physical}}});
    results.push_back(std::move(result));
  }

  json invocation = {{"executionSuccessful", report.phase != core::phase::kFailed}};
  if (report.phase == core::phase::kFailed) {
    invocation["toolExecutionNotifications"] =
        json::array({{{"level", "error"},
                      {"message", {{"text", sentence(report.reason + ": " + report.message)}}},
                      {"descriptor", {{"id", report.reason}}}}});
  }
  json run = {{"tool",
               {{"driver",
                 {{"name", "alembic-sidecar"},
                  {"version", context.toolVersion},
                  {"semanticVersion", context.toolVersion},
                  {"informationUri", context.findingsUrl},
                  {"rules", rules}}}}},
              {"invocations", json::array({invocation})},
              {"columnKind", "utf16CodeUnits"},
              {"results", results},
              {"properties",
               {{"action", report.action}, {"phase", report.phase}, {"reason", report.reason}}}};
  if (report.revision) {
    run["properties"]["revision"] = report.revision->id;
  }
  json log = {{"$schema", kSchema}, {"version", "2.1.0"}, {"runs", json::array({run})}};
  return log.dump(2) + "\n";
}

}  // namespace alembic_sidecar::report
