#include "database/cluster_resolver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "core/json_util.h"
#include "core/reasons.h"
#include "kube/api_errors.h"
#include "kube/base64.h"
#include "kube/resources.h"

namespace alembic_sidecar::database {
namespace {

// Reason codes of this resolver; they belong in core/reasons.h and move there.

constexpr char kAutoDriver[] = "auto";
constexpr char kServiceBindingType[] = "servicebinding.io/postgresql";
constexpr char kNameLabel[] = "app.kubernetes.io/name";
constexpr char kInstanceLabel[] = "app.kubernetes.io/instance";
constexpr char kComponentLabel[] = "app.kubernetes.io/component";
constexpr char kDatabaseUrlVar[] = "DATABASE_URL";
constexpr char kUrlShape[] =
    "expected postgresql[+driver]://user:password@host:port/db, with special characters of "
    "the password percent-encoded";
// $(VAR) references only reach earlier variables, so this only guards against bad input.
constexpr int kMaxEnvDepth = 16;

std::string inQuotes(const std::string& text) { return "\"" + text + "\""; }

std::string join(const std::vector<std::string>& parts, const std::string& separator) {
  std::string out;
  for (const auto& part : parts) {
    if (!out.empty()) {
      out += separator;
    }
    out += part;
  }
  return out;
}

std::string keysOf(const std::map<std::string, std::string>& data) {
  std::vector<std::string> keys;
  for (const auto& [key, value] : data) {
    keys.push_back(key);
  }
  return keys.empty() ? "none" : join(keys, ", ");
}

const nlohmann::json& objectField(const nlohmann::json& j, const char* key) {
  static const nlohmann::json kEmpty = nlohmann::json::object();
  if (!j.is_object()) {
    return kEmpty;
  }
  auto it = j.find(key);
  return it != j.end() && it->is_object() ? *it : kEmpty;
}

std::string nameOf(const nlohmann::json& object) {
  return core::stringField(objectField(object, "metadata"), "name");
}

std::string labelOf(const nlohmann::json& object, const char* label) {
  return core::stringField(objectField(objectField(object, "metadata"), "labels"), label);
}

core::Result<int> parsePortText(const std::string& text) {
  int port = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (ec != std::errc() || ptr != text.data() + text.size() || port <= 0 || port > 65535) {
    return core::Error::terminal(core::reason::kInvalidDatabaseUrl, "not a port");
  }
  return port;
}

bool isIpAddress(const std::string& text) {
  unsigned char buffer[sizeof(struct in6_addr)];
  return inet_pton(AF_INET, text.c_str(), buffer) == 1 ||
         inet_pton(AF_INET6, text.c_str(), buffer) == 1;
}

core::Error usage(const std::string& message) {
  return core::Error::terminal(core::reason::kUsageError, message);
}

core::Result<std::optional<SecretKeyRef>> parseSecretRef(const nlohmann::json& parent,
                                                         const char* field,
                                                         const std::string& path) {
  if (!parent.contains(field) || parent[field].is_null()) {
    return std::optional<SecretKeyRef>();
  }
  const nlohmann::json& ref = objectField(parent[field], "secretKeyRef");
  SecretKeyRef out{core::stringField(ref, "name"), core::stringField(ref, "key")};
  if (out.name.empty() || out.key.empty()) {
    return usage(path + ".secretKeyRef needs a name and a key");
  }
  return std::optional<SecretKeyRef>(out);
}

core::Status validateSpec(const ClusterDatabaseSpec& spec) {
  const std::string& driver = spec.driver;
  if (!driver.empty() && driver != "postgresql" && driver.rfind("postgresql+", 0) != 0) {
    return usage("spec.database.driver " + inQuotes(driver) +
                 " is not a PostgreSQL SQLAlchemy driver (auto, postgresql or "
                 "postgresql+<driver>, e.g. postgresql+psycopg2)");
  }
  if (spec.urlFrom && !spec.host.empty()) {
    return usage("spec.database: set either urlFrom or host, not both");
  }
  if (!spec.host.empty() && spec.user.empty()) {
    return usage("spec.database.host is set but spec.database.user is not");
  }
  if (!spec.urlFrom && spec.host.empty() && (!spec.user.empty() || spec.passwordFrom)) {
    return usage("spec.database.user/passwordFrom need spec.database.host");
  }
  if (spec.port <= 0 || spec.port > 65535) {
    return usage("spec.database.port must be between 1 and 65535");
  }
  return {};
}

core::Error invalidSecretUrl(const std::string& where) {
  return core::Error::terminal(core::reason::kInvalidDatabaseUrl,
                               where + " is not a valid PostgreSQL URL (" + kUrlShape + ")");
}

std::optional<std::string> firstValue(const std::map<std::string, std::string>& data,
                                      const std::vector<const char*>& keys) {
  for (const char* key : keys) {
    auto it = data.find(key);
    if (it != data.end() && !it->second.empty()) {
      return it->second;
    }
  }
  return std::nullopt;
}

/** Objects sorted by name (the API already does; fakes and other servers may not). */
std::vector<nlohmann::json> sortedByName(std::vector<nlohmann::json> items) {
  std::stable_sort(
      items.begin(), items.end(),
      [](const nlohmann::json& a, const nlohmann::json& b) { return nameOf(a) < nameOf(b); });
  return items;
}

/** A note when a source had several candidates. */
std::vector<std::string> choiceNotes(const std::vector<nlohmann::json>& items,
                                     const std::string& kind) {
  if (items.size() < 2) {
    return {};
  }
  std::vector<std::string> names;
  for (const auto& item : items) {
    names.push_back(nameOf(item));
  }
  return {"found " + std::to_string(items.size()) + " " + kind + " (" + join(names, ", ") +
          "); using " + names.front() + "; set spec.database to choose another"};
}

const nlohmann::json& podSpecContainers(const nlohmann::json& object) {
  // A Pod (spec.containers) or a workload (spec.template.spec.containers).
  const nlohmann::json& spec = objectField(object, "spec");
  if (spec.contains("containers")) {
    return core::arrayField(spec, "containers");
  }
  return core::arrayField(objectField(objectField(spec, "template"), "spec"), "containers");
}

bool definesEnv(const nlohmann::json& container, const std::string& name) {
  for (const auto& entry : core::arrayField(container, "env")) {
    if (core::stringField(entry, "name") == name) {
      return true;
    }
  }
  return false;
}

}  // namespace

core::Result<ClusterDatabaseSpec> parseClusterDatabaseSpec(const nlohmann::json& database) {
  ClusterDatabaseSpec spec;
  if (database.is_null()) {
    return spec;
  }
  if (!database.is_object()) {
    return usage("spec.database must be an object");
  }
  auto urlFrom = parseSecretRef(database, "urlFrom", "spec.database.urlFrom");
  if (!urlFrom) {
    return urlFrom.error();
  }
  auto passwordFrom = parseSecretRef(database, "passwordFrom", "spec.database.passwordFrom");
  if (!passwordFrom) {
    return passwordFrom.error();
  }
  spec.urlFrom = *urlFrom;
  spec.passwordFrom = *passwordFrom;
  spec.host = core::stringField(database, "host");
  spec.port = static_cast<int>(core::intField(database, "port", 5432));
  spec.name = core::stringField(database, "name");
  spec.user = core::stringField(database, "user");
  spec.driver = core::stringField(database, "driver");
  if (spec.driver == kAutoDriver) {
    spec.driver.clear();
  }
  if (auto valid = validateSpec(spec); !valid) {
    return valid.error();
  }
  return spec;
}

core::Result<std::map<std::string, std::string>> decodeSecretData(const nlohmann::json& secret) {
  std::map<std::string, std::string> out;
  for (const auto& [key, value] : objectField(secret, "data").items()) {
    if (value.is_null()) {
      out[key] = "";
      continue;
    }
    std::optional<std::string> decoded;
    if (value.is_string()) {
      decoded = kube::decodeBase64(value.get<std::string>());
    }
    if (!decoded) {
      return core::Error::terminal(
          core::reason::kInvalidDatabaseUrl,
          "secret " + inQuotes(nameOf(secret)) + " key " + inQuotes(key) + " is not valid base64");
    }
    out[key] = std::move(*decoded);
  }
  for (const auto& [key, value] : objectField(secret, "stringData").items()) {
    if (value.is_string()) {
      out[key] = value.get<std::string>();
    }
  }
  return out;
}

core::Result<ConnectionInfo> connectionFromSecretData(
    const std::map<std::string, std::string>& data, const ConnectionDefaults& defaults,
    const std::string& secretName) {
  const std::string where = "secret " + inQuotes(secretName);
  if (auto uri = firstValue(data, {"uri"})) {
    auto parsed = parseConnectionUrl(*uri);
    if (!parsed) {
      return invalidSecretUrl(where + " key \"uri\"");
    }
    if (auto password = firstValue(data, {"password"})) {
      parsed->password = *password;
    }
    if (parsed->user.empty()) {
      parsed->user = firstValue(data, {"user", "username"}).value_or(defaults.user);
    }
    return std::move(*parsed);
  }
  ConnectionInfo info;
  info.scheme = "postgresql";
  info.host = firstValue(data, {"host"}).value_or(defaults.host);
  info.port = defaults.port;
  if (auto port = firstValue(data, {"port"})) {
    auto parsed = parsePortText(*port);
    if (!parsed) {
      return core::Error::terminal(core::reason::kInvalidDatabaseUrl,
                                   where + " key \"port\" is not a port number (1-65535)");
    }
    info.port = *parsed;
  }
  info.user = firstValue(data, {"user", "username"}).value_or(defaults.user);
  info.database = firstValue(data, {"dbname", "database"}).value_or(defaults.database);
  if (info.database.empty()) {
    info.database = info.user;  // what libpq does without a dbname
  }
  std::vector<std::string> missing;
  if (info.host.empty()) {
    missing.push_back("host");
  }
  if (info.user.empty()) {
    missing.push_back("user (or username)");
  }
  auto password = firstValue(data, {"password"});
  if (!password) {
    missing.push_back("password");
  } else {
    info.password = *password;
  }
  if (!missing.empty()) {
    return core::Error::terminal(core::reason::kDatabaseSecretMissing, where + " has no key uri and lacks " +
                                                             join(missing, ", ") +
                                                             " (its keys: " + keysOf(data) + ")");
  }
  return info;
}

ZalandoChoice pickZalandoDatabase(const nlohmann::json& clusterSpec) {
  const nlohmann::json& users = objectField(clusterSpec, "users");
  const nlohmann::json& databases = objectField(clusterSpec, "databases");
  for (const auto& [user, flags] : users.items()) {
    for (const auto& [database, owner] : databases.items()) {
      if (owner.is_string() && owner.get<std::string>() == user) {
        return {user, database};
      }
    }
  }
  if (!users.empty()) {
    return {users.begin().key(), databases.empty() ? "postgres" : databases.begin().key()};
  }
  if (!databases.empty() && databases.begin()->is_string()) {
    return {databases.begin()->get<std::string>(), databases.begin().key()};
  }
  const nlohmann::json& prepared = objectField(clusterSpec, "preparedDatabases");
  if (!prepared.empty()) {
    return {prepared.begin().key() + "_owner", prepared.begin().key()};
  }
  return {"postgres", "postgres"};
}

std::string zalandoSecretName(const std::string& user, const std::string& cluster) {
  std::string name = user;
  std::replace(name.begin(), name.end(), '_', '-');
  return name + "." + cluster + ".credentials.postgresql.acid.zalan.do";
}

bool isHeadlessService(const nlohmann::json& service) {
  const std::string name = nameOf(service);
  return core::stringField(objectField(service, "spec"), "clusterIP") == "None" ||
         (name.size() > 3 && name.compare(name.size() - 3, 3, "-hl") == 0);
}

int choosePostgresPort(const nlohmann::json& service) {
  const nlohmann::json& ports = core::arrayField(objectField(service, "spec"), "ports");
  for (const char* wanted : {"postgresql", "postgres", "tcp-postgresql"}) {
    for (const auto& port : ports) {
      if (core::stringField(port, "name") == wanted && core::intField(port, "port") > 0) {
        return static_cast<int>(core::intField(port, "port"));
      }
    }
  }
  if (!ports.empty() && core::intField(ports[0], "port") > 0) {
    return static_cast<int>(core::intField(ports[0], "port"));
  }
  return 5432;
}

std::string serviceHost(const nlohmann::json& service, const std::string& namespace_) {
  const std::string clusterIp = core::stringField(objectField(service, "spec"), "clusterIP");
  if (isIpAddress(clusterIp)) {
    return clusterIp;
  }
  return nameOf(service) + "." + namespace_ + ".svc";
}

ConnectionInfo withDriver(ConnectionInfo connection, const std::string& driver) {
  if (driver.empty()) {
    return connection;  // decided later from the app (see database/driver_scheme.h)
  }
  return connection.withScheme(driver);
}

ClusterResolver::ClusterResolver(std::shared_ptr<kube::KubeApi> api, std::string namespace_,
                                 ClusterDatabaseSpec spec, std::optional<TargetContainer> target,
                                 core::RedactorPtr redactor)
    : api_(std::move(api)),
      namespace_(std::move(namespace_)),
      spec_(std::move(spec)),
      target_(std::move(target)),
      redactor_(redactor ? std::move(redactor) : std::make_shared<core::Redactor>()) {}

core::Result<ResolvedDatabase> ClusterResolver::resolve() {
  secretCache_.clear();
  if (auto valid = validateSpec(spec_); !valid) {
    return valid.error();
  }
  if (spec_.explicitConnection()) {
    return fromSpec();
  }
  using Source = Attempt (ClusterResolver::*)(std::vector<std::string>&);
  std::vector<std::string> misses{"no spec.database"};
  for (Source source : {&ClusterResolver::fromServiceBinding, &ClusterResolver::fromCloudNativePg,
                        &ClusterResolver::fromCrunchy, &ClusterResolver::fromZalando,
                        &ClusterResolver::fromBitnami, &ClusterResolver::fromContainerEnv}) {
    Attempt attempt = (this->*source)(misses);
    if (!attempt) {
      return attempt.error();
    }
    if (attempt->has_value()) {
      return std::move(**attempt);
    }
  }
  return core::Error::terminal(
      core::reason::kDatabaseNotDiscovered,
      "no database found in namespace " + namespace_ + ": " + join(misses, ", ") +
          "; set spec.database in the MigrationRun (urlFrom.secretKeyRef, or host, user and "
          "passwordFrom.secretKeyRef)");
}

ResolvedDatabase ClusterResolver::found(ConnectionInfo connection, std::string source,
                                        std::vector<std::string> notes) {
  redactor_->add(connection.password);
  spdlog::info("Database resolved source={} endpoint={} database={} user={}", source,
               connection.endpoint(), connection.database, connection.user);
  const bool chosen = !spec_.driver.empty() || connection.scheme.find('+') != std::string::npos;
  ResolvedDatabase resolved{std::move(connection), std::move(source), std::move(notes)};
  resolved.schemeChosen = chosen;
  return resolved;
}

core::Result<ResolvedDatabase> ClusterResolver::fromSpec() {
  if (spec_.urlFrom) {
    auto url = secretValue(*spec_.urlFrom, "spec.database.urlFrom");
    if (!url) {
      return url.error();
    }
    auto parsed = parseConnectionUrl(*url);
    if (!parsed) {
      return invalidSecretUrl("spec.database.urlFrom: secret " + inQuotes(spec_.urlFrom->name) +
                              " key " + inQuotes(spec_.urlFrom->key));
    }
    return found(withDriver(std::move(*parsed), spec_.driver), "secret/" + spec_.urlFrom->name);
  }
  ConnectionInfo info;
  info.host = spec_.host;
  info.port = spec_.port;
  info.user = spec_.user;
  info.database = spec_.name.empty() ? spec_.user : spec_.name;
  if (spec_.passwordFrom) {
    auto password = secretValue(*spec_.passwordFrom, "spec.database.passwordFrom");
    if (!password) {
      return password.error();
    }
    info.password = std::move(*password);
  }
  return found(withDriver(std::move(info), spec_.driver), "spec");
}

ClusterResolver::Attempt ClusterResolver::fromServiceBinding(std::vector<std::string>& misses) {
  auto listed = listServed(kube::resources::secrets(namespace_), "",
                           std::string("type=") + kServiceBindingType);
  if (!listed) {
    return listed.error();
  }
  std::vector<nlohmann::json> bindings;
  for (const auto& secret : listed->value_or(std::vector<nlohmann::json>{})) {
    if (core::stringField(secret, "type") == kServiceBindingType) {
      bindings.push_back(secret);
    }
  }
  if (bindings.empty()) {
    misses.push_back(std::string("no ") + kServiceBindingType + " secret");
    return std::optional<ResolvedDatabase>();
  }
  bindings = sortedByName(std::move(bindings));
  const std::string name = nameOf(bindings.front());
  auto data = remember(bindings.front());
  if (!data) {
    return data.error();
  }
  auto connection = connectionFromSecretData(*data, ConnectionDefaults{}, name);
  if (!connection) {
    return connection.error();
  }
  return std::optional(found(withDriver(std::move(*connection), spec_.driver),
                             "servicebinding/" + name,
                             choiceNotes(bindings, std::string(kServiceBindingType) + " secrets")));
}

ClusterResolver::Attempt ClusterResolver::fromCloudNativePg(std::vector<std::string>& misses) {
  auto listed = listServed(kube::resources::cnpgClusters(namespace_));
  if (!listed) {
    return listed.error();
  }
  if (!*listed || (*listed)->empty()) {
    misses.push_back(*listed ? "no CloudNativePG cluster"
                             : "no CloudNativePG cluster (postgresql.cnpg.io not installed)");
    return std::optional<ResolvedDatabase>();
  }
  auto clusters = sortedByName(std::move(**listed));
  const nlohmann::json& cluster = clusters.front();
  const std::string name = nameOf(cluster);
  const nlohmann::json& initdb =
      objectField(objectField(objectField(cluster, "spec"), "bootstrap"), "initdb");
  ConnectionDefaults defaults;
  defaults.host = name + "-rw." + namespace_ + ".svc";
  defaults.database = core::stringField(initdb, "database", "app");
  defaults.user = core::stringField(initdb, "owner", defaults.database);

  std::string secretName = name + "-app";
  auto data = readSecret(secretName);
  if (!data) {
    return data.error();
  }
  // With bootstrap.initdb.secret the app credentials are the user's own secret.
  const std::string ownSecret = core::stringField(objectField(initdb, "secret"), "name");
  if (!*data && !ownSecret.empty()) {
    secretName = ownSecret;
    data = readSecret(secretName);
    if (!data) {
      return data.error();
    }
  }
  if (!*data) {
    return core::Error::retryable(core::reason::kDatabaseSecretMissing,
                                  "CloudNativePG cluster " + inQuotes(name) + ": secret " +
                                      inQuotes(name + "-app") + " not found in namespace " +
                                      namespace_ +
                                      " (the operator creates it once the cluster is initialised)");
  }
  auto connection = connectionFromSecretData(**data, defaults, secretName);
  if (!connection) {
    return connection.error();
  }
  auto endpoint = clusterIpEndpoint(name + "-rw");
  if (!endpoint) {
    return endpoint.error();
  }
  if (*endpoint) {
    connection->host = (*endpoint)->first;
    connection->port = (*endpoint)->second;
  }
  return std::optional(found(withDriver(std::move(*connection), spec_.driver), "cnpg/" + name,
                             choiceNotes(clusters, "CloudNativePG clusters")));
}

ClusterResolver::Attempt ClusterResolver::fromCrunchy(std::vector<std::string>& misses) {
  auto listed = listServed(kube::resources::crunchyPostgresClusters(namespace_));
  if (!listed) {
    return listed.error();
  }
  if (!*listed || (*listed)->empty()) {
    misses.push_back(*listed ? "no Crunchy PostgresCluster"
                             : "no Crunchy PostgresCluster (postgres-operator.crunchydata.com "
                               "not installed)");
    return std::optional<ResolvedDatabase>();
  }
  auto clusters = sortedByName(std::move(**listed));
  const nlohmann::json& cluster = clusters.front();
  const std::string name = nameOf(cluster);
  const nlohmann::json& spec = objectField(cluster, "spec");
  const nlohmann::json& users = core::arrayField(spec, "users");

  ConnectionDefaults defaults;
  defaults.host = name + "-primary." + namespace_ + ".svc";
  defaults.port = static_cast<int>(core::intField(spec, "port", 5432));
  // Without spec.users PGO creates a user and a database named after the cluster.
  defaults.user = name;
  defaults.database = name;
  for (const auto& user : users) {
    if (!core::stringField(user, "name").empty()) {
      defaults.user = core::stringField(user, "name");
      const nlohmann::json& databases = core::arrayField(user, "databases");
      defaults.database =
          !databases.empty() && databases[0].is_string() ? databases[0].get<std::string>() : "";
      break;
    }
  }
  const std::string secretName = name + "-pguser-" + defaults.user;
  auto data = operatorSecret(secretName, "Crunchy PostgresCluster " + inQuotes(name));
  if (!data) {
    return data.error();
  }
  auto connection = connectionFromSecretData(*data, defaults, secretName);
  if (!connection) {
    return connection.error();
  }
  // PGO's <cluster>-primary is headless (its DNS name is in the secret); a ClusterIP one wins.
  auto endpoint = clusterIpEndpoint(name + "-primary");
  if (!endpoint) {
    return endpoint.error();
  }
  if (*endpoint) {
    connection->host = (*endpoint)->first;
    connection->port = (*endpoint)->second;
  }
  return std::optional(found(withDriver(std::move(*connection), spec_.driver), "crunchy/" + name,
                             choiceNotes(clusters, "Crunchy PostgresClusters")));
}

ClusterResolver::Attempt ClusterResolver::fromZalando(std::vector<std::string>& misses) {
  auto listed = listServed(kube::resources::zalandoPostgresqls(namespace_));
  if (!listed) {
    return listed.error();
  }
  if (!*listed || (*listed)->empty()) {
    misses.push_back(*listed ? "no Zalando postgresql"
                             : "no Zalando postgresql (acid.zalan.do not installed)");
    return std::optional<ResolvedDatabase>();
  }
  auto clusters = sortedByName(std::move(**listed));
  const nlohmann::json& cluster = clusters.front();
  const std::string name = nameOf(cluster);
  const ZalandoChoice choice = pickZalandoDatabase(objectField(cluster, "spec"));
  const std::string secretName = zalandoSecretName(choice.user, name);
  auto data = operatorSecret(secretName, "Zalando postgresql " + inQuotes(name));
  if (!data) {
    return data.error();
  }
  ConnectionDefaults defaults;
  defaults.database = choice.database;
  defaults.user = choice.user;
  defaults.host = name + "." + namespace_ + ".svc";
  auto service = getOptional(kube::resources::services(namespace_).named(name));
  if (!service) {
    return service.error();
  }
  if (*service) {
    defaults.host = serviceHost(**service, namespace_);
    defaults.port = choosePostgresPort(**service);
  }
  auto connection = connectionFromSecretData(*data, defaults, secretName);
  if (!connection) {
    return connection.error();
  }
  return std::optional(found(withDriver(std::move(*connection), spec_.driver), "zalando/" + name,
                             choiceNotes(clusters, "Zalando postgresqls")));
}

ClusterResolver::Attempt ClusterResolver::fromBitnami(std::vector<std::string>& misses) {
  const std::string nameSelector = std::string(kNameLabel) + "=postgresql";
  auto listed = listServed(kube::resources::services(namespace_), nameSelector);
  if (!listed) {
    return listed.error();
  }
  std::vector<nlohmann::json> services;
  for (const auto& service : listed->value_or(std::vector<nlohmann::json>{})) {
    // The chart's read replicas and headless services are no place to migrate.
    if (labelOf(service, kNameLabel) == "postgresql" && !isHeadlessService(service) &&
        labelOf(service, kComponentLabel) != "read") {
      services.push_back(service);
    }
  }
  if (services.empty()) {
    misses.push_back("no Bitnami postgresql service (label " + nameSelector + ")");
    return std::optional<ResolvedDatabase>();
  }
  services = sortedByName(std::move(services));
  const nlohmann::json& service = services.front();
  const std::string serviceName = nameOf(service);
  const std::string instance = labelOf(service, kInstanceLabel);
  const std::string instanceSelector = std::string(kInstanceLabel) + "=" + instance;

  // The StatefulSet's env says which user and database the chart created.
  std::string user = "postgres";
  std::string database = "postgres";
  std::optional<SecretKeyRef> passwordRef;
  if (!instance.empty()) {
    auto sets = listServed(kube::resources::statefulSets(namespace_), instanceSelector);
    if (!sets) {
      return sets.error();
    }
    std::vector<nlohmann::json> primaries;
    for (const auto& set : sets->value_or(std::vector<nlohmann::json>{})) {
      if (labelOf(set, kInstanceLabel) == instance && labelOf(set, kComponentLabel) != "read") {
        primaries.push_back(set);
      }
    }
    primaries = sortedByName(std::move(primaries));
    const nlohmann::json* container = nullptr;
    if (!primaries.empty()) {
      for (const auto& candidate : podSpecContainers(primaries.front())) {
        if (container == nullptr || core::stringField(candidate, "name") == "postgresql") {
          container = &candidate;
        }
      }
    }
    if (container != nullptr) {
      const size_t all = core::arrayField(*container, "env").size();
      auto envUser = envValue(*container, "POSTGRES_USER", all, 0);
      if (!envUser) {
        return envUser.error();
      }
      if (*envUser && !(*envUser)->empty()) {
        user = **envUser;
      }
      for (const char* var : {"POSTGRES_DATABASE", "POSTGRES_DB"}) {
        auto envDatabase = envValue(*container, var, all, 0);
        if (!envDatabase) {
          return envDatabase.error();
        }
        if (*envDatabase && !(*envDatabase)->empty()) {
          database = **envDatabase;
          break;
        }
      }
      for (const auto& entry : core::arrayField(*container, "env")) {
        if (core::stringField(entry, "name") == "POSTGRES_PASSWORD") {
          const nlohmann::json& ref = objectField(objectField(entry, "valueFrom"), "secretKeyRef");
          if (!core::stringField(ref, "name").empty() && !core::stringField(ref, "key").empty()) {
            passwordRef =
                SecretKeyRef{core::stringField(ref, "name"), core::stringField(ref, "key")};
          }
        }
      }
    }
  }

  std::string password;
  if (passwordRef) {
    auto value = secretValue(
        *passwordRef, "Bitnami StatefulSet of " + inQuotes(serviceName) + " env POSTGRES_PASSWORD");
    if (!value) {
      return value.error();
    }
    password = std::move(*value);
  } else {
    // Password files (auth.usePasswordFiles) leave no secretKeyRef: use the release's secret.
    const std::vector<const char*> keys =
        user == "postgres" ? std::vector<const char*>{"postgres-password", "password",
                                                      "postgresql-postgres-password"}
                           : std::vector<const char*>{"password", "postgresql-password"};
    std::optional<std::string> value;
    if (!instance.empty()) {
      auto secrets = listServed(kube::resources::secrets(namespace_), instanceSelector);
      if (!secrets) {
        return secrets.error();
      }
      for (const auto& secret : sortedByName(secrets->value_or(std::vector<nlohmann::json>{}))) {
        if (labelOf(secret, kInstanceLabel) != instance) {
          continue;
        }
        auto data = remember(secret);
        if (!data) {
          return data.error();
        }
        if ((value = firstValue(*data, keys))) {
          break;
        }
      }
    }
    if (!value) {
      return core::Error::terminal(
          core::reason::kDatabaseSecretMissing,
          "Bitnami postgresql service " + inQuotes(serviceName) + ": no secret labelled " +
              instanceSelector + " in namespace " + namespace_ + " has key " +
              inQuotes(keys.front()) + " (the password of user " + inQuotes(user) + ")");
    }
    password = std::move(*value);
  }

  ConnectionInfo connection;
  connection.host = serviceHost(service, namespace_);
  connection.port = choosePostgresPort(service);
  connection.user = user;
  connection.password = std::move(password);
  connection.database = database;
  return std::optional(found(withDriver(std::move(connection), spec_.driver),
                             "bitnami/" + serviceName,
                             choiceNotes(services, "Bitnami postgresql services")));
}

ClusterResolver::Attempt ClusterResolver::fromContainerEnv(std::vector<std::string>& misses) {
  if (!target_ || !target_->pod.is_object()) {
    misses.push_back("no target pod to read DATABASE_URL from");
    return std::optional<ResolvedDatabase>();
  }
  const std::string pod = nameOf(target_->pod);
  const nlohmann::json& containers = podSpecContainers(target_->pod);
  const nlohmann::json* container = nullptr;
  for (const auto& candidate : containers) {
    const std::string name = core::stringField(candidate, "name");
    if (target_->container.empty() ? definesEnv(candidate, kDatabaseUrlVar)
                                   : name == target_->container) {
      container = &candidate;
      break;
    }
  }
  if (container == nullptr && target_->container.empty() && !containers.empty()) {
    container = &containers[0];  // DATABASE_URL may still come from envFrom
  }
  if (container == nullptr) {
    misses.push_back(target_->container.empty()
                         ? "no container in pod " + pod
                         : "no container " + target_->container + " in pod " + pod);
    return std::optional<ResolvedDatabase>();
  }
  const std::string containerName = core::stringField(*container, "name");
  auto url = envValue(*container, kDatabaseUrlVar, core::arrayField(*container, "env").size(), 0);
  if (!url) {
    return url.error();
  }
  if (!*url || (*url)->empty()) {
    misses.push_back(std::string("no ") + kDatabaseUrlVar + " in container " + containerName +
                     " of pod " + pod);
    return std::optional<ResolvedDatabase>();
  }
  auto parsed = parseConnectionUrl(**url);
  if (!parsed) {
    return invalidSecretUrl(std::string(kDatabaseUrlVar) + " of container " + containerName +
                            " in pod " + pod);
  }
  // The app's own URL: its scheme is the app's choice and is kept.
  auto resolved = found(std::move(*parsed), "env/" + pod + "/" + containerName);
  resolved.schemeChosen = true;
  return std::optional(std::move(resolved));
}

core::Result<std::optional<std::vector<nlohmann::json>>> ClusterResolver::listServed(
    const kube::ResourceRef& collection, const std::string& labelSelector,
    const std::string& fieldSelector) {
  kube::ListOptions options;
  options.labelSelector = labelSelector;
  options.fieldSelector = fieldSelector;
  options.limit = 250;
  auto listed = kube::listAll(*api_, collection, options);
  if (!listed) {
    if (kube::isNotFound(listed.error())) {
      return std::optional<std::vector<nlohmann::json>>();  // the CRD is not installed
    }
    return apiError(listed.error(), "list", collection);
  }
  return std::optional(std::move(listed->items));
}

core::Result<std::optional<nlohmann::json>> ClusterResolver::getOptional(
    const kube::ResourceRef& ref) {
  auto object = api_->get(ref);
  if (!object) {
    if (kube::isNotFound(object.error())) {
      return std::optional<nlohmann::json>();
    }
    return apiError(object.error(), "get", ref);
  }
  return std::optional(std::move(*object));
}

core::Result<std::optional<ClusterResolver::SecretData>> ClusterResolver::readSecret(
    const std::string& name) {
  if (auto cached = secretCache_.find(name); cached != secretCache_.end()) {
    return cached->second;
  }
  auto secret = getOptional(kube::resources::secrets(namespace_).named(name));
  if (!secret) {
    return secret.error();
  }
  if (!*secret) {
    secretCache_[name] = std::nullopt;
    return std::optional<SecretData>();
  }
  auto data = remember(**secret);
  if (!data) {
    return data.error();
  }
  return std::optional(std::move(*data));
}

core::Result<ClusterResolver::SecretData> ClusterResolver::remember(const nlohmann::json& secret) {
  auto data = decodeSecretData(secret);
  if (!data) {
    return data.error();
  }
  for (const auto& [key, value] : *data) {
    // password, postgres-password, replication-password, PGPASSWORD, ...
    std::string lower = key;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (lower.find("password") != std::string::npos) {
      redactor_->add(value);
    }
  }
  secretCache_[nameOf(secret)] = *data;
  return data;
}

core::Result<std::string> ClusterResolver::secretValue(const SecretKeyRef& ref,
                                                       const std::string& what) {
  auto data = readSecret(ref.name);
  if (!data) {
    return data.error();
  }
  if (!*data) {
    return core::Error::terminal(
        core::reason::kDatabaseSecretMissing,
        what + ": secret " + inQuotes(ref.name) + " not found in namespace " + namespace_);
  }
  auto it = (*data)->find(ref.key);
  if (it == (*data)->end()) {
    return core::Error::terminal(core::reason::kDatabaseSecretMissing, what + ": secret " + inQuotes(ref.name) +
                                                             " has no key " + inQuotes(ref.key) +
                                                             " (its keys: " + keysOf(**data) + ")");
  }
  return it->second;
}

core::Result<ClusterResolver::SecretData> ClusterResolver::operatorSecret(
    const std::string& name, const std::string& owner) {
  auto data = readSecret(name);
  if (!data) {
    return data.error();
  }
  if (!*data) {
    return core::Error::retryable(
        core::reason::kDatabaseSecretMissing, owner + ": secret " + inQuotes(name) + " not found in namespace " +
                                    namespace_ +
                                    " (the operator creates it once the cluster is initialised)");
  }
  return std::move(**data);
}

core::Result<std::optional<std::string>> ClusterResolver::configMapValue(const std::string& name,
                                                                         const std::string& key) {
  auto configMap = getOptional(kube::resources::configMaps(namespace_).named(name));
  if (!configMap) {
    return configMap.error();
  }
  if (!*configMap) {
    return std::optional<std::string>();
  }
  const nlohmann::json& data = objectField(**configMap, "data");
  if (!data.contains(key) || !data[key].is_string()) {
    return std::optional<std::string>();
  }
  return std::optional(data[key].get<std::string>());
}

core::Result<std::optional<std::string>> ClusterResolver::envValue(const nlohmann::json& container,
                                                                   const std::string& name,
                                                                   size_t before, int depth) {
  using Value = std::optional<std::string>;
  if (depth > kMaxEnvDepth) {
    return Value();
  }
  const std::string where =
      "container " + inQuotes(core::stringField(container, "name")) + " env " + name;
  const nlohmann::json& env = core::arrayField(container, "env");
  // The last definition before `before` wins, as in the kubelet.
  for (size_t i = std::min(before, env.size()); i-- > 0;) {
    const nlohmann::json& entry = env[i];
    if (core::stringField(entry, "name") != name) {
      continue;
    }
    if (entry.contains("value") && entry["value"].is_string()) {
      auto expanded = expandEnvReferences(container, entry["value"].get<std::string>(), i, depth);
      if (!expanded) {
        return expanded.error();
      }
      return Value(std::move(*expanded));
    }
    const nlohmann::json& valueFrom = objectField(entry, "valueFrom");
    if (valueFrom.contains("secretKeyRef")) {
      const nlohmann::json& ref = objectField(valueFrom, "secretKeyRef");
      const SecretKeyRef key{core::stringField(ref, "name"), core::stringField(ref, "key")};
      if (core::boolField(ref, "optional")) {
        auto data = readSecret(key.name);
        if (!data) {
          return data.error();
        }
        if (!*data || (*data)->count(key.key) == 0) {
          return Value();
        }
      }
      auto value = secretValue(key, where);
      if (!value) {
        return value.error();
      }
      return Value(std::move(*value));
    }
    if (valueFrom.contains("configMapKeyRef")) {
      const nlohmann::json& ref = objectField(valueFrom, "configMapKeyRef");
      return configMapValue(core::stringField(ref, "name"), core::stringField(ref, "key"));
    }
    return Value(std::string());  // fieldRef and the like: nothing a URL comes from
  }
  // envFrom: the last source that has the key wins; env above overrides all of them.
  const nlohmann::json& sources = core::arrayField(container, "envFrom");
  for (size_t i = sources.size(); i-- > 0;) {
    const nlohmann::json& source = sources[i];
    const std::string prefix = core::stringField(source, "prefix");
    if (name.rfind(prefix, 0) != 0) {
      continue;
    }
    const std::string key = name.substr(prefix.size());
    if (source.contains("secretRef")) {
      const nlohmann::json& ref = objectField(source, "secretRef");
      const std::string secretName = core::stringField(ref, "name");
      auto data = readSecret(secretName);
      if (!data) {
        return data.error();
      }
      if (!*data) {
        if (core::boolField(ref, "optional")) {
          continue;
        }
        return core::Error::terminal(core::reason::kDatabaseSecretMissing,
                                     "container " + inQuotes(core::stringField(container, "name")) +
                                         " envFrom: secret " + inQuotes(secretName) +
                                         " not found in namespace " + namespace_);
      }
      if (auto it = (*data)->find(key); it != (*data)->end()) {
        return Value(it->second);
      }
    } else if (source.contains("configMapRef")) {
      auto value =
          configMapValue(core::stringField(objectField(source, "configMapRef"), "name"), key);
      if (!value) {
        return value.error();
      }
      if (*value) {
        return value;
      }
    }
  }
  return Value();
}

core::Result<std::string> ClusterResolver::expandEnvReferences(const nlohmann::json& container,
                                                               const std::string& value,
                                                               size_t before, int depth) {
  // $(VAR) takes an earlier variable's value, $$ is a literal $, an unknown $(VAR) stays as is.
  std::string out;
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] != '$' || i + 1 >= value.size()) {
      out += value[i];
      continue;
    }
    if (value[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    const size_t close = value[i + 1] == '(' ? value.find(')', i + 2) : std::string::npos;
    if (close == std::string::npos) {
      out += '$';
      continue;
    }
    auto referenced = envValue(container, value.substr(i + 2, close - i - 2), before, depth + 1);
    if (!referenced) {
      return referenced.error();
    }
    out += *referenced ? **referenced : value.substr(i, close - i + 1);
    i = close;
  }
  return out;
}

