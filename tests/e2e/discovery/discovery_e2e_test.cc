// Step 1 in a cluster, end to end: the objects an operator or chart would create live in the
// test API server, the role and database they describe live in the real test PostgreSQL, and
// each test proves the URL the resolver composed actually logs in.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "core/redactor.h"
#include "database/cluster_resolver.h"
#include "database/pg_database.h"
#include "e2e/kube/kube_e2e.h"
#include "kube/api_errors.h"
#include "kube/kube_client.h"
#include "kube/resources.h"
#include "support/postgres_server.h"

namespace alembic_sidecar::database {
namespace {

using testing::execSql;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::randomName;
using testing::testServer;
namespace res = kube::resources;

constexpr char kNs[] = "shop";

/** A login role owning a fresh database, with a password that breaks naive URLs; dropped after. */
struct PgRole {
  explicit PgRole(const std::string& user)
      : user(user), password("p@ss/w%rd:" + randomName(10)), database("disc_" + randomName(8)) {
    execSql("postgres", "CREATE ROLE \"" + user + "\" LOGIN PASSWORD '" + password + "'");
    execSql("postgres", "CREATE DATABASE " + database + " OWNER \"" + user + "\"");
  }
  ~PgRole() {
    try {
      execSql("postgres", "DROP DATABASE IF EXISTS " + database + " WITH (FORCE)");
      execSql("postgres", "DROP ROLE IF EXISTS \"" + user + "\"");
    } catch (const std::exception& e) {
      ADD_FAILURE() << "cleanup: " << e.what();
    }
  }
  PgRole(const PgRole&) = delete;
  PgRole& operator=(const PgRole&) = delete;

  std::string user;
  std::string password;
  std::string database;
};

int pgPort() { return testServer().port; }

nlohmann::json secret(const std::string& name, const nlohmann::json& stringData,
                      const std::string& type = "Opaque",
                      const nlohmann::json& labels = nlohmann::json::object()) {
  return {{"apiVersion", "v1"},
          {"kind", "Secret"},
          {"metadata", {{"name", name}, {"labels", labels}}},
          {"type", type},
          {"stringData", stringData}};
}

/** A ClusterIP Service whose IP is loopback, so the composed host reaches the test server. */
nlohmann::json service(const std::string& name, const std::string& portName,
                       const nlohmann::json& labels = nlohmann::json::object(),
                       const std::string& clusterIp = "127.0.0.1") {
  return {{"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata", {{"name", name}, {"labels", labels}}},
          {"spec",
           {{"clusterIP", clusterIp},
            {"ports", {{{"name", portName}, {"port", pgPort()}, {"targetPort", 5432}}}}}}};
}

nlohmann::json customResource(const std::string& apiVersion, const std::string& kind,
                              const std::string& name, const nlohmann::json& spec) {
  return {
      {"apiVersion", apiVersion}, {"kind", kind}, {"metadata", {{"name", name}}}, {"spec", spec}};
}

class Discovery : public kube::e2e::ServerSuite {
 protected:
  void create(const kube::ResourceRef& collection, const nlohmann::json& object) {
    auto created = server()->adminClient()->create(collection, object);
    ASSERT_TRUE(created) << created.error().message;
  }

  core::Result<ResolvedDatabase> resolve(ClusterDatabaseSpec spec = {},
                                         std::optional<TargetContainer> target = std::nullopt,
                                         std::shared_ptr<kube::KubeApi> api = nullptr) {
    if (!api) {
      api = server()->adminClient();
    }
    return ClusterResolver(api, kNs, std::move(spec), std::move(target), redactor_).resolve();
  }

