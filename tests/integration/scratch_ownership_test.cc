// Scratch databases are owned (a session advisory lock + a COMMENT naming the owner) on the
// real PostgreSQL: a live owner's database is never swept, a dead owner's (kill -9 included)
// is dropped by the next run or `alembic-sidecar sweep` at once, unmarked ones after 3 h.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <pqxx/pqxx>

#include "database/pg_database.h"
#include "database/scratch.h"
#include "support/child_process.h"
#include "support/cli_runner.h"
#include "support/example_app.h"
#include "support/pause_hook.h"
#include "support/postgres_server.h"
#include "support/temp_dir.h"

namespace alembic_sidecar::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using Clock = std::chrono::system_clock;
using Steady = std::chrono::steady_clock;

int64_t msSince(Steady::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Steady::now() - start).count();
}

class ScratchOwnershipTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = createTestDatabase("own");
    redactor_->add(base_.password);
  }

  std::unique_ptr<database::PgDatabase> connect() {
    return std::make_unique<database::PgDatabase>(base_, redactor_);
  }

  std::vector<database::ScratchDatabase> scratch() {
    auto found = connect()->listScratch(database::scratchPrefix(base_.database));
    EXPECT_TRUE(found.ok()) << (found.ok() ? "" : found.error().message);
    return found.ok() ? *found : std::vector<database::ScratchDatabase>{};
  }

  CliResult sweep(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"sweep", "--database-url", base_.url(), "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    return runCli(args);
  }

  database::ConnectionInfo base_;
  core::RedactorPtr redactor_ = std::make_shared<core::Redactor>();
};

TEST_F(ScratchOwnershipTest, ClaimMarksTheDatabaseAndHoldsTheLockOnItsOwnSession) {
  auto db = connect();
  const std::string name = database::scratchDatabaseName(base_.database, Clock::now(), "aaaaaa");
  const std::string second = database::scratchDatabaseName(base_.database, Clock::now(), "bbbbbb");

  auto lease = db->claimScratch(name);
  ASSERT_TRUE(lease.ok()) << lease.error().message;
  ASSERT_TRUE(db->createDatabase(second).ok());  // created under the lease: marked too

  auto found = scratch();
  ASSERT_THAT(found, SizeIs(2));
  for (const auto& s : found) {
    ASSERT_TRUE(s.owner.has_value()) << s.name;
    EXPECT_TRUE(s.ownerAlive) << s.name;
    EXPECT_EQ(*s.owner, (*lease)->owner());
    EXPECT_EQ(s.owner->pid, ::getpid());
    EXPECT_EQ(s.owner->lockDatabase, base_.database);
    EXPECT_EQ(s.owner->lockKey, database::scratchLockKey(name));
    EXPECT_FALSE(s.owner->host.empty());
  }
  EXPECT_TRUE((*lease)->held());
  pqxx::connection conn{base_.libpqConninfo()};
  pqxx::nontransaction tx{conn};
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                     "'alembic-sidecar scratch lease'")[0]
                .as<int>(),
            1);
  auto comment = tx.exec_params1(
                       "SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                       "WHERE datname = $1",
                       name)[0]
                     .as<std::string>();
  EXPECT_EQ(comment.rfind("alembic-sidecar scratch database {", 0), 0u) << comment;

  // A second claim of the same name fails: the lock (or the database) is taken.
  EXPECT_FALSE(connect()->claimScratch(name).ok());

  // A live owner's databases are kept by any sweep, however old their names say they are.
  auto kept = database::sweepScratchDatabases(*connect(), base_.database,
                                              Clock::now() + std::chrono::hours(24));
  EXPECT_EQ(kept.dropped(), 0);
  EXPECT_THAT(scratch(), SizeIs(2));

  // The owner goes away without dropping them: the next sweep drops both at once.
  lease.value().reset();
  auto swept = database::sweepScratchDatabases(*connect(), base_.database, Clock::now());
  EXPECT_EQ(swept.dropped(), 2);
  for (const auto& e : swept.entries) {
    EXPECT_EQ(e.verdict, database::SweepEntry::Verdict::kOwnerGone) << e.name;
  }
  EXPECT_THAT(scratch(), IsEmpty());
}

