#include "database/cluster_resolver.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/reasons.h"
#include "kube/api_errors.h"
#include "kube/base64.h"
#include "kube/resources.h"
#include "unit/kube/kube_fakes.h"

namespace alembic_sidecar::database {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace res = kube::resources;

constexpr char kNs[] = "shop";
// Every character that breaks a naively composed URL.
constexpr char kPassword[] = "p@ss/w%rd:x?y#z";

nlohmann::json secretObject(const std::string& name, const std::map<std::string, std::string>& data,
                            const std::string& type = "Opaque",
                            const nlohmann::json& labels = nlohmann::json::object()) {
  nlohmann::json encoded = nlohmann::json::object();
  for (const auto& [key, value] : data) {
    encoded[key] = kube::encodeBase64(value);
  }
  return {{"metadata", {{"name", name}, {"namespace", kNs}, {"labels", labels}}},
          {"type", type},
          {"data", encoded}};
}

nlohmann::json serviceObject(const std::string& name, const std::string& clusterIp,
                             const nlohmann::json& ports,
                             const nlohmann::json& labels = nlohmann::json::object()) {
  return {{"metadata", {{"name", name}, {"namespace", kNs}, {"labels", labels}}},
          {"spec", {{"clusterIP", clusterIp}, {"ports", ports}}}};
}

nlohmann::json named(const std::string& name,
                     const nlohmann::json& spec = nlohmann::json::object()) {
  return {{"metadata", {{"name", name}, {"namespace", kNs}}}, {"spec", spec}};
}

nlohmann::json podObject(const std::string& name, const nlohmann::json& containers) {
  return {{"metadata", {{"name", name}, {"namespace", kNs}}},
          {"spec", {{"containers", containers}}}};
}

/** A FakeKubeApi that answers some paths with an error (403, 5xx, 404 for a missing CRD). */
class FailingKubeApi final : public kube::KubeApi {
 public:
  explicit FailingKubeApi(std::shared_ptr<kube::testing::FakeKubeApi> inner)
      : inner_(std::move(inner)) {}
  void failPath(const std::string& pathPart, core::Error error) {
    failures_.emplace_back(pathPart, std::move(error));
  }
  core::Result<nlohmann::json> get(const kube::ResourceRef& ref) override {
    if (auto error = failure(ref)) {
      return *error;
    }
    return inner_->get(ref);
  }
  core::Result<kube::ObjectList> list(const kube::ResourceRef& ref,
                                      const kube::ListOptions& options) override {
    if (auto error = failure(ref)) {
      return *error;
    }
    return inner_->list(ref, options);
  }
  core::Result<nlohmann::json> create(const kube::ResourceRef& ref,
                                      const nlohmann::json& object) override {
    return inner_->create(ref, object);
  }
  core::Result<nlohmann::json> replace(const kube::ResourceRef& ref,
                                       const nlohmann::json& object) override {
    return inner_->replace(ref, object);
  }
  core::Result<nlohmann::json> mergePatch(const kube::ResourceRef& ref,
                                          const nlohmann::json& patch) override {
    return inner_->mergePatch(ref, patch);
  }
  core::Status remove(const kube::ResourceRef& ref) override { return inner_->remove(ref); }
  core::Result<std::unique_ptr<kube::WatchStream>> watch(const kube::ResourceRef& ref,
                                                         const kube::WatchOptions& o) override {
    return inner_->watch(ref, o);
  }
  core::Result<kube::ExecResult> exec(const kube::ExecRequest& request) override {
    return inner_->exec(request);
  }
  std::string defaultNamespace() const override { return kNs; }

 private:
  std::optional<core::Error> failure(const kube::ResourceRef& ref) const {
    for (const auto& [part, error] : failures_) {
      if (ref.path().find(part) != std::string::npos) {
        return error;
      }
    }
    return std::nullopt;
  }
  std::shared_ptr<kube::testing::FakeKubeApi> inner_;
  std::vector<std::pair<std::string, core::Error>> failures_;
};

class ClusterResolverTest : public ::testing::Test {
 protected:
  void put(const kube::ResourceRef& collection, const nlohmann::json& object) {
    fake_->put(collection.named(object["metadata"]["name"]), object);
  }
  void putSecret(const std::string& name, const std::map<std::string, std::string>& data,
                 const std::string& type = "Opaque",
                 const nlohmann::json& labels = nlohmann::json::object()) {
    put(res::secrets(kNs), secretObject(name, data, type, labels));
  }
  void putCnpg(const std::string& cluster, const std::string& password = kPassword) {
    put(res::cnpgClusters(kNs), named(cluster, {{"instances", 1}}));
    putSecret(cluster + "-app", {{"uri", "postgresql://app:" + core::percentEncode(password) + "@" +
                                             cluster + "-rw." + kNs + ":5432/app"},
                                 {"username", "app"},
                                 {"password", password},
                                 {"dbname", "app"},
                                 {"host", cluster + "-rw"},
                                 {"port", "5432"}});
    put(res::services(kNs),
        serviceObject(cluster + "-rw", "10.96.0.20", {{{"name", "postgres"}, {"port", 5432}}}));
  }
  void putBitnami(const std::string& release) {
    const nlohmann::json labels = {{"app.kubernetes.io/name", "postgresql"},
                                   {"app.kubernetes.io/instance", release}};
    put(res::services(kNs), serviceObject(release + "-postgresql", "10.96.0.30",
                                          {{{"name", "tcp-postgresql"}, {"port", 5432}}}, labels));
    put(res::services(kNs), serviceObject(release + "-postgresql-hl", "None",
                                          {{{"name", "tcp-postgresql"}, {"port", 5432}}}, labels));
    putSecret(release + "-postgresql", {{"postgres-password", "root-pw"}, {"password", kPassword}},
              "Opaque", labels);
    nlohmann::json sts = named(
        release + "-postgresql",
        {{"template",
          {{"spec",
            {{"containers",
              {{{"name", "postgresql"},
                {"env",
                 {{{"name", "POSTGRES_USER"}, {"value", "shop"}},
                  {{"name", "POSTGRES_PASSWORD"},
                   {"valueFrom",
                    {{"secretKeyRef", {{"name", release + "-postgresql"}, {"key", "password"}}}}}},
                  {{"name", "POSTGRES_DATABASE"}, {"value", "shopdb"}}}}}}}}}}}});
    sts["metadata"]["labels"] = labels;
    put(res::statefulSets(kNs), sts);
  }

