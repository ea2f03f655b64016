#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/redactor.h"
#include "core/result.h"
#include "database/connection_url.h"
#include "database/resolver.h"
#include "kube/kube_api.h"

namespace alembic_sidecar::database {

/** A key of a Secret in the run's namespace (`secretKeyRef: {name, key}`). */
struct SecretKeyRef {
  std::string name;
  std::string key;

  bool operator==(const SecretKeyRef&) const = default;
};

/**
 * A MigrationRun's `spec.database`. Either `urlFrom` (the secret value is a URL), or `host`
 * with `user` and optionally `port`, `name` (default: the user) and `passwordFrom`. With
 * neither, the database is discovered.
 */
struct ClusterDatabaseSpec {
  std::optional<SecretKeyRef> urlFrom;
  std::string host;
  int port = 5432;
  std::string name;
  std::string user;
  std::optional<SecretKeyRef> passwordFrom;
  /**
   * The scheme alembic gets for every source but the container's own DATABASE_URL; empty
   * ("auto", the default): decided from the app's env.py and importable drivers.
   */
  std::string driver;

  /** Whether the spec names a database (so nothing is discovered). */
  bool explicitConnection() const { return urlFrom.has_value() || !host.empty(); }
};

/**
 * Reads `spec.database` as the API returns it (null or absent: discover, default driver).
 * Contradictions (urlFrom and host, host without user, a driver that is not postgresql[+x])
 * are terminal UsageErrors naming the field.
 */
core::Result<ClusterDatabaseSpec> parseClusterDatabaseSpec(const nlohmann::json& database);

/** The app container whose DATABASE_URL is the last source. */
struct TargetContainer {
  /** The Pod object as the API returns it. */
  nlohmann::json pod;
  /** Empty: the first container whose `env` sets DATABASE_URL (else the first container). */
  std::string container;
};

/**
 * Step 1 in a cluster. resolve() tries, in order, and returns the first that yields a
 * connection (ResolvedDatabase::source in brackets):
 *
 *  1. spec.database: urlFrom.secretKeyRef [secret/<name>] or explicit fields [spec];
 *  2. Secrets of type servicebinding.io/postgresql [servicebinding/<secret>];
 *  3. CloudNativePG Clusters: secret <c>-app, service <c>-rw [cnpg/<c>];
 *  4. Crunchy PGO PostgresClusters: secret <c>-pguser-<user> [crunchy/<c>];
 *  5. Zalando postgresqls: secret <user>.<c>.credentials.postgresql.acid.zalan.do, service <c>
 *     [zalando/<c>];
 *  6. the Bitnami chart: service app.kubernetes.io/name=postgresql, its release's secret and
 *     StatefulSet [bitnami/<service>];
 *  7. the target container's DATABASE_URL (value, secretKeyRef, configMapKeyRef, envFrom,
 *     $(VAR) references) [env/<pod>/<container>], with the app's own scheme.
 *
 * Sources 1-6 get the spec's driver as scheme. Several objects of one kind: the first by
 * name is used and a note says so. Errors:
 *  - nothing found: terminal `DatabaseNotDiscovered`, listing what was looked for where;
 *  - a secret or key named by the spec or the pod missing: terminal `DatabaseSecretMissing`
 *    naming the secret and key; an operator's secret not created yet: the same reason,
 *    transient (the operator writes it once the cluster is initialised);
 *  - a secret value that is not a URL / port: terminal `InvalidDatabaseUrl`, value never quoted;
 *  - 403: terminal kube::kForbidden naming the verb, resource and namespace to grant;
 *  - other API errors keep their reason and kind (transient ones stay transient).
 * Every password read is registered with the redactor. Not thread-safe: one resolve() at a
 * time (the secret cache lives for one call).
 */
class ClusterResolver : public DatabaseResolver {
 public:
  ClusterResolver(std::shared_ptr<kube::KubeApi> api, std::string namespace_,
                  ClusterDatabaseSpec spec, std::optional<TargetContainer> target,
                  core::RedactorPtr redactor);

  core::Result<ResolvedDatabase> resolve() override;

 private:
  /** A source's answer: found, not here (a line for the "nothing found" message), or stop. */
  using Attempt = core::Result<std::optional<ResolvedDatabase>>;
  using SecretData = std::map<std::string, std::string>;

  core::Result<ResolvedDatabase> fromSpec();
  Attempt fromServiceBinding(std::vector<std::string>& misses);
  Attempt fromCloudNativePg(std::vector<std::string>& misses);
  Attempt fromCrunchy(std::vector<std::string>& misses);
  Attempt fromZalando(std::vector<std::string>& misses);
  Attempt fromBitnami(std::vector<std::string>& misses);
  Attempt fromContainerEnv(std::vector<std::string>& misses);

