#include "pipeline/pipeline.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/reasons.h"
#include "mocks/fake_workspace.h"
#include "mocks/mock_database.h"
#include "mocks/mock_workspace.h"

namespace alembic_sidecar::pipeline {
namespace {

using ::testing::_;
using ::testing::HasSubstr;
using ::testing::NiceMock;
using ::testing::Return;
using ::testing::StrictMock;

constexpr char kIni[] = "[alembic]\nscript_location = migrations\nprepend_sys_path = .\n";
constexpr char kEnv[] = "from app.models import User\n";
constexpr char kModel[] = "class User(SQLModel, table=True):\n    id: int\n";

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ws_.files = {{"alembic.ini", kIni},
                 {"migrations/env.py", kEnv},
                 {"migrations/versions/a_first.py", "revision = 'a'\n"},
                 {"app/__init__.py", ""},
                 {"app/models/__init__.py", "from .user import User\n"},
                 {"app/models/user.py", kModel}};
    conn_.user = "u";
    conn_.password = "pw";
    conn_.database = "app";
    ON_CALL(resolver_, resolve())
        .WillByDefault(Return(database::ResolvedDatabase{conn_, "flag", {}}));
    EXPECT_CALL(resolver_, resolve()).Times(::testing::AtMost(1));
  }

  RunOutcome run(RunRequest request = {}) {
    request.message = "m";
    PipelineDeps deps;
    deps.workspace = &ws_;
    deps.resolver = &resolver_;
    deps.databaseFactory = [this](const database::ConnectionInfo&) {
      return std::unique_ptr<database::Database>(db_.release());
    };
    deps.now = [] { return std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000)); };
    deps.randomSuffix = [] { return std::string("abcdef"); };
    return runPipeline(request, deps);
  }

  testing::FakeWorkspace ws_;
  NiceMock<testing::MockResolver> resolver_;
  std::unique_ptr<StrictMock<testing::MockDatabase>> db_ =
      std::make_unique<StrictMock<testing::MockDatabase>>();
  database::ConnectionInfo conn_;
};

TEST_F(PipelineTest, UnreachableDatabase_StopsAtStepOneWithItsReason) {
  EXPECT_CALL(*db_, probe(_))
      .WillOnce(Return(core::Error::retryable(core::reason::kDatabaseUnavailable,
                                              "cannot reach PostgreSQL at 127.0.0.1:5432")));
  auto outcome = run();
  EXPECT_EQ(outcome.report.phase, "Failed");
  EXPECT_EQ(outcome.report.reason, "DatabaseUnavailable");
  EXPECT_EQ(outcome.report.condition("DatabaseReady")->status, "False");
  EXPECT_EQ(outcome.report.condition("ModelsRegistered")->reason, "NotRun");
  EXPECT_EQ(outcome.report.condition("Ready")->status, "False");
  EXPECT_TRUE(ws_.commands.empty());
}

TEST_F(PipelineTest, UnregisteredModel_StopsBeforeAnyCommandRuns) {
  ws_.files["app/models/tag.py"] = "class Tag(SQLModel, table=True):\n    id: int\n";
  EXPECT_CALL(*db_, probe(_)).WillOnce(Return(core::Status{}));
  auto outcome = run();
  EXPECT_EQ(outcome.report.reason, "ModelNotRegistered");
  EXPECT_THAT(outcome.report.message, HasSubstr("Tag in app/models/tag.py:1"));
  EXPECT_TRUE(ws_.commands.empty());
}

