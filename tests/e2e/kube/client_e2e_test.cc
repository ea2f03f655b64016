#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>

#include "kube/api_errors.h"
#include "kube/config.h"
#include "kube/kube_client.h"
#include "kube/resources.h"
#include "kube_e2e.h"

namespace alembic_sidecar::kube {
namespace {

using alembic_sidecar::testing::readTextFile;
using alembic_sidecar::testing::writeTextFile;
using e2e::ServerSuite;

nlohmann::json configMap(const std::string& name, const std::string& value = "v") {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}}},
          {"data", {{"key", value}}}};
}

nlohmann::json migrationRun(const std::string& name) {
  return {{"apiVersion", "alembic.sidecar.dev/v1alpha1"},
          {"kind", "MigrationRun"},
          {"metadata", {{"name", name}}},
          {"spec", {{"action", "revision"}, {"message", "add user email"}}}};
}

ClientOptions quickRetries(int attempts = 4) {
  ClientOptions options;
  options.retry = {std::chrono::milliseconds(50), std::chrono::milliseconds(400), attempts,
                   std::chrono::milliseconds(5000)};
  return options;
}

std::shared_ptr<KubeClient> clientFor(const ClusterConfig& config,
                                      ClientOptions options = quickRetries()) {
  auto client = KubeClient::fromConfig(config, std::move(options));
  EXPECT_TRUE(client) << client.error().message;
  return client ? client.value() : nullptr;
}

using Client = ServerSuite;

TEST_F(Client, CrudAndPaginatedListAgainstTheServer) {
  auto client = server()->adminClient();
  const auto cms = resources::configMaps("default");
  for (int i = 0; i < 7; ++i) {
    auto created = client->create(cms, configMap("cm-" + std::to_string(i)));
    ASSERT_TRUE(created) << created.error().message;
  }
  auto all = listAll(*client, cms, ListOptions{"", "", 3, "", ""});
  ASSERT_TRUE(all) << all.error().message;
  EXPECT_EQ(all->items.size(), 7u);
  EXPECT_FALSE(all->resourceVersion.empty());

  auto got = client->get(cms.named("cm-1"));
  ASSERT_TRUE(got);
  auto replaced = (*got);
  replaced["data"]["key"] = "changed";
  ASSERT_TRUE(client->replace(cms.named("cm-1"), replaced));
  auto patched = client->mergePatch(cms.named("cm-1"), {{"data", {{"other", "x"}}}});
  ASSERT_TRUE(patched) << patched.error().message;
  EXPECT_EQ((*patched)["data"]["key"], "changed");
  EXPECT_EQ((*patched)["data"]["other"], "x");
  ASSERT_TRUE(client->remove(cms.named("cm-1")));
  auto gone = client->get(cms.named("cm-1"));
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().reason, kNotFound);

  auto log = server()->requests();
  ASSERT_TRUE(log);
  bool sawMergePatch = false;
  for (const auto& entry : *log) {
    if (entry.value("method", "") == "PATCH") {
      sawMergePatch = entry.value("contentType", "") == "application/merge-patch+json";
    }
  }
  EXPECT_TRUE(sawMergePatch);
}

TEST_F(Client, StatusWriteWithAStaleResourceVersionGetsTheConflictError) {
  auto client = server()->adminClient();
  const auto runs = resources::migrationRuns("default");
  auto created = client->create(runs, migrationRun("r1"));
  ASSERT_TRUE(created) << created.error().message;
  const std::string staleRv = resourceVersionOf(*created);
  const auto status = runs.named("r1").withSubresource("status");

  auto claimed = client->mergePatch(
      status, {{"metadata", {{"resourceVersion", staleRv}}}, {"status", {{"phase", "Running"}}}});
  ASSERT_TRUE(claimed) << claimed.error().message;
  EXPECT_EQ((*claimed)["status"]["phase"], "Running");
  EXPECT_EQ((*claimed)["metadata"]["generation"], (*created)["metadata"]["generation"]);

  // A second replica still holding the old resourceVersion loses.
  auto second = client->mergePatch(
      status, {{"metadata", {{"resourceVersion", staleRv}}}, {"status", {{"phase", "Running"}}}});
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().reason, kConflict);
  EXPECT_TRUE(second.error().transient());
  EXPECT_NE(second.error().message.find("the object has been modified"), std::string::npos)
      << second.error().message;
}

