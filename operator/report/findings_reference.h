#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace alembic_sidecar::report {

/** What the reports say about one finding code: a row of docs/findings.md and its section. */
struct RuleHelp {
  /** The code; for a family such as `Lint<Rule>`, its prefix ("Lint"). */
  std::string code;
  /** As the table writes it: the code, or the family's name ("Lint<Rule>"). */
  std::string name;
  /** A family: matches every code that starts with `code` and has no entry of its own. */
  bool family = false;
  /** The usual severity (info|warning|escalation|error); the finding carries the real one. */
  std::string severity;
  /** "info (skip)": the finding says that a check did not run (JUnit: skipped). */
  bool skipNote = false;
  /** Condition types of the steps that emit it, in order of preference. */
  std::vector<std::string> steps;
  /** One sentence. */
  std::string summary;
  /** The body of the code's section (Markdown), without its heading. */
  std::string markdown;
  /** The section's anchor in docs/findings.md (GitHub's slug of the heading). */
  std::string anchor;
  /** False for a code the reference does not know yet (a generic entry). */
  bool documented = true;
};

/**
 * The findings table of docs/findings.md: rows `| [`Code`](#anchor) | severity | Step / Step |
 * summary |` (wherever the table stands) and one `## `Code`` section per code; other prose and
 * sections are allowed and ignored. Pure: text in, data out.
 */
class FindingsReference {
 public:
  static FindingsReference parse(std::string_view markdown);

  /**
   * The entry for `code`: its own row, else the family whose prefix it starts with (the longest),
   * else a generic entry (documented false) so that a code added later still renders.
   */
  RuleHelp lookup(const std::string& code) const;
  const std::vector<RuleHelp>& rules() const { return rules_; }

 private:
  std::vector<RuleHelp> rules_;
};

/** The reference compiled into the binary (docs/findings.md at build time). */
const FindingsReference& builtinFindingsReference();

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to '-'. */
std::string headingAnchor(std::string_view heading);

/** `markdown` with emphasis, code marks and link targets removed: for plain-text fields. */
std::string plainText(std::string_view markdown);

}  // namespace alembic_sidecar::report
