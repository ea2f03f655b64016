#include "report/renderers.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>

#include "core/reasons.h"

namespace alembic_sidecar::report {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kFile[] = "migrations/versions/abc123_rename.py";

core::Report escalated() {
  core::Report r;
  r.action = "revision";
  r.phase = "Escalated";
  r.reason = "ProbableRename";
  r.message = "2 finding(s) need a human decision: ProbableRename, FutureCheck.";
  r.revision = core::RevisionInfo{"abc123", "def456", kFile, "rename", "00ff"};
  r.operations = {{"add_column", "team", "head_office", ""},
                  {"drop_column", "team", "headquarters", ""},
                  {"create_index", "team", "", "ix_a|b"}};
  r.roundTrip = core::RoundTripInfo{"Passed", "Passed", "Passed", true, 321};
  r.findings = {
      {"DatabaseNote", "info", "found through --database-url", "", "", 0},
      {"ProbableRename", "escalation", "team.headquarters dropped & team.head_office added <x>",
       "Keep the old name: sa.Column('headquarters', ...)", kFile, 12},
      {"LintPreferTimestampTz", "warning", "use timestamptz", "DateTime(timezone=True)", kFile, 20},
      {"LiveChecksSkipped", "info", "the live table team does not exist yet", "", "", 0},
      {"FutureCheck", "escalation", "a check added after this build, 100% sure\nsecond line",
       "do: this, then that", kFile, 30},
  };
  r.conditions = {{"DatabaseReady", "True", "Connected", "127.0.0.1:5432/app"},
                  {"ModelsRegistered", "True", "AllModelsRegistered", ""},
                  {"RevisionGenerated", "True", "Generated", ""},
                  {"Validated", "True", "NoEscalations", ""},
                  {"RoundTripPassed", "True", "SchemaRestored", ""},
                  {"Ready", "False", "ProbableRename", r.message}};
  r.durationMs = 4567;
  return r;
}

core::Report failed() {
  core::Report r;
  r.action = "revision";
  r.phase = "Failed";
  r.reason = "UpgradeFailed";
  r.message = "alembic upgrade failed: relation \"x\" does not exist";
  r.revision = core::RevisionInfo{"abc123", "def456", kFile, "m", ""};
  r.roundTrip.upgrade = "Failed";
  r.conditions = {{"DatabaseReady", "True", "Connected", ""},
                  {"ModelsRegistered", "True", "AllModelsRegistered", ""},
                  {"RevisionGenerated", "True", "Generated", ""},
                  {"Validated", "True", "NoEscalations", ""},
                  {"RoundTripPassed", "False", "UpgradeFailed", r.message},
                  {"Ready", "Unknown", "NotRun", ""}};
  return r;
}

RenderContext context() {
  RenderContext c;
  c.findingsUrl = "https://docs.example/findings.md";
  c.toolVersion = "9.9.9";
  return c;
}

int count(const std::string& text, const std::string& needle) {
  int n = 0;
  for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) {
    ++n;
  }
  return n;
}

