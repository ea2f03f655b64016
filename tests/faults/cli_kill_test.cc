// `alembic-sidecar revision` killed with SIGKILL at points spread over a run that must escalate
// (team.headquarters dropped while the live table has rows), real alembic, real PostgreSQL.
// After each kill nothing unvalidated is in versions/, and the next run reaches the verdict of
// an uninterrupted run, leaves no scratch database and exactly one new file in versions/: the
// one it reviewed. SIGKILL cannot be caught: whatever holds here holds because of the design
// (staging directory, kernel-released lock, database leases), not because of a handler.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <iostream>

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

/** How the test finds the moment to kill. */
enum class Trigger {
  kPause,       // env.py paused at `pauseOn` (see pause_hook.h)
  kLockTaken,   // the project lock file names its holder: the driver is up
  kStagedFile,  // the generated file appeared in the staging directory
  kAdopted,     // the validated file appeared in versions/: the run's last act is done
};

struct KillPoint {
  const char* name;
  Trigger trigger;
  const char* pauseOn;  // for kPause
};

void PrintTo(const KillPoint& point, std::ostream* out) { *out << point.name; }

std::string describe(const ::testing::TestParamInfo<KillPoint>& info) { return info.param.name; }

class CliKillTest : public ::testing::TestWithParam<KillPoint> {
 protected:
  void SetUp() override {
    live_ = createTestDatabase("ckill");
    prepareDropColumnProject(app_, live_);
    installPauseHook(app_);
    before_ = app_.versionFiles();
  }

  std::vector<std::string> revisionArgs() const {
    return {"revision",  "-m",       "drop team headquarters",
            "--project", app_.dir(), "--database-url",
            live_.url(), "--json"};
  }

  std::map<std::string, std::string> env() const {
    return {
        {"ALEMBIC_SIDECAR_SQUAWK", std::string(ALEMBIC_SIDECAR_SOURCE_DIR) + "/.tools/bin/squawk"},
        {"PYTHONDONTWRITEBYTECODE", "1"}};
  }

  /** The run that nobody interrupts, and what it must leave behind. */
  void expectCleanFinish(const CliResult& next) {
    auto report = next.json();
    ASSERT_TRUE(report.is_object()) << next.err << next.out;
    EXPECT_EQ(verdictOf(report), dropColumnVerdict()) << next.out;
    EXPECT_EQ(next.exitCode, 3) << next.err;
    // At most the one reviewed file joined the history, and it is the one the report names.
    auto after = app_.versionFiles();
    std::vector<std::string> added;
    std::set_difference(after.begin(), after.end(), before_.begin(), before_.end(),
                        std::back_inserter(added));
    ASSERT_EQ(added.size(), 1u) << ::testing::PrintToString(added);
    const std::string reviewed = report["revision"].value("file", "");
    EXPECT_EQ(std::filesystem::path(reviewed).filename(),
              std::filesystem::path(added[0]).filename());
    EXPECT_THAT(app_.read(reviewed), HasSubstr("op.drop_column('team', 'headquarters')"));
    EXPECT_EQ(alembicHeads(app_).size(), 1u);
    EXPECT_THAT(databasesWithPrefix(live_.database + "_autogen_"), IsEmpty());
    EXPECT_THAT(stagingDirs(app_), IsEmpty());
    EXPECT_THAT(next.out + next.err, Not(HasSubstr(live_.password)));
  }

  ExampleApp app_;
  TempDir pauseDir_{"fault-pause"};
  database::ConnectionInfo live_;
  std::vector<std::string> before_;
};

TEST_F(CliKillTest, Uninterrupted_EscalatesTheDroppedColumnAndKeepsTheFileForReview) {
  auto run = runCli(revisionArgs(), env());
  expectCleanFinish(run);
}

