#pragma once

#include <string>

#include "core/report.h"
#include "report/findings_reference.h"

namespace alembic_sidecar::report {

/** Where docs/findings.md is published; each code's section is `#<anchor>` on it. */
inline constexpr char kDefaultFindingsUrl[] = ALEMBIC_SIDECAR_FINDINGS_URL;

/** What a rendering needs besides the report itself. */
struct RenderContext {
  /** Null: builtinFindingsReference(). */
  const FindingsReference* reference = nullptr;
  /** Absolute URL of the findings reference (SARIF helpUri, Markdown links). */
  std::string findingsUrl = kDefaultFindingsUrl;
  std::string toolVersion = ALEMBIC_SIDECAR_VERSION;
  /** The generated revision's text (Markdown shows it folded); empty when there is none. */
  std::string revisionText;
  /**
   * Prepended to relative file paths, so they are relative to the repository the CI job checked
   * out (e.g. "backend/" when --project is backend); empty: paths stay relative to the project.
   */
  std::string pathPrefix;

  const FindingsReference& findings() const {
    return reference != nullptr ? *reference : builtinFindingsReference();
  }
  /** The URL of `rule`'s section (the page itself for a code it does not document). */
  std::string helpUri(const RuleHelp& rule) const {
    return rule.anchor.empty() ? findingsUrl : findingsUrl + "#" + rule.anchor;
  }
};

/** A finding's place in the repository: its file, else the revision's; line 0 when unknown. */
struct SourceLocation {
  std::string path;
  int line = 0;
};

SourceLocation locate(const core::Finding& finding, const core::Report& report,
                      const RenderContext& context);

/** The project's alembic.ini as the reports name it: where what concerns no file is shown. */
std::string projectFilePath(const RenderContext& context);

/** The revision file as the reports name it (prefixed), or empty. */
std::string revisionPath(const core::Report& report, const RenderContext& context);

/** A stable identity of a finding across runs: SHA-256 of code, path, line and message. */
std::string fingerprint(const core::Finding& finding, const SourceLocation& location);

/** Whether a finding of this severity fails a review: escalation or error. */
bool blocking(const std::string& severity);

}  // namespace alembic_sidecar::report
