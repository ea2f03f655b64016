#include "database/live_check_findings.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace alembic_sidecar::database {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using Kind = LiveCheck::Kind;

LiveCheck check(Kind kind, const char* code, const char* subject) {
  return LiveCheck{kind, code, subject, "team", "primary key id", 5, {}};
}

const LiveCheck kNulls =
    check(Kind::kNulls, "NullRowsUnderNotNull", "SET NOT NULL on team.headquarters");

TEST(LiveCheckFinding, CleanDataIsNoFinding) {
  EXPECT_FALSE(liveCheckFinding(kNulls, {{"0", std::nullopt}}, LiveCheckLimits{}, "v.py"));
  EXPECT_FALSE(liveCheckFinding(kNulls, {}, LiveCheckLimits{}, "v.py"));
}

TEST(LiveCheckFinding, NullsEscalateWithCountAndKeys) {
  auto f = liveCheckFinding(kNulls, {{"3", R"(["1","2","7"])"}}, LiveCheckLimits{}, "v.py");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->code, "NullRowsUnderNotNull");
  EXPECT_EQ(f->severity, "escalation");
  EXPECT_EQ(f->file, "v.py");
  EXPECT_EQ(f->line, 5);
  EXPECT_THAT(f->message,
              AllOf(HasSubstr("SET NOT NULL on team.headquarters"), HasSubstr("3 row(s) hold NULL"),
                    HasSubstr("(primary key id: 1, 2, 7)")));
  EXPECT_THAT(f->recommendation, HasSubstr("data migration"));
}

TEST(LiveCheckFinding, DuplicatesCountGroupsAndRows) {
  auto dup = check(Kind::kDuplicates, "DuplicateRowsUnderUnique",
                   "unique index ix_team_name on team (name)");
  auto f =
      liveCheckFinding(dup, {{"2", "5", R"([["1","4"],["2","3"]])"}}, LiveCheckLimits{}, "v.py");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->code, "DuplicateRowsUnderUnique");
  EXPECT_THAT(f->message, AllOf(HasSubstr("unique index ix_team_name on team (name)"),
                                HasSubstr("2 value(s) occur more than once, in 5 row(s)"),
                                HasSubstr("1 and 4; 2 and 3")));
}

TEST(LiveCheckFinding, CountingStopsAtTheLimitAndSaysSo) {
  auto violations = check(Kind::kViolations, "RowsViolateCheck", "check constraint ck on item");
  LiveCheckLimits limits;
  limits.maxOffenders = 10;
  auto f = liveCheckFinding(violations, {{"11", R"(["1","2","3","4","5"])"}}, limits, "v.py");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->code, "RowsViolateCheck");
  EXPECT_THAT(f->message, AllOf(HasSubstr("more than 10 (the check stops counting there)"),
                                HasSubstr("1, 2, 3, 4, 5, ...")));
}

TEST(LiveCheckFinding, LongKeysAreCut) {
  std::string key(200, 'k');
  auto f = liveCheckFinding(kNulls, {{"1", "[\"" + key + "\"]"}}, LiveCheckLimits{}, "v.py");
  ASSERT_TRUE(f);
  EXPECT_THAT(f->message, HasSubstr(std::string(64, 'k') + "..."));
  EXPECT_THAT(f->message, ::testing::Not(HasSubstr(std::string(65, 'k'))));
}

TEST(LiveCheckFinding, EveryKindSaysWhatHappens) {
  struct Case {
    Kind kind;
    const char* says;
  };
  for (const auto& c :
       {Case{Kind::kDoesNotFit, "do not fit or do not convert"},
        Case{Kind::kRounded, "the new type rounds"},
        Case{Kind::kOrphans, "reference no existing row"}, Case{Kind::kViolations, "violate it"}}) {
    auto f = liveCheckFinding(check(c.kind, "Code", "subject"), {{"1", R"(["9"])"}},
                              LiveCheckLimits{}, "v.py");
    ASSERT_TRUE(f);
    EXPECT_THAT(f->message, HasSubstr(c.says));
    EXPECT_FALSE(f->recommendation.empty());
  }
}

TEST(LiveCheckIncomplete, IsAWarningWithTheReason) {
  auto f =
      liveCheckIncomplete(kNulls, core::Error::terminal("Timeout", "statement_timeout"), "v.py");
  EXPECT_EQ(f.code, "LiveCheckIncomplete");
  EXPECT_EQ(f.severity, "warning");
  EXPECT_THAT(f.message, HasSubstr("statement_timeout"));
}

}  // namespace
}  // namespace alembic_sidecar::database
