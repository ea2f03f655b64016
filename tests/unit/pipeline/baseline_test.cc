// Where the scratch database starts (auto / history / live-schema), and what in place refuses.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "database/fingerprint.h"
#include "database/live_schema.h"
#include "unit/pipeline/pipeline_fixture.h"

namespace alembic_sidecar::pipeline {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kDropColumn[] = R"PY("""drop user nickname

Revision ID: b2
Revises: a1
"""
from alembic import op
import sqlalchemy as sa

revision = 'b2'
down_revision = 'a1'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_column('user', 'nickname')


def downgrade() -> None:
    op.add_column('user', sa.Column('nickname', sa.VARCHAR(), nullable=True))
)PY";

/** The first `upgrade head` fails the way a create_all() history does, later ones pass. */
alembic::OpOutcome failsAtA1(const alembic::DriverTarget&, const std::string&) {
  alembic::OpOutcome out;
  out.errorType = "ProgrammingError";
  out.errorLine =
      "ProgrammingError: (psycopg2.errors.UndefinedTable) relation \"user\" does "
      "not exist";
  out.output =
      "INFO  [alembic.runtime.migration] Running upgrade  -> a0, add audit log\n"
      "INFO  [alembic.runtime.migration] Running upgrade a0 -> a1, add user nickname\n";
  return out;
}

database::QueryRows rowsOf(std::vector<std::vector<std::string>> cells) {
  database::QueryRows rows;
  for (auto& row : cells) {
    std::vector<std::optional<std::string>> out(row.begin(), row.end());
    rows.push_back(std::move(out));
  }
  return rows;
}

class BaselineTest : public PipelineTest {
 protected:
  void SetUp() override {
    PipelineTest::SetUp();
    alembic::HistoryEntry root;
    root.revision = "a0";
    root.path = "migrations/versions/a0.py";
    auto a1 = head("a1");
    a1.downRevisions = {"a0"};
    driver_.historyOutcome.revisions = {root, a1};
    // The live database: create_all() made `user`, then `alembic stamp head`.
    ON_CALL(*db, queryReadOnly("app", _, _))
        .WillByDefault([this](const std::string&, const std::vector<database::ReadOnlyQuery>& q,
                              const database::ReadOnlyLimits&) {
          const std::string& sql = q.front().sql;
          std::vector<core::Result<database::QueryRows>> answers;
          if (sql == database::liveTablesQuery().sql) {
            answers.emplace_back(liveTables_);
          } else if (sql.rfind("SELECT version_num", 0) == 0) {
            answers.emplace_back(rowsOf({{"a1"}}));
          } else if (sql == database::liveSchemaQuery().sql) {
            answers.emplace_back(
                rowsOf({{"table", "1", "public", "user", "r", "p", "", ""},
                        {"column", "1", "public", "user", "id integer", "local", "", ""}}));
          } else if (sql == database::fingerprintStatement()) {
            answers.emplace_back(rowsOf(
                {{"table", "public.user", "relkind r"}, {"column", "public.user.id", "integer"}}));
          }
          return core::Result<std::vector<core::Result<database::QueryRows>>>(answers);
        });
    ON_CALL(*db, buildSchema(_, _)).WillByDefault(Return(core::Status{}));
  }

  database::QueryRows liveTables_ = rowsOf({{"public.alembic_version"}, {"public.user"}});
};

TEST_F(BaselineTest, AutoFallsBackToTheLiveSchemaWhenTheHistoryFailsFromEmpty) {
  int upgrades = 0;
  driver_.onUpgrade = [&upgrades](const alembic::DriverTarget& t, const std::string& r) {
    return ++upgrades == 1 ? failsAtA1(t, r) : testing::FakeDriver::ok();
  };
  ::testing::InSequence order;
  EXPECT_CALL(*db, dropDatabase(kScratch));  // the failed attempt's leftovers
  EXPECT_CALL(*db, createDatabase(kScratch));
  database::SchemaScript built;
  EXPECT_CALL(*db, buildSchema(kScratch, _))
      .WillOnce([&built](const std::string&, const database::SchemaScript& script) {
        built = script;
        return core::Status{};
      });
  EXPECT_CALL(*db, dropDatabase(kScratch));  // the run's end

  auto outcome = run();

  EXPECT_EQ(outcome.report.reason, "RevisionCreated") << outcome.report.message;
  ASSERT_TRUE(outcome.report.baseline);
  EXPECT_EQ(outcome.report.baseline->source, "live-schema");
  EXPECT_EQ(outcome.report.baseline->revision, "a1");
  EXPECT_THAT(outcome.report.baseline->reason,
              HasSubstr("at revision a1 (migrations/versions/a1.py)"));
  EXPECT_THAT(outcome.report.baseline->reason, HasSubstr("relation \"user\" does not exist"));
  EXPECT_THAT(outcome.report.baseline->reason, HasSubstr("no row of data"));
  // The copy ends with the live database's revision, so `upgrade head` starts there.
  ASSERT_FALSE(built.statements.empty());
  EXPECT_EQ(built.statements.back().sql,
            "INSERT INTO \"alembic_version\" (version_num) VALUES ('a1')");
  EXPECT_EQ(upgrades, 4);  // from empty (failed), the copy to head, the round trip's two
}

TEST_F(BaselineTest, NeitherPossible_NamesTheRevisionItsErrorAndTheFlag) {
  driver_.onUpgrade = failsAtA1;
  liveTables_ = rowsOf({{"public.user"}});  // created, never stamped
  EXPECT_CALL(*db, buildSchema(_, _)).Times(0);
  auto outcome = run();
  EXPECT_EQ(outcome.report.reason, "BaselineUpgradeFailed");
  EXPECT_THAT(outcome.report.message, HasSubstr("at revision a1 (migrations/versions/a1.py)"));
  EXPECT_THAT(outcome.report.message, HasSubstr("relation \"user\" does not exist"));
  EXPECT_THAT(outcome.report.message, HasSubstr("--baseline live-schema"));
  EXPECT_THAT(outcome.report.message, HasSubstr("no row in alembic_version"));
}

TEST_F(BaselineTest, HistoryBaseline_PointsToTheLiveSchemaFlag) {
  driver_.onUpgrade = failsAtA1;
  RunRequest request;
  request.baseline = kBaselineHistory;
  EXPECT_CALL(*db, buildSchema(_, _)).Times(0);
  auto outcome = run(request);
  EXPECT_EQ(outcome.report.reason, "BaselineUpgradeFailed");
  EXPECT_THAT(outcome.report.message, HasSubstr("failed at revision a1"));
  EXPECT_THAT(outcome.report.message, HasSubstr("run with --baseline live-schema"));
}

TEST_F(BaselineTest, AutoCopiesWhenTheHistoryDoesNotCreateTheModelsTables) {
  // upgrade head passes but builds nothing of `user` (a single empty revision).
  int prints = 0;
  ON_CALL(*db, fingerprint(kScratch)).WillByDefault([&prints](const std::string&) {
    return ++prints == 1 ? database::SchemaFingerprint{} : schema({{"id", "integer"}});
  });
  EXPECT_CALL(*db, buildSchema(kScratch, _));
  auto outcome = run();
  ASSERT_TRUE(outcome.report.baseline);
  EXPECT_EQ(outcome.report.baseline->source, "live-schema");
  EXPECT_THAT(outcome.report.baseline->reason, HasSubstr("does not create 1 table(s)"));
  EXPECT_THAT(outcome.report.baseline->reason, HasSubstr("public.user"));
}

TEST_F(BaselineTest, AutoKeepsTheHistoryWhenItBuildsTheTables) {
  EXPECT_CALL(*db, buildSchema(_, _)).Times(0);
  auto outcome = run();
  EXPECT_EQ(outcome.report.reason, "RevisionCreated");
  ASSERT_TRUE(outcome.report.baseline);
  EXPECT_EQ(outcome.report.baseline->source, "history");
  EXPECT_THAT(outcome.report.baseline->reason, HasSubstr("builds every table"));
}

TEST_F(BaselineTest, IncompleteCopy_Escalates) {
  RunRequest request;
  request.baseline = kBaselineLiveSchema;
  ON_CALL(*db, fingerprint(kScratch)).WillByDefault(Return(database::SchemaFingerprint{}));
  auto outcome = run(request);
  EXPECT_EQ(outcome.report.phase, "Escalated");
  EXPECT_EQ(outcome.report.reason, "LiveSchemaCopyIncomplete");
}

TEST_F(BaselineTest, LockedLiveTable_FailsTheCopyAndSaysWhy) {
  RunRequest request;
  request.baseline = kBaselineLiveSchema;
  ON_CALL(*db, queryReadOnly("app", _, _))
      .WillByDefault([](const std::string&, const std::vector<database::ReadOnlyQuery>&,
                        const database::ReadOnlyLimits&) {
        std::vector<core::Result<database::QueryRows>> answers;
        answers.emplace_back(core::Error::terminal(core::reason::kTimeout,
                                                   "lock_timeout (1000 ms) cancelled the query"));
        return core::Result<std::vector<core::Result<database::QueryRows>>>(answers);
      });
  auto outcome = run(request);
  EXPECT_EQ(outcome.report.reason, "LiveSchemaCopyFailed");
  EXPECT_THAT(outcome.report.message, HasSubstr("lock_timeout"));
  EXPECT_THAT(outcome.report.message, HasSubstr("holds a lock on a live table"));
}

TEST_F(PipelineTest, RevId_PassesThroughToAlembic) {
  RunRequest request;
  request.revId = "0002";
  run(request);
  EXPECT_EQ(driver_.lastRevId, "0002");
}

TEST_F(PipelineTest, Inplace_RefusesARevisionThatCouldLoseDataAndSaysNothingChanged) {
  driver_.stageRevision("b2_drop_user_nickname.py", kDropColumn);
  RunRequest request;
  request.isolation = kIsolationInplace;
  request.approvals.destructive = true;  // approved or not, never before review in place
  auto outcome = run(request);
  const auto& report = outcome.report;
  EXPECT_EQ(report.phase, "Escalated");
  EXPECT_EQ(report.reason, "InplaceRoundTripRefused");
  EXPECT_THAT(driver_.trace(), Not(Contains("upgrade b2")));
  EXPECT_THAT(driver_.trace(), Not(Contains(HasSubstr("downgrade"))));
  EXPECT_EQ(report.condition("RoundTripPassed")->reason, "RefusedInPlace");
  EXPECT_THAT(report.message, HasSubstr("is unchanged"));
  EXPECT_THAT(report.message, Not(HasSubstr("scratch")));
  // Kept for review, and revision.file is where it is.
  ASSERT_TRUE(report.revision);
  EXPECT_EQ(report.revision->file, "migrations/versions/b2_drop_user_nickname.py");
  EXPECT_TRUE(hasFile(report.revision->file));
  ASSERT_TRUE(report.baseline);
  EXPECT_EQ(report.baseline->source, "in-place");
}

TEST_F(PipelineTest, Inplace_SaysWhatStaysChanged) {
  RunRequest request;
  request.isolation = kIsolationInplace;
  int reads = 0;
  ON_CALL(*db, appliedRevisions("app", _))
      .WillByDefault([&reads](const std::string&, const std::string&) {
        return ++reads == 1 ? std::vector<std::string>{"a1"} : std::vector<std::string>{"b2"};
      });
  int prints = 0;
  ON_CALL(*db, fingerprint("app")).WillByDefault([&prints](const std::string&) {
    return ++prints == 1 ? schema({{"id", "integer"}})
                         : schema({{"id", "integer"}, {"phone", "character varying"}});
  });
  auto outcome = run(request);
  EXPECT_EQ(outcome.report.reason, "RevisionCreated") << outcome.report.message;
  EXPECT_THAT(outcome.report.message, HasSubstr("stays changed: it was at a1 and is now at b2"));
  EXPECT_THAT(outcome.report.message, HasSubstr("column public.user.phone"));
  bool warned = false;
  for (const auto& f : outcome.report.findings) {
    warned |= f.code == "InplaceDatabaseChanged" && f.severity == "warning";
  }
  EXPECT_TRUE(warned);
}

TEST_F(PipelineTest, RejectedRevision_FileIsNowhereInTheProject) {
  driver_.onDowngrade = [](const alembic::DriverTarget&, const std::string&) {
    return testing::FakeDriver::failure("FAILED: cannot downgrade");
  };
  auto outcome = run();
  EXPECT_EQ(outcome.report.phase, "Failed");
  ASSERT_TRUE(outcome.report.revision);
  EXPECT_EQ(outcome.report.revision->file, "");
  EXPECT_THAT(outcome.removedPath, HasSubstr("staging-"));
}

}  // namespace
}  // namespace alembic_sidecar::pipeline