  ClusterResolver resolver(ClusterDatabaseSpec spec = {},
                           std::optional<TargetContainer> target = std::nullopt) {
    return ClusterResolver(api_, kNs, std::move(spec), std::move(target), redactor_);
  }
  core::Result<ResolvedDatabase> resolve(ClusterDatabaseSpec spec = {},
                                         std::optional<TargetContainer> target = std::nullopt) {
    return resolver(std::move(spec), std::move(target)).resolve();
  }

  std::shared_ptr<kube::testing::FakeKubeApi> fake_ =
      std::make_shared<kube::testing::FakeKubeApi>();
  std::shared_ptr<FailingKubeApi> api_ = std::make_shared<FailingKubeApi>(fake_);
  core::RedactorPtr redactor_ = std::make_shared<core::Redactor>();
};

// ---------------------------------------------------------------- pure parts

TEST(ClusterSecretData, DecodesBase64AndLayersStringData) {
  nlohmann::json secret = secretObject("s", {{"a", "x:y@z"}, {"b", "old"}});
  secret["stringData"] = {{"b", "new"}, {"c", "plain"}};
  auto data = decodeSecretData(secret);
  ASSERT_TRUE(data.ok()) << data.error().message;
  EXPECT_EQ(data->at("a"), "x:y@z");
  EXPECT_EQ(data->at("b"), "new");
  EXPECT_EQ(data->at("c"), "plain");
}

TEST(ClusterSecretData, BadBase64NamesSecretAndKeyButNotTheValue) {
  nlohmann::json secret = {{"metadata", {{"name", "creds"}}},
                           {"data", {{"password", "%%%canary"}}}};
  auto data = decodeSecretData(secret);
  ASSERT_FALSE(data.ok());
  EXPECT_EQ(data.error().reason, core::reason::kInvalidDatabaseUrl);
  EXPECT_THAT(data.error().message, HasSubstr("\"creds\""));
  EXPECT_THAT(data.error().message, HasSubstr("\"password\""));
  EXPECT_THAT(data.error().message, Not(HasSubstr("canary")));
}

TEST(ClusterSecretConnection, UriWinsAndThePasswordKeyIsTheRawPassword) {
  auto info = connectionFromSecretData(
      {{"uri", "postgresql://app:p%40ss%2Fw%25rd@db.shop.svc:5433/app?sslmode=require"},
       {"password", "p@ss/w%rd"},
       {"host", "ignored"}},
      {}, "s");
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->host, "db.shop.svc");
  EXPECT_EQ(info->port, 5433);
  EXPECT_EQ(info->user, "app");
  EXPECT_EQ(info->password, "p@ss/w%rd");
  EXPECT_EQ(info->database, "app");
  ASSERT_EQ(info->params.size(), 1u);
  EXPECT_EQ(info->params[0].first, "sslmode");
}

TEST(ClusterSecretConnection, KeysWithAliasesAndDefaults) {
  auto info = connectionFromSecretData(
      {{"username", "u"}, {"password", kPassword}, {"database", "d"}, {"port", "6432"}},
      {"fallback-host", 5432, "other", "other-user"}, "s");
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->host, "fallback-host");
  EXPECT_EQ(info->port, 6432);
  EXPECT_EQ(info->user, "u");
  EXPECT_EQ(info->database, "d");
  EXPECT_EQ(info->password, kPassword);
  auto back = parseConnectionUrl(info->url());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->password, kPassword);
}

TEST(ClusterSecretConnection, DatabaseDefaultsToTheUserLikeLibpq) {
  auto info = connectionFromSecretData({{"host", "h"}, {"user", "u"}, {"password", "p"}}, {}, "s");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->database, "u");
}

TEST(ClusterSecretConnection, MissingKeysAreNamedWithoutValues) {
  auto info = connectionFromSecretData({{"host", "h"}, {"token", "canary-value"}}, {}, "binding");
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.error().reason, "DatabaseSecretMissing");
  EXPECT_FALSE(info.error().transient());
  EXPECT_THAT(info.error().message, HasSubstr("\"binding\""));
  EXPECT_THAT(info.error().message, HasSubstr("user (or username), password"));
  EXPECT_THAT(info.error().message, HasSubstr("its keys: host, token"));
  EXPECT_THAT(info.error().message, Not(HasSubstr("canary")));
}

