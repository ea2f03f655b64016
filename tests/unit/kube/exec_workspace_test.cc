#include "kube/exec_workspace.h"

#include <gtest/gtest.h>

#include "core/reasons.h"
#include "kube/base64.h"
#include "kube/kube_client.h"
#include "kube_fakes.h"

namespace alembic_sidecar::kube {
namespace {

using testing::FakeKubeApi;

struct Harness {
  std::shared_ptr<FakeKubeApi> api = std::make_shared<FakeKubeApi>();
  ExecWorkspace workspace{api, {"team", "app-0", "app", "/srv/app"}, {}};

  void answer(int exitCode, std::string out = "", std::string err = "", bool timedOut = false) {
    ExecResult result;
    result.exitCode = exitCode;
    result.out = std::move(out);
    result.err = std::move(err);
    result.timedOut = timedOut;
    api->execResults.push_back(result);
  }
  nlohmann::json sentRequest(size_t i = 0) {
    return nlohmann::json::parse(api->execRequests.at(i).stdinData.value());
  }
};

workspace::Command command() {
  workspace::Command cmd;
  cmd.argv = {"alembic", "revision", "--autogenerate", "-m", "add email"};
  cmd.env = {{"DATABASE_URL", "postgresql://app:pa55word@db:5432/app"}};
  cmd.cwd = "backend";
  cmd.stdinData = std::string("\x00\x01y\n", 4);
  cmd.timeout = std::chrono::seconds(90);
  return cmd;
}

TEST(ExecWorkspace, RunsTheLauncherAndSendsTheRequestOnStdin) {
  Harness h;
  h.answer(0, "Generating ...\n", "INFO\n");
  auto output = h.workspace.run(command());
  ASSERT_TRUE(output) << output.error().message;
  EXPECT_EQ(output->exitCode, 0);
  EXPECT_EQ(output->out, "Generating ...\n");
  EXPECT_EQ(output->err, "INFO\n");

  const ExecRequest& exec = h.api->execRequests.at(0);
  EXPECT_EQ(exec.namespace_, "team");
  EXPECT_EQ(exec.pod, "app-0");
  EXPECT_EQ(exec.container, "app");
  ASSERT_EQ(exec.command.size(), 3u);
  EXPECT_EQ(exec.command[0], "python3");
  EXPECT_EQ(exec.command[1], "-c");
  EXPECT_EQ(exec.command[2], std::string(execLauncherSource()));
  EXPECT_GT(exec.timeout, std::chrono::seconds(90));  // the launcher's own kill comes first

  const auto request = h.sentRequest();
  EXPECT_EQ(request["op"], "run");
  EXPECT_EQ(request["root"], "/srv/app");
  EXPECT_EQ(request["argv"], nlohmann::json(command().argv));
  EXPECT_EQ(request["cwd"], "backend");
  EXPECT_EQ(request["timeout"], 90.0);
  EXPECT_EQ(decodeBase64(request["stdin"].get<std::string>()).value(), command().stdinData);
  EXPECT_EQ(request["env"]["DATABASE_URL"], "postgresql://app:pa55word@db:5432/app");
  EXPECT_EQ(exec.stdinData->back(), '\n');
  EXPECT_EQ(std::count(exec.stdinData->begin(), exec.stdinData->end(), '\n'), 1);
}

TEST(ExecWorkspace, EnvironmentValuesNeverReachTheExecCommandLine) {
  Harness h;
  h.answer(0);
  ASSERT_TRUE(h.workspace.run(command()));
  for (const auto& arg : h.api->execRequests.at(0).command) {
    EXPECT_EQ(arg.find("pa55word"), std::string::npos);
    EXPECT_EQ(arg.find("DATABASE_URL"), std::string::npos);
  }
  EXPECT_EQ(execTarget(h.api->execRequests.at(0)).find("pa55word"), std::string::npos);
}

TEST(ExecWorkspace, NonZeroExitIsReturnedFaithfully) {
  Harness h;
  h.answer(3, "", "FAILED: Target database is not up to date.\n");
  auto output = h.workspace.run(command());
  ASSERT_TRUE(output);
  EXPECT_EQ(output->exitCode, 3);
  EXPECT_FALSE(output->succeeded());
  EXPECT_EQ(output->err, "FAILED: Target database is not up to date.\n");
}

TEST(ExecWorkspace, LauncherTimeoutBecomesTimedOut) {
  Harness h;
  h.answer(kLauncherTimedOut, "partial",
           std::string("some err\n") + kLauncherMarker + "timed out after 90s\n");
  auto output = h.workspace.run(command());
  ASSERT_TRUE(output);
  EXPECT_TRUE(output->timedOut);
  EXPECT_EQ(output->out, "partial");
  EXPECT_EQ(output->err, "some err\n");
}

TEST(ExecWorkspace, StreamDeadlineBecomesTimedOut) {
  Harness h;
  h.answer(-1, "p", "", true);
  auto output = h.workspace.run(command());
  ASSERT_TRUE(output);
  EXPECT_TRUE(output->timedOut);
}

TEST(ExecWorkspace, CommandThatCannotStartIsAnError) {
  Harness h;
  h.answer(kLauncherCannotRun, "",
           std::string(kLauncherMarker) + "cannot run alembic: No such file or directory\n");
  auto output = h.workspace.run(command());
  ASSERT_FALSE(output);
  EXPECT_EQ(output.error().reason, core::reason::kWorkspaceUnavailable);
  EXPECT_NE(output.error().message.find("cannot run alembic"), std::string::npos);
}

TEST(ExecWorkspace, ExitCode127FromTheCommandItselfIsAResult) {
  Harness h;
  h.answer(127, "", "sh: 1: foo: not found\n");
  auto output = h.workspace.run(command());
  ASSERT_TRUE(output);
  EXPECT_EQ(output->exitCode, 127);
}

TEST(ExecWorkspace, ExecFailureIsWorkspaceUnavailableKeepingItsKind) {
  Harness h;  // no scripted result: the fake reports a transient connection failure
  auto output = h.workspace.run(command());
  ASSERT_FALSE(output);
  EXPECT_EQ(output.error().reason, core::reason::kWorkspaceUnavailable);
  EXPECT_TRUE(output.error().transient());
  EXPECT_NE(output.error().message.find("pod team/app-0 container app"), std::string::npos);
}

TEST(ExecWorkspace, ReadFileReturnsTheBytes) {
  Harness h;
  const std::string bytes("\x00\xff\n\r", 4);
  h.answer(0, bytes);
  auto content = h.workspace.readFile("migrations/versions/abc.py");
  ASSERT_TRUE(content);
  EXPECT_EQ(*content, bytes);
  EXPECT_EQ(h.sentRequest()["op"], "read");
  EXPECT_EQ(h.sentRequest()["path"], "migrations/versions/abc.py");
}

TEST(ExecWorkspace, MissingFileIsNotFound) {
  Harness h;
  h.answer(kLauncherNotFound, "", std::string(kLauncherMarker) + "No such file or directory: x\n");
  auto content = h.workspace.readFile("x");
  ASSERT_FALSE(content);
  EXPECT_EQ(content.error().reason, kNotFound);
}

TEST(ExecWorkspace, ListDirParsesEntries) {
  Harness h;
  h.answer(0, R"([["env.py", false], ["versions", true]])");
  auto entries = h.workspace.listDir("migrations");
  ASSERT_TRUE(entries) << entries.error().message;
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].name, "env.py");
  EXPECT_FALSE((*entries)[0].isDirectory);
  EXPECT_TRUE((*entries)[1].isDirectory);
}

