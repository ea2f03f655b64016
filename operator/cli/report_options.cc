#include "cli/report_options.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "core/report_json.h"
#include "report/formats.h"
#include "report/renderers.h"

namespace alembic_sidecar::cli {
namespace {

namespace fs = std::filesystem;

std::vector<report::ReportTarget> targetsOf(const ReportOptions& o) {
  std::vector<report::ReportTarget> targets;
  for (const auto& spec : o.reports) {
    if (auto target = report::parseReportTarget(spec)) {
      targets.push_back(*target);
    }
  }
  if (o.json) {
    targets.push_back({report::Format::kJson, "json", ""});
  }
  return targets;
}

/** A whole document (as opposed to github's command lines, which may share stdout). */
bool document(const report::ReportTarget& t) { return t.format != report::Format::kGithub; }

bool writeFile(const std::string& path, const std::string& text, bool append) {
  std::ofstream out(path, append ? std::ios::app | std::ios::binary : std::ios::binary);
  out << text;
  out.flush();
  return static_cast<bool>(out);
}

}  // namespace

void addReportOptions(CLI::App& command, ReportOptions& o) {
  command
      .add_option("--report", o.reports,
                  "Also write the report as FORMAT to PATH (stdout without =PATH); repeatable. "
                  "FORMAT: " +
                      report::formatNames())
      ->type_name("FORMAT[=PATH]")
      ->check([](const std::string& spec) {
        auto target = report::parseReportTarget(spec);
        return target ? std::string() : target.error().message;
      });
  command
      .add_option("--fail-on", o.failOn,
                  "Which verdict fails the exit code: never, error, escalation (default: Failed "
                  "1, Escalated 3) or warning (also 5 for a run with warnings)")
      ->check(CLI::IsMember({"never", "error", "escalation", "warning"}));
}

bool reportOptionsUsable(const ReportOptions& o) {
  int documentsOnStdout = 0;
  for (const auto& t : targetsOf(o)) {
    documentsOnStdout += t.path.empty() && document(t);
  }
  if (documentsOnStdout > 1) {
    std::cerr << "alembic-sidecar: only one report can go to stdout (--json or one --report "
                 "FORMAT without =PATH); give the others a PATH\n";
    return false;
  }
  return true;
}

std::string projectPathPrefix(const std::string& project) {
  std::error_code ec;
  const fs::path absolute = fs::weakly_canonical(fs::absolute(project, ec), ec);
  const fs::path here = fs::weakly_canonical(fs::current_path(ec), ec);
  const fs::path relative = absolute.lexically_relative(here);
  const std::string text = relative.generic_string();
  if (ec || text.empty() || text == "." || text.rfind("..", 0) == 0) {
    return {};
  }
  return text + "/";
}

int emitReports(const core::Report& raw, const ReportOptions& o, const ReportInputs& inputs,
                const core::RedactorPtr& redactor) {
  // Scrubbed before rendering: an escaped form (XML, JSON) of a secret would slip past a scrub
  // of the finished text.
  const core::Report report = core::reportFromJson(redactor->scrubJson(core::toJson(raw)));
  report::RenderContext context;
  context.revisionText = redactor->scrub(inputs.revisionText);
  context.pathPrefix = inputs.pathPrefix;
  if (const char* url = std::getenv("ALEMBIC_SIDECAR_FINDINGS_URL"); url != nullptr && *url) {
    context.findingsUrl = url;
  }

  const auto targets = targetsOf(o);
  bool documentOnStdout = false;
  bool github = false;
  for (const auto& t : targets) {
    documentOnStdout |= t.path.empty() && document(t);
    github |= t.format == report::Format::kGithub;
  }
  if (!documentOnStdout) {
    std::cout << redactor->scrub(report::render(report::Format::kText, report, context));
  }
  bool written = true;
  for (const auto& t : targets) {
    // The report is scrubbed already; scrubbing a structured document again could mask a key
    // or an attribute name equal to a short password.
    std::string text = report::render(t.format, report, context);
    if (t.path.empty()) {
      std::cout << text;
    } else if (!writeFile(t.path, text, false)) {
      std::cerr << "alembic-sidecar: cannot write the " << t.name << " report to " << t.path
                << "\n";
      written = false;
    }
  }
  std::cout << std::flush;
  if (github) {
    if (const char* summary = std::getenv("GITHUB_STEP_SUMMARY"); summary != nullptr && *summary) {
      std::string text = report::renderMarkdown(report, context);
      if (!writeFile(summary, text + "\n", true)) {
        std::cerr << "alembic-sidecar: cannot append the summary to $GITHUB_STEP_SUMMARY ("
                  << summary << ")\n";
        written = false;
      }
    }
  }
  if (!written) {
    return core::kExitUsage;
  }
  auto failOn = report::parseFailOn(o.failOn);
  return report::exitCodeFor(raw, failOn ? *failOn : report::FailOn::kEscalation);
}

}  // namespace alembic_sidecar::cli
