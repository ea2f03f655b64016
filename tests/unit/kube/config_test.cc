#include "kube/config.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <map>
#include <sstream>

#include "kube/api_errors.h"
#include "kube/base64.h"
#include "kube_fakes.h"

namespace alembic_sidecar::kube {
namespace {

using testing::FakeClock;

/** An in-memory file system for FileReader. */
struct Files {
  std::map<std::string, std::string> content;
  int reads = 0;
  FileReader reader() {
    return [this](const std::string& path) -> core::Result<std::string> {
      ++reads;
      auto it = content.find(path);
      if (it == content.end()) {
        return core::Error::terminal("NotFound", "no such file " + path);
      }
      return it->second;
    };
  }
};

EnvLookup envOf(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) {
      return std::nullopt;
    }
    return it->second;
  };
}

constexpr char kTwoContexts[] = R"(
apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: dev-cluster
  cluster:
    server: https://dev.example:6443/
    certificate-authority: certs/ca.crt
- name: prod-cluster
  cluster:
    server: https://10.0.0.1:443
    certificate-authority-data: Q0EtUEVN
    insecure-skip-tls-verify: false
users:
- name: dev-user
  user:
    token: dev-token
- name: prod-user
  user:
    client-certificate: /abs/client.crt
    client-key-data: S0VZLVBFTQ==
contexts:
- name: dev
  context:
    cluster: dev-cluster
    user: dev-user
    namespace: apps
- name: prod
  context:
    cluster: prod-cluster
    user: prod-user
)";

KubeconfigOptions optionsWith(Files& files, std::string context = "") {
  KubeconfigOptions options;
  options.path = "/home/me/.kube/config";
  options.context = std::move(context);
  options.readFile = files.reader();
  options.clock = std::make_shared<FakeClock>();
  return options;
}

TEST(Kubeconfig, CurrentContextGivesServerCaTokenAndNamespace) {
  Files files;
  files.content["/home/me/.kube/certs/ca.crt"] = "CA-PEM";
  auto config = parseKubeconfig(kTwoContexts, "/home/me/.kube", optionsWith(files));
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->server, "https://dev.example:6443");  // trailing slash dropped
  EXPECT_EQ(config->caPem, "CA-PEM");                     // relative to the kubeconfig
  EXPECT_EQ(config->namespace_, "apps");
  ASSERT_TRUE(config->token);
  EXPECT_EQ(config->token->token().value(), "dev-token");
  EXPECT_FALSE(config->insecureSkipTlsVerify);
  EXPECT_NE(config->source.find("context dev"), std::string::npos);
}

TEST(Kubeconfig, ExplicitContextWinsAndInlineDataIsDecoded) {
  Files files;
  files.content["/abs/client.crt"] = "CERT-PEM";
  auto config = parseKubeconfig(kTwoContexts, "/home/me/.kube", optionsWith(files, "prod"));
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->server, "https://10.0.0.1:443");
  EXPECT_EQ(config->caPem, "CA-PEM");
  EXPECT_EQ(config->clientCertPem, "CERT-PEM");
  EXPECT_EQ(config->clientKeyPem, "KEY-PEM");
  EXPECT_FALSE(config->token);
  EXPECT_EQ(config->namespace_, "default");  // the context names none
}

TEST(Kubeconfig, MissingContextIsNamedWithTheAvailableOnes) {
  Files files;
  auto config = parseKubeconfig(kTwoContexts, "/x", optionsWith(files, "staging"));
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().reason, kConfigInvalid);
  EXPECT_NE(config.error().message.find("context \"staging\" not found"), std::string::npos);
  EXPECT_NE(config.error().message.find("dev, prod"), std::string::npos);
}

TEST(Kubeconfig, NoCurrentContextAsksForOne) {
  Files files;
  auto config =
      parseKubeconfig("clusters: []\ncontexts: []\nusers: []\n", "/x", optionsWith(files));
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message.find("no current-context"), std::string::npos);
}

TEST(Kubeconfig, MissingClusterAndUserAreNamed) {
  Files files;
  const std::string yaml = R"(
current-context: a
contexts:
- name: a
  context: {cluster: gone, user: u}
- name: b
  context: {cluster: c, user: nobody}
clusters:
- name: c
  cluster: {server: "https://c:6443"}
users: []
)";
  auto noCluster = parseKubeconfig(yaml, "/x", optionsWith(files));
  ASSERT_FALSE(noCluster);
  EXPECT_NE(noCluster.error().message.find("cluster \"gone\" of context \"a\" not found"),
            std::string::npos);
  auto noUser = parseKubeconfig(yaml, "/x", optionsWith(files, "b"));
  ASSERT_FALSE(noUser);
  EXPECT_NE(noUser.error().message.find("user \"nobody\" of context \"b\" not found"),
            std::string::npos);
}

