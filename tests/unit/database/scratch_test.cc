#include "database/scratch.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "mocks/mock_database.h"

namespace alembic_sidecar::database {
namespace {

using ::testing::Return;
using ::testing::StrictMock;
using Clock = std::chrono::system_clock;

Clock::time_point at(int64_t seconds) { return Clock::time_point(std::chrono::seconds(seconds)); }

TEST(ScratchNames, CarryCreationTimeAndFitPostgresIdentifiers) {
  std::string name = scratchDatabaseName("app", at(1795631719), "abcdef");
  EXPECT_EQ(name, "app_autogen_1795631719_abcdef");
  EXPECT_EQ(scratchCreatedAt(name, "app"), at(1795631719));
  std::string longBase(100, 'x');
  std::string longName = scratchDatabaseName(longBase, at(1795631719), "abcdef");
  EXPECT_LE(longName.size(), 63u);
  EXPECT_EQ(scratchCreatedAt(longName, longBase), at(1795631719));
}

TEST(ScratchNames, OthersAreNotOurs) {
  EXPECT_FALSE(scratchCreatedAt("app", "app"));
  EXPECT_FALSE(scratchCreatedAt("app_autogen_x_abc", "app"));
  EXPECT_FALSE(scratchCreatedAt("other_autogen_1_abc", "app"));
  EXPECT_FALSE(scratchCreatedAt("app_autogen_123", "app"));
}

ScratchOwner ownerOn(const std::string& name) {
  return ScratchOwner{"app", kScratchLockClass,     scratchLockKey(name), "laptop",
                      4242,  "2027-01-15T08:00:00Z"};
}

TEST(ScratchSweep, UnmarkedDatabasesAreDroppedOnlyAfterTheMaximumAge) {
  StrictMock<testing::MockDatabase> db;
  auto now = at(1'800'000'000);
  auto old = scratchDatabaseName("app", now - std::chrono::hours(4), "aaaaaa");
  auto fresh = scratchDatabaseName("app", now - std::chrono::minutes(5), "bbbbbb");
  EXPECT_CALL(db, listScratch("app_autogen_"))
      .WillOnce(Return(std::vector<ScratchDatabase>{{old, std::nullopt, false},
                                                    {fresh, std::nullopt, false},
                                                    {"app_autogen_garbage", {}, false}}));
  EXPECT_CALL(db, dropDatabase(old)).WillOnce(Return(core::Status{}));

  auto result = sweepScratchDatabases(db, "app", now);

  EXPECT_EQ(result.dropped(), 1);
  ASSERT_EQ(result.entries.size(), 2u);  // the garbage name is not ours
  EXPECT_EQ(result.entries[0].verdict, SweepEntry::Verdict::kUnmarkedAndOld);
  EXPECT_EQ(result.entries[1].verdict, SweepEntry::Verdict::kUnmarkedAndRecent);
}

TEST(ScratchSweep, MarkedDatabaseWhoseOwnerIsGoneIsDroppedAtOnce) {
  StrictMock<testing::MockDatabase> db;
  auto now = at(1'800'000'000);
  auto orphan = scratchDatabaseName("app", now - std::chrono::seconds(30), "aaaaaa");
  auto live = scratchDatabaseName("app", now - std::chrono::hours(5), "bbbbbb");
  EXPECT_CALL(db, listScratch("app_autogen_"))
      .WillOnce(Return(std::vector<ScratchDatabase>{{orphan, ownerOn(orphan), false},
                                                    {live, ownerOn(live), true}}));
  EXPECT_CALL(db, dropDatabase(orphan)).WillOnce(Return(core::Status{}));

  auto result = sweepScratchDatabases(db, "app", now);

  ASSERT_EQ(result.entries.size(), 2u);
  EXPECT_EQ(result.entries[0].verdict, SweepEntry::Verdict::kOwnerGone);
  EXPECT_TRUE(result.entries[0].dropped);
  EXPECT_NE(result.entries[0].why.find("host laptop pid 4242"), std::string::npos);
  // A live owner keeps its database however old it is.
  EXPECT_EQ(result.entries[1].verdict, SweepEntry::Verdict::kOwnerAlive);
  EXPECT_FALSE(result.entries[1].dropped);
}

TEST(ScratchSweep, DryRunDropsNothing) {
  StrictMock<testing::MockDatabase> db;
  auto now = at(1'800'000'000);
  auto orphan = scratchDatabaseName("app", now, "aaaaaa");
  EXPECT_CALL(db, listScratch("app_autogen_"))
      .WillOnce(Return(std::vector<ScratchDatabase>{{orphan, ownerOn(orphan), false}}));

  auto result = sweepScratchDatabases(db, "app", now, /*dryRun=*/true);

  ASSERT_EQ(result.entries.size(), 1u);
  EXPECT_TRUE(result.entries[0].orphan());
  EXPECT_FALSE(result.entries[0].dropped);
}

TEST(ScratchSweep, FailedDropIsReportedAndListErrorsAreKept) {
  StrictMock<testing::MockDatabase> db;
  auto now = at(1'800'000'000);
  auto orphan = scratchDatabaseName("app", now, "aaaaaa");
  EXPECT_CALL(db, listScratch("app_autogen_"))
      .WillOnce(Return(std::vector<ScratchDatabase>{{orphan, ownerOn(orphan), false}}))
      .WillOnce(Return(core::Error::retryable("DatabaseUnavailable", "down")));
  EXPECT_CALL(db, dropDatabase(orphan))
      .WillOnce(Return(core::Error::terminal("ScratchDatabaseFailed", "must be owner")));

  auto first = sweepScratchDatabases(db, "app", now);
  auto second = sweepScratchDatabases(db, "app", now);

  EXPECT_EQ(first.failed(), 1);
  EXPECT_EQ(first.entries[0].error, "must be owner");
  ASSERT_TRUE(second.error.has_value());
  EXPECT_EQ(second.error->reason, "DatabaseUnavailable");
}

TEST(ScratchMark, RoundTripsTheOwnerAndReadsAsTextForPeople) {
  ScratchOwner owner = ownerOn("app_autogen_1_abcdef");

  std::string mark = formatScratchMark(owner);

  EXPECT_EQ(mark.rfind("alembic-sidecar scratch database {", 0), 0u) << mark;
  EXPECT_NE(mark.find("\"host\":\"laptop\""), std::string::npos) << mark;
  EXPECT_EQ(parseScratchMark(mark), owner);
}

TEST(ScratchMark, ForeignOrBrokenCommentsAreNotMarks) {
  for (const char* comment :
       {"", "default administrative connection database", "alembic-sidecar scratch database ",
        "alembic-sidecar scratch database {not json", "alembic-sidecar scratch database {}",
        "alembic-sidecar scratch database {\"lock\":{\"database\":\"app\",\"class\":\"x\","
        "\"key\":1}}"}) {
    EXPECT_FALSE(parseScratchMark(comment).has_value()) << comment;
  }
}

TEST(ScratchMark, LockKeyIsStableNonNegativeAndDiffersByName) {
  EXPECT_EQ(scratchLockKey("app_autogen_1_abcdef"), scratchLockKey("app_autogen_1_abcdef"));
  EXPECT_NE(scratchLockKey("app_autogen_1_abcdef"), scratchLockKey("app_autogen_1_abcdee"));
  for (const char* name : {"a", "app_autogen_1800000000_ffffff", "x_autogen_0_000000"}) {
    EXPECT_GE(scratchLockKey(name), 0) << name;
  }
  EXPECT_GT(kScratchLockClass, 0);
}

}  // namespace
}  // namespace alembic_sidecar::database
