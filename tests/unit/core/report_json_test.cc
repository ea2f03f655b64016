#include "core/report_json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace alembic_sidecar::core {
namespace {

Report sample() {
  Report r;
  r.action = "revision";
  r.phase = "Escalated";
  r.reason = "ProbableRename";
  r.message = "1 finding";
  r.database = DatabaseInfo{"flag", "127.0.0.1", 5432, "app"};
  r.revision = RevisionInfo{"abc", "def", "migrations/versions/x.py", "m", "00ff"};
  r.operations = {{"add_column", "user", "email", ""}, {"create_index", "user", "", "ix"}};
  r.roundTrip = RoundTripInfo{"Passed", "Passed", "Passed", true, 12};
  r.findings = {{"ProbableRename", "escalation", "msg", "fix", "x.py", 3},
                {"NoModelChanges", "info", "m2", "r2", "", 0}};
  r.conditions = {{"Ready", "False", "ProbableRename", "1 finding"}};
  r.durationMs = 99;
  return r;
}

TEST(ReportJson, HasTheContractShape) {
  auto j = toJson(sample());
  for (const char* key : {"action", "phase", "reason", "message", "database", "revision",
                          "operations", "roundTrip", "findings", "conditions", "durationMs"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j["operations"][0], (nlohmann::json{{"op", "add_column"}, {"table", "user"},
                                                 {"column", "email"}}));
  EXPECT_FALSE(j["findings"][1].contains("file"));
  EXPECT_FALSE(j["findings"][1].contains("line"));
  EXPECT_EQ(j["findings"][0]["line"], 3);
}

TEST(ReportJson, NullRevisionAndDatabaseWhenAbsent) {
  Report r;
  auto j = toJson(r);
  EXPECT_TRUE(j["revision"].is_null());
  EXPECT_TRUE(j["database"].is_null());
}

TEST(ReportJson, ReadsBackWhatItWrites) {
  Report original = sample();
  Report back = reportFromJson(toJson(original));
  EXPECT_EQ(back.phase, original.phase);
  EXPECT_EQ(back.database, original.database);
  EXPECT_EQ(back.revision, original.revision);
  EXPECT_EQ(back.operations, original.operations);
  EXPECT_EQ(back.roundTrip, original.roundTrip);
  EXPECT_EQ(back.findings, original.findings);
  EXPECT_EQ(back.conditions, original.conditions);
  EXPECT_EQ(back.durationMs, 99);
}

TEST(ReportJson, BaselineSaysWhichAndWhy) {
  Report r = sample();
  EXPECT_FALSE(toJson(r).contains("baseline"));  // actions without a scratch database
  r.baseline = BaselineInfo{"live-schema", "46f2de0421e0", "auto: the history lacks users"};
  auto j = toJson(r);
  EXPECT_EQ(j["baseline"], (nlohmann::json{{"source", "live-schema"},
                                           {"revision", "46f2de0421e0"},
                                           {"reason", "auto: the history lacks users"}}));
  EXPECT_EQ(reportFromJson(j).baseline, r.baseline);
  EXPECT_THAT(renderText(r),
              ::testing::HasSubstr("Baseline:   live-schema at 46f2de0421e0 - auto: the history "
                                   "lacks users"));
}

TEST(ReportText, OneLinePerConditionAndFindingsWithFixes) {
  std::string text = renderText(sample());
  EXPECT_THAT(text, ::testing::HasSubstr("[FAIL] Ready: ProbableRename"));
  EXPECT_THAT(text, ::testing::HasSubstr("[escalation] ProbableRename x.py:3 - msg"));
  EXPECT_THAT(text, ::testing::HasSubstr("fix: fix"));
}

TEST(ExitCodes, FollowThePhase) {
  Report r;
  r.phase = "Succeeded";
  EXPECT_EQ(exitCodeFor(r), 0);
  r.phase = "Failed";
  EXPECT_EQ(exitCodeFor(r), 1);
  r.phase = "Escalated";
  EXPECT_EQ(exitCodeFor(r), 3);
}

}  // namespace
}  // namespace alembic_sidecar::core