TEST_F(Client, StatusMessagesReachTheCallerFor401_403_404_422) {
  ASSERT_TRUE(server()->addToken(
      "reader-token-0123456789", "reader",
      {{{"apiGroups", {""}}, {"resources", {"configmaps"}}, {"verbs", {"get", "list"}}}}));
  auto reader = clientFor(server()->configWithToken("reader-token-0123456789"));
  auto stranger = clientFor(server()->configWithToken("unknown-token-0123456789"));
  auto admin = server()->adminClient();

  auto unauthorized = stranger->get(resources::configMaps("default").named("x"));
  ASSERT_FALSE(unauthorized);
  EXPECT_EQ(unauthorized.error().reason, kUnauthorized);
  EXPECT_NE(unauthorized.error().message.find("401 Unauthorized"), std::string::npos);
  EXPECT_EQ(unauthorized.error().message.find("unknown-token"), std::string::npos);

  auto forbidden = reader->list(resources::secrets("default"), {});
  ASSERT_FALSE(forbidden);
  EXPECT_EQ(forbidden.error().reason, kForbidden);
  EXPECT_NE(forbidden.error().message.find("secrets is forbidden: User \"reader\""),
            std::string::npos)
      << forbidden.error().message;

  auto notFound = reader->get(resources::configMaps("default").named("missing"));
  ASSERT_FALSE(notFound);
  EXPECT_EQ(notFound.error().reason, kNotFound);
  EXPECT_NE(notFound.error().message.find("configmaps \"missing\" not found"), std::string::npos);

  auto invalid = admin->create(resources::configMaps("default"), configMap("Not_A_Valid_Name"));
  ASSERT_FALSE(invalid);
  EXPECT_EQ(invalid.error().reason, kInvalid);
  EXPECT_NE(invalid.error().message.find("Not_A_Valid_Name"), std::string::npos)
      << invalid.error().message;

  auto duplicate = admin->create(resources::configMaps("default"), configMap("dup"));
  ASSERT_TRUE(duplicate);
  auto again = admin->create(resources::configMaps("default"), configMap("dup"));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().reason, kAlreadyExists);
  EXPECT_NE(again.error().message.find("already exists"), std::string::npos);
}

TEST_F(Client, TooManyRequestsIsRetriedAfterRetryAfter) {
  auto client = clientFor(server()->adminConfig());
  ASSERT_TRUE(client->create(resources::configMaps("default"), configMap("a")));
  ASSERT_TRUE(server()->addFaults({{{"match", {{"method", "GET"}, {"path", "/configmaps/a$"}}},
                                    {"status", 429},
                                    {"retryAfter", 1},
                                    {"times", 1}}}));
  ASSERT_TRUE(server()->clearRequests());
  const auto start = std::chrono::steady_clock::now();
  auto got = client->get(resources::configMaps("default").named("a"));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_GE(elapsed, std::chrono::milliseconds(950));  // Retry-After: 1, not the 50 ms base
  auto log = server()->requests();
  ASSERT_TRUE(log);
  ASSERT_EQ(log->size(), 2u);
  EXPECT_EQ((*log)[0]["status"], 429);
  EXPECT_EQ((*log)[1]["status"], 200);
}

TEST_F(Client, ServerErrorsAreRetriedUntilTheServerRecovers) {
  auto client = clientFor(server()->adminConfig());
  ASSERT_TRUE(server()->addFaults({{{"match", {{"method", "POST"}, {"path", "/configmaps$"}}},
                                    {"status", 500},
                                    {"times", 2}}}));
  auto created = client->create(resources::configMaps("default"), configMap("after-500"));
  ASSERT_TRUE(created) << created.error().message;
  auto log = server()->requests();
  ASSERT_TRUE(log);
  std::vector<int> statuses;
  for (const auto& entry : *log) {
    statuses.push_back(entry.value("status", 0));
  }
  EXPECT_EQ(statuses, (std::vector<int>{500, 500, 201}));
}

TEST_F(Client, PersistentServerErrorsEndInATransientError) {
  auto client = clientFor(server()->adminConfig(), quickRetries(3));
  ASSERT_TRUE(server()->addFaults({{{"match", {{"method", "GET"}, {"path", "/configmaps/x$"}}},
                                    {"status", 503},
                                    {"times", 10}}}));
  auto got = client->get(resources::configMaps("default").named("x"));
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().reason, kServerError);
  EXPECT_TRUE(got.error().transient());
  EXPECT_EQ(server()->requests()->size(), 3u);
}

TEST_F(Client, WrongCaIsRefusedNamingTheServer) {
  ClusterConfig config = server()->adminConfig();
  config.caPem = readTextFile(server()->otherCaFile());
  auto client = clientFor(config);
  auto got = client->get(resources::configMaps("default").named("x"));
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().reason, kTlsVerificationFailed);
  EXPECT_FALSE(got.error().transient());
  EXPECT_NE(got.error().message.find("could not be verified"), std::string::npos)
      << got.error().message;
  EXPECT_NE(got.error().message.find(server()->url()), std::string::npos) << got.error().message;
}

TEST_F(Client, NoCaMeansTheSystemStoreWhichDoesNotKnowTheTestCa) {
  ClusterConfig config = server()->adminConfig();
  config.caPem.clear();
  auto got = clientFor(config)->get(resources::configMaps("default").named("x"));
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().reason, kTlsVerificationFailed);
}