TEST_F(PipelineTest, MultipleHeads_RefusesToGenerateAndListsThem) {
  ws_.handler = [](const workspace::Command& cmd) {
    auto has = [&](const char* word) {
      return std::find(cmd.argv.begin(), cmd.argv.end(), word) != cmd.argv.end();
    };
    if (has("heads")) {
      return workspace::CommandOutput{0, "aaa (head)\nbbb (head)\n", "", false};
    }
    return workspace::CommandOutput{
        1, "", "FAILED: Multiple heads are present for given argument 'head'; ...\n", false};
  };
  EXPECT_CALL(*db_, probe(_)).WillOnce(Return(core::Status{}));
  EXPECT_CALL(*db_, listScratch(_)).WillOnce(Return(std::vector<database::ScratchDatabase>{}));
  EXPECT_CALL(*db_, claimScratch(_)).WillOnce(Return(testing::FakeScratchLease::make()));
  EXPECT_CALL(*db_, dropDatabase(_)).WillOnce(Return(core::Status{}));
  auto outcome = run();
  EXPECT_EQ(outcome.report.reason, "MultipleHeads");
  EXPECT_THAT(outcome.report.message, HasSubstr("aaa, bbb"));
  ASSERT_FALSE(outcome.report.findings.empty());
  EXPECT_THAT(outcome.report.findings.back().recommendation, HasSubstr("alembic merge heads"));
  EXPECT_EQ(ws_.commands.size(), 2u);  // the failed upgrade, then `alembic heads`
}

TEST_F(PipelineTest, ScratchDatabaseRefused_SuggestsInplace) {
  EXPECT_CALL(*db_, probe(_)).WillOnce(Return(core::Status{}));
  EXPECT_CALL(*db_, listScratch("app_autogen_"))
      .WillOnce(Return(std::vector<database::ScratchDatabase>{}));
  EXPECT_CALL(*db_, claimScratch("app_autogen_1800000000_abcdef"))
      .WillOnce(Return(core::Error::terminal(core::reason::kScratchDatabaseFailed,
                                             "permission denied to create database")));
  auto outcome = run();
  EXPECT_EQ(outcome.report.reason, "ScratchDatabaseFailed");
  EXPECT_THAT(outcome.report.message, HasSubstr("--isolation inplace"));
}

TEST_F(PipelineTest, FailedAutogenerate_StillDropsTheScratchDatabase) {
  ws_.handler = [](const workspace::Command& cmd) {
    bool autogen = std::find(cmd.argv.begin(), cmd.argv.end(), "--autogenerate") != cmd.argv.end();
    if (autogen) {
      return workspace::CommandOutput{1, "", "Traceback\nKeyError: 'boom'\n", false};
    }
    return workspace::CommandOutput{0, "", "", false};
  };
  EXPECT_CALL(*db_, probe(_)).WillOnce(Return(core::Status{}));
  EXPECT_CALL(*db_, listScratch(_)).WillOnce(Return(std::vector<database::ScratchDatabase>{}));
  EXPECT_CALL(*db_, claimScratch(_)).WillOnce(Return(testing::FakeScratchLease::make()));
  EXPECT_CALL(*db_, fingerprint("app_autogen_1800000000_abcdef"))
      .WillOnce(Return(database::SchemaFingerprint{}));
  EXPECT_CALL(*db_, dropDatabase("app_autogen_1800000000_abcdef")).WillOnce(Return(core::Status{}));
  auto outcome = run();
  EXPECT_EQ(outcome.report.reason, "AutogenerateFailed");
  EXPECT_THAT(outcome.report.message, HasSubstr("KeyError: 'boom'"));
  // The URL given to alembic pointed at the scratch database, through the environment.
  const auto& autogen = ws_.commands.back();
  EXPECT_THAT(autogen.env.at("DATABASE_URL"), HasSubstr("/app_autogen_1800000000_abcdef"));
}