TEST_P(CliKillTest, NextRunReachesTheUninterruptedVerdict) {
  const auto& point = GetParam();
  const std::string log = pauseDir_.str() + "/killed.log";
  auto environment = env();
  environment["TEST_PAUSE_DIR"] = pauseDir_.str();
  if (point.trigger == Trigger::kPause) {
    environment["TEST_PAUSE_ON"] = point.pauseOn;
  }
  const auto started = std::chrono::steady_clock::now();
  std::vector<std::string> argv = revisionArgs();
  argv.insert(argv.begin(), ALEMBIC_SIDECAR_EXE);
  ChildProcess run(argv, environment, log);

  std::optional<PausedProcess> paused;
  switch (point.trigger) {
    case Trigger::kPause:
      paused = waitForPause(pauseDir_.str(), std::chrono::seconds(120));
      ASSERT_TRUE(paused) << "the run never reached " << point.pauseOn << ":\n" << run.log();
      break;
    case Trigger::kLockTaken:
      ASSERT_TRUE(
          pollUntil([&] { return !app_.read(".alembic-sidecar/lock").empty() || !run.running(); },
                    std::chrono::seconds(60)))
          << run.log();
      break;
    case Trigger::kStagedFile:
      ASSERT_TRUE(pollUntil([&] { return !stagedFiles(app_).empty() || !run.running(); },
                            std::chrono::seconds(120)))
          << run.log();
      break;
    case Trigger::kAdopted:
      ASSERT_TRUE(pollUntil([&] { return app_.versionFiles() != before_ || !run.running(); },
                            std::chrono::seconds(120)))
          << run.log();
      break;
  }
  ASSERT_TRUE(run.running()) << "the run ended before the kill point:\n" << run.log();
  run.signal(SIGKILL);
  auto code = run.wait(std::chrono::seconds(10));
  ASSERT_EQ(code, std::optional<int>(128 + SIGKILL));
  const auto killedAfter = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::steady_clock::now() - started)
                               .count();
  std::cerr << point.name << ": killed " << killedAfter << " ms into the run\n";

  // The kernel ends the driver with the CLI (PR_SET_PDEATHSIG), releasing the project lock.
  if (paused) {
    EXPECT_TRUE(pollUntil([&] { return !processRunning(paused->pid); }, std::chrono::seconds(5)))
        << "alembic (pid " << paused->pid << ") outlived the killed run";
  }
  // Whatever the kill left, none of it is a revision alembic would load unvalidated.
  if (point.trigger != Trigger::kAdopted) {
    EXPECT_EQ(app_.versionFiles(), before_) << run.log();
  }

  auto next = runCli(revisionArgs(), env());
  expectCleanFinish(next);
  EXPECT_THAT(run.log(), Not(HasSubstr(live_.password)));
}

INSTANTIATE_TEST_SUITE_P(
    SigkillPoints, CliKillTest,
    ::testing::Values(
        // Driver started and holding the project lock; models being checked, no scratch yet.
        KillPoint{"LockTaken", Trigger::kLockTaken, ""},
        // Scratch database created and leased; env.py inside the baseline `upgrade head`.
        KillPoint{"BaselineUpgrade", Trigger::kPause, "upgrade#1"},
        // Inside `revision --autogenerate`, before alembic writes the file.
        KillPoint{"Autogenerate", Trigger::kPause, "revision#1"},
        // The file just appeared in the staging directory, validation not yet started.
        KillPoint{"StagedFileAppeared", Trigger::kStagedFile, ""},
        // Validation: alembic renders the offline SQL (`upgrade <down>:<rev> --sql`).
        KillPoint{"ValidationOfflineSql", Trigger::kPause, "upgrade-sql#1"},
        // Round trip: the first upgrade to the new revision.
        KillPoint{"RoundTripUpgrade", Trigger::kPause, "upgrade#2"},
        // Round trip: `downgrade -1`, mid-command.
        KillPoint{"RoundTripDowngrade", Trigger::kPause, "downgrade#1"},
        // Round trip: the re-upgrade, mid-command.
        KillPoint{"RoundTripReupgrade", Trigger::kPause, "upgrade#3"},
        // The re-upgrade committed and env.py ended: only the fingerprint comparison, the
        // escalation and the adoption (the run's last act) remain.
        KillPoint{"JustBeforeAdoption", Trigger::kPause, "upgrade#3:after"},
        KillPoint{"JustAfterAdoption", Trigger::kAdopted, ""}),
    describe);

}  // namespace
}  // namespace alembic_sidecar::testing
