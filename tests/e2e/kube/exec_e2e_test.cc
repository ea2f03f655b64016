#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "alembic/driver_launch.h"
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
    options.launcherProgram = alembic::fileLauncher().program;
    options.launcherPreamble = alembic::fileLauncher().preamble;
    return ExecWorkspace(api ? api : server()->adminClient(), {"default", kPod, "app", workdir_},
                         options);
  }

  std::string workdir_;
};

TEST_F(Exec, WorksWhenTheServerOnlyAcceptsV4) {
  ASSERT_TRUE(server()->setExecProtocols({kExecProtocolV4}));
  auto result = server()->adminClient()->exec(
      request({kPython, "-c",
               "import sys; sys.stdout.buffer.write(bytes(range(256)) * 4096); sys.exit(3)"}));
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->exitCode, 3);
  EXPECT_TRUE(result->out == allBytes(4096));
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

}  // namespace
}  // namespace alembic_sidecar::kube
