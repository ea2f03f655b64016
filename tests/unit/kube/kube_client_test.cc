#include "kube/kube_client.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>

#include "kube/resources.h"
#include "kube_fakes.h"

namespace alembic_sidecar::kube {
namespace {

using std::chrono::milliseconds;
using testing::FakeClock;
using testing::FakeTokenSource;
using testing::FakeTransport;
using testing::jsonResponse;
using testing::statusBody;

constexpr char kToken[] = "s3cr3t-token-value";

struct Harness {
  std::shared_ptr<FakeTransport> transport = std::make_shared<FakeTransport>();
  std::shared_ptr<FakeClock> clock = std::make_shared<FakeClock>();
  std::shared_ptr<FakeTokenSource> token = std::make_shared<FakeTokenSource>(kToken);
  std::shared_ptr<KubeClient> client;

  explicit Harness(int attempts = 4) {
    ClusterConfig config;
    config.server = "https://api.example:6443";
    config.token = token;
    config.namespace_ = "team";
    ClientOptions options;
    options.retry = {milliseconds(100), milliseconds(1000), attempts, milliseconds(30000)};
    client = std::make_shared<KubeClient>(config, transport, nullptr, options, clock,
                                          [] { return 0.0; });
  }
};

nlohmann::json configMap(const std::string& name, const std::string& rv) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"namespace", "team"}, {"resourceVersion", rv}}}};
}

TEST(ResourceRefPaths, CoreGroupNamespacedAndSubresources) {
  EXPECT_EQ(resources::pods("ns").path(), "/api/v1/namespaces/ns/pods");
  EXPECT_EQ(resources::pods("ns").named("p").path(), "/api/v1/namespaces/ns/pods/p");
  EXPECT_EQ(resources::migrationRuns("ns").named("r").withSubresource("status").path(),
            "/apis/alembic.sidecar.dev/v1alpha1/namespaces/ns/migrationruns/r/status");
  EXPECT_EQ((ResourceRef{"apps", "v1", "statefulsets", "", "", ""}).path(),
            "/apis/apps/v1/statefulsets");
  EXPECT_EQ(resources::leases("ns").apiVersion(), "coordination.k8s.io/v1");
  EXPECT_EQ(resources::configMaps("ns").apiVersion(), "v1");
  // A subresource without a name makes no sense and is left out.
  EXPECT_EQ(resources::pods("ns").withSubresource("status").path(), "/api/v1/namespaces/ns/pods");
}

TEST(KubeClient, GetSendsTheBearerTokenAndParsesTheObject) {
  Harness h;
  h.transport->push(jsonResponse(200, configMap("a", "5")));
  auto got = h.client->get(resources::configMaps("team").named("a"));
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(resourceVersionOf(*got), "5");
  ASSERT_EQ(h.transport->sent.size(), 1u);
  EXPECT_EQ(h.transport->sent[0].request.method, "GET");
  EXPECT_EQ(h.transport->sent[0].request.target, "/api/v1/namespaces/team/configmaps/a");
  EXPECT_EQ(h.transport->sent[0].token, kToken);
}

TEST(KubeClient, ListEncodesSelectorsAndPagination) {
  Harness h;
  h.transport->push(
      jsonResponse(200, {{"metadata", {{"resourceVersion", "42"}, {"continue", "next-page"}}},
                         {"items", {configMap("a", "1"), configMap("b", "2")}}}));
  ListOptions options;
  options.labelSelector = "app=web,tier in (a,b)";
  options.fieldSelector = "metadata.name=a";
  options.limit = 2;
  options.continueToken = "tok/en";
  auto page = h.client->list(resources::configMaps("team"), options);
  ASSERT_TRUE(page) << page.error().message;
  EXPECT_EQ(page->items.size(), 2u);
  EXPECT_EQ(page->resourceVersion, "42");
  EXPECT_EQ(page->continueToken, "next-page");
  EXPECT_EQ(h.transport->sent[0].request.target,
            "/api/v1/namespaces/team/configmaps?labelSelector=app%3Dweb%2Ctier%20in%20%28a%2Cb%29"
            "&fieldSelector=metadata.name%3Da&limit=2&continue=tok%2Fen");
}