TEST_F(PipelineTest, ScratchLease_IsReleasedOnlyAfterTheScratchDatabaseIsDropped) {
  auto released = std::make_shared<bool>(false);
  bool releasedAtDrop = true;
  ws_.handler = [](const workspace::Command&) {
    return workspace::CommandOutput{1, "", "FAILED: boom\n", false};
  };
  EXPECT_CALL(*db_, probe(_)).WillOnce(Return(core::Status{}));
  EXPECT_CALL(*db_, listScratch(_)).WillOnce(Return(std::vector<database::ScratchDatabase>{}));
  EXPECT_CALL(*db_, claimScratch("app_autogen_1800000000_abcdef"))
      .WillOnce(Return(testing::FakeScratchLease::make(released)));
  EXPECT_CALL(*db_, dropDatabase("app_autogen_1800000000_abcdef"))
      .WillOnce([&](const std::string&) {
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
  EXPECT_CALL(*db_, probe(_)).WillOnce(Return(core::Status{}));
  EXPECT_CALL(*db_, listScratch("app_autogen_"))
      .WillOnce(Return(std::vector<database::ScratchDatabase>{{orphan, gone, false}}));
  ::testing::InSequence order;
  EXPECT_CALL(*db_, dropDatabase(orphan)).WillOnce(Return(core::Status{}));
  EXPECT_CALL(*db_, claimScratch(_)).WillOnce(Return(core::Error::terminal("X", "stop here")));

  run();
}

TEST_F(PipelineTest, CancelledWhileACommandRuns_ReportsCancelledAndCleansUp) {
  bool cancelled = false;
  ws_.handler = [&](const workspace::Command&) {
    cancelled = true;  // the signal arrives while alembic runs; the runner stops it
    return workspace::CommandOutput{143, "", "Terminated\n", false};
  };
  EXPECT_CALL(*db_, probe(_)).WillOnce(Return(core::Status{}));
  EXPECT_CALL(*db_, listScratch(_)).WillOnce(Return(std::vector<database::ScratchDatabase>{}));
  EXPECT_CALL(*db_, claimScratch(_)).WillOnce(Return(testing::FakeScratchLease::make()));
  EXPECT_CALL(*db_, dropDatabase("app_autogen_1800000000_abcdef")).WillOnce(Return(core::Status{}));
  RunRequest request;
  request.message = "m";
  PipelineDeps deps;
  deps.workspace = &ws_;
  deps.resolver = &resolver_;
  deps.databaseFactory = [this](const database::ConnectionInfo&) {
    return std::unique_ptr<database::Database>(db_.release());
  };
  deps.now = [] {
    return std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));
  };
  deps.randomSuffix = [] { return std::string("abcdef"); };
  deps.cancelled = [&] { return cancelled; };

  auto outcome = runPipeline(request, deps);

  EXPECT_EQ(outcome.report.phase, "Failed");
  EXPECT_EQ(outcome.report.reason, "Cancelled");
  EXPECT_EQ(outcome.report.condition("RevisionGenerated")->reason, "Cancelled");
  EXPECT_EQ(outcome.report.condition("Ready")->reason, "Cancelled");
  EXPECT_EQ(ws_.commands.size(), 1u);
}

TEST_F(PipelineTest, CancelledBetweenSteps_RunsNoFurtherStep) {
  EXPECT_CALL(*db_, probe(_)).WillOnce(Return(core::Status{}));
  RunRequest request;
  request.message = "m";
  PipelineDeps deps;
  deps.workspace = &ws_;
  deps.resolver = &resolver_;
  deps.databaseFactory = [this](const database::ConnectionInfo&) {
    return std::unique_ptr<database::Database>(db_.release());
  };
  int polls = 0;
  deps.cancelled = [&] { return ++polls > 1; };  // after step 1

  auto outcome = runPipeline(request, deps);

  EXPECT_EQ(outcome.report.reason, "Cancelled");
  EXPECT_EQ(outcome.report.condition("DatabaseReady")->status, "True");
  EXPECT_EQ(outcome.report.condition("ModelsRegistered")->reason, "Cancelled");
  EXPECT_TRUE(ws_.commands.empty());
}

TEST_F(PipelineTest, PasswordsNeverReachTheReport) {
  EXPECT_CALL(*db_, probe(_))
      .WillOnce(Return(core::Error::retryable(core::reason::kDatabaseUnavailable,
                                              "driver said: password pw rejected")));
  auto outcome = run();
  EXPECT_THAT(outcome.report.message, ::testing::Not(HasSubstr("pw ")));
  EXPECT_THAT(outcome.report.message, HasSubstr("password **** rejected"));
}

TEST_F(PipelineTest, UnknownAction_FailsWithUsageError) {
  RunRequest request;
  request.action = "explode";
  auto outcome = run(request);
  EXPECT_EQ(outcome.report.reason, "UsageError");
}

}  // namespace
}  // namespace alembic_sidecar::pipeline
