// SIGINT and SIGTERM sent to a real `alembic-sidecar revision` while alembic runs (real
// alembic, real PostgreSQL): the children stop, the scratch database is dropped, the
// unvalidated file is removed, the report says Cancelled and the exit code is 130 / 143.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <sstream>

#include "support/child_process.h"
#include "support/cli_runner.h"
#include "support/example_app.h"
#include "support/fault_run.h"
#include "support/pause_hook.h"
#include "support/postgres_server.h"
#include "support/temp_dir.h"

namespace alembic_sidecar::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

struct SignalPoint {
  int signal;
  const char* pauseOn;  // the alembic command the run is inside when the signal arrives
  int exitCode;
};

std::string nameOf(const SignalPoint& point) {
  return std::string(point.signal == SIGINT ? "SIGINT" : "SIGTERM") + "_during_" + point.pauseOn;
}

std::string describe(const ::testing::TestParamInfo<SignalPoint>& info) {
  return nameOf(info.param);
}

void PrintTo(const SignalPoint& point, std::ostream* out) { *out << nameOf(point); }

class RevisionSignalTest : public ::testing::TestWithParam<SignalPoint> {
 protected:
  void SetUp() override {
    db_ = createTestDatabase("sig");
    app_.applyChange("user_add_phone");
    installPauseHook(app_);
  }

  ExampleApp app_;
  TempDir pauseDir_{"pause"};
  database::ConnectionInfo db_;
};

TEST_P(RevisionSignalTest, StopsChildrenDropsScratchRemovesFileAndReportsCancelled) {
  const auto& point = GetParam();
  const auto before = app_.versionFiles();
  const std::string log = pauseDir_.str() + "/run.log";
  ChildProcess run({ALEMBIC_SIDECAR_EXE, "revision", "-m", "add user phone", "--project",
                    app_.dir(), "--database-url", db_.url(), "--json"},
                   {{"TEST_PAUSE_ON", point.pauseOn},
                    {"TEST_PAUSE_DIR", pauseDir_.str()},
                    {"DATABASE_URL", ""},
                    {"PYTHONDONTWRITEBYTECODE", "1"}},
                   log);
  auto paused = waitForPause(pauseDir_.str(), std::chrono::seconds(120));
  ASSERT_TRUE(paused) << "alembic never reached " << point.pauseOn << ":\n" << run.log();
  if (std::string(point.pauseOn) != "upgrade") {
    // Past the baseline upgrade the scratch database exists for sure.
    EXPECT_THAT(databasesWithPrefix(db_.database + "_autogen_"), Not(IsEmpty()));
  }

  const auto sent = std::chrono::steady_clock::now();
  run.signal(point.signal);
  auto code = run.wait(std::chrono::seconds(30));
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - sent)
          .count();

  ASSERT_TRUE(code.has_value()) << "still running 30 s after the signal:\n" << run.log();
  EXPECT_EQ(*code, point.exitCode) << run.log();
  std::cerr << nameOf(point) << ": exit " << *code << " " << ms << " ms after the signal\n";
  EXPECT_LT(ms, 10000) << "the paused alembic (sleeping 120 s) was not stopped promptly";
  auto report = reportIn(run.log());
  ASSERT_TRUE(report.is_object()) << run.log();
  EXPECT_EQ(report["phase"], "Failed");
  EXPECT_EQ(report["reason"], "Cancelled");
  EXPECT_THAT(report["message"].get<std::string>(),
              HasSubstr(point.signal == SIGINT ? "SIGINT" : "SIGTERM"));
  // Nothing left behind: no child, no scratch database, no file.
  EXPECT_FALSE(processRunning(paused->pid)) << "alembic outlived the cancelled run";
  EXPECT_THAT(databasesWithPrefix(db_.database + "_autogen_"), IsEmpty());
  EXPECT_EQ(app_.versionFiles(), before);
  EXPECT_THAT(run.log(), Not(HasSubstr(db_.password)));
}

INSTANTIATE_TEST_SUITE_P(ThreePointsEach, RevisionSignalTest,
                         ::testing::Values(SignalPoint{SIGINT, "upgrade", 130},
                                           SignalPoint{SIGINT, "revision", 130},
                                           SignalPoint{SIGINT, "downgrade", 130},
                                           SignalPoint{SIGTERM, "upgrade", 143},
                                           SignalPoint{SIGTERM, "revision", 143},
                                           SignalPoint{SIGTERM, "downgrade", 143}),
                         describe);

TEST(RevisionInput, BlankMessageIsAUsageError) {
  ExampleApp app;
  auto result = runCli({"revision", "-m", "  \t ", "--project", app.dir()});
  EXPECT_EQ(result.exitCode, 2) << result.err;
  EXPECT_THAT(result.err, HasSubstr("must not be blank"));
}

}  // namespace
}  // namespace alembic_sidecar::testing