TEST(ClusterSecretConnection, BadUriOrPortNeverQuotesTheValue) {
  // The parser would otherwise echo "port 'canary@h'" from a badly encoded password.
  auto uri = connectionFromSecretData({{"uri", "postgresql://u:x:canary@h:1/db"}}, {}, "s");
  ASSERT_TRUE(uri.ok());  // SQLAlchemy's grammar: the password runs to the first '@'
  auto bad = connectionFromSecretData({{"uri", "postgresql://u@h:canary/db"}}, {}, "s");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().reason, core::reason::kInvalidDatabaseUrl);
  EXPECT_THAT(bad.error().message, Not(HasSubstr("canary")));
  auto port = connectionFromSecretData(
      {{"host", "h"}, {"user", "u"}, {"password", "p"}, {"port", "canary"}}, {}, "s");
  ASSERT_FALSE(port.ok());
  EXPECT_THAT(port.error().message, HasSubstr("\"port\""));
  EXPECT_THAT(port.error().message, Not(HasSubstr("canary")));
}

struct ZalandoCase {
  const char* name;
  nlohmann::json spec;
  ZalandoChoice want;
};

class ZalandoPick : public ::testing::TestWithParam<ZalandoCase> {};

TEST_P(ZalandoPick, ChoosesUserAndDatabase) {
  EXPECT_EQ(pickZalandoDatabase(GetParam().spec), GetParam().want);
}