TEST(Junit, OneSuitePerStepAndFailuresForEscalationsWithFileAndLine) {
  std::string xml = renderJunit(escalated(), context());
  EXPECT_THAT(xml, StartsWith("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites"));
  for (const char* step : {"DatabaseReady", "ModelsRegistered", "RevisionGenerated", "Validated",
                           "RoundTripPassed", "Ready"}) {
    EXPECT_THAT(xml, HasSubstr("<testsuite name=\"" + std::string(step) + "\"")) << step;
  }
  EXPECT_THAT(xml, HasSubstr("<testcase name=\"ProbableRename at " + std::string(kFile) +
                             ":12\" classname=\"alembic-sidecar.revision.Validated\" "
                             "time=\"0.000\" file=\"" +
                             kFile + "\" line=\"12\">"));
  EXPECT_THAT(xml, HasSubstr("<failure type=\"ProbableRename (escalation)\" "
                             "message=\"team.headquarters dropped &amp; team.head_office added "
                             "&lt;x&gt;\">"));
  EXPECT_THAT(xml,
              HasSubstr("Recommendation: Keep the old name: sa.Column(&apos;headquarters&apos;"));
  EXPECT_THAT(xml, HasSubstr("File: " + std::string(kFile) + ":12</failure>"));
  // The revision checked is a test case of the steps that check revisions.
  EXPECT_THAT(xml, HasSubstr("<testcase name=\"revision " + std::string(kFile) + "\""));
  // A rule that found nothing passed.
  EXPECT_THAT(xml, HasSubstr("<testcase name=\"EnumTypeMissing\" "
                             "classname=\"alembic-sidecar.revision.Validated\" time=\"0.000\"/>"));
  // A warning passes and says so; a check that did not run is skipped with the reason.
  EXPECT_THAT(xml, HasSubstr("<system-out>[warning] use timestamptz"));
  EXPECT_THAT(xml, HasSubstr("<skipped message=\"the live table team does not exist yet\"/>"));
  // A code the reference does not know still fails the review, in its own suite.
  EXPECT_THAT(xml, HasSubstr("<testsuite name=\"Findings\""));
  EXPECT_THAT(xml, HasSubstr("<failure type=\"FutureCheck (escalation)\""));
  // Counts add up.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(xml, m,
                                std::regex("<testsuites [^>]*tests=\"(\\d+)\" "
                                           "failures=\"(\\d+)\"")));
  EXPECT_EQ(std::stoi(m[1]), count(xml, "<testcase "));
  EXPECT_EQ(std::stoi(m[2]), count(xml, "<failure "));
  EXPECT_EQ(count(xml, "<failure "), 3);  // ProbableRename, FutureCheck, Ready
}

TEST(Junit, AFailedRunFailsItsStepAndSkipsWhatDidNotRun) {
  std::string xml = renderJunit(failed(), context());
  EXPECT_THAT(xml, HasSubstr("<failure type=\"UpgradeFailed\" message=\"UpgradeFailed: alembic "
                             "upgrade failed: relation &quot;x&quot; does not exist\">"));
  EXPECT_THAT(xml,
              HasSubstr("<testcase name=\"Ready\" classname=\"alembic-sidecar.revision.Ready\" "
                        "time=\"0.000\">\n      <skipped message=\"Ready did not run"));
  EXPECT_THAT(xml, HasSubstr("<testcase name=\"ScratchDatabaseLeftBehind\" "
                             "classname=\"alembic-sidecar.revision.Ready\" time=\"0.000\">\n"
                             "      <skipped"));
}

TEST(Sarif, OneRulePerCodeWithHelpFromTheReferenceAndResultsAtFileAndLine) {
  auto log = nlohmann::json::parse(renderSarif(escalated(), context()));
  EXPECT_EQ(log["version"], "2.1.0");
  const auto& run = log["runs"][0];
  EXPECT_EQ(run["tool"]["driver"]["name"], "alembic-sidecar");
  EXPECT_EQ(run["tool"]["driver"]["version"], "9.9.9");
  const auto& rules = run["tool"]["driver"]["rules"];
  ASSERT_EQ(rules.size(), 5u);
  std::map<std::string, nlohmann::json> byId;
  for (const auto& r : rules) {
    byId[r["id"]] = r;
  }
  EXPECT_EQ(byId["ProbableRename"]["helpUri"], "https://docs.example/findings.md#probablerename");
  EXPECT_THAT(byId["ProbableRename"]["help"]["markdown"].get<std::string>(),
              HasSubstr("Autogenerate renders a rename as drop + add"));
  EXPECT_EQ(byId["ProbableRename"]["defaultConfiguration"]["level"], "error");
  EXPECT_EQ(byId["LintPreferTimestampTz"]["helpUri"], "https://docs.example/findings.md#lintrule");
  EXPECT_EQ(byId["FutureCheck"]["helpUri"], "https://docs.example/findings.md");
  const auto& results = run["results"];
  ASSERT_EQ(results.size(), 5u);
  EXPECT_EQ(results[0]["level"], "note");
  EXPECT_EQ(results[1]["ruleId"], "ProbableRename");
  EXPECT_EQ(results[1]["level"], "error");
  EXPECT_EQ(results[1]["ruleIndex"], 1);
  EXPECT_EQ(results[1]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], kFile);
  EXPECT_EQ(results[1]["locations"][0]["physicalLocation"]["region"]["startLine"], 12);
  EXPECT_THAT(results[1]["message"]["text"].get<std::string>(),
              HasSubstr("Recommendation: Keep the old name"));
  EXPECT_EQ(results[2]["level"], "warning");
  // A finding without a file is placed on the revision, without a line.
  EXPECT_EQ(results[3]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], kFile);
  EXPECT_FALSE(results[3]["locations"][0]["physicalLocation"].contains("region"));
  EXPECT_EQ(run["invocations"][0]["executionSuccessful"], true);
}

