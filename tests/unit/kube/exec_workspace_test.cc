#include "kube/exec_workspace.h"

#include <gtest/gtest.h>

#include "core/reasons.h"
#include "kube/base64.h"
#include "kube/kube_client.h"
#include "kube_fakes.h"

namespace alembic_sidecar::kube {
namespace {

using testing::FakeKubeApi;

constexpr char kProgram[] = "import launcher";
constexpr char kPreamble[] =
    "alembic-sidecar-driver 2 2 alembic_sidecar_driver.files:serve_once\n{}";

ExecWorkspaceOptions launcherOptions() {
  ExecWorkspaceOptions options;
  options.launcherProgram = kProgram;
  options.launcherPreamble = kPreamble;
  return options;
}

struct Harness {
  std::shared_ptr<FakeKubeApi> api = std::make_shared<FakeKubeApi>();
  ExecWorkspace workspace{api, {"team", "app-0", "app", "/srv/app"}, launcherOptions()};

  /** The launcher's answer: one reply line of the file protocol. */
  void reply(const nlohmann::json& reply, int exitCode = 0, std::string err = "") {
    ExecResult result;
    result.exitCode = exitCode;
    result.out = reply.is_null() ? std::string() : reply.dump() + "\n";
    result.err = std::move(err);
    api->execResults.push_back(result);
  }
  void ok(const nlohmann::json& result) {
    reply({{"id", nullptr}, {"ok", true}, {"result", result}});
  }
  void error(const std::string& type, const std::string& line) {
    reply({{"id", nullptr}, {"ok", false}, {"error", {{"type", type}, {"line", line}}}});
  }
  void streamTimedOut() {
    ExecResult result;
    result.exitCode = -1;
    result.timedOut = true;
    api->execResults.push_back(result);
  }
  nlohmann::json sentRequest(size_t i = 0) {
    const std::string& stdinData = api->execRequests.at(i).stdinData.value();
    EXPECT_EQ(stdinData.rfind(kPreamble, 0), 0u);
    return nlohmann::json::parse(stdinData.substr(std::string(kPreamble).size()));
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

nlohmann::json ran(int exitCode, std::string out = "", std::string err = "",
                   bool timedOut = false) {
  return {{"exitCode", exitCode}, {"out", out}, {"err", err}, {"timedOut", timedOut}};
}

TEST(ExecWorkspace, RunsTheLauncherAndSendsTheRequestOnStdin) {
  Harness h;
  h.ok(ran(0, "Generating ...\n", "INFO\n"));
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
  EXPECT_EQ(exec.command[2], kProgram);
  EXPECT_GT(exec.timeout, std::chrono::seconds(90));  // the launcher's own kill comes first

  const auto request = h.sentRequest();
  EXPECT_EQ(request["op"], "run");
  EXPECT_EQ(request["root"], "/srv/app");
  EXPECT_EQ(request["argv"], nlohmann::json(command().argv));
  EXPECT_EQ(request["cwd"], "backend");
  EXPECT_EQ(request["timeout"], 90.0);
  EXPECT_EQ(decodeBase64(request["stdinBase64"].get<std::string>()).value(), command().stdinData);
  EXPECT_EQ(request["env"]["DATABASE_URL"], "postgresql://app:pa55word@db:5432/app");
  EXPECT_EQ(request["outputEncoding"], "base64");
  EXPECT_EQ(exec.stdinData->back(), '\n');
}

TEST(ExecWorkspace, EnvironmentValuesNeverReachTheExecCommandLine) {
  Harness h;
  h.ok(ran(0));
  ASSERT_TRUE(h.workspace.run(command()));
  for (const auto& arg : h.api->execRequests.at(0).command) {
    EXPECT_EQ(arg.find("pa55word"), std::string::npos);
    EXPECT_EQ(arg.find("DATABASE_URL"), std::string::npos);
  }
  EXPECT_EQ(execTarget(h.api->execRequests.at(0)).find("pa55word"), std::string::npos);
}

TEST(ExecWorkspace, NonZeroExitIsReturnedFaithfully) {
  Harness h;
  h.ok(ran(3, "", "FAILED: Target database is not up to date.\n"));
  auto output = h.workspace.run(command());
  ASSERT_TRUE(output);
  EXPECT_EQ(output->exitCode, 3);
  EXPECT_FALSE(output->succeeded());
  EXPECT_EQ(output->err, "FAILED: Target database is not up to date.\n");
}

TEST(ExecWorkspace, LauncherTimeoutBecomesTimedOut) {
  Harness h;
  h.ok(ran(-1, "partial", "some err\n", true));
  auto output = h.workspace.run(command());
  ASSERT_TRUE(output);
  EXPECT_TRUE(output->timedOut);
  EXPECT_EQ(output->out, "partial");
  EXPECT_EQ(output->err, "some err\n");
}

TEST(ExecWorkspace, StreamDeadlineBecomesTimedOut) {
  Harness h;
  h.streamTimedOut();
  auto output = h.workspace.run(command());
  ASSERT_TRUE(output);
  EXPECT_TRUE(output->timedOut);
}

TEST(ExecWorkspace, CommandThatCannotStartIsAnError) {
  Harness h;
  h.error("DriverError", "cannot run alembic: No such file or directory");
  auto output = h.workspace.run(command());
  ASSERT_FALSE(output);
  EXPECT_EQ(output.error().reason, core::reason::kWorkspaceUnavailable);
  EXPECT_NE(output.error().message.find("cannot run alembic"), std::string::npos);
}

TEST(ExecWorkspace, ExitCode127FromTheCommandItselfIsAResult) {
  Harness h;
  h.ok(ran(127, "", "sh: 1: foo: not found\n"));
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

TEST(ExecWorkspace, AnInterpreterThatDoesNotAnswerIsRetryable) {
  Harness h;
  h.reply(nullptr, 1, "Traceback ...\nSyntaxError: invalid syntax\n");
  auto content = h.workspace.readFile("alembic.ini");
  ASSERT_FALSE(content);
  EXPECT_EQ(content.error().reason, core::reason::kWorkspaceUnavailable);
  EXPECT_TRUE(content.error().transient());
  EXPECT_NE(content.error().message.find("SyntaxError"), std::string::npos);
}

TEST(ExecWorkspace, ReadFileReturnsTheBytes) {
  Harness h;
  const std::string bytes("\x00\xff\n\r", 4);
  h.ok({{"base64", encodeBase64(bytes)}});
  auto content = h.workspace.readFile("migrations/versions/abc.py");
  ASSERT_TRUE(content);
  EXPECT_EQ(*content, bytes);
  EXPECT_EQ(h.sentRequest()["op"], "read");
  EXPECT_EQ(h.sentRequest()["encoding"], "base64");
  EXPECT_EQ(h.sentRequest()["path"], "migrations/versions/abc.py");
}

TEST(ExecWorkspace, MissingFileIsNotFound) {
  Harness h;
  h.error("FileNotFoundError", "No such file or directory: x");
  auto content = h.workspace.readFile("x");
  ASSERT_FALSE(content);
  EXPECT_EQ(content.error().reason, kNotFound);
}

TEST(ExecWorkspace, ListDirParsesEntries) {
  Harness h;
  h.ok({{"entries", nlohmann::json::parse(R"([["env.py", false], ["versions", true]])")}});
  auto entries = h.workspace.listDir("migrations");
  ASSERT_TRUE(entries) << entries.error().message;
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].name, "env.py");
  EXPECT_FALSE((*entries)[0].isDirectory);
  EXPECT_TRUE((*entries)[1].isDirectory);
}

TEST(ExecWorkspace, ExistsAndRemove) {
  Harness h;
  h.ok({{"exists", true}});
  h.ok({{"exists", false}});
  h.ok(nlohmann::json::object());
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
  ExecWorkspaceOptions options = launcherOptions();
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
