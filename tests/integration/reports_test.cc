// `--report FORMAT[=PATH]` and `--fail-on` on real runs (the built binary, Debian's alembic,
// real PostgreSQL): a Succeeded, an Escalated (findings on several lines) and a Failed run,
// each written in every format and validated offline: JUnit against the Jenkins xUnit schema
// (xmllint), SARIF against the SARIF 2.1.0 JSON schema and with Microsoft's SARIF Multitool,
// GitLab Code Quality's required fields (tests/schemas/validate_report.py).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "support/cli_runner.h"
#include "support/example_app.h"
#include "support/postgres_server.h"
#include "support/temp_dir.h"
#include "workspace/process.h"

namespace alembic_sidecar::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

std::string readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

/** Runs tests/schemas/validate_report.py FORMAT FILE; empty when valid, else what it said. */
std::string validate(const std::string& format, const fs::path& file) {
  workspace::ProcessSpec spec;
  spec.argv = {"/usr/bin/python3",
               std::string(ALEMBIC_SIDECAR_SOURCE_DIR) + "/tests/schemas/validate_report.py",
               format, file.string()};
  spec.timeout = std::chrono::minutes(5);
  auto result = workspace::runProcess(spec);
  if (!result) {
    return result.error().message;
  }
  return result->exitCode == 0
             ? std::string()
             : "exit " + std::to_string(result->exitCode) + ": " + result->out + result->err;
}

class ReportsTest : public ::testing::Test {
 protected:
  void SetUp() override { db_ = createTestDatabase("rpt"); }

  fs::path file(const std::string& name) const { return out_.path() / name; }

  /** A revision with every report: files in out_, github commands (and the text) on stdout. */
  CliResult revision(const std::string& message, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"revision",
                                     "-m",
                                     message,
                                     "--project",
                                     app_.dir(),
                                     "--database-url",
                                     db_.url(),
                                     "--report",
                                     "junit=" + file("junit.xml").string(),
                                     "--report",
                                     "sarif=" + file("report.sarif").string(),
                                     "--report",
                                     "markdown=" + file("comment.md").string(),
                                     "--report",
                                     "gitlab-codequality=" + file("codequality.json").string(),
                                     "--report",
                                     "json=" + file("report.json").string(),
                                     "--report",
                                     "github"};
    args.insert(args.end(), extra.begin(), extra.end());
    fs::remove(file("summary.md"));
    return runCli(args, {{"ALEMBIC_SIDECAR_SQUAWK",
                          std::string(ALEMBIC_SIDECAR_SOURCE_DIR) + "/.tools/bin/squawk"},
                         {"GITHUB_STEP_SUMMARY", file("summary.md").string()},
                         {"ALEMBIC_SIDECAR_FINDINGS_URL", "https://docs.example/findings.md"}});
  }

  /** Every file validates; none carries the database password. */
  void expectValid() {
    EXPECT_EQ(validate("junit", file("junit.xml")), "");
    EXPECT_EQ(validate("sarif", file("report.sarif")), "");
    EXPECT_EQ(validate("sarif-multitool", file("report.sarif")), "");
    EXPECT_EQ(validate("gitlab-codequality", file("codequality.json")), "");
    for (const char* name : {"junit.xml", "report.sarif", "comment.md", "codequality.json",
                             "report.json", "summary.md"}) {
      EXPECT_THAT(readFile(file(name)), Not(HasSubstr(db_.password))) << name;
    }
  }

  nlohmann::json json(const std::string& name) {
    return nlohmann::json::parse(readFile(file(name)));
  }

  static std::vector<std::string> lines(const std::string& text, const std::string& prefix) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
      if (line.rfind(prefix, 0) == 0) {
        out.push_back(line);
      }
    }
    return out;
  }

  ExampleApp app_;
  database::ConnectionInfo db_;
  TempDir out_{"reports"};
};

constexpr char kTeamHeadquarters[] = "    headquarters: Optional[str] = None\n";

TEST_F(ReportsTest, Succeeded_EveryFormatValidatesAndSaysSo) {
  app_.applyChange("user_add_phone");
  auto result = revision("add user phone");
  ASSERT_EQ(result.exitCode, 0) << result.err << result.out;
  expectValid();
  // The text report is still on stdout; the github commands share it.
  EXPECT_THAT(result.out, HasSubstr("alembic-sidecar revision: Succeeded (RevisionCreated)"));
  EXPECT_THAT(lines(result.out, "::error"), ::testing::IsEmpty());
  EXPECT_EQ(readFile(file("junit.xml")).find("<failure"), std::string::npos);
  auto sarif = json("report.sarif");
  EXPECT_EQ(sarif["runs"][0]["invocations"][0]["executionSuccessful"], true);
  for (const auto& r : sarif["runs"][0]["results"]) {
    EXPECT_NE(r["level"], "error") << r.dump();
  }
  std::string md = readFile(file("comment.md"));
  EXPECT_THAT(md, StartsWith("<!-- alembic-sidecar:report revision -->\n### :white_check_mark:"));
  EXPECT_THAT(md, HasSubstr("| 1 | `add_column` | `user` | `phone` |"));
  EXPECT_THAT(md, HasSubstr("<summary>Generated revision <code>migrations/versions/"));
  EXPECT_THAT(md, HasSubstr("op.add_column('user'"));
  // $GITHUB_STEP_SUMMARY got the same Markdown.
  EXPECT_EQ(readFile(file("summary.md")), md + "\n");
  EXPECT_EQ(json("report.json")["phase"], "Succeeded");
}