TEST(Sarif, AFailedRunIsAToolExecutionNotification) {
  auto log = nlohmann::json::parse(renderSarif(failed(), context()));
  const auto& inv = log["runs"][0]["invocations"][0];
  EXPECT_EQ(inv["executionSuccessful"], false);
  EXPECT_EQ(inv["toolExecutionNotifications"][0]["level"], "error");
  EXPECT_EQ(inv["toolExecutionNotifications"][0]["descriptor"]["id"], "UpgradeFailed");
}

TEST(Sarif, PathsArePrefixedAndEscapedAsUriReferences) {
  auto report = escalated();
  report.findings[1].file = "migrations/versions/a b%.py";
  auto c = context();
  c.pathPrefix = "backend/";
  auto log = nlohmann::json::parse(renderSarif(report, c));
  EXPECT_EQ(
      log["runs"][0]["results"][1]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
      "backend/migrations/versions/a%20b%25.py");
}

TEST(GithubCommands, OneCommandPerFindingWithFileLineAndEscapes) {
  std::string out = renderGithubCommands(escalated(), context());
  EXPECT_THAT(out, HasSubstr("::error file=" + std::string(kFile) +
                             ",line=12,title=ProbableRename::team.headquarters dropped"));
  EXPECT_THAT(out, HasSubstr("::warning file=" + std::string(kFile) +
                             ",line=20,title=LintPreferTimestampTz::use timestamptz"));
  EXPECT_THAT(out, HasSubstr("::notice file=" + std::string(kFile) + ",title=LiveChecksSkipped::"));
  EXPECT_THAT(out, HasSubstr("100%25 sure%0Asecond line%0ARecommendation: do: this, then that"));
  EXPECT_THAT(out, HasSubstr("%0Ahttps://docs.example/findings.md#probablerename\n"));
  EXPECT_EQ(count(out, "\n"), 5);  // one line each: nothing unescaped breaks a command
}

TEST(GithubCommands, PropertiesEscapeColonAndComma) {
  auto report = escalated();
  report.findings = {{"X", "warning", "m", "", "dir,a:b.py", 3}};
  EXPECT_THAT(renderGithubCommands(report, context()),
              HasSubstr("::warning file=dir%2Ca%3Ab.py,line=3,title=X::m"));
}

TEST(GithubCommands, AFailedRunSaysWhy) {
  EXPECT_THAT(
      renderGithubCommands(failed(), context()),
      HasSubstr("::error file=" + std::string(kFile) +
                ",title=alembic-sidecar revision failed%3A UpgradeFailed::alembic upgrade"));
}

