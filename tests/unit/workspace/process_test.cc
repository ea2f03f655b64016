#include "workspace/process.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

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

/** Running and not a zombie (a reaped or zombie process no longer runs anything). */
bool running(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  auto close = text.rfind(')');
  return !text.empty() && close != std::string::npos && close + 2 < text.size() &&
         text[close + 2] != 'Z' && text[close + 2] != 'X';
}

TEST(Process, CancellationStopsTheWholeProcessGroupPromptly) {
  std::string pidFile =
      std::filesystem::temp_directory_path() / ("cancel-grandchild-" + std::to_string(::getpid()));
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", "sleep 30 & echo $! > \"$PID_FILE\"; sleep 30"};
  spec.env = {{"PID_FILE", pidFile}};
  std::atomic<bool> cancel{false};
  int polls = 0;
  spec.cancelled = [&] {
    ++polls;
    return cancel.load();
  };
  std::thread trigger([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    cancel = true;
  });
  auto start = std::chrono::steady_clock::now();

  auto result = runProcess(spec);
  auto took = std::chrono::steady_clock::now() - start;
  trigger.join();

  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_TRUE(result->cancelled);
  EXPECT_FALSE(result->timedOut);
  EXPECT_EQ(result->exitCode, 128 + SIGTERM);
  EXPECT_LT(took, std::chrono::seconds(3));
  EXPECT_GT(polls, 2);
  std::ifstream in(pidFile);
  pid_t grandchild = 0;
  in >> grandchild;
  ASSERT_GT(grandchild, 0);
  // The background sleep was in the same process group: it is stopped too.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (running(grandchild) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_FALSE(running(grandchild));
  std::filesystem::remove(pidFile);
}

TEST(Process, ChildIgnoringSigtermIsKilledAfterTheGracePeriod) {
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.05; done"};
  std::atomic<bool> cancel{false};
  spec.cancelled = [&] { return cancel.load(); };
  std::thread trigger([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    cancel = true;
  });

  auto result = runProcess(spec);
  trigger.join();

  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->cancelled);
  EXPECT_EQ(result->exitCode, 128 + SIGKILL);
}

TEST(Process, CancelledBeforeStart_RunsNothing) {
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", "exit 0"};
  spec.cancelled = [] { return true; };

  auto result = runProcess(spec);

  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().reason, "Cancelled");
}

TEST(Process, HookThatNeverFiresChangesNothing) {
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", "sleep 0.2; echo done"};
  spec.cancelled = [] { return false; };

  auto result = runProcess(spec);

  ASSERT_TRUE(result.ok());
  EXPECT_FALSE(result->cancelled);
  EXPECT_EQ(result->exitCode, 0);
  EXPECT_EQ(result->out, "done\n");
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