TEST_F(ScratchOwnershipTest, LeaseWhoseSessionWasTerminated_IsLostAndItsDatabaseSwept) {
  auto db = connect();
  const std::string name = database::scratchDatabaseName(base_.database, Clock::now(), "cccccc");
  auto lease = db->claimScratch(name);
  ASSERT_TRUE(lease.ok()) << lease.error().message;

  execSql("postgres",
          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = "
          "'alembic-sidecar scratch lease' AND datname = '" +
              base_.database + "'");

  EXPECT_FALSE((*lease)->held());
  auto swept = database::sweepScratchDatabases(*connect(), base_.database, Clock::now());
  EXPECT_EQ(swept.dropped(), 1);
}

TEST_F(ScratchOwnershipTest,
       SweepCommand_UnmarkedDatabasesGoOnlyAfterThreeHours_DryRunDropsNothing) {
  const auto now = Clock::now();
  const std::string old =
      database::scratchDatabaseName(base_.database, now - std::chrono::hours(4), "dddddd");
  const std::string recent =
      database::scratchDatabaseName(base_.database, now - std::chrono::minutes(10), "eeeeee");
  execSql("postgres", "CREATE DATABASE " + old);
  execSql("postgres", "CREATE DATABASE " + recent);

  auto dry = sweep({"--dry-run"});
  ASSERT_EQ(dry.exitCode, 0) << dry.err;
  auto listed = dry.json();
  ASSERT_TRUE(listed.is_object()) << dry.out;
  EXPECT_EQ(listed["dryRun"], true);
  EXPECT_EQ(listed["dropped"], 0);
  ASSERT_EQ(listed["databases"].size(), 2u);
  EXPECT_THAT(databasesWithPrefix(database::scratchPrefix(base_.database)), SizeIs(2));

  auto done = sweep();
  ASSERT_EQ(done.exitCode, 0) << done.err;
  auto result = done.json();
  EXPECT_EQ(result["dropped"], 1);
  for (const auto& d : result["databases"]) {
    if (d["name"] == old) {
      EXPECT_EQ(d["verdict"], "UnmarkedAndOld");
      EXPECT_EQ(d["dropped"], true);
    } else {
      EXPECT_EQ(d["verdict"], "UnmarkedAndRecent");
      EXPECT_EQ(d["dropped"], false);
    }
  }
  EXPECT_EQ(databasesWithPrefix(database::scratchPrefix(base_.database)),
            std::vector<std::string>{recent});

  auto text = runCli({"sweep", "--database-url", base_.url()});
  ASSERT_EQ(text.exitCode, 0) << text.err;
  EXPECT_THAT(text.out, HasSubstr("kept    " + recent));
  EXPECT_THAT(text.out + text.err, ::testing::Not(HasSubstr(base_.password)));
}

TEST_F(ScratchOwnershipTest, SweepCommand_InvalidUrlIsAUsageErrorThatNeverQuotesThePassword) {
  auto result = runCli({"sweep", "--database-url", "postgresql://app:p@ss:w/rd%@db:5432/app"});
  EXPECT_EQ(result.exitCode, 2) << result.err;
  EXPECT_THAT(result.err, HasSubstr("percent-encode"));
  EXPECT_THAT(result.err, ::testing::Not(HasSubstr("ss:w")));
}

/** A real `alembic-sidecar revision`, held inside alembic's baseline upgrade on its scratch. */
class KilledRunTest : public ScratchOwnershipTest {
 protected:
  void SetUp() override {
    ScratchOwnershipTest::SetUp();
    app_.applyChange("user_add_phone");
    installPauseHook(app_);
  }