  /** The objects of a collection; nullopt when the API does not serve it (CRD not installed). */
  core::Result<std::optional<std::vector<nlohmann::json>>> listServed(
      const kube::ResourceRef& collection, const std::string& labelSelector = {},
      const std::string& fieldSelector = {});
  /** One object; nullopt when it does not exist. */
  core::Result<std::optional<nlohmann::json>> getOptional(const kube::ResourceRef& ref);
  /** A secret's decoded data (cached for this resolve()); nullopt when it does not exist. */
  core::Result<std::optional<SecretData>> readSecret(const std::string& name);
  /** Decodes a secret object, caches it and registers its password-like values. */
  core::Result<SecretData> remember(const nlohmann::json& secret);
  /**
   * The value of a secret key a user named; `what` says who named it ("spec.database.urlFrom").
   * Missing secret or key: terminal DatabaseSecretMissing.
   */
  core::Result<std::string> secretValue(const SecretKeyRef& ref, const std::string& what);
  /** An operator-managed secret: missing is transient (not created yet). */
  core::Result<SecretData> operatorSecret(const std::string& name, const std::string& owner);
  core::Result<std::optional<std::string>> configMapValue(const std::string& name,
                                                          const std::string& key);
  /** DATABASE_URL-style lookup of env var `name` as the kubelet would set it. */
  core::Result<std::optional<std::string>> envValue(const nlohmann::json& container,
                                                    const std::string& name, size_t before,
                                                    int depth);
  core::Result<std::string> expandEnvReferences(const nlohmann::json& container,
                                                const std::string& value, size_t before, int depth);
  /** Host and port of a Service when it exists and has a real cluster IP. */
  core::Result<std::optional<std::pair<std::string, int>>> clusterIpEndpoint(
      const std::string& service);
  core::Error apiError(const core::Error& error, const std::string& verb,
                       const kube::ResourceRef& ref) const;
  ResolvedDatabase found(ConnectionInfo connection, std::string source,
                         std::vector<std::string> notes = {});

  std::shared_ptr<kube::KubeApi> api_;
  std::string namespace_;
  ClusterDatabaseSpec spec_;
  std::optional<TargetContainer> target_;
  core::RedactorPtr redactor_;
  std::map<std::string, std::optional<SecretData>> secretCache_;
};

// The pure parts, used by ClusterResolver and unit-tested without an API.

/**
 * A Secret's `data` (base64-decoded) with `stringData` on top (as the API server merges it).
 * A value that is not base64 is a terminal InvalidDatabaseUrl naming the secret and key.
 */
core::Result<std::map<std::string, std::string>> decodeSecretData(const nlohmann::json& secret);

/** What a source knows before reading the secret (e.g. the host from a Service). */
struct ConnectionDefaults {
  std::string host;
  int port = 5432;
  std::string database;
  std::string user;
};

/**
 * A connection from secret keys: `uri` when present (then `password`, if present, is the
 * password: it is unambiguous where the URI's may be badly encoded); otherwise `host`, `port`,
 * `dbname`|`database`, `user`|`username`, `password`, each falling back to `defaults`. A
 * missing required key is a terminal DatabaseSecretMissing naming the secret and the keys;
 * a bad URI or port a terminal InvalidDatabaseUrl. Never quotes a value.
 */
core::Result<ConnectionInfo> connectionFromSecretData(
    const std::map<std::string, std::string>& data, const ConnectionDefaults& defaults,
    const std::string& secretName);

/** The role and database a Zalando postgresql manifest's app connects with. */
struct ZalandoChoice {
  std::string user;
  std::string database;

  bool operator==(const ZalandoChoice&) const = default;
};

/**
 * From a Zalando `spec`: the first user (of spec.users, by key) that owns a database of
 * spec.databases, with that database; else the first user with the first database; else the
 * first database and its owner; else the first preparedDatabases entry and its <db>_owner;
 * else postgres/postgres. JSON objects arrive sorted by key, so "first" is alphabetical.
 */
ZalandoChoice pickZalandoDatabase(const nlohmann::json& clusterSpec);

/** `<user>.<cluster>.credentials.postgresql.acid.zalan.do` (`_` in the user becomes `-`). */
std::string zalandoSecretName(const std::string& user, const std::string& cluster);

/** clusterIP None, or a name ending in -hl (the Bitnami chart's headless service). */
bool isHeadlessService(const nlohmann::json& service);

/** The port named postgresql/postgres/tcp-postgresql, else the first, else 5432. */
int choosePostgresPort(const nlohmann::json& service);

/** spec.clusterIP when it is an IP address, else `<name>.<namespace>.svc`. */
std::string serviceHost(const nlohmann::json& service, const std::string& namespace_);

/**
 * The connection with `driver` as scheme (ConnectionInfo::withScheme); an empty driver
 * leaves it as found, for the run to decide.
 */
ConnectionInfo withDriver(ConnectionInfo connection, const std::string& driver);

}  // namespace alembic_sidecar::database