core::Result<std::optional<std::pair<std::string, int>>> ClusterResolver::clusterIpEndpoint(
    const std::string& service) {
  using Endpoint = std::optional<std::pair<std::string, int>>;
  auto object = getOptional(kube::resources::services(namespace_).named(service));
  if (!object) {
    return object.error();
  }
  if (!*object || !isIpAddress(core::stringField(objectField(**object, "spec"), "clusterIP"))) {
    return Endpoint();
  }
  return Endpoint(std::pair(serviceHost(**object, namespace_), choosePostgresPort(**object)));
}

core::Error ClusterResolver::apiError(const core::Error& error, const std::string& verb,
                                      const kube::ResourceRef& ref) const {
  const std::string resource = ref.plural + (ref.group.empty() ? "" : "." + ref.group);
  const std::string apiMessage = redactor_->scrub(error.message);
  if (error.reason == kube::kForbidden) {
    return core::Error::terminal(
        kube::kForbidden, "looking for the database: the sidecar's service account may not " +
                              verb + " " + resource + " in namespace " + namespace_ +
                              "; grant it in the sidecar's Role " + "(apiGroups: [\"" + ref.group +
                              "\"], resources: [\"" + ref.plural + "\"], verbs: [\"" + verb +
                              "\"]) or set spec.database (" + apiMessage + ")");
  }
  core::Error out = error;
  out.message = "looking for the database: cannot " + verb + " " + resource + " in namespace " +
                namespace_ + ": " + apiMessage;
  return out;
}

}  // namespace alembic_sidecar::database
