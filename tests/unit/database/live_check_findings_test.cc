#include "database/live_check_findings.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace alembic_sidecar::database {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using Kind = LiveCheck::Kind;

LiveCheck check(Kind kind, const char* code, const char* subject) {
  return LiveCheck{kind, code, subject, "team", "primary key id", true, 5, {}, 0};
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

TEST(LiveCheckFinding, HiddenKeysAreNeverShown) {
  auto hidden = kNulls;
  hidden.showKeys = false;
  hidden.keyLabel = "the primary key email is not a surrogate key: its values are not shown";
  auto f = liveCheckFinding(hidden, {{"2", R"(["ann@example.com"])"}}, LiveCheckLimits{}, "v.py");
  ASSERT_TRUE(f);
  EXPECT_THAT(f->message, AllOf(HasSubstr("2 row(s) hold NULL"), HasSubstr("not a surrogate"),
                                ::testing::Not(HasSubstr("ann@"))));
}

TEST(Unverified, IsAnEscalationThatSaysHowToVerify) {
  auto parsed = alembic::parseRevisionFile(
      "revision = 'r2'\ndown_revision = 'r1'\n\ndef upgrade():\n"
      "    op.alter_column('team', 'headquarters', nullable=False)\n\ndef downgrade():\n"
      "    pass\n");
  ASSERT_TRUE(parsed.ok());
  auto ops = dataOps(*parsed, {});
  ASSERT_EQ(ops.size(), 1u);
  auto f = unverifiedFinding(
      ops[0],
      unverifiedReason(
          core::Error::terminal("Timeout", "lock_timeout (1000 ms) cancelled the query"), "team"),
      LiveCheckLimits{}, "v.py");
  EXPECT_EQ(f.code, "LiveCheckIncomplete");
  EXPECT_EQ(f.severity, "escalation");
  EXPECT_EQ(f.line, 5);
  EXPECT_THAT(f.message, AllOf(HasSubstr("SET NOT NULL on team.headquarters"),
                               HasSubstr("could not be verified against the live rows of team"),
                               HasSubstr("holds a lock on team")));
  EXPECT_THAT(f.recommendation,
              AllOf(HasSubstr("--live-check-timeout SECONDS"), HasSubstr("more than its 10 s"),
                    HasSubstr("--live-role ROLE"),
                    HasSubstr("SELECT count(*) FROM \"team\" WHERE \"headquarters\" IS NULL;")));
}

TEST(Unverified, ReasonsNameTheCause) {
  EXPECT_THAT(
      unverifiedReason(core::Error::terminal("Timeout", "statement_timeout (10000 ms)"), "team"),
      HasSubstr("did not finish in time"));
  EXPECT_THAT(unverifiedReason(
                  core::Error::terminal("InternalError", "ERROR: permission denied for table team"),
                  "team"),
              HasSubstr("not allowed to read"));
}

TEST(ConversionFinding, NamesTheKeyAndTheErrorNeverTheValue) {
  auto conv = check(Kind::kConversion, "ConversionFailsOnLiveRows",
                    "changing team.headquarters from text to Integer()");
  ConversionFailure failure{"convert", 7, "123456", "22P02",
                            withoutValues("invalid input syntax for type integer: \"Berlin\"")};
  auto f = conversionFinding(conv, failure, "v.py");
  EXPECT_EQ(f.code, "ConversionFailsOnLiveRows");
  EXPECT_EQ(f.severity, "escalation");
  EXPECT_THAT(f.message, AllOf(HasSubstr("primary key id 123456"),
                               HasSubstr("invalid input syntax for type integer"),
                               HasSubstr("22P02"), ::testing::Not(HasSubstr("Berlin"))));
  failure.stage = "back";
  EXPECT_EQ(conversionFinding(conv, failure, "v.py").code, "DowngradeConversionFails");
  conv.showKeys = false;
  conv.keyLabel = "the table has no primary key: rows are counted, not named";
  failure.stage = "assign";
  failure.key.reset();
  EXPECT_THAT(conversionFinding(conv, failure, "v.py").message,
              HasSubstr("row 7 in primary-key order (the table has no primary key"));
}

}  // namespace
}  // namespace alembic_sidecar::database