TEST(Kubeconfig, ClusterWithoutServerIsRejected) {
  Files files;
  auto config = parseKubeconfig(
      "current-context: a\ncontexts: [{name: a, context: {cluster: c}}]\n"
      "clusters: [{name: c, cluster: {}}]\n",
      "/x", optionsWith(files));
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message.find("has no server"), std::string::npos);
}

TEST(Kubeconfig, InsecureSkipTlsVerifyOnlyWhenExplicitlyTrue) {
  Files files;
  const auto make = [](const std::string& value) {
    return "current-context: a\ncontexts: [{name: a, context: {cluster: c}}]\n"
           "clusters: [{name: c, cluster: {server: 'https://c', insecure-skip-tls-verify: " +
           value + "}}]\n";
  };
  EXPECT_TRUE(parseKubeconfig(make("true"), "/x", optionsWith(files))->insecureSkipTlsVerify);
  EXPECT_FALSE(parseKubeconfig(make("false"), "/x", optionsWith(files))->insecureSkipTlsVerify);
  EXPECT_FALSE(parseKubeconfig(make("maybe"), "/x", optionsWith(files))->insecureSkipTlsVerify);
  EXPECT_FALSE(parseKubeconfig(make("''"), "/x", optionsWith(files))->insecureSkipTlsVerify);
  EXPECT_FALSE(parseKubeconfig(make("[true]"), "/x", optionsWith(files))->insecureSkipTlsVerify);
}

TEST(Kubeconfig, InsecureSkipTlsVerifyLogsAWarning) {
  Files files;
  std::ostringstream captured;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(captured);
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink));

  auto config = parseKubeconfig(
      "current-context: a\ncontexts: [{name: a, context: {cluster: c}}]\n"
      "clusters: [{name: c, cluster: {server: 'https://c', insecure-skip-tls-verify: true}}]\n",
      "/x", optionsWith(files));
  spdlog::set_default_logger(previous);

  ASSERT_TRUE(config) << config.error().message;
  EXPECT_NE(captured.str().find("disables TLS verification"), std::string::npos) << captured.str();
}

TEST(Kubeconfig, InsecureSkipTlsVerifyWithACertificateAuthorityIsRefused) {
  Files files;
  files.content["/x/ca.crt"] = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  for (const char* ca : {"certificate-authority: ca.crt",
                         "certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg=="}) {
    auto config = parseKubeconfig(
        std::string("current-context: a\ncontexts: [{name: a, context: {cluster: c}}]\n"
                    "clusters: [{name: c, cluster: {server: 'https://c', "
                    "insecure-skip-tls-verify: true, ") +
            ca + "}}]\n",
        "/x", optionsWith(files));
    ASSERT_FALSE(config) << ca;
    EXPECT_EQ(config.error().reason, "KubeConfigInvalid");
    EXPECT_NE(config.error().message.find("insecure-skip-tls-verify together with a certificate "
                                          "authority"),
              std::string::npos)
        << config.error().message;
  }
}

TEST(Kubeconfig, TokenFileWinsOverInlineTokenAndIsReadRelativeToTheFile) {
  Files files;
  files.content["/home/me/.kube/tok"] = "from-file\n";
  auto config = parseKubeconfig(
      "current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u}}]\n"
      "clusters: [{name: c, cluster: {server: 'https://c'}}]\n"
      "users: [{name: u, user: {token: inline, tokenFile: tok}}]\n",
      "/home/me/.kube", optionsWith(files));
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->token->token().value(), "from-file");
}

TEST(Kubeconfig, MissingTokenFileIsAClearError) {
  Files files;
  auto config = parseKubeconfig(
      "current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u}}]\n"
      "clusters: [{name: c, cluster: {server: 'https://c'}}]\n"
      "users: [{name: u, user: {tokenFile: /no/such}}]\n",
      "/x", optionsWith(files));
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message.find("/no/such"), std::string::npos);
}

TEST(Kubeconfig, CertificateWithoutKeyIsRejected) {
  Files files;
  auto config = parseKubeconfig(
      "current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u}}]\n"
      "clusters: [{name: c, cluster: {server: 'https://c'}}]\n"
      "users: [{name: u, user: {client-certificate-data: Q0VSVA==}}]\n",
      "/x", optionsWith(files));
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message.find("without a key"), std::string::npos);
}

