#include "alembic/linters.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace alembic_sidecar::alembic {
namespace {

TEST(Pyflakes, OnlyUndefinedNames) {
  auto names = parsePyflakes(
      "<stdin>:3:1: 'sqlalchemy as sa' imported but unused\n"
      "<stdin>:22:63: undefined name 'sqlmodel'\n");
  ASSERT_EQ(names.size(), 1u);
  EXPECT_EQ(names[0], std::make_pair(22, std::string("sqlmodel")));
}

TEST(Squawk, ToleratesNullsAndFindsTheStatement) {
  std::string sql = "BEGIN;\n\nALTER TABLE team\n  DROP COLUMN headquarters;\n\nCOMMIT;\n";
  auto results = parseSquawkJson(
      R"([{"file":"stdin","line":3,"column":2,"level":"Warning","message":"Dropping a column may break existing clients.","help":null,"rule_name":"ban-drop-column"}])",
      sql);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].rule, "ban-drop-column");
  EXPECT_EQ(results[0].help, "");
  EXPECT_EQ(results[0].sqlLine, 4);
  EXPECT_EQ(results[0].statement, "ALTER TABLE team DROP COLUMN headquarters;");
}

TEST(Squawk, GarbageIsNoResults) {
  EXPECT_TRUE(parseSquawkJson("not json", "").empty());
  EXPECT_TRUE(parseSquawkJson("{}", "").empty());
}

}  // namespace
}  // namespace alembic_sidecar::alembic