TEST(KubeClient, ListAllFollowsContinueToTheEnd) {
  Harness h;
  h.transport->push(jsonResponse(200, {{"metadata", {{"resourceVersion", "9"}, {"continue", "c1"}}},
                                       {"items", {configMap("a", "1")}}}));
  h.transport->push(jsonResponse(200, {{"metadata", {{"resourceVersion", "9"}, {"continue", "c2"}}},
                                       {"items", {configMap("b", "2")}}}));
  h.transport->push(jsonResponse(
      200, {{"metadata", {{"resourceVersion", "9"}}}, {"items", {configMap("c", "3")}}}));
  auto all = listAll(*h.client, resources::configMaps("team"), ListOptions{"", "", 1, "", ""});
  ASSERT_TRUE(all) << all.error().message;
  ASSERT_EQ(all->items.size(), 3u);
  EXPECT_EQ(all->resourceVersion, "9");
  EXPECT_NE(h.transport->sent[1].request.target.find("continue=c1"), std::string::npos);
  EXPECT_NE(h.transport->sent[2].request.target.find("continue=c2"), std::string::npos);
}

TEST(KubeClient, MergePatchOfStatusUsesTheMergePatchContentType) {
  Harness h;
  h.transport->push(jsonResponse(200, configMap("r", "8")));
  const auto ref = resources::migrationRuns("team").named("r").withSubresource("status");
  auto patched = h.client->mergePatch(
      ref, {{"metadata", {{"resourceVersion", "7"}}}, {"status", {{"phase", "Running"}}}});
  ASSERT_TRUE(patched) << patched.error().message;
  const auto& sent = h.transport->sent[0].request;
  EXPECT_EQ(sent.method, "PATCH");
  EXPECT_EQ(sent.contentType, "application/merge-patch+json");
  EXPECT_EQ(sent.target,
            "/apis/alembic.sidecar.dev/v1alpha1/namespaces/team/migrationruns/r/status");
  EXPECT_EQ(nlohmann::json::parse(sent.body)["metadata"]["resourceVersion"], "7");
}

TEST(KubeClient, CreateReplaceDeleteUseTheirVerbsAndPaths) {
  Harness h;
  h.transport->push(jsonResponse(201, configMap("a", "1")));
  h.transport->push(jsonResponse(200, configMap("a", "2")));
  h.transport->push(jsonResponse(200, statusBody(200, "", "")));
  const auto ref = resources::configMaps("team").named("a");
  ASSERT_TRUE(h.client->create(resources::configMaps("team"), configMap("a", "")));
  ASSERT_TRUE(h.client->replace(ref, configMap("a", "1")));
  ASSERT_TRUE(h.client->remove(ref));
  EXPECT_EQ(h.transport->sent[0].request.method, "POST");
  EXPECT_EQ(h.transport->sent[0].request.target, "/api/v1/namespaces/team/configmaps");
  EXPECT_EQ(h.transport->sent[0].request.contentType, "application/json");
  EXPECT_EQ(h.transport->sent[1].request.method, "PUT");
  EXPECT_EQ(h.transport->sent[1].request.target, "/api/v1/namespaces/team/configmaps/a");
  EXPECT_EQ(h.transport->sent[2].request.method, "DELETE");
}

TEST(KubeClient, StaleResourceVersionGivesTheConflictError) {
  Harness h;
  h.transport->push(jsonResponse(409, statusBody(409, "Conflict",
                                                 "Operation cannot be fulfilled on migrationruns "
                                                 "\"r\": the object has been modified")));
  auto patched = h.client->mergePatch(resources::migrationRuns("team").named("r"),
                                      {{"metadata", {{"resourceVersion", "1"}}}});
  ASSERT_FALSE(patched);
  EXPECT_EQ(patched.error().reason, kConflict);
  EXPECT_TRUE(isConflict(patched.error()));
  EXPECT_TRUE(patched.error().transient());
  EXPECT_NE(patched.error().message.find("the object has been modified"), std::string::npos);
  EXPECT_EQ(h.transport->sent.size(), 1u);  // a conflict is the caller's to handle
}

TEST(KubeClient, AlreadyExistsIsNotAConflict) {
  Harness h;
  h.transport->push(
      jsonResponse(409, statusBody(409, "AlreadyExists", "configmaps \"a\" already exists")));
  auto created = h.client->create(resources::configMaps("team"), configMap("a", ""));
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().reason, kAlreadyExists);
  EXPECT_FALSE(isConflict(created.error()));
}