INSTANTIATE_TEST_SUITE_P(
    Table, ZalandoPick,
    ::testing::Values(
        // The operator's minimal manifest: foo_user sorts first but owns nothing.
        ZalandoCase{"minimal",
                    {{"users", {{"zalando", {"superuser"}}, {"foo_user", nlohmann::json::array()}}},
                     {"databases", {{"foo", "zalando"}}}},
                    {"zalando", "foo"}},
        ZalandoCase{"ownerOfSecond",
                    {{"users", {{"app", nlohmann::json::array()}}},
                     {"databases", {{"aaa", "other"}, {"shop", "app"}}}},
                    {"app", "shop"}},
        ZalandoCase{"userWithoutDatabases",
                    {{"users", {{"app", nlohmann::json::array()}}}},
                    {"app", "postgres"}},
        ZalandoCase{"databasesOnly", {{"databases", {{"shop", "owner"}}}}, {"owner", "shop"}},
        ZalandoCase{"prepared",
                    {{"preparedDatabases", {{"shop", nlohmann::json::object()}}}},
                    {"shop_owner", "shop"}},
        ZalandoCase{"empty", nlohmann::json::object(), {"postgres", "postgres"}}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(ZalandoSecret, NameReplacesUnderscores) {
  EXPECT_EQ(zalandoSecretName("foo_user", "acid-shop"),
            "foo-user.acid-shop.credentials.postgresql.acid.zalan.do");
}

TEST(ClusterServices, HeadlessPortAndHost) {
  EXPECT_TRUE(isHeadlessService(serviceObject("pg", "None", nlohmann::json::array())));
  EXPECT_TRUE(isHeadlessService(serviceObject("pg-postgresql-hl", "10.0.0.1", {})));
  EXPECT_FALSE(isHeadlessService(serviceObject("pg-postgresql", "10.0.0.1", {})));

  EXPECT_EQ(choosePostgresPort(serviceObject(
                "s", "",
                {{{"name", "metrics"}, {"port", 9187}}, {{"name", "postgres"}, {"port", 6432}}})),
            6432);
  EXPECT_EQ(choosePostgresPort(serviceObject(
                "s", "", {{{"name", "tcp-postgresql"}, {"port", 7000}}, {{"port", 1}}})),
            7000);
  EXPECT_EQ(choosePostgresPort(serviceObject("s", "", {{{"name", "x"}, {"port", 15432}}})), 15432);
  EXPECT_EQ(choosePostgresPort(serviceObject("s", "", nlohmann::json::array())), 5432);

  EXPECT_EQ(serviceHost(serviceObject("db", "10.96.1.2", {}), kNs), "10.96.1.2");
  EXPECT_EQ(serviceHost(serviceObject("db", "fd00::12", {}), kNs), "fd00::12");
  EXPECT_EQ(serviceHost(serviceObject("db", "None", {}), kNs), "db.shop.svc");
  EXPECT_EQ(serviceHost(serviceObject("db", "", {}), kNs), "db.shop.svc");
}

TEST(ClusterDriver, SetsSchemeAndTranslatesSslParameter) {
  ConnectionInfo info;
  info.params = {{"sslmode", "require"}};
  ConnectionInfo async = withDriver(info, "postgresql+asyncpg");
  EXPECT_EQ(async.scheme, "postgresql+asyncpg");
  EXPECT_EQ(async.params[0].first, "ssl");
  ConnectionInfo sync = withDriver(async, "postgresql+psycopg2");
  EXPECT_EQ(sync.params[0].first, "sslmode");
  EXPECT_EQ(sync.params[0].second, "require");
}

TEST(ClusterDatabaseSpecParsing, NullMeansDiscoverAndLetTheAppDecideTheDriver) {
  auto spec = parseClusterDatabaseSpec(nullptr);
  ASSERT_TRUE(spec.ok());
  EXPECT_FALSE(spec->explicitConnection());
  EXPECT_EQ(spec->driver, "");
  auto automatic = parseClusterDatabaseSpec({{"driver", "auto"}});
  ASSERT_TRUE(automatic.ok());
  EXPECT_EQ(automatic->driver, "");
}

TEST(ClusterDatabaseSpecParsing, ReadsUrlFromAndExplicitFields) {
  auto url = parseClusterDatabaseSpec(
      {{"urlFrom", {{"secretKeyRef", {{"name", "app-db"}, {"key", "uri"}}}}},
       {"driver", "postgresql+psycopg2"}});
  ASSERT_TRUE(url.ok()) << url.error().message;
  EXPECT_EQ(url->urlFrom, (SecretKeyRef{"app-db", "uri"}));
  EXPECT_EQ(url->driver, "postgresql+psycopg2");
  auto fields = parseClusterDatabaseSpec(
      {{"host", "db"},
       {"port", 6543},
       {"name", "shop"},
       {"user", "app"},
       {"passwordFrom", {{"secretKeyRef", {{"name", "pw"}, {"key", "password"}}}}}});
  ASSERT_TRUE(fields.ok()) << fields.error().message;
  EXPECT_EQ(fields->host, "db");
  EXPECT_EQ(fields->port, 6543);
  EXPECT_EQ(fields->passwordFrom, (SecretKeyRef{"pw", "password"}));
}

TEST(ClusterDatabaseSpecParsing, ContradictionsAreUsageErrors) {
  for (const nlohmann::json& bad :
       {nlohmann::json{{"urlFrom", {{"secretKeyRef", {{"name", "a"}, {"key", "b"}}}}},
                       {"host", "h"}},
        nlohmann::json{{"host", "h"}}, nlohmann::json{{"user", "u"}},
        nlohmann::json{{"urlFrom", {{"secretKeyRef", {{"name", "a"}}}}}},
        nlohmann::json{{"driver", "mysql+aiomysql"}}}) {
    auto spec = parseClusterDatabaseSpec(bad);
    ASSERT_FALSE(spec.ok()) << bad.dump();
    EXPECT_EQ(spec.error().reason, core::reason::kUsageError);
    EXPECT_THAT(spec.error().message, HasSubstr("spec.database"));
  }
}

// ---------------------------------------------------------------- sources

TEST_F(ClusterResolverTest, SpecUrlFromSecretWithoutDriver_LeavesTheSchemeToTheApp) {
  putSecret("app-db",
            {{"uri", "postgres://app:" + core::percentEncode(kPassword) + "@db:5432/shop"}});
  ClusterDatabaseSpec spec;
  spec.urlFrom = SecretKeyRef{"app-db", "uri"};
  auto resolved = resolve(spec);
  ASSERT_TRUE(resolved.ok()) << resolved.error().message;
  EXPECT_EQ(resolved->source, "secret/app-db");
  EXPECT_EQ(resolved->connection.scheme, "postgresql");
  EXPECT_FALSE(resolved->schemeChosen);
  EXPECT_EQ(resolved->connection.password, kPassword);
  EXPECT_EQ(resolved->connection.database, "shop");
  EXPECT_THAT(redactor_->scrub(std::string("x ") + kPassword), Not(HasSubstr(kPassword)));
}

TEST_F(ClusterResolverTest, SpecExplicitFieldsWithPasswordFrom) {
  putSecret("pw", {{"password", kPassword}});
  ClusterDatabaseSpec spec;
  spec.host = "db.shop.svc";
  spec.port = 6543;
  spec.user = "app";
  spec.passwordFrom = SecretKeyRef{"pw", "password"};
  auto resolved = resolve(spec);
  ASSERT_TRUE(resolved.ok()) << resolved.error().message;
  EXPECT_EQ(resolved->source, "spec");
  EXPECT_EQ(resolved->connection.database, "app");
  EXPECT_EQ(resolved->connection.port, 6543);
  auto back = parseConnectionUrl(resolved->connection.url());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->password, kPassword);
  EXPECT_EQ(back->scheme, "postgresql");
  EXPECT_FALSE(resolved->schemeChosen);
}

TEST_F(ClusterResolverTest, SpecDriver_IsTheSchemeAndCounts) {
  putSecret("app-db", {{"uri", "postgresql://app:pw@db:5432/shop?ssl=true"}});
  ClusterDatabaseSpec spec;
  spec.urlFrom = SecretKeyRef{"app-db", "uri"};
  spec.driver = "postgresql+psycopg2";
  auto resolved = resolve(spec);
  ASSERT_TRUE(resolved.ok()) << resolved.error().message;
  EXPECT_EQ(resolved->connection.scheme, "postgresql+psycopg2");
  EXPECT_TRUE(resolved->schemeChosen);
  EXPECT_EQ(resolved->connection.params.at(0).first, "sslmode");
}

TEST_F(ClusterResolverTest, SpecWinsOverEveryDiscoveredSource) {
  putCnpg("pg");
  putBitnami("rel");
  putSecret("pw", {{"password", "x"}});
  ClusterDatabaseSpec spec;
  spec.host = "explicit";
  spec.user = "u";
  spec.passwordFrom = SecretKeyRef{"pw", "password"};
  auto resolved = resolve(spec);
  ASSERT_TRUE(resolved.ok());
  EXPECT_EQ(resolved->source, "spec");
  EXPECT_EQ(resolved->connection.host, "explicit");
}

TEST_F(ClusterResolverTest, SpecSecretMissingNamesSecretAndKey) {
  ClusterDatabaseSpec spec;
  spec.urlFrom = SecretKeyRef{"app-db", "uri"};
  auto missing = resolve(spec);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().reason, "DatabaseSecretMissing");
  EXPECT_FALSE(missing.error().transient());
  EXPECT_THAT(missing.error().message, HasSubstr("spec.database.urlFrom"));
  EXPECT_THAT(missing.error().message, HasSubstr("\"app-db\" not found in namespace shop"));

  putSecret("app-db", {{"url", "postgresql://u:canary@h/db"}});
  auto noKey = resolve(spec);
  ASSERT_FALSE(noKey.ok());
  EXPECT_EQ(noKey.error().reason, "DatabaseSecretMissing");
  EXPECT_THAT(noKey.error().message, HasSubstr("has no key \"uri\" (its keys: url)"));
  EXPECT_THAT(noKey.error().message, Not(HasSubstr("canary")));
}

