#include "database/live_data.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "mocks/mock_database.h"

namespace alembic_sidecar::database {
namespace {

using ::testing::_;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::Return;
using ::testing::SizeIs;
using ::testing::StrictMock;

using Answers = std::vector<core::Result<QueryRows>>;

alembic::ParsedRevision parse(const std::string& upgrade) {
  auto parsed = alembic::parseRevisionFile(
      "revision = 'r2'\ndown_revision = 'r1'\n\n"
      "def upgrade():\n" +
      upgrade + "\ndef downgrade():\n    pass\n");
  EXPECT_TRUE(parsed.ok());
  return *parsed;
}

QueryRows teamCatalog(const std::string& reltuples) {
  return {{"0", "public", "team", reltuples, R"(["id"])",
           R"({"id":"integer","headquarters":"character varying"})"}};
}

class LiveData : public ::testing::Test {
 protected:
  LiveData() { ctx_.file = "v.py"; }

  StrictMock<testing::MockDatabase> db_;
  alembic::AnalysisContext ctx_;
};

constexpr char kSetNotNull[] = "    op.alter_column('team', 'headquarters', nullable=False)\n";

TEST_F(LiveData, OnlyNewTables_AsksNothing) {
  auto findings = checkLiveData(
      db_, "app", parse("    op.create_table('tag', sa.Column('id', sa.Integer()))\n"), ctx_);
  EXPECT_THAT(findings, IsEmpty());
}

TEST_F(LiveData, UnreachableDatabase_EscalatesEveryDataDependentOperationAndNoOther) {
  EXPECT_CALL(db_, queryReadOnly("app", SizeIs(1), _))
      .WillOnce(Return(core::Error::retryable("DatabaseUnavailable", "cannot reach 127.0.0.1")));
  auto findings = checkLiveData(
      db_, "app",
      parse(std::string(kSetNotNull) +
            "    op.create_table('tag', sa.Column('id', sa.Integer()))\n"
            "    op.add_column('team', sa.Column('motto', sa.Text(), nullable=True))\n"
            "    op.create_index('ix_team_name', 'team', ['name'], unique=False)\n"
            "    op.create_index('ix_team_hq', 'team', ['headquarters'], unique=True)\n"),
      ctx_);
  ASSERT_THAT(findings, SizeIs(2));
  for (const auto& f : findings) {
    EXPECT_EQ(f.code, "LiveCheckIncomplete");
    EXPECT_EQ(f.severity, "escalation");
    EXPECT_THAT(f.message, HasSubstr("cannot reach 127.0.0.1"));
  }
  EXPECT_THAT(findings[0].message, HasSubstr("SET NOT NULL on team.headquarters"));
  EXPECT_THAT(findings[1].message, HasSubstr("unique index ix_team_hq"));
  EXPECT_THAT(ctx_.liveRowCounts, IsEmpty());
}

TEST_F(LiveData, CountsAndChecksInOneSecondRoundTrip) {
  EXPECT_CALL(db_, queryReadOnly("app", SizeIs(1), _)).WillOnce(Return(Answers{teamCatalog("-1")}));
  EXPECT_CALL(db_, queryReadOnly("app", SizeIs(2), _))
      .WillOnce(Return(Answers{QueryRows{{"3"}}, QueryRows{{"2", R"(["1","3"])"}}}));
  auto findings = checkLiveData(db_, "app", parse(kSetNotNull), ctx_);
  ASSERT_THAT(findings, SizeIs(1));
  EXPECT_EQ(findings[0].code, "NullRowsUnderNotNull");
  EXPECT_THAT(findings[0].message, HasSubstr("2 row(s) hold NULL (primary key id: 1, 3)"));
  EXPECT_EQ(ctx_.liveRowCounts.at("team"), 3);
  EXPECT_THAT(ctx_.liveRowEstimates, IsEmpty());
}

TEST_F(LiveData, BigTable_TakesReltuplesInsteadOfCounting) {
  // The second call carries only the check: no count(*) of a table the statistics call large.
  EXPECT_CALL(db_, queryReadOnly("app", SizeIs(1), _))
      .WillOnce(Return(Answers{teamCatalog("2500000")}))
      .WillOnce(Return(Answers{QueryRows{{"0", std::nullopt}}}));
  auto findings = checkLiveData(db_, "app", parse(kSetNotNull), ctx_);
  EXPECT_THAT(findings, IsEmpty());
  EXPECT_EQ(ctx_.liveRowCounts.at("team"), 2500000);
  EXPECT_THAT(ctx_.liveRowEstimates, ElementsAre("team"));
}

TEST_F(LiveData, TimedOutCheck_EscalatesNeverPasses) {
  EXPECT_CALL(db_, queryReadOnly("app", SizeIs(1), _)).WillOnce(Return(Answers{teamCatalog("10")}));
  EXPECT_CALL(db_, queryReadOnly("app", SizeIs(2), _))
      .WillOnce(Return(Answers{QueryRows{{"10"}},
                               core::Error::terminal("Timeout", "statement_timeout (10000 ms)")}));
  auto findings = checkLiveData(db_, "app", parse(kSetNotNull), ctx_);
  ASSERT_THAT(findings, SizeIs(1));
  EXPECT_EQ(findings[0].code, "LiveCheckIncomplete");
  EXPECT_EQ(findings[0].severity, "escalation");
  EXPECT_THAT(findings[0].message, HasSubstr("did not finish in time"));
}

TEST_F(LiveData, FailedCount_LeavesARequiredColumnUnverified) {
  EXPECT_CALL(db_, queryReadOnly("app", SizeIs(1), _))
      .WillOnce(Return(Answers{teamCatalog("10")}))
      .WillOnce(Return(Answers{core::Error::terminal("Timeout", "lock_timeout (1000 ms)")}));
  auto findings = checkLiveData(
      db_, "app",
      parse("    op.add_column('team', sa.Column('budget', sa.Integer(), nullable=False))\n"),
      ctx_);
  ASSERT_THAT(findings, SizeIs(1));
  EXPECT_EQ(findings[0].code, "LiveCheckIncomplete");
  EXPECT_THAT(findings[0].message,
              AllOf(HasSubstr("NOT NULL column team.budget"), HasSubstr("could not be counted"),
                    HasSubstr("holds a lock on team")));
}

TEST_F(LiveData, ConversionFailureNamesTheKey) {
  EXPECT_CALL(db_, queryReadOnly("app", SizeIs(1), _)).WillOnce(Return(Answers{teamCatalog("10")}));
  EXPECT_CALL(db_, queryReadOnly("app", SizeIs(2), _))
      .WillOnce(Return(Answers{
          QueryRows{{"10"}},
          core::Error::terminal(
              "InternalError",
              R"(ERROR:  alembic-sidecar conversion failed {"stage" : "convert", "row" : 3, )"
              R"("key" : "42", "state" : "22P02", "error" : "invalid input syntax for type )"
              R"(integer: \"Berlin\""})")}));
  auto findings =
      checkLiveData(db_, "app",
                    parse("    op.alter_column('team', 'headquarters', "
                          "type_=sa.Integer(), postgresql_using='headquarters::int')\n"),
                    ctx_);
  ASSERT_THAT(findings, SizeIs(1));
  EXPECT_EQ(findings[0].code, "ConversionFailsOnLiveRows");
  EXPECT_THAT(findings[0].message, AllOf(HasSubstr("primary key id 42"), Not(HasSubstr("Berlin"))));
}

TEST_F(LiveData, MissingTable_IsAnInfoAndNoQuery) {
  EXPECT_CALL(db_, queryReadOnly("app", SizeIs(1), _))
      .WillOnce(Return(Answers{
          QueryRows{{"0", std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt}}}));
  auto findings = checkLiveData(db_, "app", parse(kSetNotNull), ctx_);
  ASSERT_THAT(findings, SizeIs(1));
  EXPECT_EQ(findings[0].code, "LiveChecksSkipped");
  EXPECT_THAT(findings[0].message, HasSubstr("no table team"));
}

TEST_F(LiveData, LimitsReachTheDatabase) {
  LiveCheckLimits limits;
  limits.query.statementTimeout = std::chrono::milliseconds(1234);
  limits.query.role = "auditor";
  // The catalog question is no row check: it keeps the default time; the checks get the limit.
  EXPECT_CALL(db_, queryReadOnly("app", SizeIs(1),
                                 AllOf(Field(&ReadOnlyLimits::statementTimeout,
                                             std::chrono::milliseconds(10000)),
                                       Field(&ReadOnlyLimits::role, "auditor"))))
      .WillOnce(Return(Answers{teamCatalog("10")}));
  EXPECT_CALL(
      db_,
      queryReadOnly("app", SizeIs(2),
                    AllOf(Field(&ReadOnlyLimits::statementTimeout, std::chrono::milliseconds(1234)),
                          Field(&ReadOnlyLimits::role, "auditor"))))
      .WillOnce(Return(Answers{QueryRows{{"10"}}, QueryRows{{"0", std::nullopt}}}));
  EXPECT_THAT(checkLiveData(db_, "app", parse(kSetNotNull), ctx_, limits), IsEmpty());
}

}  // namespace
}  // namespace alembic_sidecar::database
