#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/reasons.h"
#include "kube/api_errors.h"
#include "kube/exec_workspace.h"
#include "kube/kube_client.h"
#include "kube/resources.h"
#include "kube_e2e.h"

namespace alembic_sidecar::kube {
namespace {

using alembic_sidecar::testing::readTextFile;
using alembic_sidecar::testing::writeTextFile;
using e2e::ServerSuite;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kPod[] = "app-0";
constexpr char kPython[] = "/usr/bin/python3";

std::string allBytes(size_t repeat = 1) {
  std::string bytes;
  for (size_t r = 0; r < repeat; ++r) {
    for (int i = 0; i < 256; ++i) {
      bytes.push_back(static_cast<char>(i));
    }
  }
  return bytes;
}

class Exec : public ServerSuite {
 protected:
  void SetUp() override {
    ServerSuite::SetUp();
    ASSERT_TRUE(server()->setExecProtocols({kExecProtocolV5, kExecProtocolV4}));
    workdir_ = server()->scratchDir() + "/workdir";
    std::filesystem::remove_all(workdir_);
    std::filesystem::create_directories(workdir_ + "/backend");
    nlohmann::json pod = {
        {"apiVersion", "v1"},
        {"kind", "Pod"},
        {"metadata",
         {{"name", kPod}, {"annotations", {{"kube-api-server.test/workdir", workdir_}}}}},
        {"spec",
         {{"containers",
           {{{"name", "app"},
             {"image", "app:latest"},
             {"env", {{{"name", "APP_ENV"}, {"value", "from-the-pod"}}}}}}}}}};
    auto created = server()->adminClient()->create(resources::pods("default"), pod);
    ASSERT_TRUE(created) << created.error().message;
  }

  ExecRequest request(std::vector<std::string> command) {
    ExecRequest r;
    r.namespace_ = "default";
    r.pod = kPod;
    r.container = "app";
    r.command = std::move(command);
    r.timeout = seconds(30);
    return r;
  }

  ExecWorkspace workspace(std::shared_ptr<KubeApi> api = nullptr) {
    ExecWorkspaceOptions options;
    options.python = kPython;
    return ExecWorkspace(api ? api : server()->adminClient(), {"default", kPod, "app", workdir_},
                         options);
  }

  std::string workdir_;
};

TEST_F(Exec, ReturnsStdoutStderrAndANonZeroExitCode) {
  auto result = server()->adminClient()->exec(
      request({"sh", "-c", "printf 'to out'; printf 'to err' >&2; exit 7"}));
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->out, "to out");
  EXPECT_EQ(result->err, "to err");
  EXPECT_EQ(result->exitCode, 7);
  EXPECT_FALSE(result->timedOut);
}

TEST_F(Exec, SuccessIsExitCodeZero) {
  auto result = server()->adminClient()->exec(request({"true"}));
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->exitCode, 0);
}

TEST_F(Exec, OutputIsBinarySafeAndLargerThanOneMebibyte) {
  // 3 MiB of every byte value on stdout, and all 256 values on stderr.
  auto result = server()->adminClient()->exec(
      request({kPython, "-c",
               "import sys; sys.stdout.buffer.write(bytes(range(256)) * 12288); "
               "sys.stderr.buffer.write(bytes(range(256)))"}));
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->exitCode, 0);
  ASSERT_EQ(result->out.size(), 3u * 1024 * 1024);
  EXPECT_TRUE(result->out == allBytes(12288));
  EXPECT_EQ(result->err, allBytes());
}

TEST_F(Exec, WorksWhenTheServerOnlyAcceptsV4) {
  ASSERT_TRUE(server()->setExecProtocols({kExecProtocolV4}));
  auto result = server()->adminClient()->exec(
      request({kPython, "-c",
               "import sys; sys.stdout.buffer.write(bytes(range(256)) * 4096); sys.exit(3)"}));
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->exitCode, 3);
  EXPECT_TRUE(result->out == allBytes(4096));
}