TEST_F(ClusterResolverTest, ServiceBindingSecretUriWinsOverItsKeys) {
  putSecret("db-binding",
            {{"type", "postgresql"},
             {"uri", "postgresql://app:" + core::percentEncode(kPassword) + "@10.0.0.9:5433/shop"},
             {"host", "elsewhere"},
             {"username", "app"},
             {"password", kPassword},
             {"database", "shop"}},
            "servicebinding.io/postgresql");
  putSecret("unrelated", {{"uri", "postgresql://x:y@z/w"}});
  auto resolved = resolve();
  ASSERT_TRUE(resolved.ok()) << resolved.error().message;
  EXPECT_EQ(resolved->source, "servicebinding/db-binding");
  EXPECT_EQ(resolved->connection.host, "10.0.0.9");
  EXPECT_EQ(resolved->connection.port, 5433);
  EXPECT_EQ(resolved->connection.password, kPassword);
  EXPECT_EQ(resolved->connection.scheme, "postgresql");
  EXPECT_FALSE(resolved->schemeChosen);
}

TEST_F(ClusterResolverTest, ServiceBindingFromKeysWinsOverCnpg) {
  putCnpg("pg");
  putSecret("binding",
            {{"host", "h"},
             {"port", "5432"},
             {"username", "u"},
             {"password", kPassword},
             {"database", "d"}},
            "servicebinding.io/postgresql");
  auto resolved = resolve();
  ASSERT_TRUE(resolved.ok()) << resolved.error().message;
  EXPECT_EQ(resolved->source, "servicebinding/binding");
  EXPECT_EQ(resolved->connection.database, "d");
}

TEST_F(ClusterResolverTest, CnpgUsesTheAppSecretAndTheRwServiceIp) {
  putCnpg("pg");
  auto resolved = resolve();
  ASSERT_TRUE(resolved.ok()) << resolved.error().message;
  EXPECT_EQ(resolved->source, "cnpg/pg");
  EXPECT_EQ(resolved->connection.host, "10.96.0.20");
  EXPECT_EQ(resolved->connection.port, 5432);
  EXPECT_EQ(resolved->connection.user, "app");
  EXPECT_EQ(resolved->connection.database, "app");
  EXPECT_EQ(resolved->connection.password, kPassword);
  EXPECT_EQ(resolved->connection.scheme, "postgresql");
  EXPECT_FALSE(resolved->schemeChosen);
  EXPECT_TRUE(resolved->notes.empty());
}

TEST_F(ClusterResolverTest, CnpgWinsOverBitnamiAndCrunchy) {
  putBitnami("rel");
  put(res::crunchyPostgresClusters(kNs), named("hippo"));
  putSecret("hippo-pguser-hippo", {{"uri", "postgresql://hippo:x@hippo-primary:5432/hippo"}});
  putCnpg("pg");
  auto resolved = resolve();
  ASSERT_TRUE(resolved.ok()) << resolved.error().message;
  EXPECT_EQ(resolved->source, "cnpg/pg");
}

TEST_F(ClusterResolverTest, CnpgWithoutServiceKeepsTheSecretHostAndKeysFallback) {
  put(res::cnpgClusters(kNs), named("pg"));
  putSecret("pg-app", {{"host", "pg-rw"},
                       {"port", "5432"},
                       {"dbname", "app"},
                       {"user", "app"},
                       {"password", kPassword}});
  auto resolved = resolve();
  ASSERT_TRUE(resolved.ok()) << resolved.error().message;
  EXPECT_EQ(resolved->connection.host, "pg-rw");
  EXPECT_EQ(resolved->connection.password, kPassword);
}

TEST_F(ClusterResolverTest, CnpgInitdbSecretIsUsedWhenThereIsNoAppSecret) {
  put(res::cnpgClusters(kNs),
      named("pg",
            {{"bootstrap",
              {{"initdb",
                {{"database", "shop"}, {"owner", "shopper"}, {"secret", {{"name", "mine"}}}}}}}}));
  putSecret("mine", {{"username", "shopper"}, {"password", kPassword}});
  auto resolved = resolve();
  ASSERT_TRUE(resolved.ok()) << resolved.error().message;
  EXPECT_EQ(resolved->connection.host, "pg-rw.shop.svc");
  EXPECT_EQ(resolved->connection.database, "shop");
  EXPECT_EQ(resolved->connection.user, "shopper");
}

TEST_F(ClusterResolverTest, CnpgSecretNotYetCreatedIsTransient) {
  put(res::cnpgClusters(kNs), named("pg"));
  auto resolved = resolve();
  ASSERT_FALSE(resolved.ok());
  EXPECT_EQ(resolved.error().reason, "DatabaseSecretMissing");
  EXPECT_TRUE(resolved.error().transient());
  EXPECT_THAT(resolved.error().message, HasSubstr("\"pg-app\""));
}

TEST_F(ClusterResolverTest, SeveralClustersUseTheFirstByNameWithANote) {
  putCnpg("zeta");
  putCnpg("alpha", "other");
  auto resolved = resolve();
  ASSERT_TRUE(resolved.ok()) << resolved.error().message;
  EXPECT_EQ(resolved->source, "cnpg/alpha");
  ASSERT_EQ(resolved->notes.size(), 1u);
  EXPECT_THAT(resolved->notes[0], HasSubstr("alpha, zeta"));
  EXPECT_THAT(resolved->notes[0], HasSubstr("spec.database"));
}

