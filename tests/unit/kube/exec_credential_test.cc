#include "kube/exec_credential.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "kube/api_errors.h"
#include "kube/base64.h"
#include "kube/config.h"
#include "kube_fakes.h"
#include "support/temp_dir.h"

namespace alembic_sidecar::kube {
namespace {

using testing::FakeClock;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kToken[] = "exec-token-0123456789abcdef";

/** A plugin that answers from a script of results and records what it was given. */
struct FakePlugin {
  std::vector<workspace::ProcessSpec> calls;
  std::vector<core::Result<workspace::ProcessResult>> answers;

  ProcessRunner runner() {
    return [this](const workspace::ProcessSpec& spec) -> core::Result<workspace::ProcessResult> {
      calls.push_back(spec);
      if (answers.empty()) {
        return core::Error::terminal("Test", "no answer left");
      }
      auto answer = answers.front();
      answers.erase(answers.begin());
      return answer;
    };
  }
  void answer(int exitCode, std::string out, std::string err = "") {
    workspace::ProcessResult r;
    r.exitCode = exitCode;
    r.out = std::move(out);
    r.err = std::move(err);
    answers.push_back(r);
  }
  void credential(const std::string& token, const std::string& expires = "",
                  const std::string& apiVersion = kExecApiV1) {
    nlohmann::json status = {{"token", token}};
    if (!expires.empty()) {
      status["expirationTimestamp"] = expires;
    }
    answer(
        0,
        nlohmann::json{{"apiVersion", apiVersion}, {"kind", "ExecCredential"}, {"status", status}}
            .dump());
  }
};

EnvLookup pathOnly(const std::string& path) {
  return [path](const std::string& name) -> std::optional<std::string> {
    if (name == "PATH") {
      return path;
    }
    return std::nullopt;
  };
}

ExecConfig shConfig() {
  ExecConfig config;
  config.apiVersion = kExecApiV1;
  config.command = "sh";  // found on PATH (/bin) by every machine that runs the tests
  config.args = {"-c", "unused by the fake"};
  config.env = {{"AWS_PROFILE", "ci"}};
  config.interactiveMode = "Never";
  config.installHint = "Install the plugin: apt-get install it";
  config.user = "ci";
  return config;
}

TEST(ExecTokenSource, CachesTheTokenUntilItExpiresThenRunsThePluginAgain) {
  FakePlugin plugin;
  plugin.credential(kToken, "2024-05-01T10:05:00Z");
  plugin.credential("second-token-0123456789", "2024-05-01T11:00:00Z");
  auto clock = std::make_shared<FakeClock>();  // 2024-05-01T10:00:00Z
  ExecTokenSource source(shConfig(), {}, clock, pathOnly("/usr/bin:/bin"), plugin.runner());
  EXPECT_EQ(source.token().value(), kToken);
  clock->advance(std::chrono::minutes(4));
  EXPECT_EQ(source.token().value(), kToken);
  EXPECT_EQ(plugin.calls.size(), 1u);
  clock->advance(std::chrono::minutes(1));  // now exactly at the expiry
  EXPECT_EQ(source.token().value(), "second-token-0123456789");
  EXPECT_EQ(plugin.calls.size(), 2u);
  EXPECT_EQ(source.runs(), 2);
}

TEST(ExecTokenSource, WithoutExpiryTheTokenIsKeptUntilA401) {
  FakePlugin plugin;
  plugin.credential(kToken);
  plugin.credential("after-401-token-0123456789");
  auto clock = std::make_shared<FakeClock>();
  ExecTokenSource source(shConfig(), {}, clock, pathOnly("/bin"), plugin.runner());
  EXPECT_EQ(source.token().value(), kToken);
  clock->advance(std::chrono::hours(48));
  EXPECT_EQ(source.token().value(), kToken);
  source.invalidate();  // what KubeClient does after a 401
  EXPECT_EQ(source.token().value(), "after-401-token-0123456789");
  EXPECT_EQ(plugin.calls.size(), 2u);
}

TEST(ExecTokenSource, RunsFromArgvWithItsEnvAndExecInfo) {
  FakePlugin plugin;
  plugin.credential(kToken);
  ExecClusterInfo cluster{"https://api.example:6443", "CA-PEM", false, R"({"audience":"x"})"};
  auto config = shConfig();
  config.provideClusterInfo = true;
  ExecTokenSource source(config, cluster, std::make_shared<FakeClock>(), pathOnly("/usr/bin:/bin"),
                         plugin.runner());
  ASSERT_TRUE(source.token());
  ASSERT_EQ(plugin.calls.size(), 1u);
  const auto& spec = plugin.calls[0];
  ASSERT_EQ(spec.argv.size(), 3u);
  EXPECT_THAT(spec.argv[0], ::testing::EndsWith("/sh"));  // resolved from PATH, no shell
  EXPECT_EQ(spec.argv[1], "-c");
  EXPECT_EQ(spec.env.at("AWS_PROFILE"), "ci");
  auto info = nlohmann::json::parse(spec.env.at("KUBERNETES_EXEC_INFO"));
  EXPECT_EQ(info["apiVersion"], kExecApiV1);
  EXPECT_EQ(info["kind"], "ExecCredential");
  EXPECT_EQ(info["spec"]["interactive"], false);
  EXPECT_EQ(info["spec"]["cluster"]["server"], "https://api.example:6443");
  EXPECT_EQ(info["spec"]["cluster"]["certificate-authority-data"], encodeBase64("CA-PEM"));
  EXPECT_EQ(info["spec"]["cluster"]["config"]["audience"], "x");
  EXPECT_TRUE(spec.stdinData.empty());
}

TEST(ExecTokenSource, ClusterInfoOnlyWhenAskedFor) {
  FakePlugin plugin;
  plugin.credential(kToken);
  ExecTokenSource source(shConfig(), {"https://s", "CA", false, ""}, std::make_shared<FakeClock>(),
                         pathOnly("/bin"), plugin.runner());
  ASSERT_TRUE(source.token());
  auto info = nlohmann::json::parse(plugin.calls[0].env.at("KUBERNETES_EXEC_INFO"));
  EXPECT_FALSE(info["spec"].contains("cluster"));
}

TEST(ExecTokenSource, AMissingPluginSaysSoWithItsInstallHint) {
  FakePlugin plugin;
  auto config = shConfig();
  config.command = "no-such-credential-plugin";
  ExecTokenSource source(config, {}, std::make_shared<FakeClock>(), pathOnly("/usr/bin:/bin"),
                         plugin.runner());
  auto token = source.token();
  ASSERT_FALSE(token);
  EXPECT_EQ(token.error().reason, kExecPluginFailed);
  EXPECT_THAT(token.error().message, HasSubstr("no-such-credential-plugin"));
  EXPECT_THAT(token.error().message, HasSubstr("not found on PATH"));
  EXPECT_THAT(token.error().message, HasSubstr("Install the plugin: apt-get install it"));
  EXPECT_TRUE(plugin.calls.empty());
}

TEST(ExecTokenSource, AFailingPluginGivesItsExitCodeStderrAndInstallHint) {
  FakePlugin plugin;
  plugin.answer(3, "", "error: SSO session expired\n");
  ExecTokenSource source(shConfig(), {}, std::make_shared<FakeClock>(), pathOnly("/bin"),
                         plugin.runner());
  auto token = source.token();
  ASSERT_FALSE(token);
  EXPECT_EQ(token.error().reason, kExecPluginFailed);
  EXPECT_THAT(token.error().message, HasSubstr("exit code 3"));
  EXPECT_THAT(token.error().message, HasSubstr("SSO session expired"));
  EXPECT_THAT(token.error().message, HasSubstr("Install the plugin"));
}

TEST(ExecTokenSource, BadOutputIsRefusedWithoutQuotingIt) {
  struct Case {
    std::string out;
    std::string says;
  };
  const std::string secret = "secret-in-output-0123456789";
  std::vector<Case> cases = {
      {"token=" + secret, "not a JSON object"},
      {nlohmann::json{
           {"apiVersion", kExecApiV1}, {"kind", "Other"}, {"status", {{"token", secret}}}}
           .dump(),
       "kind is not ExecCredential"},
      {nlohmann::json{{"apiVersion", kExecApiV1beta1},
                      {"kind", "ExecCredential"},
                      {"status", {{"token", secret}}}}
           .dump(),
       "configured for"},
      {nlohmann::json{{"apiVersion", kExecApiV1}, {"kind", "ExecCredential"}}.dump(),
       "without status"},
      {nlohmann::json{{"apiVersion", kExecApiV1},
                      {"kind", "ExecCredential"},
                      {"status", {{"clientCertificateData", "PEM"}, {"clientKeyData", "KEY"}}}}
           .dump(),
       "client certificate"},
      {nlohmann::json{{"apiVersion", kExecApiV1},
                      {"kind", "ExecCredential"},
                      {"status", {{"token", secret}, {"expirationTimestamp", "tomorrow"}}}}
           .dump(),
       "not RFC 3339"},
  };
  for (const auto& c : cases) {
    FakePlugin plugin;
    plugin.answer(0, c.out);
    ExecTokenSource source(shConfig(), {}, std::make_shared<FakeClock>(), pathOnly("/bin"),
                           plugin.runner());
    auto token = source.token();
    ASSERT_FALSE(token) << c.out;
    EXPECT_THAT(token.error().message, HasSubstr(c.says)) << c.out;
    EXPECT_THAT(token.error().message, Not(HasSubstr(secret))) << c.out;
  }
}

TEST(ExecTokenSource, InteractiveModeAlwaysIsRefusedWithoutRunningIt) {
  FakePlugin plugin;
  auto config = shConfig();
  config.interactiveMode = "Always";
  ExecTokenSource source(config, {}, std::make_shared<FakeClock>(), pathOnly("/bin"),
                         plugin.runner());
  auto token = source.token();
  ASSERT_FALSE(token);
  EXPECT_THAT(token.error().message, HasSubstr("interactive terminal"));
  EXPECT_TRUE(plugin.calls.empty());
}

TEST(ExecTokenSource, ARealPluginRelativeToTheKubeconfigRuns) {
  alembic_sidecar::testing::TempDir dir;
  const std::string script = (dir.path() / "bin" / "get-token").string();
  ::mkdir((dir.path() / "bin").c_str(), 0755);
  {
    std::ofstream out(script);
    out << "#!/bin/sh\n"
           "test \"$1\" = --cluster || exit 9\n"
           "case \"$KUBERNETES_EXEC_INFO\" in *'\"interactive\":false'*) ;; *) exit 8 ;; esac\n"
           "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\","
           "\"kind\":\"ExecCredential\",\"status\":{\"token\":\"%s\"}}' \"$TOKEN_VALUE\"\n";
  }
  ::chmod(script.c_str(), 0755);
  ExecConfig config;
  config.apiVersion = kExecApiV1beta1;
  config.command = "./bin/get-token";
  config.args = {"--cluster"};
  config.env = {{"TOKEN_VALUE", kToken}};
  config.baseDir = dir.path().string();
  config.user = "u";
  ASSERT_TRUE(validateExecConfig(config));
  EXPECT_EQ(config.interactiveMode, "IfAvailable");  // the v1beta1 default
  ExecTokenSource source(config, {}, std::make_shared<FakeClock>(), pathOnly("/usr/bin:/bin"),
                         nullptr);
  auto token = source.token();
  ASSERT_TRUE(token) << token.error().message;
  EXPECT_EQ(*token, kToken);
}

TEST(ExecConfigValidation, FollowsClientGo) {
  ExecConfig config = shConfig();
  config.apiVersion = "client.authentication.k8s.io/v1alpha1";
  auto status = validateExecConfig(config);
  ASSERT_FALSE(status);
  EXPECT_THAT(status.error().message, HasSubstr("v1alpha1"));
  config = shConfig();
  config.interactiveMode = "";
  status = validateExecConfig(config);
  ASSERT_FALSE(status);
  EXPECT_THAT(status.error().message, HasSubstr("needs interactiveMode"));
  config.interactiveMode = "Sometimes";
  EXPECT_FALSE(validateExecConfig(config));
  config = shConfig();
  config.command = "";
  EXPECT_FALSE(validateExecConfig(config));
}

// The kubeconfig side: an exec user becomes an ExecTokenSource that has run once.
TEST(KubeconfigExec, ExecUserRunsThePluginOnceWhenLoaded) {
  FakePlugin plugin;
  plugin.credential(kToken);
  KubeconfigOptions options;
  options.path = "/home/me/.kube/config";
  options.readFile = [](const std::string& path) -> core::Result<std::string> {
    return core::Error::terminal("NotFound", path);
  };
  options.getenv = pathOnly("/usr/bin:/bin");
  options.clock = std::make_shared<FakeClock>();
  options.runPlugin = plugin.runner();
  auto config = parseKubeconfig(
      "current-context: eks\n"
      "contexts: [{name: eks, context: {cluster: c, user: u}}]\n"
      "clusters:\n"
      "- name: c\n"
      "  cluster:\n"
      "    server: https://eks.example\n"
      "    extensions:\n"
      "    - name: client.authentication.k8s.io/exec\n"
      "      extension: {audience: sts, retries: 3, verbose: true}\n"
      "users:\n"
      "- name: u\n"
      "  user:\n"
      "    exec:\n"
      "      apiVersion: client.authentication.k8s.io/v1\n"
      "      command: sh\n"
      "      args: [-c, eks-get-token]\n"
      "      env: [{name: AWS_PROFILE, value: ci}]\n"
      "      interactiveMode: Never\n"
      "      provideClusterInfo: true\n"
      "      installHint: install aws\n",
      "/home/me/.kube", options);
  ASSERT_TRUE(config) << config.error().message;
  ASSERT_EQ(plugin.calls.size(), 1u);
  EXPECT_EQ(config->token->token().value(), kToken);
  EXPECT_EQ(plugin.calls.size(), 1u);
  auto info = nlohmann::json::parse(plugin.calls[0].env.at("KUBERNETES_EXEC_INFO"));
  EXPECT_EQ(info["spec"]["cluster"]["server"], "https://eks.example");
  EXPECT_EQ(info["spec"]["cluster"]["config"],
            (nlohmann::json{{"audience", "sts"}, {"retries", 3}, {"verbose", true}}));
  EXPECT_EQ(plugin.calls[0].env.at("AWS_PROFILE"), "ci");
}

TEST(KubeconfigExec, AFailingPluginFailsTheLoadWithItsReason) {
  FakePlugin plugin;
  plugin.answer(1, "", "token expired");
  KubeconfigOptions options;
  options.path = "/k";
  options.getenv = pathOnly("/usr/bin:/bin");
  options.clock = std::make_shared<FakeClock>();
  options.runPlugin = plugin.runner();
  auto config = parseKubeconfig(
      "current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u}}]\n"
      "clusters: [{name: c, cluster: {server: 'https://c'}}]\n"
      "users: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1beta1, "
      "command: sh, installHint: 'brew install it'}}}]\n",
      "/", options);
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().reason, kExecPluginFailed);
  EXPECT_THAT(config.error().message, HasSubstr("brew install it"));
  EXPECT_THAT(config.error().message, HasSubstr("token expired"));
}

TEST(KubeconfigExec, ExecInTheSecondKubeconfigFileIsFoundRelativeToThatFile) {
  FakePlugin plugin;
  std::map<std::string, std::string> files = {
      {"/a/config",
       "current-context: one\n"
       "contexts: [{name: one, context: {cluster: c, user: u}}]\n"
       "clusters: [{name: c, cluster: {server: 'https://first'}}]\n"},
      {"/b/config",
       "current-context: two\n"
       "clusters: [{name: c, cluster: {server: 'https://second'}}]\n"
       "users: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1, "
       "command: ./plugin, interactiveMode: Never}}}]\n"}};
  KubeconfigOptions options;
  options.readFile = [&](const std::string& path) -> core::Result<std::string> {
    auto it = files.find(path);
    if (it == files.end()) {
      return core::Error::terminal("NotFound", path);
    }
    return it->second;
  };
  options.getenv = [](const std::string& name) -> std::optional<std::string> {
    if (name == "KUBECONFIG") {
      return std::string("/a/config:/b/config");
    }
    return std::nullopt;
  };
  options.clock = std::make_shared<FakeClock>();
  options.runPlugin = plugin.runner();
  // Context and cluster from the first file, the user from the second: its ./plugin is looked
  // for next to the second file (and is not there).
  auto config = loadKubeconfig(options);
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().reason, kExecPluginFailed);
  EXPECT_THAT(config.error().message, HasSubstr("/b/plugin"));
  EXPECT_TRUE(plugin.calls.empty());
}

}  // namespace
}  // namespace alembic_sidecar::kube
