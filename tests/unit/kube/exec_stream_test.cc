#include "kube/exec_stream.h"

#include <gtest/gtest.h>

#include "kube/kube_client.h"
#include "kube_fakes.h"

namespace alembic_sidecar::kube {
namespace {

using testing::FakeExecConnection;

const auto kDeadline = std::chrono::steady_clock::time_point{};

ExecRequest request() {
  ExecRequest r;
  r.namespace_ = "ns";
  r.pod = "app-0";
  r.container = "app";
  r.command = {"alembic", "revision", "-m", "add email & name"};
  return r;
}

std::string status(const nlohmann::json& object) { return object.dump(); }

nlohmann::json nonZero(int code) {
  return {{"metadata", nlohmann::json::object()},
          {"status", "Failure"},
          {"message", "command terminated with non-zero exit code"},
          {"reason", "NonZeroExitCode"},
          {"details", {{"causes", {{{"reason", "ExitCode"}, {"message", std::to_string(code)}}}}}}};
}

TEST(ExecTarget, RepeatsCommandAndEncodesArguments) {
  EXPECT_EQ(execTarget(request()),
            "/api/v1/namespaces/ns/pods/app-0/exec?command=alembic&command=revision&command=-m"
            "&command=add%20email%20%26%20name&container=app&stdout=true&stderr=true");
  auto withStdin = request();
  withStdin.stdinData = "x";
  EXPECT_NE(execTarget(withStdin).find("&stdin=true"), std::string::npos);
}

TEST(ExecSession, DemultiplexesStdoutAndStderrBinarySafe) {
  FakeExecConnection connection;
  std::string allBytes;
  for (int i = 0; i < 256; ++i) {
    allBytes.push_back(static_cast<char>(i));
  }
  connection.frame(exec_channel::kStdout, "");  // the server's "streams are up" frame
  connection.frame(exec_channel::kStdout, allBytes.substr(0, 100));
  connection.frame(exec_channel::kStderr, "warn\n");
  connection.frame(exec_channel::kStdout, allBytes.substr(100));
  connection.frame(exec_channel::kStatus, status({{"metadata", {}}, {"status", "Success"}}));
  connection.closeWith(1000);
  auto result = runExecSession(connection, request(), kDeadline);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->out, allBytes);
  EXPECT_EQ(result->err, "warn\n");
  EXPECT_EQ(result->exitCode, 0);
  EXPECT_FALSE(result->timedOut);
}

TEST(ExecSession, NonZeroExitCodeIsAResultNotAnError) {
  FakeExecConnection connection;
  connection.frame(exec_channel::kStderr, "boom");
  connection.frame(exec_channel::kStatus, status(nonZero(3)));
  connection.closeWith(1000);
  auto result = runExecSession(connection, request(), kDeadline);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->exitCode, 3);
  EXPECT_EQ(result->err, "boom");
}

TEST(ExecSession, OtherFailuresAreErrorsWithTheStatusMessage) {
  FakeExecConnection connection;
  connection.frame(exec_channel::kStatus,
                   status({{"status", "Failure"},
                           {"reason", "InternalError"},
                           {"message", "exec: \"alembic\": executable file not found in $PATH"}}));
  connection.closeWith(1000);
  auto result = runExecSession(connection, request(), kDeadline);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().reason, kExecFailed);
  EXPECT_NE(result.error().message.find("executable file not found"), std::string::npos);
  EXPECT_NE(result.error().message.find("pod ns/app-0 container app"), std::string::npos);
}

TEST(ExecSession, StatusSplitOverTwoFramesIsJoined) {
  FakeExecConnection connection;
  const std::string text = status(nonZero(42));
  connection.frame(exec_channel::kStatus, text.substr(0, 10));
  connection.frame(exec_channel::kStatus, text.substr(10));
  connection.closeWith(1000);
  auto result = runExecSession(connection, request(), kDeadline);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->exitCode, 42);
}