TEST_F(ClusterResolverTest, CrunchyUsesTheFirstUsersSecret) {
  put(res::crunchyPostgresClusters(kNs),
      named("hippo",
            {{"users", {{{"name", "rhino"}, {"databases", {"zoo"}}}, {{"name", "other"}}}}}));
  putSecret("hippo-pguser-rhino", {{"uri", "postgresql://rhino:" + core::percentEncode(kPassword) +
                                               "@hippo-primary.shop.svc:5432/zoo"},
                                   {"password", kPassword}});
  auto resolved = resolve();
  ASSERT_TRUE(resolved.ok()) << resolved.error().message;
  EXPECT_EQ(resolved->source, "crunchy/hippo");
  EXPECT_EQ(resolved->connection.host, "hippo-primary.shop.svc");
  EXPECT_EQ(resolved->connection.user, "rhino");
  EXPECT_EQ(resolved->connection.database, "zoo");
  EXPECT_EQ(resolved->connection.password, kPassword);
}

TEST_F(ClusterResolverTest, CrunchyDefaultUserIsTheClusterNameAndAClusterIpPrimaryWins) {
  put(res::crunchyPostgresClusters(kNs), named("hippo"));
  putSecret("hippo-pguser-hippo", {{"host", "hippo-primary.shop.svc"},
                                   {"port", "5432"},
                                   {"user", "hippo"},
                                   {"dbname", "hippo"},
                                   {"password", kPassword}});
  put(res::services(kNs),
      serviceObject("hippo-primary", "10.96.3.3", {{{"name", "postgres"}, {"port", 5432}}}));
  auto resolved = resolve();
  ASSERT_TRUE(resolved.ok()) << resolved.error().message;
  EXPECT_EQ(resolved->connection.host, "10.96.3.3");
  EXPECT_EQ(resolved->connection.user, "hippo");
}

TEST_F(ClusterResolverTest, ZalandoUsesTheOwnersSecretAndTheClusterService) {
  put(res::zalandoPostgresqls(kNs),
      named("acid-shop",
            {{"users", {{"shop_owner", nlohmann::json::array()}, {"audit", {"login"}}}},
             {"databases", {{"shop", "shop_owner"}}}}));
  putSecret("shop-owner.acid-shop.credentials.postgresql.acid.zalan.do",
            {{"username", "shop_owner"}, {"password", kPassword}});
  put(res::services(kNs),
      serviceObject("acid-shop", "10.96.4.4", {{{"name", "postgresql"}, {"port", 5432}}}));
  auto resolved = resolve();
  ASSERT_TRUE(resolved.ok()) << resolved.error().message;
  EXPECT_EQ(resolved->source, "zalando/acid-shop");
  EXPECT_EQ(resolved->connection.host, "10.96.4.4");
  EXPECT_EQ(resolved->connection.user, "shop_owner");
  EXPECT_EQ(resolved->connection.database, "shop");
  EXPECT_EQ(resolved->connection.password, kPassword);
}

TEST_F(ClusterResolverTest, BitnamiReadsTheStatefulSetEnvAndSkipsHeadless) {
  putBitnami("rel");
  auto resolved = resolve();
  ASSERT_TRUE(resolved.ok()) << resolved.error().message;
  EXPECT_EQ(resolved->source, "bitnami/rel-postgresql");
  EXPECT_EQ(resolved->connection.host, "10.96.0.30");
  EXPECT_EQ(resolved->connection.user, "shop");
  EXPECT_EQ(resolved->connection.database, "shopdb");
  EXPECT_EQ(resolved->connection.password, kPassword);
  EXPECT_TRUE(resolved->notes.empty());  // the -hl service is not a second candidate
  // Every password read is masked from then on, the superuser's unused one included.
  EXPECT_EQ(redactor_->scrub("root-pw"), "****");
}

TEST_F(ClusterResolverTest, BitnamiWithPasswordFilesUsesTheReleaseSecretForPostgres) {
  const nlohmann::json labels = {{"app.kubernetes.io/name", "postgresql"},
                                 {"app.kubernetes.io/instance", "rel"}};
  put(res::services(kNs), serviceObject("rel-postgresql", "10.96.0.31",
                                        {{{"name", "tcp-postgresql"}, {"port", 5432}}}, labels));
  putSecret("rel-postgresql", {{"postgres-password", kPassword}}, "Opaque", labels);
  auto resolved = resolve();
  ASSERT_TRUE(resolved.ok()) << resolved.error().message;
  EXPECT_EQ(resolved->connection.user, "postgres");
  EXPECT_EQ(resolved->connection.database, "postgres");
  EXPECT_EQ(resolved->connection.password, kPassword);
}

TEST_F(ClusterResolverTest, BitnamiOnlyHeadlessServiceIsNotADatabase) {
  const nlohmann::json labels = {{"app.kubernetes.io/name", "postgresql"},
                                 {"app.kubernetes.io/instance", "rel"}};
  put(res::services(kNs),
      serviceObject("rel-postgresql-hl", "None", nlohmann::json::array(), labels));
  put(res::services(kNs), serviceObject("rel-headless", "None", nlohmann::json::array(), labels));
  putSecret("rel-postgresql", {{"postgres-password", kPassword}}, "Opaque", labels);
  auto resolved = resolve();
  ASSERT_FALSE(resolved.ok());
  EXPECT_EQ(resolved.error().reason, "DatabaseNotDiscovered");
  EXPECT_THAT(resolved.error().message, HasSubstr("no Bitnami postgresql service"));
}

