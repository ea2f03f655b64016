#include "database/driver_scheme.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace alembic_sidecar::database {
namespace {

struct Case {
  bool asyncEnv;
  std::vector<std::string> importable;
  std::string sqlalchemy;
  std::string scheme;  // empty: no driver fits
};

class ChooseScheme : public ::testing::TestWithParam<Case> {};

TEST_P(ChooseScheme, PicksADriverTheAppCanUse) {
  const auto& c = GetParam();
  auto scheme = chooseScheme(c.asyncEnv, c.importable, c.sqlalchemy);
  if (c.scheme.empty()) {
    ASSERT_FALSE(scheme);
    EXPECT_EQ(scheme.error().reason, "NoDatabaseDriver");
  } else {
    ASSERT_TRUE(scheme) << scheme.error().message;
    EXPECT_EQ(*scheme, c.scheme);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, ChooseScheme,
    ::testing::Values(
        Case{true, {"asyncpg", "psycopg2"}, "1.4.46", "postgresql+asyncpg"},
        Case{false, {"asyncpg", "psycopg2"}, "1.4.46", "postgresql+psycopg2"},
        Case{false, {"psycopg", "pg8000"}, "1.4.46", "postgresql+pg8000"},
        Case{false, {"psycopg"}, "2.0.30", "postgresql+psycopg"},
        Case{true, {"psycopg"}, "2.0.30", "postgresql+psycopg"},
        Case{true, {"psycopg", "psycopg2"}, "1.4.46", ""},
        Case{false, {}, "2.0.30", ""}));

}  // namespace
}  // namespace alembic_sidecar::database
