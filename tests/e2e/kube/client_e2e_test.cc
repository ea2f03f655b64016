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