  void TearDown() override {
    if (paused_) {
      ::kill(-paused_->processGroup, SIGKILL);  // the orphaned alembic (no PDEATHSIG yet)
    }
  }

  std::unique_ptr<ChildProcess> startPausedRun() {
    auto run = std::make_unique<ChildProcess>(
        std::vector<std::string>{ALEMBIC_SIDECAR_EXE, "revision", "-m", "add user phone",
                                 "--project", app_.dir(), "--database-url", base_.url(), "--json"},
        std::map<std::string, std::string>{{"TEST_PAUSE_ON", "upgrade"},
                                           {"TEST_PAUSE_DIR", pauseDir_.str()},
                                           {"DATABASE_URL", ""}},
        pauseDir_.str() + "/run.log");
    paused_ = waitForPause(pauseDir_.str(), std::chrono::seconds(120));
    EXPECT_TRUE(paused_) << run->log();
    return run;
  }

  ExampleApp app_;
  TempDir pauseDir_{"pause"};
  std::optional<PausedProcess> paused_;
};

TEST_F(KilledRunTest, LiveRunIsKept_AfterKill9TheSweepCommandDropsItAtOnce) {
  auto run = startPausedRun();
  ASSERT_TRUE(paused_);
  auto found = scratch();
  ASSERT_THAT(found, SizeIs(1));
  ASSERT_TRUE(found[0].owner.has_value());
  EXPECT_EQ(found[0].owner->pid, run->pid());
  EXPECT_TRUE(found[0].ownerAlive);

  auto whileAlive = sweep();
  ASSERT_EQ(whileAlive.exitCode, 0) << whileAlive.err;
  EXPECT_EQ(whileAlive.json()["databases"][0]["verdict"], "OwnerAlive");
  EXPECT_THAT(scratch(), SizeIs(1));

  run->signal(SIGKILL);
  ASSERT_TRUE(run->wait(std::chrono::seconds(10)).has_value());
  const auto killed = Steady::now();
  auto afterKill = sweep();
  const auto sweptMs = msSince(killed);

  ASSERT_EQ(afterKill.exitCode, 0) << afterKill.err;
  auto result = afterKill.json();
  ASSERT_EQ(result["databases"].size(), 1u) << afterKill.out;
  EXPECT_EQ(result["databases"][0]["verdict"], "OwnerGone");
  EXPECT_EQ(result["databases"][0]["dropped"], true);
  EXPECT_EQ(result["databases"][0]["owner"]["pid"], run->pid());
  EXPECT_THAT(scratch(), IsEmpty());
  std::cerr << "kill -9 -> orphan dropped by `alembic-sidecar sweep` in " << sweptMs
            << " ms (the whole command)\n";
  EXPECT_LT(sweptMs, 10000);
}

TEST_F(KilledRunTest, AfterKill9TheNextRevisionDropsTheOrphanAndSucceeds) {
  auto run = startPausedRun();
  ASSERT_TRUE(paused_);
  ASSERT_THAT(scratch(), SizeIs(1));
  const std::string orphan = scratch()[0].name;
  run->signal(SIGKILL);
  ASSERT_TRUE(run->wait(std::chrono::seconds(10)).has_value());

  auto next = runCli({"revision", "-m", "add user phone", "--project", app_.dir(), "--database-url",
                      base_.url(), "--json"},
                     {{"ALEMBIC_SIDECAR_LOG_LEVEL", "info"}});

  ASSERT_EQ(next.exitCode, 0) << next.err << next.out;
  EXPECT_EQ(next.json()["reason"], "RevisionCreated");
  EXPECT_THAT(next.err, HasSubstr("Swept orphaned scratch database name=" + orphan));
  EXPECT_THAT(next.err, HasSubstr("verdict=OwnerGone"));
  EXPECT_THAT(scratch(), IsEmpty());
}

}  // namespace
}  // namespace alembic_sidecar::testing
