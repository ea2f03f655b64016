#include "workspace/command_line.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace alembic_sidecar::workspace {
namespace {

TEST(CommandLine, SplitsWordsAndQuotesWithoutExpanding) {
  auto words = splitCommandLine("uv  run 'my alembic' \"a\\\"b\" $HOME *.py");
  ASSERT_TRUE(words.ok());
  EXPECT_THAT(*words, ::testing::ElementsAre("uv", "run", "my alembic", "a\"b", "$HOME", "*.py"));
}

TEST(CommandLine, RejectsEmptyAndUnterminated) {
  EXPECT_EQ(splitCommandLine("  ").error().reason, "UsageError");
  EXPECT_EQ(splitCommandLine("uv 'run").error().reason, "UsageError");
}

}  // namespace
}  // namespace alembic_sidecar::workspace
