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

TEST(ScratchSweep, DropsOnlyDatabasesOlderThanTheMaximumAge) {
  StrictMock<testing::MockDatabase> db;
  auto now = at(1'800'000'000);
  auto old = scratchDatabaseName("app", now - std::chrono::hours(4), "aaaaaa");
  auto fresh = scratchDatabaseName("app", now - std::chrono::minutes(5), "bbbbbb");
  EXPECT_CALL(db, listDatabases("app_autogen_"))
      .WillOnce(Return(std::vector<std::string>{old, fresh, "app_autogen_garbage"}));
  EXPECT_CALL(db, dropDatabase(old)).WillOnce(Return(core::Status{}));
  EXPECT_EQ(sweepScratchDatabases(db, "app", now), 1);
}

}  // namespace
}  // namespace alembic_sidecar::database