TEST_F(ClusterResolverTest, BitnamiWinsOverTheContainerEnv) {
  putBitnami("rel");
  TargetContainer target{
      podObject("web-0",
                {{{"name", "app"},
                  {"env", {{{"name", "DATABASE_URL"}, {"value", "postgresql://a:b@c/d"}}}}}}),
      "app"};
  auto resolved = resolve({}, target);
  ASSERT_TRUE(resolved.ok());
  EXPECT_EQ(resolved->source, "bitnami/rel-postgresql");
}

TEST_F(ClusterResolverTest, EnvValueKeepsTheAppsScheme) {
  TargetContainer target{
      podObject("web-0", {{{"name", "sidecar"}},
                          {{"name", "app"},
                           {"env",
                            {{{"name", "DATABASE_URL"},
                              {"value", "postgresql+psycopg2://app:" +
                                            core::percentEncode(kPassword) + "@db:5432/shop"}}}}}}),
      "app"};
  auto resolved = resolve({}, target);
  ASSERT_TRUE(resolved.ok()) << resolved.error().message;
  EXPECT_EQ(resolved->source, "env/web-0/app");
  EXPECT_EQ(resolved->connection.scheme, "postgresql+psycopg2");
  EXPECT_TRUE(resolved->schemeChosen);
  EXPECT_EQ(resolved->connection.password, kPassword);
}

TEST_F(ClusterResolverTest, EnvFromSecretKeyRefAndVariableReferences) {
  putSecret("db-pass", {{"password", "pw"}});
  putSecret("db-url", {{"DATABASE_URL", "postgresql://u:from-secret@h/db"}});
  nlohmann::json container = {
      {"name", "app"},
      {"env",
       {{{"name", "DB_PASS"},
         {"valueFrom", {{"secretKeyRef", {{"name", "db-pass"}, {"key", "password"}}}}}},
        {{"name", "DATABASE_URL"},
         {"value", "postgresql+asyncpg://app:$(DB_PASS)@db:5432/$(DB_NAME)x$$(DB_PASS)"}}}}};
  auto resolved =
      resolve({}, TargetContainer{podObject("web-0", nlohmann::json::array({container})), ""});
  ASSERT_TRUE(resolved.ok()) << resolved.error().message;
  EXPECT_EQ(resolved->connection.password, "pw");
  // An unknown reference stays as written and $$ escapes, as the kubelet does.
  EXPECT_EQ(resolved->connection.database, "$(DB_NAME)x$(DB_PASS)");

  nlohmann::json fromSecret = {{"name", "app"},
                               {"envFrom", {{{"secretRef", {{"name", "db-url"}}}}}}};
  auto viaEnvFrom =
      resolve({}, TargetContainer{podObject("web-0", nlohmann::json::array({fromSecret})), "app"});
  ASSERT_TRUE(viaEnvFrom.ok()) << viaEnvFrom.error().message;
  EXPECT_EQ(viaEnvFrom->connection.password, "from-secret");
  EXPECT_EQ(viaEnvFrom->connection.scheme, "postgresql");
}

TEST_F(ClusterResolverTest, EnvSecretKeyRefMissingKeyNamesIt) {
  putSecret("db-url", {{"other", "canary"}});
  nlohmann::json container = {
      {"name", "app"},
      {"env",
       {{{"name", "DATABASE_URL"},
         {"valueFrom", {{"secretKeyRef", {{"name", "db-url"}, {"key", "url"}}}}}}}}};
  auto resolved =
      resolve({}, TargetContainer{podObject("web-0", nlohmann::json::array({container})), "app"});
  ASSERT_FALSE(resolved.ok());
  EXPECT_EQ(resolved.error().reason, "DatabaseSecretMissing");
  EXPECT_THAT(resolved.error().message, HasSubstr("\"app\" env DATABASE_URL"));
  EXPECT_THAT(resolved.error().message, HasSubstr("has no key \"url\""));
  EXPECT_THAT(resolved.error().message, Not(HasSubstr("canary")));
}

TEST_F(ClusterResolverTest, EnvUrlThatIsNotPostgresIsRefusedWithoutQuotingIt) {
  nlohmann::json container = {
      {"name", "app"}, {"env", {{{"name", "DATABASE_URL"}, {"value", "mysql://u:canary@h/db"}}}}};
  auto resolved =
      resolve({}, TargetContainer{podObject("web-0", nlohmann::json::array({container})), "app"});
  ASSERT_FALSE(resolved.ok());
  EXPECT_EQ(resolved.error().reason, core::reason::kInvalidDatabaseUrl);
  EXPECT_THAT(resolved.error().message, HasSubstr("DATABASE_URL of container app in pod web-0"));
  EXPECT_THAT(resolved.error().message, Not(HasSubstr("canary")));
}

// ---------------------------------------------------------------- nothing found, API errors

TEST_F(ClusterResolverTest, NothingFoundListsWhatWasLookedForWhere) {
  nlohmann::json container = {{"name", "app"}, {"env", {{{"name", "OTHER"}, {"value", "x"}}}}};
  auto resolved =
      resolve({}, TargetContainer{podObject("web-0", nlohmann::json::array({container})), "app"});
  ASSERT_FALSE(resolved.ok());
  EXPECT_EQ(resolved.error().reason, "DatabaseNotDiscovered");
  EXPECT_FALSE(resolved.error().transient());
  EXPECT_EQ(resolved.error().message,
            "no database found in namespace shop: no spec.database, no "
            "servicebinding.io/postgresql secret, no CloudNativePG cluster, no Crunchy "
            "PostgresCluster, no Zalando postgresql, no Bitnami postgresql service (label "
            "app.kubernetes.io/name=postgresql), no DATABASE_URL in container app of pod web-0; "
            "set spec.database in the MigrationRun (urlFrom.secretKeyRef, or host, user and "
            "passwordFrom.secretKeyRef)");
}

