#include "alembic/python_source.h"

#include <gtest/gtest.h>

namespace alembic_sidecar::alembic {
namespace {

TEST(LogicalLines, JoinsBracketsAndContinuationsAndDropsComments) {
  auto lines = logicalLines(
      "import a  # comment\n"
      "x = f(1,\n"
      "      2)  # trailing\n"
      "\n"
      "y = 1 + \\\n"
      "    2\n"
      "def g():\n"
      "    s = '''multi\n"
      "line # not a comment'''\n"
      "    return s\n");
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_EQ(lines[0].text, "import a");
  EXPECT_EQ(lines[1].text, "x = f(1,       2)");
  EXPECT_EQ(lines[1].line, 2);
  EXPECT_EQ(lines[2].text, "y = 1 +      2");
  EXPECT_EQ(lines[3].text, "def g():");
  EXPECT_EQ(lines[4].indent, 4);
  EXPECT_EQ(lines[4].text, "s = '''multi\nline # not a comment'''");
  EXPECT_EQ(lines[5].line, 10);
}

TEST(LogicalLines, HashAndBracketsInsideStringsAreText) {
  auto lines = logicalLines("a = \"(#\"\nb = ')'\n");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].text, "a = \"(#\"");
}

TEST(ParseCall, SplitsPositionalAndKeywordArguments) {
  std::string chained;
  auto call = parseCall("op.create_index(op.f('ix_a'), 'user', ['a', 'b'], unique=False)",
                        &chained);
  ASSERT_TRUE(call);
  EXPECT_EQ(call->callee, "op.create_index");
  ASSERT_EQ(call->args.size(), 3u);
  EXPECT_EQ(call->args[2], "['a', 'b']");
  EXPECT_EQ(call->kwarg("unique"), "False");
  EXPECT_EQ(chained, "");
}

TEST(ParseCall, ReportsAChainedMethod) {
  std::string chained;
  auto call = parseCall("sa.Enum('a', 'b', name='role').create(op.get_bind())", &chained);
  ASSERT_TRUE(call);
  EXPECT_EQ(call->callee, "sa.Enum");
  EXPECT_EQ(call->kwarg("name"), "'role'");
  EXPECT_EQ(chained, "create");
}

TEST(ParseCall, ComparisonIsNotAKeyword) {
  auto call = parseCall("f(a == b, c='x')");
  ASSERT_TRUE(call);
  ASSERT_EQ(call->args.size(), 1u);
  EXPECT_EQ(call->args[0], "a == b");
}

TEST(StringLiteral, HandlesQuotesPrefixesAndOpF) {
  EXPECT_EQ(stringLiteral("'user'"), "user");
  EXPECT_EQ(stringLiteral("\"it's\""), "it's");
  EXPECT_EQ(stringLiteral("'it\\'s'"), "it's");
  EXPECT_EQ(stringLiteral("r'\\d'"), "\\d");
  EXPECT_EQ(stringLiteral("op.f('ix_user_email')"), "ix_user_email");
  EXPECT_EQ(stringLiteral("\"\"\"doc\"\"\""), "doc");
  EXPECT_FALSE(stringLiteral("None"));
  EXPECT_FALSE(stringLiteral("sa.Integer()"));
}

}  // namespace
}  // namespace alembic_sidecar::alembic