TEST(ExecSession, SendsStdinInChunksThenTheV5CloseSignal) {
  FakeExecConnection connection;
  connection.closeWith(1000);
  auto r = request();
  r.stdinData = std::string(600 * 1024, 'z');
  ASSERT_TRUE(runExecSession(connection, r, kDeadline));
  ASSERT_EQ(connection.sent.size(), 4u);  // 3 chunks of at most 256 KiB, then [255, 0]
  size_t total = 0;
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(connection.sent[i][0], '\0');
    total += connection.sent[i].size() - 1;
  }
  EXPECT_EQ(total, 600u * 1024);
  EXPECT_EQ(connection.sent[3], std::string("\xff\x00", 2));
}

TEST(ExecSession, NoStdinMeansNothingIsSent) {
  FakeExecConnection connection;
  connection.closeWith(1000);
  ASSERT_TRUE(runExecSession(connection, request(), kDeadline));
  EXPECT_TRUE(connection.sent.empty());
}

TEST(ExecSession, DeadlineClosesTheStreamAndReportsATimeout) {
  FakeExecConnection connection;
  connection.frame(exec_channel::kStdout, "partial");
  auto result = runExecSession(connection, request(), kDeadline);
  ASSERT_TRUE(result);
  EXPECT_TRUE(result->timedOut);
  EXPECT_EQ(result->exitCode, -1);
  EXPECT_EQ(result->out, "partial");
  EXPECT_GE(connection.closes, 1);
}

TEST(ExecSession, StatusWithoutACloseStillEndsTheCommand) {
  FakeExecConnection connection;
  connection.frame(exec_channel::kStatus, status(nonZero(7)));
  auto result = runExecSession(connection, request(), kDeadline);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_FALSE(result->timedOut);
  EXPECT_EQ(result->exitCode, 7);
}

TEST(ExecSession, AbnormalCloseWithoutStatusIsABrokenStream) {
  FakeExecConnection connection;
  connection.frame(exec_channel::kStdout, "half");
  connection.closeWith(1006);
  auto result = runExecSession(connection, request(), kDeadline);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().reason, kExecStreamBroken);
  EXPECT_TRUE(result.error().transient());
}

TEST(ExecSession, CleanCloseWithoutStatusIsSuccessLikeClientGo) {
  FakeExecConnection connection;
  connection.frame(exec_channel::kStdout, "done");
  connection.closeWith(1000);
  auto result = runExecSession(connection, request(), kDeadline);
  ASSERT_TRUE(result);
  EXPECT_EQ(result->exitCode, 0);
}

/** The Status the kubelet sends when the command's executable does not exist. */
nlohmann::json cannotStart(const std::string& exe) {
  return {{"metadata", nlohmann::json::object()},
          {"status", "Failure"},
          {"reason", "InternalError"},
          {"code", 500},
          {"message",
           "Internal error occurred: error executing command in container: OCI runtime "
           "exec failed: exec failed: unable to start container process: exec: \"" +
               exe + "\": stat " + exe + ": no such file or directory: unknown"}};
}

// The server sent its Status and closed before the client wrote stdin: the write fails, but
// the Status already received says what went wrong.
TEST(ExecSession, WriteRefusedAfterTheServerClosedReportsTheServersStatus) {
  FakeExecConnection connection;
  connection.frame(exec_channel::kStdout, "");
  connection.frame(exec_channel::kStatus, status(cannotStart("/opt/py/bin/python3")));
  connection.closeWith(1000);
  connection.sendError = core::Error::retryable(
      kExecStreamBroken, "cannot write to the exec stream: Websocket connection is closed");
  auto r = request();
  r.stdinData = "{}\n";
  auto result = runExecSession(connection, r, kDeadline);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().reason, kExecFailed) << result.error().message;
  EXPECT_NE(result.error().message.find("stat /opt/py/bin/python3: no such file"),
            std::string::npos)
      << result.error().message;
  EXPECT_NE(result.error().message.find("pod ns/app-0 container app"), std::string::npos);
  EXPECT_GE(connection.closes, 1);
}