TEST_F(ReportsTest, Escalated_FindingsOnSeveralLinesReachEveryFormat) {
  // A rename (drop + add on team) and a foreign key without a name on item: two escalations
  // on different lines of the generated file.
  app_.replace("fastapi_template/models/team.py", kTeamHeadquarters,
               "    head_office: Optional[str] = None\n");
  app_.replace("fastapi_template/models/item.py",
               "    owner_id: int = Field(foreign_key=\"user.id\")\n",
               "    owner_id: int = Field(foreign_key=\"user.id\")\n"
               "    team_id: Optional[int] = Field(default=None, foreign_key=\"team.id\")\n");
  auto result = revision("rename and team");
  ASSERT_EQ(result.exitCode, 3) << result.err << result.out;
  expectValid();
  auto report = json("report.json");
  ASSERT_EQ(report["phase"], "Escalated");
  std::set<int> escalationLines;
  for (const auto& f : report["findings"]) {
    if (f["severity"] == "escalation" && f.contains("line")) {
      escalationLines.insert(f["line"].get<int>());
    }
  }
  ASSERT_GE(escalationLines.size(), 2u) << report.dump(2);
  const std::string revisionFile = report["revision"]["file"];

  // SARIF: each escalation an error at the revision file and its line, each rule with help.
  auto sarif = json("report.sarif");
  std::set<int> sarifLines;
  for (const auto& r : sarif["runs"][0]["results"]) {
    if (r["level"] == "error") {
      const auto& loc = r["locations"][0]["physicalLocation"];
      // The rejected revision's copy is outside the project: an absolute file:// URI.
      EXPECT_EQ(loc["artifactLocation"]["uri"],
                (revisionFile.front() == '/' ? "file://" : "") + revisionFile);
      sarifLines.insert(loc["region"]["startLine"].get<int>());
    }
  }
  EXPECT_EQ(sarifLines, escalationLines);
  for (const auto& rule : sarif["runs"][0]["tool"]["driver"]["rules"]) {
    EXPECT_THAT(rule["helpUri"].get<std::string>(), StartsWith("https://docs.example/findings.md#"))
        << rule.dump();
    EXPECT_FALSE(rule["help"]["markdown"].get<std::string>().empty());
  }

  // GitHub: an ::error per escalation with file and line.
  auto errors = lines(result.out, "::error file=" + revisionFile + ",line=");
  EXPECT_EQ(errors.size(), escalationLines.size()) << result.out;

  // JUnit: a failure per escalation (plus the Ready step), with file and line attributes.
  std::string junit = readFile(file("junit.xml"));
  for (int line : escalationLines) {
    EXPECT_THAT(junit, HasSubstr("file=\"" + revisionFile + "\" line=\"" + std::to_string(line) +
                                 "\">\n      <failure"));
  }

  // GitLab: critical issues at those lines.
  std::set<int> gitlabLines;
  for (const auto& issue : json("codequality.json")) {
    if (issue["severity"] == "critical") {
      gitlabLines.insert(issue["location"]["lines"]["begin"].get<int>());
    }
  }
  EXPECT_EQ(gitlabLines, escalationLines);

  // Markdown: escalations grouped, with file:line.
  std::string md = readFile(file("comment.md"));
  EXPECT_THAT(md, HasSubstr("### :warning: alembic-sidecar revision: Escalated"));
  EXPECT_THAT(md, HasSubstr("**Escalations: a human decides"));
  for (int line : escalationLines) {
    EXPECT_THAT(md, HasSubstr("`" + revisionFile + ":" + std::to_string(line) + "`"));
  }
}