TEST(Kubeconfig, BadBase64IsRejected) {
  Files files;
  auto config = parseKubeconfig(
      "current-context: a\ncontexts: [{name: a, context: {cluster: c}}]\n"
      "clusters: [{name: c, cluster: {server: 'https://c', certificate-authority-data: '@@@'}}]\n",
      "/x", optionsWith(files));
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message.find("certificate-authority-data is not valid base64"),
            std::string::npos);
}

TEST(Kubeconfig, UnreadableCaFileIsNamed) {
  Files files;
  auto config = parseKubeconfig(
      "current-context: a\ncontexts: [{name: a, context: {cluster: c}}]\n"
      "clusters: [{name: c, cluster: {server: 'https://c', certificate-authority: ca.pem}}]\n",
      "/etc/kube", optionsWith(files));
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message.find("/etc/kube/ca.pem"), std::string::npos);
}

// Exec plugins are read now (exec_credential_test.cc); auth-provider plugins, removed from
// kubectl, are still refused with a way out.
TEST(Kubeconfig, AuthProviderUsersAreRejectedWithAnExplanation) {
  Files files;
  auto config = parseKubeconfig(
      "current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u}}]\n"
      "clusters: [{name: c, cluster: {server: 'https://c'}}]\n"
      "users: [{name: u, user: {auth-provider: {name: gcp}}}]\n",
      "/x", optionsWith(files));
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message.find("auth-provider plugin"), std::string::npos);
  EXPECT_NE(config.error().message.find("exec credential plugin"), std::string::npos);
}

TEST(Kubeconfig, InvalidYamlAndWrongShapesAreErrorsNotExceptions) {
  Files files;
  for (const char* yaml : {"{unclosed", "- a list\n- not a map\n", "clusters: 3\n",
                           "clusters: [{cluster: {server: x}}]\n",
                           "current-context: a\ncontexts: [{name: a, context: text}]\n"}) {
    auto config = parseKubeconfig(yaml, "/x", optionsWith(files));
    ASSERT_FALSE(config) << yaml;
    EXPECT_EQ(config.error().reason, kConfigInvalid) << yaml;
  }
}

TEST(Kubeconfig, NamespaceOptionOverridesTheContext) {
  Files files;
  files.content["/home/me/.kube/certs/ca.crt"] = "CA";
  auto options = optionsWith(files);
  options.namespace_ = "override";
  auto config = parseKubeconfig(kTwoContexts, "/home/me/.kube", options);
  ASSERT_TRUE(config);
  EXPECT_EQ(config->namespace_, "override");
}

TEST(Kubeconfig, KubeconfigListIsMergedFirstFileWins) {
  Files files;
  files.content["/a/config"] =
      "current-context: one\n"
      "contexts: [{name: one, context: {cluster: c, user: u}}]\n"
      "clusters: [{name: c, cluster: {server: 'https://first'}}]\n";
  files.content["/b/config"] =
      "current-context: two\n"
      "clusters: [{name: c, cluster: {server: 'https://second'}}]\n"
      "users: [{name: u, user: {token: from-b}}]\n";
  KubeconfigOptions options;
  options.readFile = files.reader();
  options.getenv = envOf({{"KUBECONFIG", "/a/config:/missing:/b/config"}});
  options.clock = std::make_shared<FakeClock>();
  auto config = loadKubeconfig(options);
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->server, "https://first");
  EXPECT_EQ(config->token->token().value(), "from-b");
}

TEST(Kubeconfig, DefaultPathIsHomeKubeConfig) {
  Files files;
  KubeconfigOptions options;
  options.readFile = files.reader();
  options.getenv = envOf({{"HOME", "/home/me"}});
  auto config = loadKubeconfig(options);
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message.find("/home/me/.kube/config"), std::string::npos);
}

InClusterOptions inClusterWith(Files& files, std::map<std::string, std::string> env,
                               std::shared_ptr<FakeClock> clock) {
  InClusterOptions options;
  options.serviceAccountDir = "/sa";
  options.getenv = envOf(std::move(env));
  options.readFile = files.reader();
  options.clock = std::move(clock);
  return options;
}

TEST(InCluster, ReadsServiceAccountFilesAndEnvironment) {
  Files files;
  files.content = {{"/sa/token", "tok-1\n"}, {"/sa/ca.crt", "CA"}, {"/sa/namespace", "team\n"}};
  auto clock = std::make_shared<FakeClock>();
  auto config = loadInClusterConfig(inClusterWith(
      files, {{"KUBERNETES_SERVICE_HOST", "10.96.0.1"}, {"KUBERNETES_SERVICE_PORT", "443"}},
      clock));
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->server, "https://10.96.0.1:443");
  EXPECT_EQ(config->caPem, "CA");
  EXPECT_EQ(config->namespace_, "team");
  EXPECT_EQ(config->token->token().value(), "tok-1");
  EXPECT_EQ(config->source, "in-cluster");
}

