// Two `alembic-sidecar revision` runs on one project at once (two developers, or a developer
// and a CI job on a shared checkout), on the escalating drop-column project: one waits for the
// project lock or ends ProjectLocked naming the holder; there are never two heads and never a
// file in versions/ that a run did not validate.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <thread>

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
using ::testing::UnorderedElementsAre;

class ConcurrentRunsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    live_ = createTestDatabase("conc");
    prepareDropColumnProject(app_, live_);
    installPauseHook(app_);
    before_ = app_.versionFiles();
  }

  std::vector<std::string> argv(std::vector<std::string> extra = {}) const {
    std::vector<std::string> out = {ALEMBIC_SIDECAR_EXE,      "revision",  "-m",
                                    "drop team headquarters", "--project", app_.dir(),
                                    "--database-url",         live_.url(), "--json"};
    out.insert(out.end(), extra.begin(), extra.end());
    return out;
  }

  std::map<std::string, std::string> env(const std::string& pauseOn = "") const {
    std::map<std::string, std::string> e = {
        {"ALEMBIC_SIDECAR_SQUAWK", std::string(ALEMBIC_SIDECAR_SOURCE_DIR) + "/.tools/bin/squawk"},
        {"PYTHONDONTWRITEBYTECODE", "1"},
        {"DATABASE_URL", ""}};
    if (!pauseOn.empty()) {
      e["TEST_PAUSE_ON"] = pauseOn;
      e["TEST_PAUSE_DIR"] = pauseDir_.str();
    }
    return e;
  }

  std::string logPath(const std::string& name) const { return pauseDir_.str() + "/" + name; }

  /** New files in versions/ since SetUp. */
  std::vector<std::string> added() const {
    auto after = app_.versionFiles();
    std::vector<std::string> out;
    std::set_difference(after.begin(), after.end(), before_.begin(), before_.end(),
                        std::back_inserter(out));
    return out;
  }

  /** One new file, the escalated run's, validated (its text is what the report hashed). */
  void expectOneReviewedFile(const nlohmann::json& escalated) {
    auto files = added();
    ASSERT_EQ(files.size(), 1u) << ::testing::PrintToString(files);
    const std::string reviewed = escalated["revision"].value("file", "");
    EXPECT_EQ(std::filesystem::path(reviewed).filename(),
              std::filesystem::path(files[0]).filename());
    EXPECT_EQ(alembicHeads(app_).size(), 1u);
    EXPECT_THAT(databasesWithPrefix(live_.database + "_autogen_"), IsEmpty());
    EXPECT_THAT(stagingDirs(app_), IsEmpty());
  }

  ExampleApp app_;
  TempDir pauseDir_{"fault-conc"};
  database::ConnectionInfo live_;
  std::vector<std::string> before_;
};

TEST_F(ConcurrentRunsTest, SecondRunEndsProjectLockedNamingTheHolder_FirstFinishesAlone) {
  ChildProcess first(argv(), env("upgrade#1"), logPath("first.log"));
  auto paused = waitForPause(pauseDir_.str(), std::chrono::seconds(120));
  ASSERT_TRUE(paused) << first.log();

  auto second = runCli({"revision", "-m", "drop team headquarters", "--project", app_.dir(),
                        "--database-url", live_.url(), "--json", "--lock-wait", "1"},
                       env());
  EXPECT_EQ(second.exitCode, 1) << second.err << second.out;
  auto report = second.json();
  EXPECT_EQ(report["phase"], "Failed");
  EXPECT_EQ(report["reason"], "ProjectLocked");
  // The holder is named: the first run's driver (pid) on this host; env.py runs in the
  // driver's child for the step.
  EXPECT_THAT(report["message"].get<std::string>(),
              HasSubstr("pid " + std::to_string(paused->parentPid)));
  EXPECT_EQ(app_.versionFiles(), before_);
  // Only the first run's scratch database exists, and it is in use.
  EXPECT_EQ(databasesWithPrefix(live_.database + "_autogen_").size(), 1u);

  resumePaused(pauseDir_.str());
  auto code = first.wait(std::chrono::seconds(180));
  ASSERT_EQ(code, std::optional<int>(3)) << first.log();
  auto firstReport = reportIn(first.log());
  EXPECT_EQ(verdictOf(firstReport), dropColumnVerdict());
  expectOneReviewedFile(firstReport);
}

TEST_F(ConcurrentRunsTest, StartedTogether_OneWaitsAndFindsTheOthersReviewedFile) {
  ChildProcess a(argv(), env(), logPath("a.log"));
  ChildProcess b(argv(), env(), logPath("b.log"));
  auto codeA = a.wait(std::chrono::seconds(240));
  auto codeB = b.wait(std::chrono::seconds(240));
  ASSERT_TRUE(codeA && codeB) << a.log() << b.log();
  auto reportA = reportIn(a.log());
  auto reportB = reportIn(b.log());
  std::cerr << "run a: " << ::testing::PrintToString(verdictOf(reportA)) << " in "
            << reportA.value("durationMs", 0)
            << " ms; run b: " << ::testing::PrintToString(verdictOf(reportB)) << " in "
            << reportB.value("durationMs", 0) << " ms\n";
  // The one that got the lock first escalates and keeps its file for review; the other waited
  // for the lock and found that file in the history: the models match it now.
  const Verdict noChanges{"Succeeded", "NoChanges", {}};
  EXPECT_THAT((std::vector<Verdict>{verdictOf(reportA), verdictOf(reportB)}),
              UnorderedElementsAre(dropColumnVerdict(), noChanges))
      << a.log() << b.log();
  EXPECT_THAT((std::vector<int>{*codeA, *codeB}), UnorderedElementsAre(0, 3));
  expectOneReviewedFile(verdictOf(reportA) == dropColumnVerdict() ? reportA : reportB);
}

TEST_F(ConcurrentRunsTest, HolderKilledWhileTheOtherWaits_TheWaiterTakesOverWithTheSameVerdict) {
  ChildProcess holder(argv(), env("revision#1"), logPath("holder.log"));
  auto paused = waitForPause(pauseDir_.str(), std::chrono::seconds(120));
  ASSERT_TRUE(paused) << holder.log();
  ChildProcess waiter(argv({"--lock-wait", "120"}), env(), logPath("waiter.log"));
  // The waiter is past its start-up and polling the lock before the holder dies.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  ASSERT_TRUE(waiter.running()) << waiter.log();
  holder.signal(SIGKILL);
  ASSERT_EQ(holder.wait(std::chrono::seconds(10)), std::optional<int>(128 + SIGKILL));

  auto code = waiter.wait(std::chrono::seconds(180));
  ASSERT_EQ(code, std::optional<int>(3)) << waiter.log();
  auto report = reportIn(waiter.log());
  EXPECT_EQ(verdictOf(report), dropColumnVerdict());
  expectOneReviewedFile(report);
}

}  // namespace
}  // namespace alembic_sidecar::testing