TEST_F(Client, InsecureSkipTlsVerifyIsHonouredWhenSet) {
  ClusterConfig config = server()->adminConfig();
  config.caPem = readTextFile(server()->otherCaFile());
  config.insecureSkipTlsVerify = true;
  auto got = clientFor(config)->get(resources::configMaps("default").named("x"));
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().reason, kNotFound);  // reached the server
}

TEST_F(Client, UnreachableServerIsATransientConnectionError) {
  ClusterConfig config = server()->adminConfig();
  config.server = "https://127.0.0.1:1";
  auto got = clientFor(config, quickRetries(2))->get(resources::configMaps("default").named("x"));
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().reason, kConnectionFailed);
  EXPECT_TRUE(got.error().transient());
  EXPECT_NE(got.error().message.find("https://127.0.0.1:1"), std::string::npos);
}

TEST_F(Client, KubeconfigWithTokenWorks) {
  KubeconfigOptions options;
  options.path = server()->kubeconfig();
  auto config = loadKubeconfig(options);
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->server, server()->url());
  auto created = clientFor(*config)->create(resources::configMaps("default"), configMap("kc"));
  ASSERT_TRUE(created) << created.error().message;
}

TEST_F(Client, KubeconfigWithClientCertificateWorks) {
  KubeconfigOptions options;
  options.path = server()->kubeconfigCert();
  auto config = loadKubeconfig(options);
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_FALSE(config->token);
  EXPECT_FALSE(config->clientCertPem.empty());
  auto client = clientFor(*config);
  auto created = client->create(resources::configMaps("default"), configMap("by-cert"));
  ASSERT_TRUE(created) << created.error().message;
  auto log = server()->requests();
  ASSERT_TRUE(log);
  EXPECT_EQ(log->back()["user"], "client-admin");
}

TEST_F(Client, RotatedTokenFileIsPickedUpWithoutRestart) {
  const std::string dir = server()->scratchDir() + "/rotating";
  std::filesystem::create_directories(dir);
  const nlohmann::json allRights = {{{"apiGroups", {"*"}}, {"resources", {"*"}}, {"verbs", {"*"}}}};
  ASSERT_TRUE(server()->addToken("rotation-token-one-0123456789", "sa-one", allRights));
  writeTextFile(dir + "/token", "rotation-token-one-0123456789\n");
  writeTextFile(dir + "/ca.crt", readTextFile(server()->caFile()));
  writeTextFile(dir + "/namespace", "default");

  InClusterOptions options;
  options.serviceAccountDir = dir;
  options.tokenRefresh = std::chrono::hours(1);  // only the 401 can make it re-read
  const std::string port = std::to_string(server()->port());
  options.getenv = [port](const std::string& name) -> std::optional<std::string> {
    if (name == "KUBERNETES_SERVICE_HOST") {
      return std::string("127.0.0.1");
    }
    if (name == "KUBERNETES_SERVICE_PORT") {
      return port;
    }
    return std::nullopt;
  };
  auto config = loadInClusterConfig(options);
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->server, server()->url());
  auto client = clientFor(*config);
  ASSERT_TRUE(client->create(resources::configMaps("default"), configMap("before")));

  // The kubelet rotates the projected token: the old one stops working, the file changes.
  ASSERT_TRUE(server()->revokeToken("rotation-token-one-0123456789"));
  ASSERT_TRUE(server()->addToken("rotation-token-two-0123456789", "sa-two", allRights));
  writeTextFile(dir + "/token", "rotation-token-two-0123456789\n");

  auto after = client->create(resources::configMaps("default"), configMap("after"));
  ASSERT_TRUE(after) << after.error().message;
  auto log = server()->requests();
  ASSERT_TRUE(log);
  ASSERT_GE(log->size(), 2u);
  EXPECT_EQ((*log)[log->size() - 2]["status"], 401);
  EXPECT_EQ(log->back()["user"], "sa-two");
}

/** A server listening on every loopback address, reached by an address its certificate lacks. */
TEST(ClientHostCheck, CertificateForAnotherAddressIsRefused) {
  alembic_sidecar::testing::KubeTestServer::Options options;
  options.extraArgs = {"--host", "0.0.0.0"};
  auto started = alembic_sidecar::testing::KubeTestServer::start(options);
  ASSERT_TRUE(started) << started.error().message;
  ClusterConfig config = (*started)->adminConfig();
  config.server = "https://127.0.0.2:" + std::to_string((*started)->port());
  auto got = clientFor(config)->get(resources::configMaps("default").named("x"));
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().reason, kTlsVerificationFailed);
  EXPECT_NE(got.error().message.find("mismatch"), std::string::npos) << got.error().message;
  // The same server by an address in its certificate is fine.
  config.server = "https://127.0.0.1:" + std::to_string((*started)->port());
  auto ok = clientFor(config)->get(resources::configMaps("default").named("x"));
  ASSERT_FALSE(ok);
  EXPECT_EQ(ok.error().reason, kNotFound);
}

}  // namespace
}  // namespace alembic_sidecar::kube
