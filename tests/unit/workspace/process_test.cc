#include "workspace/process.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace alembic_sidecar::workspace {
namespace {

TEST(Process, ArgvIsNeverInterpretedByAShell) {
  ProcessSpec spec;
  spec.argv = {"/bin/echo", "x\"; rm -rf / #$(id)", "*"};
  auto result = runProcess(spec);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->exitCode, 0);
  EXPECT_EQ(result->out, "x\"; rm -rf / #$(id) *\n");
}

TEST(Process, SeparatesStreamsFeedsStdinAndReportsExitCodes) {
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", "cat; echo err >&2; exit 7"};
  spec.stdinData = std::string(300000, 'a');  // larger than a pipe buffer
  auto result = runProcess(spec);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->exitCode, 7);
  EXPECT_EQ(result->out.size(), 300000u);
  EXPECT_EQ(result->err, "err\n");
}

TEST(Process, EnvironmentAndWorkingDirectory) {
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", "pwd; printf %s \"$SECRET_URL\""};
  spec.env = {{"SECRET_URL", "postgresql://u:p@h/d"}};
  spec.cwd = "/tmp";
  auto result = runProcess(spec);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->out, "/tmp\npostgresql://u:p@h/d");
}

TEST(Process, TimeoutKillsTheWholeProcessGroup) {
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", "sleep 30 & sleep 30"};
  spec.timeout = std::chrono::milliseconds(300);
  auto start = std::chrono::steady_clock::now();
  auto result = runProcess(spec);
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->timedOut);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(Process, MissingExecutableIsAnError) {
  ProcessSpec spec;
  spec.argv = {"definitely-not-a-command-xyz"};
  auto result = runProcess(spec);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().reason, "WorkspaceUnavailable");
  EXPECT_THAT(result.error().message, ::testing::HasSubstr("definitely-not-a-command-xyz"));
}

TEST(Process, BadWorkingDirectoryIsAnError) {
  ProcessSpec spec;
  spec.argv = {"/bin/true"};
  spec.cwd = "/no/such/dir";
  auto result = runProcess(spec);
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.error().message, ::testing::HasSubstr("/no/such/dir"));
}

TEST(Process, DaemonOutlivesItsStarter) {
  ProcessSpec spec;
  spec.argv = {"/bin/sleep", "5"};
  auto pid = spawnDetached(spec, "/dev/null");
  ASSERT_TRUE(pid.ok()) << pid.error().message;
  EXPECT_EQ(::kill(*pid, 0), 0);
  ::kill(*pid, SIGKILL);
}

}  // namespace
}  // namespace alembic_sidecar::workspace