TEST_F(ClusterResolverTest, MissingCrdsAreSkippedAndSaidSo) {
  api_->failPath(
      "/apis/postgresql.cnpg.io/",
      core::Error::terminal(kube::kNotFound, "the server could not find the requested resource"));
  putBitnami("rel");
  auto resolved = resolve();
  ASSERT_TRUE(resolved.ok()) << resolved.error().message;
  EXPECT_EQ(resolved->source, "bitnami/rel-postgresql");

  fake_ = std::make_shared<kube::testing::FakeKubeApi>();
  api_ = std::make_shared<FailingKubeApi>(fake_);
  api_->failPath("/apis/acid.zalan.do/", core::Error::terminal(kube::kNotFound, "not found"));
  auto none = resolve();
  ASSERT_FALSE(none.ok());
  EXPECT_THAT(none.error().message,
              HasSubstr("no Zalando postgresql (acid.zalan.do not installed)"));
  EXPECT_THAT(none.error().message, HasSubstr("no target pod"));
}

TEST_F(ClusterResolverTest, ForbiddenSaysWhichPermissionIsMissing) {
  api_->failPath("/apis/postgres-operator.crunchydata.com/",
                 core::Error::terminal(
                     kube::kForbidden,
                     "GET /apis/postgres-operator.crunchydata.com/v1beta1/namespaces/shop/"
                     "postgresclusters: 403 Forbidden: postgresclusters.postgres-operator."
                     "crunchydata.com is forbidden: User \"system:serviceaccount:shop:sidecar\" "
                     "cannot list resource \"postgresclusters\""));
  putBitnami("rel");  // a lower source must not be used when a higher one could not be read
  auto resolved = resolve();
  ASSERT_FALSE(resolved.ok());
  EXPECT_EQ(resolved.error().reason, kube::kForbidden);
  EXPECT_FALSE(resolved.error().transient());
  EXPECT_THAT(resolved.error().message,
              HasSubstr("may not list postgresclusters.postgres-operator.crunchydata.com in "
                        "namespace shop"));
  EXPECT_THAT(resolved.error().message,
              HasSubstr("apiGroups: [\"postgres-operator.crunchydata.com\"], resources: "
                        "[\"postgresclusters\"], verbs: [\"list\"]"));
  EXPECT_THAT(resolved.error().message, HasSubstr("system:serviceaccount:shop:sidecar"));
}

TEST_F(ClusterResolverTest, TransientApiErrorsStayTransient) {
  api_->failPath("/api/v1/namespaces/shop/secrets",
                 core::Error::retryable(kube::kServerError, "GET ...: 503 ServerError: etcd"));
  auto resolved = resolve();
  ASSERT_FALSE(resolved.ok());
  EXPECT_EQ(resolved.error().reason, kube::kServerError);
  EXPECT_TRUE(resolved.error().transient());
  EXPECT_THAT(resolved.error().message, HasSubstr("cannot list secrets in namespace shop"));
}

TEST_F(ClusterResolverTest, NoPasswordInAnyErrorMessage) {
  const std::string canary = "Canary-p@ss/w%rd-31337";
  const std::string encoded = core::percentEncode(canary);
  std::vector<std::string> messages;
  auto collect = [&](const core::Result<ResolvedDatabase>& result) {
    ASSERT_FALSE(result.ok());
    messages.push_back(result.error().message);
  };

  ClusterDatabaseSpec urlSpec;
  urlSpec.urlFrom = SecretKeyRef{"app-db", "uri"};
  putSecret("app-db", {{"url", "postgresql://u:" + encoded + "@h/db"}, {"password", canary}});
  collect(resolve(urlSpec));  // wrong key
  putSecret("app-db", {{"uri", "mysql://u:" + canary + "@h/db"}});
  collect(resolve(urlSpec));  // not a PostgreSQL URL

  ClusterDatabaseSpec fields;
  fields.host = "h";
  fields.user = "u";
  fields.passwordFrom = SecretKeyRef{"app-db", "password"};
  collect(resolve(fields));  // key missing

  putSecret("binding", {{"password", canary}, {"port", canary}, {"host", "h"}, {"username", "u"}},
            "servicebinding.io/postgresql");
  collect(resolve());  // bad port next to the password
  fake_->erase(res::secrets(kNs).named("binding"));

  put(res::zalandoPostgresqls(kNs), named("acid-x"));
  putSecret("postgres.acid-x.credentials.postgresql.acid.zalan.do", {{"secret", canary}});
  collect(resolve());  // no password key
  fake_->erase(res::zalandoPostgresqls(kNs).named("acid-x"));

  nlohmann::json container = {
      {"name", "app"},
      {"env", {{{"name", "DATABASE_URL"}, {"value", "postgresql://u@h:" + encoded + "/d"}}}}};
  collect(
      resolve({}, TargetContainer{podObject("web-0", nlohmann::json::array({container})), "app"}));

  ASSERT_EQ(messages.size(), 6u);
  for (const auto& message : messages) {
    EXPECT_THAT(message, Not(HasSubstr("Canary"))) << message;
    EXPECT_THAT(message, Not(HasSubstr("31337"))) << message;
  }
}

}  // namespace
}  // namespace alembic_sidecar::database