TEST_F(Exec, StdinIsDeliveredAndClosedOverV5) {
  auto r = request({"cat"});
  r.stdinData = allBytes(8);
  auto result = server()->adminClient()->exec(r);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->exitCode, 0);
  EXPECT_EQ(result->out, allBytes(8));
}

TEST_F(Exec, DeadlineClosesTheStreamAndReportsATimeout) {
  auto r = request({"sleep", "30"});
  r.timeout = seconds(1);
  const auto start = std::chrono::steady_clock::now();
  auto result = server()->adminClient()->exec(r);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_TRUE(result->timedOut);
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(10));
}

TEST_F(Exec, MissingExecutableIsAnErrorWithTheRuntimeMessage) {
  auto result = server()->adminClient()->exec(request({"no-such-binary-xyz"}));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().reason, kExecFailed);
  EXPECT_NE(result.error().message.find("executable file not found"), std::string::npos)
      << result.error().message;
}

TEST_F(Exec, ForbiddenWithoutTheExecPermissionAndTheMessageSaysWhy) {
  ASSERT_TRUE(
      server()->addToken("no-exec-token-0123456789", "viewer",
                         {{{"apiGroups", {""}}, {"resources", {"pods"}}, {"verbs", {"get"}}}}));
  auto client = KubeClient::fromConfig(server()->configWithToken("no-exec-token-0123456789"));
  ASSERT_TRUE(client);
  auto result = (*client)->exec(request({"true"}));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().reason, kForbidden);
  EXPECT_NE(result.error().message.find("pods/exec"), std::string::npos) << result.error().message;
}

TEST_F(Exec, TokenWithCreateAndGetOnPodsExecMayExec) {
  ASSERT_TRUE(server()->addToken(
      "exec-only-token-0123456789", "execer",
      {{{"apiGroups", {""}}, {"resources", {"pods/exec"}}, {"verbs", {"create", "get"}}}}));
  auto client = KubeClient::fromConfig(server()->configWithToken("exec-only-token-0123456789"));
  ASSERT_TRUE(client);
  auto result = (*client)->exec(request({"echo", "hi"}));
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->out, "hi\n");
}

TEST_F(Exec, WorkspaceRunsArgvWithEnvCwdAndExitCode) {
  auto ws = workspace();
  workspace::Command cmd;
  cmd.argv = {"sh", "-c",
              "pwd; printf '%s|%s' \"$DB_PASSWORD\" \"$APP_ENV\"; echo oops >&2; exit 4"};
  cmd.env = {{"DB_PASSWORD", "s3cret-p@ss word"}};
  cmd.cwd = "backend";
  cmd.timeout = seconds(20);
  auto output = ws.run(cmd);
  ASSERT_TRUE(output) << output.error().message;
  EXPECT_EQ(output->exitCode, 4);
  EXPECT_EQ(output->out, workdir_ + "/backend\ns3cret-p@ss word|from-the-pod");
  EXPECT_EQ(output->err, "oops\n");
  EXPECT_FALSE(output->timedOut);
}

TEST_F(Exec, WorkspaceEnvironmentNeverAppearsInTheExecUrl) {
  auto ws = workspace();
  workspace::Command cmd;
  cmd.argv = {"true"};
  cmd.env = {{"DATABASE_URL", "postgresql://app:hunter2-secret@db/app"}};
  ASSERT_TRUE(ws.run(cmd));
  auto log = server()->requests();
  ASSERT_TRUE(log);
  bool sawExec = false;
  for (const auto& entry : *log) {
    if (entry.value("path", "").find("/exec") != std::string::npos) {
      sawExec = true;
      EXPECT_EQ(entry.dump().find("hunter2"), std::string::npos);
      EXPECT_EQ(entry.dump().find("DATABASE_URL"), std::string::npos);
    }
  }
  EXPECT_TRUE(sawExec);
}