TEST(KubeClient, TooManyRequestsWaitsForRetryAfterThenSucceeds) {
  Harness h;
  h.transport->push(
      jsonResponse(429, statusBody(429, "TooManyRequests", "slow down"), {{"retry-after", "3"}}));
  h.transport->push(jsonResponse(200, configMap("a", "1")));
  auto got = h.client->get(resources::configMaps("team").named("a"));
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(h.clock->sleeps(), std::vector<milliseconds>{milliseconds(3000)});
  EXPECT_EQ(h.transport->sent.size(), 2u);
}

TEST(KubeClient, ServerErrorsAreRetriedWithGrowingBackoff) {
  Harness h;
  for (int i = 0; i < 3; ++i) {
    h.transport->push(jsonResponse(503, statusBody(503, "ServiceUnavailable", "busy")));
  }
  h.transport->push(jsonResponse(200, configMap("a", "1")));
  auto got = h.client->get(resources::configMaps("team").named("a"));
  ASSERT_TRUE(got) << got.error().message;
  // random() == 0: the lower half of 100, 200, 400 ms.
  EXPECT_EQ(h.clock->sleeps(),
            (std::vector<milliseconds>{milliseconds(50), milliseconds(100), milliseconds(200)}));
}

TEST(KubeClient, WhatRemainsAfterTheRetriesIsATransientError) {
  Harness h(3);
  for (int i = 0; i < 3; ++i) {
    h.transport->push(jsonResponse(500, statusBody(500, "InternalError", "etcd is down")));
  }
  auto got = h.client->get(resources::configMaps("team").named("a"));
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().reason, kServerError);
  EXPECT_TRUE(got.error().transient());
  EXPECT_NE(got.error().message.find("etcd is down"), std::string::npos);
  EXPECT_EQ(h.transport->sent.size(), 3u);
  EXPECT_EQ(h.clock->sleeps().size(), 2u);
}

TEST(KubeClient, ConnectionFailuresAreRetried) {
  Harness h(3);
  h.transport->push(core::Error::retryable(kConnectionFailed, "connection refused"));
  h.transport->push(core::Error::retryable(kConnectionFailed, "connection refused"));
  h.transport->push(core::Error::retryable(kConnectionFailed, "connection refused"));
  auto got = h.client->get(resources::configMaps("team").named("a"));
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().reason, kConnectionFailed);
  EXPECT_TRUE(got.error().transient());
  EXPECT_NE(got.error().message.find("3 attempts"), std::string::npos);
}

TEST(KubeClient, TlsFailuresAreNotRetried) {
  Harness h;
  h.transport->push(core::Error::terminal(kTlsVerificationFailed, "could not be verified"));
  auto got = h.client->get(resources::configMaps("team").named("a"));
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().reason, kTlsVerificationFailed);
  EXPECT_EQ(h.transport->sent.size(), 1u);
}

TEST(KubeClient, UnauthorizedRereadsTheTokenAndRetriesOnce) {
  Harness h;
  h.token->rotateTo("rotated-token");
  h.transport->push(jsonResponse(401, statusBody(401, "Unauthorized", "Unauthorized")));
  h.transport->push(jsonResponse(200, configMap("a", "1")));
  auto got = h.client->get(resources::configMaps("team").named("a"));
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(h.token->invalidations, 1);
  EXPECT_EQ(h.transport->sent[0].token, kToken);
  EXPECT_EQ(h.transport->sent[1].token, "rotated-token");
  EXPECT_TRUE(h.clock->sleeps().empty());
}

TEST(KubeClient, UnauthorizedWithTheSameTokenIsReported) {
  Harness h;
  h.transport->push(jsonResponse(401, statusBody(401, "Unauthorized", "token expired")));
  auto got = h.client->get(resources::configMaps("team").named("a"));
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().reason, kUnauthorized);
  EXPECT_NE(got.error().message.find("token expired"), std::string::npos);
  EXPECT_EQ(h.transport->sent.size(), 1u);
}