TEST(ExecWorkspace, ExistsAndRemove) {
  Harness h;
  h.answer(0);
  h.answer(1);
  h.answer(0);
  EXPECT_TRUE(h.workspace.exists("alembic.ini"));
  EXPECT_FALSE(h.workspace.exists("nope"));
  EXPECT_TRUE(h.workspace.removeFile("migrations/versions/empty.py"));
  EXPECT_EQ(h.sentRequest(2)["op"], "remove");
}

// The same missing interpreter, seen through the real client and session code, in both
// orders of the race between the server closing and the client writing the request.
enum class FirstToMove { kServerCloses, kClientWrites };

core::Error missingInterpreterError(FirstToMove first, bool serverSendsStatus = true) {
  const std::string python = "/nonexistent/python3";
  auto dialer = std::make_shared<testing::ScriptedExecDialer>([&] {
    auto connection = std::make_unique<testing::FakeExecConnection>();
    connection->frame(exec_channel::kStdout, "");  // the streams are up
    if (serverSendsStatus) {
      nlohmann::json status = {
          {"metadata", nlohmann::json::object()},
          {"status", "Failure"},
          {"reason", "InternalError"},
          {"code", 500},
          {"message",
           "Internal error occurred: error executing command in container: OCI "
           "runtime exec failed: exec failed: unable to start container process: "
           "exec: \"" +
               python + "\": stat " + python + ": no such file or directory: unknown"}};
      connection->frame(exec_channel::kStatus, status.dump());
      connection->closeWith(1000);
    } else {
      connection->closeWith(1006);
    }
    if (first == FirstToMove::kServerCloses) {
      connection->sendError = core::Error::retryable(
          kExecStreamBroken, "cannot write to the exec stream: Websocket connection is closed");
    }
    return connection;
  });
  ClusterConfig config;
  config.server = "https://api.test";
  auto client = std::make_shared<KubeClient>(
      config, std::make_shared<testing::FakeTransport>(), dialer, ClientOptions{},
      std::make_shared<testing::FakeClock>(), [] { return 0.0; });
  ExecWorkspaceOptions options;
  options.python = python;
  ExecWorkspace ws(client, {"team", "app-0", "app", "/srv/app"}, options);
  auto content = ws.readFile("alembic.ini");
  EXPECT_FALSE(content);
  EXPECT_EQ(dialer->targets.size(), 1u);
  return content ? core::Error::terminal("Unexpected", "the read succeeded") : content.error();
}