  /** Logs in with the URL the resolver composed (printed and parsed back, as alembic gets it). */
  void expectConnects(const core::Result<ResolvedDatabase>& resolved, const PgRole& role,
                      const std::string& source) {
    ASSERT_TRUE(resolved) << resolved.error().message;
    EXPECT_EQ(resolved->source, source);
    EXPECT_EQ(resolved->connection.user, role.user);
    EXPECT_EQ(resolved->connection.password, role.password);
    EXPECT_EQ(resolved->connection.database, role.database);
    auto reparsed = parseConnectionUrl(resolved->connection.url());
    ASSERT_TRUE(reparsed) << reparsed.error().message;
    EXPECT_EQ(reparsed->password, role.password);
    ProbePolicy policy;
    policy.deadline = std::chrono::seconds(5);
    auto probed = PgDatabase(*reparsed, redactor_).probe(policy);
    EXPECT_TRUE(probed) << probed.error().message;
    EXPECT_THAT(redactor_->scrub(role.password), Not(HasSubstr(role.password)));
  }

  core::RedactorPtr redactor_ = std::make_shared<core::Redactor>();
};

TEST_F(Discovery, SpecUrlFromSecret) {
  PgRole role("app_" + randomName(6));
  create(res::secrets(kNs),
         secret("app-db",
                {{"uri", "postgresql://" + role.user + ":" + core::percentEncode(role.password) +
                             "@127.0.0.1:" + std::to_string(pgPort()) + "/" + role.database}}));
  ClusterDatabaseSpec spec;
  spec.urlFrom = SecretKeyRef{"app-db", "uri"};
  auto resolved = resolve(spec);
  expectConnects(resolved, role, "secret/app-db");
  // No driver in the URL and none in the spec: the run picks it from the app.
  EXPECT_EQ(resolved->connection.scheme, "postgresql");
  EXPECT_FALSE(resolved->schemeChosen);
}

TEST_F(Discovery, SpecExplicitFieldsWithPasswordFrom) {
  PgRole role("app_" + randomName(6));
  create(res::secrets(kNs), secret("app-pw", {{"password", role.password}}));
  auto spec = parseClusterDatabaseSpec(
      {{"host", "127.0.0.1"},
       {"port", pgPort()},
       {"name", role.database},
       {"user", role.user},
       {"passwordFrom", {{"secretKeyRef", {{"name", "app-pw"}, {"key", "password"}}}}}});
  ASSERT_TRUE(spec) << spec.error().message;
  expectConnects(resolve(*spec), role, "spec");
}

TEST_F(Discovery, CloudNativePgAppSecretAndRwService) {
  PgRole role("app" + randomName(6));
  create(res::cnpgClusters(kNs),
         customResource(
             "postgresql.cnpg.io/v1", "Cluster", "pg",
             {{"instances", 1},
              {"bootstrap", {{"initdb", {{"database", role.database}, {"owner", role.user}}}}}}));
  // What the operator writes: the URI names the -rw service, which only the Service resolves.
  create(res::secrets(kNs),
         secret("pg-app",
                {{"username", role.user},
                 {"user", role.user},
                 {"password", role.password},
                 {"dbname", role.database},
                 {"host", "pg-rw"},
                 {"port", "5432"},
                 {"uri", "postgresql://" + role.user + ":" + core::percentEncode(role.password) +
                             "@pg-rw." + kNs + ":5432/" + role.database}},
                "kubernetes.io/basic-auth"));
  create(res::services(kNs), service("pg-rw", "postgres"));
  create(res::services(kNs), service("pg-ro", "postgres"));
  expectConnects(resolve(), role, "cnpg/pg");
}

TEST_F(Discovery, CrunchyPguserSecret) {
  PgRole role("rhino" + randomName(6));
  create(res::crunchyPostgresClusters(kNs),
         customResource("postgres-operator.crunchydata.com/v1beta1", "PostgresCluster", "hippo",
                        {{"postgresVersion", 15},
                         {"users", {{{"name", role.user}, {"databases", {role.database}}}}}}));
  const std::string host = "hippo-primary." + std::string(kNs) + ".svc";
  create(res::secrets(kNs),
         secret("hippo-pguser-" + role.user,
                {{"user", role.user},
                 {"password", role.password},
                 {"dbname", role.database},
                 {"host", host},
                 {"port", "5432"},
                 {"uri", "postgresql://" + role.user + ":" + core::percentEncode(role.password) +
                             "@" + host + ":5432/" + role.database},
                 {"verifier", "SCRAM-SHA-256$4096:x"}}));
  // Real PGO makes -primary headless; a loopback ClusterIP lets the test reach the server.
  create(res::services(kNs), service("hippo-primary", "postgres"));
  expectConnects(resolve(), role, "crunchy/hippo");
}

TEST_F(Discovery, ZalandoCredentialsSecretAndClusterService) {
  PgRole role("shop_owner_" + randomName(6));
  create(res::zalandoPostgresqls(kNs),
         customResource("acid.zalan.do/v1", "postgresql", "acid-shop",
                        {{"teamId", "acid"},
                         {"numberOfInstances", 1},
                         {"users", {{role.user, nlohmann::json::array()}, {"audit", {"login"}}}},
                         {"databases", {{role.database, role.user}}},
                         {"postgresql", {{"version", "15"}}}}));
  create(res::secrets(kNs), secret(zalandoSecretName(role.user, "acid-shop"),
                                   {{"username", role.user}, {"password", role.password}}));
  create(res::services(kNs), service("acid-shop", "postgresql"));
  create(res::services(kNs), service("acid-shop-repl", "postgresql"));
  expectConnects(resolve(), role, "zalando/acid-shop");
}

TEST_F(Discovery, BitnamiChartServiceSecretAndStatefulSet) {
  PgRole role("shop_" + randomName(6));
  const nlohmann::json labels = {{"app.kubernetes.io/name", "postgresql"},
                                 {"app.kubernetes.io/instance", "rel"},
                                 {"app.kubernetes.io/component", "primary"}};
  create(res::services(kNs), service("rel-postgresql-hl", "tcp-postgresql", labels, "None"));
  create(res::services(kNs), service("rel-postgresql", "tcp-postgresql", labels));
  create(res::secrets(kNs),
         secret("rel-postgresql",
                {{"postgres-password", "root-" + randomName(12)}, {"password", role.password}},
                "Opaque", labels));
  nlohmann::json sts = {
      {"apiVersion", "apps/v1"},
      {"kind", "StatefulSet"},
      {"metadata", {{"name", "rel-postgresql"}, {"labels", labels}}},
      {"spec",
       {{"serviceName", "rel-postgresql-hl"},
        {"selector", {{"matchLabels", labels}}},
        {"template",
         {{"metadata", {{"labels", labels}}},
          {"spec",
           {{"containers",
             {{{"name", "postgresql"},
               {"image", "docker.io/bitnami/postgresql:15"},
               {"env",
                {{{"name", "POSTGRES_USER"}, {"value", role.user}},
                 {{"name", "POSTGRES_PASSWORD"},
                  {"valueFrom",
                   {{"secretKeyRef", {{"name", "rel-postgresql"}, {"key", "password"}}}}}},
                 {{"name", "POSTGRES_POSTGRES_PASSWORD"},
                  {"valueFrom",
                   {{"secretKeyRef", {{"name", "rel-postgresql"}, {"key", "postgres-password"}}}}}},
                 {{"name", "POSTGRES_DATABASE"}, {"value", role.database}}}}}}}}}}}}}};
  create(res::statefulSets(kNs), sts);
  expectConnects(resolve(), role, "bitnami/rel-postgresql");
}

TEST_F(Discovery, NothingFoundAndMissingSecretsNeverShowAPassword) {
  PgRole role("canary_" + randomName(6));
  nlohmann::json pod = {{"apiVersion", "v1"},
                        {"kind", "Pod"},
                        {"metadata", {{"name", "web-0"}}},
                        {"spec", {{"containers", {{{"name", "app"}, {"image", "shop:dev"}}}}}}};
  create(res::pods(kNs), pod);
  auto stored = server()->adminClient()->get(res::pods(kNs).named("web-0"));
  ASSERT_TRUE(stored);
  auto none = resolve({}, TargetContainer{*stored, "app"});
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().reason, "DatabaseNotDiscovered");
  EXPECT_THAT(none.error().message, HasSubstr("no database found in namespace shop"));
  EXPECT_THAT(none.error().message, HasSubstr("no DATABASE_URL in container app of pod web-0"));