TEST(KubeClient, ErrorMessagesNeverCarryTheToken) {
  Harness h;
  h.transport->push(
      jsonResponse(403, statusBody(403, "Forbidden", std::string("echo of ") + kToken)));
  auto got = h.client->get(resources::configMaps("team").named("a"));
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().reason, kForbidden);
  EXPECT_EQ(got.error().message.find(kToken), std::string::npos) << got.error().message;
  EXPECT_NE(got.error().message.find("echo of ****"), std::string::npos);
}

TEST(KubeClient, RequestsAreLoggedAtDebugWithoutHeaders) {
  std::ostringstream captured;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(captured);
  auto previous = spdlog::default_logger();
  auto logger = std::make_shared<spdlog::logger>("capture", sink);
  logger->set_level(spdlog::level::debug);
  spdlog::set_default_logger(logger);
  {
    Harness h;
    h.transport->push(jsonResponse(200, configMap("a", "1")));
    ASSERT_TRUE(h.client->get(resources::configMaps("team").named("a")));
  }
  spdlog::set_default_logger(previous);
  const std::string log = captured.str();
  EXPECT_NE(log.find("method=GET path=/api/v1/namespaces/team/configmaps/a status=200"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("durationMs="), std::string::npos);
  EXPECT_EQ(log.find(kToken), std::string::npos);
  EXPECT_EQ(log.find("Bearer"), std::string::npos);
}

TEST(KubeClient, RegistersTokensWithTheSharedRedactor) {
  auto redactor = std::make_shared<core::Redactor>();
  ClusterConfig config;
  config.server = "https://x";
  config.token = std::make_shared<StaticTokenSource>("tok-abcdef");
  auto transport = std::make_shared<FakeTransport>();
  transport->push(jsonResponse(200, configMap("a", "1")));
  ClientOptions options;
  options.redactor = redactor;
  KubeClient client(config, transport, nullptr, options, std::make_shared<FakeClock>(), {});
  ASSERT_TRUE(client.get(resources::configMaps("team").named("a")));
  EXPECT_EQ(redactor->scrub("token tok-abcdef"), "token ****");
}

TEST(KubeClient, WatchReadsEventsSplitAcrossChunks) {
  Harness h;
  h.transport->pushStream(
      {"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceV",
       "ersion\":\"11\"}}}\n{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":"
       "\"12\"}}}\n\n{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"a\",",
       "\"resourceVersion\":\"13\"}}}\n{\"type\":\"MODIFIED\",\"object\":{\"cut"});
  WatchOptions options;
  options.resourceVersion = "10";
  options.timeout = std::chrono::seconds(45);
  auto stream = h.client->watch(resources::configMaps("team"), options);
  ASSERT_TRUE(stream) << stream.error().message;
  std::vector<std::pair<std::string, std::string>> seen;
  while (true) {
    auto event = (*stream)->next();
    ASSERT_TRUE(event) << event.error().message;
    if (!event->has_value()) {
      break;
    }
    seen.emplace_back((*event)->type, resourceVersionOf((*event)->object));
  }
  // The unterminated last line is dropped, not half-parsed.
  EXPECT_EQ(seen, (std::vector<std::pair<std::string, std::string>>{
                      {"ADDED", "11"}, {"BOOKMARK", "12"}, {"DELETED", "13"}}));
  const auto& sent = h.transport->sent[0].request;
  EXPECT_EQ(sent.target,
            "/api/v1/namespaces/team/configmaps?watch=true&resourceVersion=10"
            "&allowWatchBookmarks=true&timeoutSeconds=45");
  EXPECT_GT(sent.timeout, milliseconds(45000));  // the stream outlives timeoutSeconds
}

TEST(KubeClient, WatchRefusedWithGoneIsTheGoneError) {
  Harness h;
  h.transport->push(jsonResponse(410, statusBody(410, "Expired", "too old resource version")));
  auto stream = h.client->watch(resources::configMaps("team"), WatchOptions{});
  ASSERT_FALSE(stream);
  EXPECT_TRUE(isGone(stream.error()));
  EXPECT_NE(stream.error().message.find("too old resource version"), std::string::npos);
}

TEST(KubeClient, NonJsonBodyIsABadResponse) {
  Harness h;
  HttpResponse response;
  response.status = 200;
  response.body = "<html>";
  h.transport->push(response);
  auto got = h.client->get(resources::configMaps("team").named("a"));
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().reason, kBadResponse);
}

}  // namespace
}  // namespace alembic_sidecar::kube
