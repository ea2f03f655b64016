#include "pipeline/pipeline.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "unit/pipeline/pipeline_fixture.h"

namespace alembic_sidecar::pipeline {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST_F(PipelineTest, UnreachableDatabase_StopsAtStepOneWithoutStartingPython) {
  EXPECT_CALL(*db, probe(_))
      .WillOnce(Return(core::Error::retryable(core::reason::kDatabaseUnavailable,
                                              "cannot reach PostgreSQL at 127.0.0.1:5432")));
  auto outcome = run();
  EXPECT_EQ(outcome.report.phase, "Failed");
  EXPECT_EQ(outcome.report.reason, "DatabaseUnavailable");
  EXPECT_EQ(outcome.report.condition("DatabaseReady")->status, "False");
  EXPECT_EQ(outcome.report.condition("ModelsRegistered")->reason, "NotRun");
  EXPECT_EQ(driverStarts_, 0);
}

TEST_F(PipelineTest, OneDriverPerRun_LockedAndStagedForARevision) {
  auto outcome = run();
  EXPECT_EQ(outcome.report.phase, "Succeeded") << outcome.report.message;
  EXPECT_EQ(driverStarts_, 1);
  EXPECT_EQ(options_.lockPath, "./.alembic-sidecar/lock");
  EXPECT_EQ(options_.stagingDir, "./.alembic-sidecar/staging-abcdef");
  EXPECT_TRUE(driver_.shutDownCalled);
}

TEST_F(PipelineTest, FoundDatabase_GetsTheSchemeTheAppCanUse) {
  schemeChosen_ = false;
  driver_.driverInfo.asyncEnv = false;
  driver_.driverInfo.drivers = {"asyncpg", "psycopg2"};
  auto outcome = run();
  EXPECT_EQ(driver_.scheme, "postgresql+psycopg2");
  EXPECT_THAT(outcome.report.condition("DatabaseReady")->message,
              HasSubstr("postgresql+psycopg2 from sync env.py"));
}

TEST_F(PipelineTest, AsyncAppWithoutAsyncDriver_FailsNamingWhatToInstall) {
  schemeChosen_ = false;
  driver_.driverInfo.asyncEnv = true;
  driver_.driverInfo.drivers = {"psycopg2"};
  auto outcome = run();
  EXPECT_EQ(outcome.report.reason, "NoDatabaseDriver");
  EXPECT_THAT(outcome.report.message, HasSubstr("install asyncpg"));
}

TEST_F(PipelineTest, UnregisteredModel_StopsBeforeAnyUpgrade) {
  alembic::UnregisteredModel tag;
  tag.className = "Tag";
  tag.module = "app.models.tag";
  tag.table = "tag";
  tag.file = "app/models/tag.py";
  tag.line = 4;
  tag.fix = "add `from app.models.tag import Tag  # noqa: F401` to app/db/base.py";
  driver_.modelsOutcome.unregistered = {tag};
  // env.py ran online on the scratch database (as autogenerate runs it), which is dropped.
  EXPECT_CALL(*db, dropDatabase(kScratch)).WillOnce(Return(core::Status{}));
  auto outcome = run();
  EXPECT_EQ(outcome.report.reason, "ModelNotRegistered");
  EXPECT_THAT(outcome.report.message, HasSubstr("Tag in app/models/tag.py:4"));
  EXPECT_THAT(outcome.report.message, HasSubstr("from app.models.tag import Tag"));
  EXPECT_THAT(driver_.trace(), Not(::testing::Contains(HasSubstr("upgrade"))));
}

TEST_F(PipelineTest, ModelImportFailure_QuotesTheException) {
  driver_.modelsOutcome.importFailures = {
      {"app.models.broken", "app/models/broken.py", "NameError: name 'Colum' is not defined"}};
  auto outcome = run();
  EXPECT_EQ(outcome.report.reason, "ModelImportFailed");
  EXPECT_THAT(outcome.report.message, HasSubstr("NameError: name 'Colum' is not defined"));
}

TEST_F(PipelineTest, UnlabelledHeads_RefusedBeforeAnyUpgrade) {
  driver_.historyOutcome.revisions = {head("aaa"), head("bbb")};
  auto outcome = run();
  EXPECT_THAT(driver_.trace(), Not(::testing::Contains(HasSubstr("upgrade"))));
  EXPECT_EQ(outcome.report.reason, "MultipleHeads");
  EXPECT_THAT(outcome.report.message, HasSubstr("aaa, bbb"));
  ASSERT_FALSE(outcome.report.findings.empty());
  EXPECT_THAT(outcome.report.findings.back().recommendation, HasSubstr("alembic merge heads"));
}

TEST_F(PipelineTest, LabelledHeadsWithoutHead_EndsHeadRequired) {
  driver_.historyOutcome.revisions = {head("aaa", {"expand"}), head("bbb", {"contract"})};
  driver_.onRevision = [](const alembic::DriverTarget&, const std::string&) {
    alembic::RevisionOutcome out;
    out.errorType = "CommandError";
    out.errorLine =
        "FAILED: Multiple heads are present; please specify the head revision on "
        "which the new revision should be based, or perform a merge.";
    return out;
  };
  auto outcome = run();
  EXPECT_EQ(outcome.report.reason, "HeadRequired");
  EXPECT_THAT(outcome.report.message, HasSubstr("--head BRANCH@head"));
  EXPECT_THAT(outcome.report.message, HasSubstr("FAILED: Multiple heads are present"));
  // Both branches were brought to their heads on the scratch database.
  EXPECT_EQ(driver_.trace().at(2), "upgrade heads");
}

TEST_F(PipelineTest, ScratchDatabaseRefused_SuggestsInplace) {
  EXPECT_CALL(*db, claimScratch(kScratch))
      .WillOnce(Return(core::Error::terminal(core::reason::kScratchDatabaseFailed,
                                             "permission denied to create database")));
  auto outcome = run();
  EXPECT_EQ(outcome.report.reason, "ScratchDatabaseFailed");
  EXPECT_THAT(outcome.report.message, HasSubstr("--isolation inplace"));
}

TEST_F(PipelineTest, FailedAutogenerate_QuotesTheCauseAndDropsTheScratchDatabase) {
  driver_.onRevision = [](const alembic::DriverTarget&, const std::string&) {
    alembic::RevisionOutcome out;
    out.errorType = "KeyError";
    out.errorLine = "KeyError: 'boom'";
    out.tail = "WARNING something noisy\nTraceback (most recent call last):\nKeyError: 'boom'";
    return out;
  };
  EXPECT_CALL(*db, dropDatabase(kScratch)).WillOnce(Return(core::Status{}));
  auto outcome = run();
  EXPECT_EQ(outcome.report.reason, "AutogenerateFailed");
  EXPECT_THAT(outcome.report.message, HasSubstr("failed: KeyError: 'boom'"));
  // Every alembic operation was pointed at the scratch database and fenced to it.
  for (const auto& call : driver_.calls) {
    if (call.op == "upgrade" || call.op == "revision") {
      EXPECT_EQ(call.database, kScratch);
      EXPECT_EQ(call.identity, std::string(kScratch) + ":16385:1700000000.5");
    }
  }
}

TEST_F(PipelineTest, IsolationBreached_FailsNamingTheDatabaseEnvPyTried) {
  driver_.onUpgrade = [](const alembic::DriverTarget&, const std::string&) {
    alembic::OpOutcome out;
    out.errorType = "IsolationBreached";
    out.errorLine = "alembic-sidecar refused a connection";
    out.breach = "database 'app'";
    return out;
  };
  auto outcome = run();
  EXPECT_EQ(outcome.report.reason, "IsolationBreached");
  EXPECT_THAT(outcome.report.message, HasSubstr("env.py tried to connect to database 'app'"));
  EXPECT_THAT(outcome.report.message, HasSubstr("--url-env"));
  EXPECT_THAT(driver_.trace(), Not(::testing::Contains(HasSubstr("revision"))));
}

TEST_F(PipelineTest, ModelCheck_RunsEnvPyOnTheScratchDatabaseFencedToIt) {
  auto outcome = run();
  ASSERT_FALSE(driver_.calls.empty());
  EXPECT_EQ(driver_.calls.front().op, "models");
  EXPECT_EQ(driver_.calls.front().database, kScratch);
  EXPECT_EQ(driver_.calls.front().identity, std::string(kScratch) + ":16385:1700000000.5");
}

TEST_F(PipelineTest, RevisionThatCarriesItsComparison_RunsEnvPyNoSecondTime) {
  auto staged = driver_.onRevision;
  driver_.onRevision = [&](const alembic::DriverTarget& t, const std::string& m) {
    auto out = staged(t, m);
    out.compared = testing::FakeDriver::withOk<alembic::CompareOutcome>();
    out.compared->uncomparedChecked = true;
    out.compared->compareType = true;
    return out;
  };
  auto outcome = run();
  ASSERT_EQ(outcome.report.phase, "Succeeded") << outcome.report.message;
  // The schema at head is not compared a second time: the one compare is the repeat check on
  // the scratch database the revision's upgrade migrated (a different schema).
  auto trace = driver_.trace();
  EXPECT_EQ(std::count(trace.begin(), trace.end(), "compare"), 1)
      << ::testing::PrintToString(trace);
  auto revision = std::find_if(trace.begin(), trace.end(),
                               [](const std::string& s) { return s.rfind("revision", 0) == 0; });
  auto compare = std::find(trace.begin(), trace.end(), "compare");
  ASSERT_NE(revision, trace.end());
  EXPECT_TRUE(std::any_of(revision, compare, [](const std::string& s) {
    return s.rfind("upgrade", 0) == 0;
  })) << ::testing::PrintToString(trace);
}

TEST_F(PipelineTest, RefusalInAnyRequest_EndsTheRunIsolationBreached) {
  // The round trip's upgrade "succeeded" but env.py's psql was refused on the way (env.py
  // ignored the tool's exit code): the run still ends IsolationBreached and keeps nothing.
  int upgrades = 0;
  driver_.onUpgrade = [&](const alembic::DriverTarget&, const std::string&) {
    if (++upgrades == 2) {
      driver_.refused.push_back(alembic::Breach{"upgrade", "psql", "app", "database 'app' (psql)"});
    }
    return testing::FakeDriver::ok();
  };
  auto outcome = run();
  EXPECT_EQ(outcome.report.phase, "Failed");
  EXPECT_EQ(outcome.report.reason, "IsolationBreached");
  EXPECT_THAT(outcome.report.message, HasSubstr("RoundTripPassed"));
  EXPECT_THAT(outcome.report.message, HasSubstr("database 'app' (psql)"));
  EXPECT_THAT(outcome.report.message, HasSubstr("--url-env"));
  EXPECT_EQ(outcome.report.condition("RoundTripPassed")->reason, "IsolationBreached");
  EXPECT_FALSE(hasFile("migrations/versions/b2_add_user_phone.py"));
}

constexpr char kEnumColumnRevision[] = R"PY("""add user status

Revision ID: b2
Revises: a1
"""
from alembic import op
import sqlalchemy as sa

from app.models import User

revision = 'b2'
down_revision = 'a1'
branch_labels = None
depends_on = None


def upgrade() -> None:
    sa.Enum(User.Status).create(op.get_bind(), checkfirst=True)
    op.add_column('user', sa.Column('status', sa.Enum('on', 'off', name='status'), nullable=True))


def downgrade() -> None:
    op.drop_column('user', 'status')
    sa.Enum(User.Status).drop(op.get_bind(), checkfirst=True)
)PY";

TEST_F(PipelineTest, PredictedUpgradeFailure_DisprovedByTheScratchDatabase_IsANote) {
  driver_.stageRevision("b2_add_user_status.py", kEnumColumnRevision);
  auto outcome = run();
  ASSERT_EQ(outcome.report.phase, "Succeeded") << outcome.report.message;
  bool predicted = false;
  bool disproved = false;
  for (const auto& f : outcome.report.findings) {
    predicted |= f.code == "EnumTypeMissing";
    disproved |= f.code == "PredictionDisproved" && f.severity == "info" &&
                 f.message.find("EnumTypeMissing") != std::string::npos;
  }
  EXPECT_FALSE(predicted);
  EXPECT_TRUE(disproved);
  EXPECT_EQ(outcome.report.condition("Validated")->status, "True");
}

TEST_F(PipelineTest, PredictedUpgradeFailure_ThatHappens_StaysAnEscalation) {
  driver_.stageRevision("b2_add_user_status.py", kEnumColumnRevision);
  int upgrades = 0;
  driver_.onUpgrade = [&](const alembic::DriverTarget&, const std::string&) {
    return ++upgrades == 2 ? testing::FakeDriver::failure("type \"status\" does not exist")
                           : testing::FakeDriver::ok();
  };
  auto outcome = run();
  EXPECT_EQ(outcome.report.phase, "Escalated");
  EXPECT_EQ(outcome.report.reason, "EnumTypeMissing");
}

TEST_F(PipelineTest, RoundTrip_PassesAndTheFileJoinsTheHistoryLast) {
  auto before = schema({{"id", "integer"}});
  auto after = schema({{"id", "integer"}, {"phone", "character varying"}});
  EXPECT_CALL(*db, fingerprint(kScratch))
      .WillOnce(Return(before))
      .WillOnce(Return(after))
      .WillOnce(Return(schema({{"id", "integer"}})))
      .WillOnce(Return(schema({{"id", "integer"}, {"phone", "character varying"}})));
  auto outcome = run();
  ASSERT_EQ(outcome.report.phase, "Succeeded") << outcome.report.message;
  EXPECT_EQ(outcome.report.reason, "RevisionCreated");
  EXPECT_TRUE(outcome.report.roundTrip.schemaRestored);
  EXPECT_EQ(outcome.report.revision->file, "migrations/versions/b2_add_user_phone.py");
  EXPECT_TRUE(hasFile("migrations/versions/b2_add_user_phone.py"));
  EXPECT_FALSE(hasFile(driver_.staging + "/b2_add_user_phone.py"));
  auto trace = driver_.trace();
  auto at = [&](const std::string& op) {
    return std::find(trace.begin(), trace.end(), op) - trace.begin();
  };
  EXPECT_LT(at("downgrade a1"), at("adopt " + driver_.staging + "/b2_add_user_phone.py"));
}

/** The schema with one more table, inventory.widget. */
database::SchemaFingerprint withWidget() {
  return database::SchemaFingerprint::fromCatalog({{"table", "public.user", "relkind r"},
                                                   {"column", "public.user.id", "integer"},
                                                   {"table", "inventory.widget", "relkind r"}});
}

TEST_F(PipelineTest, RepeatedAutogenerate_TableInASchemaEnvPyDoesNotCompareEscalates) {
  ON_CALL(*db, fingerprint(_)).WillByDefault(Return(withWidget()));
  // The second comparison, after the upgrade: autogenerate would create the table again.
  driver_.compareOutcome.pendingOps = {{"create_table", "widget", "", ""}};
  auto outcome = run();
  ASSERT_EQ(outcome.report.phase, "Escalated") << outcome.report.message;
  EXPECT_EQ(outcome.report.reason, "SchemaNotCompared");
  const auto& f = outcome.report.findings.back();
  EXPECT_EQ(f.code, "SchemaNotCompared");
  EXPECT_THAT(f.message, HasSubstr("inventory.widget"));
  EXPECT_THAT(f.recommendation, HasSubstr("include_schemas=True"));
  auto trace = driver_.trace();
  EXPECT_EQ(std::count(trace.begin(), trace.end(), std::string("compare")), 2);
}

TEST_F(PipelineTest, RepeatedAutogenerate_ModelTableNoMigrationCreatesEscalates) {
  driver_.modelsOutcome.tables = {"user", "inventory.widget"};
  auto outcome = run();
  ASSERT_EQ(outcome.report.phase, "Escalated") << outcome.report.message;
  EXPECT_EQ(outcome.report.reason, "SchemaNotCompared");
  EXPECT_THAT(outcome.report.message, HasSubstr("SchemaNotCompared"));
}

TEST_F(PipelineTest, RepeatedAutogenerate_AnyOtherDifferenceEscalates) {
  driver_.compareOutcome.pendingOps = {{"alter_column", "user", "phone", ""}};
  auto outcome = run();
  ASSERT_EQ(outcome.report.phase, "Escalated") << outcome.report.message;
  EXPECT_EQ(outcome.report.reason, "AutogenerateNotRepeatable");
  EXPECT_THAT(outcome.report.findings.back().message, HasSubstr("alter_column user.phone"));
}

TEST_F(PipelineTest, RoundTrip_FailsWhenTheReupgradeProducesAnotherSchema) {
  EXPECT_CALL(*db, fingerprint(kScratch))
      .WillOnce(Return(schema({{"id", "integer"}})))
      .WillOnce(Return(schema({{"id", "integer"}, {"phone", "character varying"}})))
      .WillOnce(Return(schema({{"id", "integer"}})))
      .WillOnce(Return(schema({{"id", "integer"}, {"phone", "text"}})));
  auto outcome = run();
  EXPECT_EQ(outcome.report.phase, "Failed");
  EXPECT_EQ(outcome.report.reason, "RoundTripSchemaMismatch");
  EXPECT_THAT(outcome.report.message, HasSubstr("the re-upgrade produced a different schema"));
  EXPECT_THAT(outcome.report.message, HasSubstr("public.user.phone"));
  EXPECT_FALSE(outcome.report.roundTrip.schemaRestored);
  // A rejected revision never joins the history.
  EXPECT_FALSE(hasFile("migrations/versions/b2_add_user_phone.py"));
  EXPECT_FALSE(hasFile(driver_.staging + "/b2_add_user_phone.py"));
}

TEST_F(PipelineTest, RoundTrip_FailsWhenTheDowngradeLeavesAnObject) {
  EXPECT_CALL(*db, fingerprint(kScratch))
      .WillOnce(Return(schema({{"id", "integer"}})))
      .WillOnce(Return(schema({{"id", "integer"}, {"phone", "character varying"}})))
      .WillOnce(Return(schema({{"id", "integer"}, {"phone", "character varying"}})))
      .WillOnce(Return(schema({{"id", "integer"}, {"phone", "character varying"}})));
  auto outcome = run();
  EXPECT_EQ(outcome.report.reason, "RoundTripSchemaMismatch");
  EXPECT_THAT(outcome.report.message, HasSubstr("did not restore the schema"));
  EXPECT_THAT(outcome.report.message, Not(HasSubstr("re-upgrade produced")));
}

TEST_F(PipelineTest, EmptyRevision_NeverJoinsTheHistory) {
  driver_.stageRevision("b2_nothing.py",
                        "revision = 'b2'\ndown_revision = 'a1'\n\ndef upgrade():\n    pass\n\n"
                        "def downgrade():\n    pass\n");
  auto outcome = run();
  EXPECT_EQ(outcome.report.phase, "Succeeded");
  EXPECT_EQ(outcome.report.reason, "NoChanges");
  EXPECT_FALSE(hasFile("migrations/versions/b2_nothing.py"));
  EXPECT_FALSE(hasFile(driver_.staging + "/b2_nothing.py"));
  EXPECT_THAT(driver_.trace(), Not(::testing::Contains(HasSubstr("adopt"))));
}

alembic::UncomparedDifference userNameDefault() {
  return {"server_default", "", "user", "name", "", "'anonymous'", ""};
}

TEST_F(PipelineTest, UncomparedServerDefault_EmptyRevisionEscalatesInsteadOfNoChanges) {
  driver_.stageRevision("b2_nothing.py",
                        "revision = 'b2'\ndown_revision = 'a1'\n\ndef upgrade():\n    pass\n\n"
                        "def downgrade():\n    pass\n");
  driver_.compareOutcome.compareServerDefault = false;
  driver_.compareOutcome.uncompared = {userNameDefault()};
  auto outcome = run();
  EXPECT_EQ(outcome.report.phase, "Escalated");
  EXPECT_EQ(outcome.report.reason, "ServerDefaultNotCompared");
  const auto* validated = outcome.report.condition("Validated");
  ASSERT_NE(validated, nullptr);
  EXPECT_EQ(validated->status, "False");
  EXPECT_EQ(validated->reason, "ServerDefaultNotCompared");
  bool found = false;
  for (const auto& f : outcome.report.findings) {
    if (f.code == "ServerDefaultNotCompared") {
      found = true;
      EXPECT_EQ(f.severity, "escalation");
      EXPECT_THAT(f.recommendation, HasSubstr("compare_server_default=True"));
      EXPECT_THAT(f.recommendation, HasSubstr("migrations/env.py"));
    }
  }
  EXPECT_TRUE(found);
  // The empty revision still never joins the history.
  EXPECT_FALSE(hasFile("migrations/versions/b2_nothing.py"));
  EXPECT_FALSE(hasFile(driver_.staging + "/b2_nothing.py"));
}

TEST_F(PipelineTest, UncomparedDifference_NoFileAtAllStillEscalates) {
  driver_.onRevision = [](const alembic::DriverTarget&, const std::string&) {
    return testing::FakeDriver::withOk<alembic::RevisionOutcome>();  // env.py wrote nothing
  };
  driver_.compareOutcome.uncompared = {
      {"check_constraint", "", "user", "", "ck_user_name", "char_length(name) > 0", ""}};
  auto outcome = run();
  EXPECT_EQ(outcome.report.phase, "Escalated");
  EXPECT_EQ(outcome.report.reason, "CheckConstraintNotCompared");
}

TEST_F(PipelineTest, UncomparedDifferenceTheRevisionCarries_DoesNotEscalate) {
  driver_.stageRevision("b2_default.py",
                        "revision = 'b2'\ndown_revision = 'a1'\n\ndef upgrade():\n"
                        "    op.alter_column('user', 'name', server_default='anonymous')\n\n"
                        "def downgrade():\n    op.alter_column('user', 'name', "
                        "server_default=None)\n");
  driver_.compareOutcome.uncompared = {userNameDefault()};
  auto outcome = run();
  EXPECT_EQ(outcome.report.phase, "Succeeded") << outcome.report.message;
  for (const auto& f : outcome.report.findings) {
    EXPECT_NE(f.code, "ServerDefaultNotCompared");
  }
}

TEST_F(PipelineTest, UncomparedComparisonThatFailed_SaysSoAsInfo) {
  driver_.compareOutcome.uncomparedChecked = false;
  driver_.compareOutcome.uncomparedError = "ProgrammingError: permission denied for pg_constraint";
  auto outcome = run();
  bool found = false;
  for (const auto& f : outcome.report.findings) {
    if (f.code == "UncomparedCheckSkipped") {
      found = true;
      EXPECT_EQ(f.severity, "info");
      EXPECT_THAT(f.message, HasSubstr("permission denied"));
    }
  }
  EXPECT_TRUE(found);
}

TEST_F(PipelineTest, PasswordsNeverReachTheReport) {
  EXPECT_CALL(*db, probe(_))
      .WillOnce(Return(core::Error::retryable(core::reason::kDatabaseUnavailable,
                                              "driver said: password pw rejected")));
  auto outcome = run();
  EXPECT_THAT(outcome.report.message, Not(HasSubstr("pw ")));
  EXPECT_THAT(outcome.report.message, HasSubstr("password **** rejected"));
}

TEST_F(PipelineTest, UnknownAction_FailsWithUsageError) {
  RunRequest request;
  request.action = "explode";
  auto outcome = run(request);
  EXPECT_EQ(outcome.report.reason, "UsageError");
}

TEST_F(PipelineTest, ScratchLease_IsReleasedOnlyAfterTheScratchDatabaseIsDropped) {
  auto released = std::make_shared<bool>(false);
  bool releasedAtDrop = true;
  driver_.onUpgrade = [](const alembic::DriverTarget&, const std::string&) {
    alembic::OpOutcome out;
    out.errorType = "CommandError";
    out.errorLine = "FAILED: boom";
    return out;
  };
  EXPECT_CALL(*db, claimScratch(kScratch))
      .WillOnce(Return(testing::FakeScratchLease::make(released)));
  EXPECT_CALL(*db, dropDatabase(kScratch)).WillOnce([&](const std::string&) {
    releasedAtDrop = *released;
    return core::Status{};
  });
  auto outcome = run();
  EXPECT_EQ(outcome.report.reason, "BaselineUpgradeFailed");
  EXPECT_FALSE(releasedAtDrop);
  EXPECT_TRUE(*released);
}

TEST_F(PipelineTest, SweepBeforeClaim_DropsAnOrphanWhoseOwnerIsGone) {
  database::ScratchOwner gone{"app", 1, 2, "laptop", 42, "2027-01-15T08:00:00Z"};
  std::string orphan = "app_autogen_1799999990_dead00";
  EXPECT_CALL(*db, listScratch("app_autogen_"))
      .WillOnce(Return(std::vector<database::ScratchDatabase>{{orphan, gone, false}}));
  ::testing::InSequence order;
  EXPECT_CALL(*db, dropDatabase(orphan)).WillOnce(Return(core::Status{}));
  EXPECT_CALL(*db, claimScratch(_)).WillOnce(Return(core::Error::terminal("X", "stop here")));
  run();
}

TEST_F(PipelineTest, CancelledWhileTheDriverWorks_ReportsCancelledAndCleansUp) {
  bool cancelled = false;
  cancelled_ = [&] { return cancelled; };
  driver_.onRevision = [&](const alembic::DriverTarget&, const std::string&) {
    cancelled = true;  // the signal arrives while autogenerate runs; the driver is stopped
    alembic::RevisionOutcome out;
    out.errorType = "Terminated";
    out.errorLine = "the driver was stopped";
    return out;
  };
  EXPECT_CALL(*db, dropDatabase(kScratch)).WillOnce(Return(core::Status{}));
  auto outcome = run();
  EXPECT_EQ(outcome.report.phase, "Failed");
  EXPECT_EQ(outcome.report.reason, "Cancelled");
  EXPECT_EQ(outcome.report.condition("RevisionGenerated")->reason, "Cancelled");
  EXPECT_EQ(outcome.report.condition("Ready")->reason, "Cancelled");
  EXPECT_FALSE(hasFile("migrations/versions/b2_add_user_phone.py"));
  EXPECT_TRUE(driver_.shutDownCalled);
}

}  // namespace
}  // namespace alembic_sidecar::pipeline