TEST(ExecSession, WriteRefusedAfterTheCommandEndedIsTheCommandsResult) {
  FakeExecConnection connection;
  connection.frame(exec_channel::kStdout, "out");
  connection.frame(exec_channel::kStatus, status(nonZero(4)));
  connection.closeWith(1000);
  connection.sendError = core::Error::retryable(kExecStreamBroken, "closed");
  auto r = request();
  r.stdinData = "x";
  auto result = runExecSession(connection, r, kDeadline);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->exitCode, 4);
  EXPECT_EQ(result->out, "out");
}

TEST(ExecSession, WriteRefusedWithoutAStatusIsTheWriteError) {
  FakeExecConnection connection;
  connection.closeWith(1006);
  connection.sendError = core::Error::retryable(
      kExecStreamBroken, "cannot write to the exec stream: Websocket connection is closed");
  auto r = request();
  r.stdinData = "x";
  auto result = runExecSession(connection, r, kDeadline);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().reason, kExecStreamBroken);
  EXPECT_NE(result.error().message.find("Websocket connection is closed"), std::string::npos);
  EXPECT_TRUE(result.error().transient());
}

TEST(ExitCodeFromStatus, NonZeroExitCodeWithoutACauseIsAnError) {
  auto code = exitCodeFromStatus({{"status", "Failure"}, {"reason", "NonZeroExitCode"}}, "pod");
  ASSERT_FALSE(code);
  EXPECT_EQ(code.error().reason, kBadResponse);
  EXPECT_FALSE(exitCodeFromStatus(nlohmann::json::array(), "pod"));
}

/** A dialer that hands out scripted connections or errors. */
class FakeDialer final : public ExecDialer {
 public:
  core::Result<std::unique_ptr<ExecConnection>> connect(const std::string& target,
                                                        const std::string& token,
                                                        std::chrono::milliseconds) override {
    targets.push_back(target);
    tokens.push_back(token);
    if (!errors.empty()) {
      core::Error error = errors.front();
      errors.erase(errors.begin());
      return error;
    }
    auto connection = std::make_unique<FakeExecConnection>();
    connection->frame(exec_channel::kStdout, "ok");
    connection->frame(exec_channel::kStatus, nonZero(5).dump());
    connection->closeWith(1000);
    return std::unique_ptr<ExecConnection>(std::move(connection));
  }
  std::vector<std::string> targets;
  std::vector<std::string> tokens;
  std::vector<core::Error> errors;
};

TEST(KubeClientExec, RefusedUpgradeIsExplainedByTheApiStatus) {
  auto transport = std::make_shared<testing::FakeTransport>();
  auto dialer = std::make_shared<FakeDialer>();
  dialer->errors.push_back(core::Error::retryable(kConnectionFailed, "Invalid HTTP status."));
  transport->push(testing::jsonResponse(
      403, testing::statusBody(403, "Forbidden",
                               "pods \"app-0\" is forbidden: User \"x\" cannot create resource "
                               "\"pods/exec\"")));
  ClusterConfig config;
  config.server = "https://x";
  config.token = std::make_shared<StaticTokenSource>("exec-test-token");
  KubeClient client(config, transport, dialer, ClientOptions{},
                    std::make_shared<testing::FakeClock>(), {});
  auto result = client.exec(request());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().reason, kForbidden);
  EXPECT_NE(result.error().message.find("cannot create resource \"pods/exec\""), std::string::npos);
  EXPECT_EQ(transport->sent[0].request.method, "GET");
}

TEST(KubeClientExec, RetriesADroppedConnectionAndRunsTheSession) {
  auto transport = std::make_shared<testing::FakeTransport>();
  auto dialer = std::make_shared<FakeDialer>();
  dialer->errors.push_back(core::Error::retryable(kConnectionFailed, "refused"));
  transport->push(core::Error::retryable(kConnectionFailed, "refused"));
  ClusterConfig config;
  config.server = "https://x";
  auto clock = std::make_shared<testing::FakeClock>();
  KubeClient client(config, transport, dialer, ClientOptions{}, clock, [] { return 0.0; });
  auto result = client.exec(request());
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->exitCode, 5);
  EXPECT_EQ(result->out, "ok");
  EXPECT_EQ(dialer->targets.size(), 2u);
  EXPECT_EQ(clock->sleeps().size(), 1u);
}

}  // namespace
}  // namespace alembic_sidecar::kube
