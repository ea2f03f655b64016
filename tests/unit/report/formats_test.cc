#include "report/formats.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/reasons.h"

namespace alembic_sidecar::report {
namespace {

using ::testing::HasSubstr;

TEST(ReportTarget, FormatWithAndWithoutPath) {
  auto junit = parseReportTarget("junit=out/report.xml");
  ASSERT_TRUE(junit);
  EXPECT_EQ(junit->format, Format::kJunit);
  EXPECT_EQ(junit->path, "out/report.xml");
  auto github = parseReportTarget("github");
  ASSERT_TRUE(github);
  EXPECT_EQ(github->format, Format::kGithub);
  EXPECT_TRUE(github->path.empty());
  EXPECT_EQ(parseReportTarget("gitlab-codequality=gl.json")->format, Format::kGitlabCodeQuality);
  EXPECT_EQ(parseReportTarget("json=a=b.json")->path, "a=b.json");
}

TEST(ReportTarget, UnknownFormatOrEmptyPathIsAUsageError) {
  auto bad = parseReportTarget("xml=out.xml");
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().message, HasSubstr("junit, sarif"));
  EXPECT_FALSE(parseReportTarget("sarif="));
}

core::Report withPhase(const std::string& phase, std::vector<std::string> severities) {
  core::Report r;
  r.phase = phase;
  for (const auto& s : severities) {
    r.findings.push_back({"C", s, "m", "", "", 0});
  }
  return r;
}

TEST(FailOn, DecidesTheExitCodeFromTheVerdict) {
  struct Case {
    std::string phase;
    std::vector<std::string> severities;
    int never, error, escalation, warning;
  };
  const Case cases[] = {
      {"Succeeded", {}, 0, 0, 0, 0},
      {"Succeeded", {"info"}, 0, 0, 0, 0},
      {"Succeeded", {"warning", "info"}, 0, 0, 0, kExitWarnings},
      {"Escalated", {"escalation", "warning"}, 0, 0, 3, 3},
      {"Failed", {"error"}, 0, 1, 1, 1},
      {"Failed", {}, 0, 1, 1, 1},
  };
  for (const auto& c : cases) {
    auto report = withPhase(c.phase, c.severities);
    EXPECT_EQ(exitCodeFor(report, FailOn::kNever), c.never) << c.phase;
    EXPECT_EQ(exitCodeFor(report, FailOn::kError), c.error) << c.phase;
    EXPECT_EQ(exitCodeFor(report, FailOn::kEscalation), c.escalation) << c.phase;
    EXPECT_EQ(exitCodeFor(report, FailOn::kWarning), c.warning) << c.phase;
    // The default is the phase's own exit code, as before --fail-on existed.
    EXPECT_EQ(exitCodeFor(report, FailOn::kEscalation), core::exitCodeFor(report));
  }
}

TEST(FailOn, Names) {
  EXPECT_EQ(*parseFailOn("never"), FailOn::kNever);
  EXPECT_EQ(*parseFailOn("warning"), FailOn::kWarning);
  EXPECT_FALSE(parseFailOn("sometimes"));
}

}  // namespace
}  // namespace alembic_sidecar::report