TEST(ExecWorkspace, MissingInterpreterIsNamedWhenTheServerClosesBeforeTheRequestIsWritten) {
  auto error = missingInterpreterError(FirstToMove::kServerCloses);
  EXPECT_EQ(error.reason, core::reason::kWorkspaceUnavailable);
  EXPECT_NE(error.message.find("/nonexistent/python3"), std::string::npos) << error.message;
  EXPECT_NE(error.message.find("container app"), std::string::npos) << error.message;
  // The server's explanation, not only "the socket is closed".
  EXPECT_NE(error.message.find("no such file or directory"), std::string::npos) << error.message;
}

TEST(ExecWorkspace, MissingInterpreterIsNamedWhenTheRequestIsWrittenBeforeTheServerCloses) {
  auto error = missingInterpreterError(FirstToMove::kClientWrites);
  EXPECT_EQ(error.reason, core::reason::kWorkspaceUnavailable);
  EXPECT_NE(error.message.find("/nonexistent/python3"), std::string::npos) << error.message;
  EXPECT_NE(error.message.find("container app"), std::string::npos) << error.message;
  EXPECT_NE(error.message.find("no such file or directory"), std::string::npos) << error.message;
}

TEST(ExecWorkspace, StreamThatBrokeWithoutAStatusStillNamesTheInterpreterAndContainer) {
  auto error = missingInterpreterError(FirstToMove::kServerCloses, /*serverSendsStatus=*/false);
  EXPECT_EQ(error.reason, core::reason::kWorkspaceUnavailable);
  EXPECT_TRUE(error.transient());
  EXPECT_NE(error.message.find("/nonexistent/python3"), std::string::npos) << error.message;
  EXPECT_NE(error.message.find("container app"), std::string::npos) << error.message;
}

TEST(ExecWorkspace, DescribesItself) {
  Harness h;
  EXPECT_EQ(h.workspace.describe(), "pod team/app-0 container app dir /srv/app");
  EXPECT_EQ(h.workspace.root(), "/srv/app");
}

}  // namespace
}  // namespace alembic_sidecar::kube