TEST_F(Exec, WorkspaceRunIsExactArgvNotAShell) {
  auto ws = workspace();
  workspace::Command cmd;
  cmd.argv = {"printf", "%s", "$(echo injected); `id` * ~"};
  auto output = ws.run(cmd);
  ASSERT_TRUE(output) << output.error().message;
  EXPECT_EQ(output->out, "$(echo injected); `id` * ~");
}

TEST_F(Exec, WorkspaceFeedsStdinAndWorksOverV4) {
  ASSERT_TRUE(server()->setExecProtocols({kExecProtocolV4}));
  auto ws = workspace();
  workspace::Command cmd;
  cmd.argv = {"cat"};
  cmd.stdinData = allBytes(3);
  auto output = ws.run(cmd);
  ASSERT_TRUE(output) << output.error().message;
  EXPECT_EQ(output->exitCode, 0);
  EXPECT_EQ(output->out, allBytes(3));
  // And a command that never reads stdin does not wait for an EOF v4 cannot send.
  workspace::Command idle;
  idle.argv = {"cat"};
  auto finished = ws.run(idle);
  ASSERT_TRUE(finished) << finished.error().message;
  EXPECT_EQ(finished->out, "");
}

TEST_F(Exec, WorkspaceHonoursTheCommandTimeout) {
  auto ws = workspace();
  workspace::Command cmd;
  cmd.argv = {"sh", "-c", "echo started; sleep 30"};
  cmd.timeout = milliseconds(800);
  const auto start = std::chrono::steady_clock::now();
  auto output = ws.run(cmd);
  ASSERT_TRUE(output) << output.error().message;
  EXPECT_TRUE(output->timedOut);
  EXPECT_EQ(output->out, "started\n");
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(10));
}

TEST_F(Exec, WorkspaceCommandThatCannotStartIsAnError) {
  auto ws = workspace();
  workspace::Command cmd;
  cmd.argv = {"definitely-not-installed-xyz", "--help"};
  auto output = ws.run(cmd);
  ASSERT_FALSE(output);
  EXPECT_EQ(output.error().reason, core::reason::kWorkspaceUnavailable);
  EXPECT_NE(output.error().message.find("definitely-not-installed-xyz"), std::string::npos);
}

TEST_F(Exec, WorkspaceFilesAreBinarySafe) {
  auto ws = workspace();
  const std::string big = allBytes(8192);  // 2 MiB
  writeTextFile(workdir_ + "/backend/blob.bin", big);
  writeTextFile(workdir_ + "/alembic.ini", "[alembic]\n");
  auto content = ws.readFile("backend/blob.bin");
  ASSERT_TRUE(content) << content.error().message;
  EXPECT_TRUE(*content == big);

  auto entries = ws.listDir(".");
  ASSERT_TRUE(entries) << entries.error().message;
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].name, "alembic.ini");
  EXPECT_FALSE((*entries)[0].isDirectory);
  EXPECT_EQ((*entries)[1].name, "backend");
  EXPECT_TRUE((*entries)[1].isDirectory);

  EXPECT_TRUE(ws.exists("alembic.ini"));
  EXPECT_FALSE(ws.exists("missing.ini"));
  ASSERT_TRUE(ws.removeFile("alembic.ini"));
  EXPECT_FALSE(std::filesystem::exists(workdir_ + "/alembic.ini"));
  auto missing = ws.readFile("alembic.ini");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().reason, kNotFound);
}

TEST_F(Exec, WorkspaceWithoutPythonSaysSo) {
  ExecWorkspaceOptions options;
  options.python = "/nonexistent/python3";
  ExecWorkspace ws(server()->adminClient(), {"default", kPod, "app", workdir_}, options);
  auto content = ws.readFile("x");
  ASSERT_FALSE(content);
  EXPECT_EQ(content.error().reason, core::reason::kWorkspaceUnavailable);
  EXPECT_NE(content.error().message.find("/nonexistent/python3"), std::string::npos)
      << content.error().message;
}

}  // namespace
}  // namespace alembic_sidecar::kube