TEST(Markdown, TheCommentHasAMarkerTheVerdictTablesAndFoldedRevision) {
  auto c = context();
  c.revisionText = "def upgrade():\n    op.add_column('team', x)  # ``` inside\n";
  std::string md = renderMarkdown(escalated(), c);
  EXPECT_THAT(md, StartsWith("<!-- alembic-sidecar:report revision -->\n"));
  EXPECT_THAT(md, HasSubstr(":warning: alembic-sidecar revision: Escalated (`ProbableRename`)"));
  EXPECT_THAT(md, HasSubstr("| Validated | :white_check_mark: | NoEscalations |  |"));
  EXPECT_THAT(md, HasSubstr("| 3 | `create_index` | `team` |  | `ix_a\\|b` |"));
  EXPECT_THAT(md,
              HasSubstr("- [`ProbableRename`](https://docs.example/findings.md#probablerename) `" +
                        std::string(kFile) +
                        ":12`: team.headquarters dropped &amp; "
                        "team.head_office added &lt;x&gt;\n  - Fix: Keep the old name"));
  // Severity groups in order, info folded.
  auto escalations = md.find("**Escalations: a human decides (2)**");
  auto warnings = md.find("**Warnings (1)**");
  auto info = md.find("<summary>Info (2)</summary>");
  ASSERT_NE(escalations, std::string::npos);
  EXPECT_LT(escalations, warnings);
  EXPECT_LT(warnings, info);
  EXPECT_THAT(md, HasSubstr("**Round trip:** upgrade Passed, downgrade Passed, re-upgrade Passed; "
                            "schema restored"));
  EXPECT_THAT(md, HasSubstr("<summary>Generated revision <code>" + std::string(kFile) +
                            "</code></summary>\n\n````python\ndef upgrade():"));
  EXPECT_THAT(md, HasSubstr("````\n\n</details>\n"));
}

TEST(Markdown, AVeryLongRevisionIsCutToFitAComment) {
  auto c = context();
  for (int i = 0; i < 5000; ++i) {
    c.revisionText += "    op.execute('select " + std::to_string(i) + "')\n";
  }
  std::string md = renderMarkdown(escalated(), c);
  EXPECT_LT(md.size(), 40000u);
  EXPECT_THAT(md, HasSubstr(" more line(s) not shown"));
  EXPECT_THAT(md, HasSubstr("```\n\n</details>\n"));
}

TEST(Markdown, IsStableAndCarriesNoDurations) {
  auto a = escalated();
  auto b = escalated();
  b.durationMs = 999999;
  b.roundTrip.durationMs = 12345;
  EXPECT_EQ(renderMarkdown(a, context()), renderMarkdown(b, context()));
  EXPECT_THAT(renderMarkdown(a, context()), Not(HasSubstr("4567")));
}

TEST(GitlabCodeQuality, EveryIssueHasTheRequiredFields) {
  auto issues = nlohmann::json::parse(renderGitlabCodeQuality(escalated(), context()));
  ASSERT_EQ(issues.size(), 5u);
  std::set<std::string> fingerprints;
  for (const auto& issue : issues) {
    for (const char* key : {"description", "check_name", "fingerprint", "severity"}) {
      EXPECT_TRUE(issue[key].is_string() && !issue[key].get<std::string>().empty()) << key;
    }
    EXPECT_FALSE(issue["location"]["path"].get<std::string>().empty());
    EXPECT_GE(issue["location"]["lines"]["begin"].get<int>(), 1);
    fingerprints.insert(issue["fingerprint"].get<std::string>());
  }
  EXPECT_EQ(fingerprints.size(), issues.size());
  EXPECT_EQ(issues[1]["severity"], "critical");
  EXPECT_EQ(issues[1]["location"]["lines"]["begin"], 12);
  EXPECT_EQ(issues[2]["severity"], "minor");
  EXPECT_EQ(issues[0]["severity"], "info");
  EXPECT_EQ(issues[0]["location"]["path"], kFile);
}

TEST(GitlabCodeQuality, AFailedRunWithoutRevisionIsABlockerOnAlembicIni) {
  auto report = failed();
  report.revision.reset();
  auto c = context();
  c.pathPrefix = "backend";
  auto issues = nlohmann::json::parse(renderGitlabCodeQuality(report, c));
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_EQ(issues[0]["severity"], "blocker");
  EXPECT_EQ(issues[0]["check_name"], "UpgradeFailed");
  EXPECT_EQ(issues[0]["location"]["path"], "backend/alembic.ini");
}

}  // namespace
}  // namespace alembic_sidecar::report