TEST_F(ReportsTest, Failed_ReportsTheReasonAndTheModelFile) {
  app_.write("fastapi_template/models/tag.py",
             "from typing import Optional\n\n"
             "from sqlmodel import Field, SQLModel\n\n\n"
             "class Tag(SQLModel, table=True):\n"
             "    id: Optional[int] = Field(default=None, primary_key=True)\n"
             "    label: str\n");
  auto result = revision("add tags");
  ASSERT_EQ(result.exitCode, 1) << result.err << result.out;
  expectValid();
  EXPECT_THAT(readFile(file("junit.xml")),
              HasSubstr("file=\"fastapi_template/models/tag.py\" line=\"6\">\n      <failure "
                        "type=\"ModelNotRegistered (error)\""));
  auto sarif = json("report.sarif");
  EXPECT_EQ(sarif["runs"][0]["invocations"][0]["executionSuccessful"], false);
  EXPECT_EQ(
      sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"], 6);
  EXPECT_THAT(lines(result.out,
                    "::error file=fastapi_template/models/tag.py,line=6,"
                    "title=ModelNotRegistered::"),
              ::testing::SizeIs(1));
  EXPECT_THAT(readFile(file("comment.md")), HasSubstr("### :x: alembic-sidecar revision: Failed"));
  bool blocker = false;
  for (const auto& issue : json("codequality.json")) {
    blocker |= issue["severity"] == "blocker" && issue["check_name"] == "ModelNotRegistered";
  }
  EXPECT_TRUE(blocker);
}

TEST_F(ReportsTest, FailOn_DecidesTheExitCodeAndNothingElse) {
  app_.replace("fastapi_template/models/team.py", kTeamHeadquarters,
               "    head_office: Optional[str] = None\n");
  std::map<std::string, std::string> outputs;
  for (const auto& [failOn, expected] : std::vector<std::pair<std::string, int>>{
           {"escalation", 3}, {"never", 0}, {"error", 0}, {"warning", 3}}) {
    auto result = revision("rename", {"--fail-on", failOn});
    EXPECT_EQ(result.exitCode, expected) << failOn << result.err;
    // The kept revision would make the next run's diff empty: put the history back.
    auto report = json("report.json");
    ASSERT_EQ(report["phase"], "Escalated") << failOn;
    const std::string id = report["revision"]["id"];
    fs::remove(fs::path(app_.dir()) / report["revision"]["file"].get<std::string>());
    // Everything but what names this run's revision (its id, its staging directory, its
    // file's Create Date and the fingerprints of findings in that file) is the same.
    auto normalized = [&](const std::string& text) {
      std::string out = std::regex_replace(text, std::regex(id), "REV");
      out = std::regex_replace(out, std::regex("staging-[0-9a-f]+"), "staging-X");
      out = std::regex_replace(out, std::regex("Create Date: [^\n]*"), "Create Date: X");
      return std::regex_replace(out, std::regex("\"alembicSidecarFinding/v1\": \"[0-9a-f]+\""),
                                "FINGERPRINT");
    };
    std::string md = normalized(readFile(file("comment.md")));
    std::string sarif = normalized(readFile(file("report.sarif")));
    if (outputs.empty()) {
      outputs = {{"md", md}, {"sarif", sarif}};
    } else {
      EXPECT_EQ(md, outputs["md"]) << failOn;
      EXPECT_EQ(sarif, outputs["sarif"]) << failOn;
    }
  }
}

TEST_F(ReportsTest, FailOnWarning_FailsASucceededRunThatHasWarnings) {
  // A timestamp without time zone: squawk's prefer-timestamp-tz, a warning the author can act on.
  app_.replace("fastapi_template/models/user.py", "from typing import",
               "from datetime import datetime\nfrom typing import");
  app_.replace("fastapi_template/models/user.py", "class User(SQLModel, table=True):\n",
               "class User(SQLModel, table=True):\n    seen_at: Optional[datetime] = None\n");
  auto result = revision("seen at", {"--fail-on", "warning"});
  auto report = json("report.json");
  ASSERT_EQ(report["phase"], "Succeeded") << report.dump(2);
  ASSERT_FALSE(findingIn(report, "LintPreferTimestampTz").is_null()) << report.dump(2);
  EXPECT_EQ(result.exitCode, 5) << result.err;
  EXPECT_THAT(lines(result.out, "::warning "), Not(::testing::IsEmpty()));
}

TEST(ReportOptions, UsageErrorsStopBeforeTheRun) {
  auto two = runCli({"revision", "-m", "x", "--project", ".", "--json", "--report", "sarif"});
  EXPECT_EQ(two.exitCode, 2);
  EXPECT_THAT(two.err, HasSubstr("only one report can go to stdout"));
  auto unknown = runCli({"check", "--report", "xml=out.xml"});
  EXPECT_EQ(unknown.exitCode, 2);
  EXPECT_THAT(unknown.err, HasSubstr("unknown format 'xml'"));
  auto failOn = runCli({"check", "--fail-on", "sometimes"});
  EXPECT_EQ(failOn.exitCode, 2);
  auto noWait = runCli({"request", "--action", "check", "--report", "sarif=x.sarif"});
  EXPECT_EQ(noWait.exitCode, 2);
  EXPECT_THAT(noWait.err, HasSubstr("--report needs --wait"));
}

}  // namespace
}  // namespace alembic_sidecar::testing
