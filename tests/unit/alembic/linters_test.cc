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

TEST(LintExcludes, DefaultLeavesOutTheRulesEveryStatementTrips) {
  auto rules = lintExcludes(nullptr);
  for (const char* rule : {"prefer-robust-stmts", "require-lock-timeout",
                           "require-statement-timeout", "transaction-nesting",
                           "prefer-bigint-over-int", "prefer-bigint-over-smallint",
                           "prefer-identity", "prefer-text-field"}) {
    EXPECT_THAT(rules, ::testing::Contains(rule));
  }
  EXPECT_THAT(rules, ::testing::Not(::testing::Contains("require-concurrent-index-creation")));
  EXPECT_THAT(rules, ::testing::Not(::testing::Contains("ban-drop-column")));
}

TEST(LintExcludes, TheVariableReplacesOrExtendsTheDefault) {
  EXPECT_THAT(lintExcludes(""), ::testing::IsEmpty());
  EXPECT_THAT(lintExcludes(" prefer-text-field , ban-drop-column,prefer-text-field"),
              ::testing::ElementsAre("prefer-text-field", "ban-drop-column"));
  auto extended = lintExcludes("default,ban-drop-column");
  EXPECT_EQ(extended.size(), lintExcludes(nullptr).size() + 1);
  EXPECT_EQ(extended.back(), "ban-drop-column");
}

TEST(Squawk, GarbageIsNoResults) {
  EXPECT_TRUE(parseSquawkJson("not json", "").empty());
  EXPECT_TRUE(parseSquawkJson("{}", "").empty());
}

}  // namespace
}  // namespace alembic_sidecar::alembic