  // Secrets that hold the password but not where the spec points.
  create(res::secrets(kNs),
         secret("app-db", {{"password", role.password},
                           {"url", "postgresql://u:" + role.password + "@h/d"}}));
  std::vector<std::string> messages{none.error().message};
  ClusterDatabaseSpec wrongKey;
  wrongKey.urlFrom = SecretKeyRef{"app-db", "uri"};
  ClusterDatabaseSpec notAUrl;
  notAUrl.urlFrom = SecretKeyRef{"app-db", "password"};
  ClusterDatabaseSpec noSecret;
  noSecret.host = "127.0.0.1";
  noSecret.user = role.user;
  noSecret.passwordFrom = SecretKeyRef{"missing", "password"};
  for (const auto& spec : {wrongKey, notAUrl, noSecret}) {
    auto failed = resolve(spec);
    ASSERT_FALSE(failed);
    EXPECT_FALSE(failed.error().transient()) << failed.error().message;
    messages.push_back(failed.error().message);
  }
  EXPECT_THAT(messages[1],
              HasSubstr("secret \"app-db\" has no key \"uri\" (its keys: password, url)"));
  EXPECT_THAT(messages[3], HasSubstr("secret \"missing\" not found in namespace shop"));
  for (const auto& message : messages) {
    EXPECT_THAT(message, Not(HasSubstr(role.password))) << message;
    EXPECT_THAT(message, Not(HasSubstr(core::percentEncode(role.password)))) << message;
    EXPECT_THAT(message, Not(HasSubstr("w%rd:"))) << message;
  }
}

TEST_F(Discovery, ForbiddenNamesTheMissingPermission) {
  const std::string token = "disc-" + randomName(16);
  ASSERT_TRUE(server()->addToken(
      token, "system:serviceaccount:shop:sidecar",
      nlohmann::json::array({nlohmann::json{{"apiGroups", {""}},
                                            {"resources", {"secrets", "services", "pods"}},
                                            {"verbs", {"get", "list"}}}})));
  auto client = kube::KubeClient::fromConfig(server()->configWithToken(token));
  ASSERT_TRUE(client) << client.error().message;
  auto resolved = resolve({}, std::nullopt, *client);
  ASSERT_FALSE(resolved);
  EXPECT_EQ(resolved.error().reason, kube::kForbidden);
  EXPECT_FALSE(resolved.error().transient());
  EXPECT_THAT(resolved.error().message,
              HasSubstr("may not list clusters.postgresql.cnpg.io in namespace shop"));
  // The API's own words name the user and the verb.
  EXPECT_THAT(resolved.error().message,
              HasSubstr("User \"system:serviceaccount:shop:sidecar\" cannot list resource "
                        "\"clusters\" in API group \"postgresql.cnpg.io\""));
}

TEST_F(Discovery, ServerErrorsStayTransient) {
  ASSERT_TRUE(server()->addFaults(nlohmann::json::array({nlohmann::json{
      {"match", {{"path", "/namespaces/shop/secrets"}}}, {"times", -1}, {"status", 503}}})));
  kube::ClientOptions options;
  options.retry.base = std::chrono::milliseconds(10);
  options.retry.max = std::chrono::milliseconds(20);
  options.retry.attempts = 2;
  auto client = kube::KubeClient::fromConfig(server()->adminConfig(), options);
  ASSERT_TRUE(client) << client.error().message;
  auto resolved = resolve({}, std::nullopt, *client);
  ASSERT_FALSE(resolved);
  EXPECT_TRUE(resolved.error().transient()) << resolved.error().message;
  EXPECT_EQ(resolved.error().reason, kube::kServerError);
}

}  // namespace
}  // namespace alembic_sidecar::database