TEST(InCluster, Ipv6HostIsBracketed) {
  Files files;
  files.content = {{"/sa/token", "t"}, {"/sa/ca.crt", "CA"}};
  auto config = loadInClusterConfig(inClusterWith(
      files, {{"KUBERNETES_SERVICE_HOST", "fd00::1"}, {"KUBERNETES_SERVICE_PORT", "6443"}},
      std::make_shared<FakeClock>()));
  ASSERT_TRUE(config);
  EXPECT_EQ(config->server, "https://[fd00::1]:6443");
  EXPECT_EQ(config->namespace_, "default");  // no namespace file
}

TEST(InCluster, OutsideAClusterSaysSo) {
  Files files;
  auto config = loadInClusterConfig(inClusterWith(files, {}, std::make_shared<FakeClock>()));
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message.find("KUBERNETES_SERVICE_HOST"), std::string::npos);
  EXPECT_FALSE(inCluster(envOf({})));
  EXPECT_TRUE(inCluster(envOf({{"KUBERNETES_SERVICE_HOST", "h"}})));
}

TEST(InCluster, MissingTokenIsAnError) {
  Files files;
  files.content = {{"/sa/ca.crt", "CA"}};
  auto config = loadInClusterConfig(
      inClusterWith(files, {{"KUBERNETES_SERVICE_HOST", "h"}, {"KUBERNETES_SERVICE_PORT", "1"}},
                    std::make_shared<FakeClock>()));
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message.find("token"), std::string::npos);
}

TEST(FileTokenSource, RereadsAfterThePeriodNotBefore) {
  Files files;
  files.content["/t"] = "one";
  auto clock = std::make_shared<FakeClock>();
  FileTokenSource source("/t", std::chrono::seconds(60), clock, files.reader());
  EXPECT_EQ(source.token().value(), "one");
  files.content["/t"] = "two";
  clock->advance(std::chrono::seconds(59));
  EXPECT_EQ(source.token().value(), "one");
  clock->advance(std::chrono::seconds(2));
  EXPECT_EQ(source.token().value(), "two");
  EXPECT_EQ(files.reads, 2);
}

TEST(FileTokenSource, InvalidateForcesARereadAfterA401) {
  Files files;
  files.content["/t"] = "old";
  auto clock = std::make_shared<FakeClock>();
  FileTokenSource source("/t", std::chrono::seconds(60), clock, files.reader());
  EXPECT_EQ(source.token().value(), "old");
  files.content["/t"] = "new";
  source.invalidate();
  EXPECT_EQ(source.token().value(), "new");
}

TEST(FileTokenSource, KeepsTheLastTokenWhileTheFileIsBeingReplaced) {
  Files files;
  files.content["/t"] = "old";
  auto clock = std::make_shared<FakeClock>();
  FileTokenSource source("/t", std::chrono::seconds(1), clock, files.reader());
  EXPECT_EQ(source.token().value(), "old");
  files.content.erase("/t");
  clock->advance(std::chrono::seconds(5));
  EXPECT_EQ(source.token().value(), "old");
  files.content["/t"] = "new";
  EXPECT_EQ(source.token().value(), "new");  // not cached past the period
}

TEST(FileTokenSource, EmptyOrMissingFileIsATransientError) {
  Files files;
  files.content["/t"] = " \n";
  FileTokenSource source("/t", std::chrono::seconds(60), std::make_shared<FakeClock>(),
                         files.reader());
  auto token = source.token();
  ASSERT_FALSE(token);
  EXPECT_EQ(token.error().reason, kTokenUnavailable);
  EXPECT_TRUE(token.error().transient());
}

TEST(Base64, RoundTripsEveryByteValue) {
  std::string bytes;
  for (int i = 0; i < 256; ++i) {
    bytes.push_back(static_cast<char>(i));
  }
  for (size_t len : {0u, 1u, 2u, 3u, 4u, 255u, 256u}) {
    const std::string part = bytes.substr(0, len);
    EXPECT_EQ(decodeBase64(encodeBase64(part)).value(), part) << len;
  }
  EXPECT_EQ(encodeBase64("ab"), "YWI=");
  EXPECT_EQ(decodeBase64("YW\nI=").value(), "ab");
  EXPECT_FALSE(decodeBase64("YW=I"));
  EXPECT_FALSE(decodeBase64("Y$=="));
}

}  // namespace
}  // namespace alembic_sidecar::kube
