#include "cluster/cluster.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cpprest/http_client.h>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/json_util.h"
#include "kube/resources.h"
#include "support/kube_test_server.h"
#include "support/postgres_server.h"
#include "workspace/process.h"
#include "support/free_port.h"

namespace alembic_sidecar::testing::cluster {
namespace {

namespace fs = std::filesystem;
namespace res = kube::resources;

std::string sourceDir() { return ALEMBIC_SIDECAR_SOURCE_DIR; }

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) {
    s.pop_back();
  }
  return s;
}

std::string envOr(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

/** `export KEY=VALUE` lines of the stack's env.sh. */
std::map<std::string, std::string> readEnvSh(const std::string& path) {
  std::map<std::string, std::string> out;
  std::istringstream in(readTextFile(path));
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("export ", 0) != 0) {
      continue;
    }
    auto eq = line.find('=');
    if (eq != std::string::npos) {
      out[line.substr(7, eq - 7)] = line.substr(eq + 1);
    }
  }
  return out;
}

/** A stack this process started because ctest's fixture did not; stopped at exit. */
struct OwnStack {
  std::unique_ptr<TempDir> dir;
  ~OwnStack() {
    if (dir) {
      workspace::ProcessSpec stop;
      stop.argv = {sourceDir() + "/tests/cluster/envtest.sh", "stop", dir->str()};
      stop.timeout = std::chrono::seconds(60);
      (void)workspace::runProcess(stop);
    }
  }
};

/**
 * A YAML node as JSON, typed as Kubernetes reads the file: quoted scalars stay strings, plain
 * ones become booleans, null or numbers when they look like it (YAML 1.2 core schema).
 */
nlohmann::json yamlToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      nlohmann::json out = nlohmann::json::object();
      for (const auto& kv : node) {
        out[kv.first.as<std::string>()] = yamlToJson(kv.second);
      }
      return out;
    }
    case YAML::NodeType::Sequence: {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& item : node) {
        out.push_back(yamlToJson(item));
      }
      return out;
    }
    case YAML::NodeType::Scalar: {
      const std::string text = node.Scalar();
      if (node.Tag() == "!") {
        return text;  // quoted
      }
      if (text == "true" || text == "false") {
        return text == "true";
      }
      if (text == "null" || text == "~") {
        return nullptr;
      }
      auto number = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
      return number.is_number() ? number : nlohmann::json(text);
    }
    default:
      return nullptr;
  }
}

ToolResult runTool(std::vector<std::string> argv, std::vector<std::string> shown,
                   const ToolOptions& options, const std::string& home) {
  workspace::ProcessSpec spec;
  spec.argv = std::move(argv);
  // A private HOME: kubectl's discovery cache and helm's config never mix between tests.
  spec.env = {{"HOME", home}, {"KUBECONFIG", ""}};
  spec.stdinData = options.stdinData;
  spec.timeout = options.timeout;
  ToolResult result;
  result.command = commandLine(shown);
  auto ran = workspace::runProcess(spec);
  if (!ran) {
    result.err = ran.error().message;
    return result;
  }
  result.exitCode = ran->exitCode;
  result.out = ran->out;
  result.err = ran->err;
  return result;
}

}  // namespace

nlohmann::json ToolResult::json() const {
  return nlohmann::json::parse(out, nullptr, /*allow_exceptions=*/false);
}

std::string commandLine(const std::vector<std::string>& words) {
  auto safe = [](const std::string& s) {
    return !s.empty() && s.find_first_not_of(
                             "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                             "0123456789_-./=:,@%+") == std::string::npos;
  };
  std::string line;
  for (const auto& w : words) {
    std::string word = w;
    if (!safe(w)) {
      auto eq = w.find('=');
      word = eq != std::string::npos && eq > 0 && safe(w.substr(0, eq + 1))
                 ? w.substr(0, eq + 1) + "'" + w.substr(eq + 1) + "'"
                 : "'" + w + "'";
    }
    line += (line.empty() ? "" : " ") + word;
  }
  return line;
}

std::string kubectlPath() { return sourceDir() + "/.tools/bin/kubectl"; }
std::string helmPath() { return sourceDir() + "/.tools/bin/helm"; }

std::string Envtest::load(Envtest& env, const std::string& dir) {
  env.dir_ = dir;
  auto vars = readEnvSh(dir + "/env.sh");
  env.server_ = vars["ENVTEST_SERVER"];
  env.caFile_ = vars["ENVTEST_CA_FILE"];
  env.caPem_ = readTextFile(env.caFile_);
  env.adminToken_ = trim(readTextFile(vars["ENVTEST_ADMIN_TOKEN_FILE"]));
  env.devToken_ = trim(readTextFile(vars["ENVTEST_DEV_TOKEN_FILE"]));
  if (env.server_.empty() || env.caPem_.empty() || env.adminToken_.empty()) {
    return "envtest at " + dir + " is incomplete (env.sh, CA or admin token missing)";
  }
  env.admin_ = env.clientWithToken(env.adminToken_);
  return env.admin_ ? "" : "cannot build a client for " + env.server_;
}

const Envtest* Envtest::get(std::string* why) {
  static OwnStack own;
  static std::string error;
  static const std::unique_ptr<Envtest> instance = []() -> std::unique_ptr<Envtest> {
    auto env = std::make_unique<Envtest>();
    std::string dir = envOr("ALEMBIC_SIDECAR_ENVTEST_DIR", "");
    if (!dir.empty()) {
      if (!fs::exists(dir + "/kubeconfig")) {
        error = "no envtest stack in " + dir +
                " (cluster_envtest_start was skipped or failed: see its output)";
        return nullptr;
      }
    } else {
      // Run by hand: start a stack of our own (the wrapper skips with 77 without the kit).
      own.dir = std::make_unique<TempDir>("cluster-envtest");
      workspace::ProcessSpec start;
      start.argv = {sourceDir() + "/tests/cluster/envtest.sh", "start", own.dir->str()};
      start.timeout = std::chrono::seconds(240);
      auto started = workspace::runProcess(start);
      if (!started || started->exitCode != 0) {
        error = started ? trim(started->out + started->err) : started.error().message;
        return nullptr;
      }
      dir = own.dir->str();
    }
    if (std::string failed = load(*env, dir); !failed.empty()) {
      error = failed;
      return nullptr;
    }
    return env;
  }();
  if (!instance && why != nullptr) {
    *why = error;
  }
  return instance.get();
}

kube::ClusterConfig Envtest::configWithToken(const std::string& token) const {
  kube::ClusterConfig config;
  config.server = server_;
  config.caPem = caPem_;
  config.token = std::make_shared<kube::StaticTokenSource>(token);
  config.source = "envtest";
  return config;
}

std::shared_ptr<kube::KubeClient> Envtest::clientWithToken(const std::string& token) const {
  kube::ClientOptions options;
  options.retry.attempts = 2;
  options.retry.base = std::chrono::milliseconds(100);
  auto client = kube::KubeClient::fromConfig(configWithToken(token), options);
  return client ? *client : nullptr;
}

void Envtest::writeTokenKubeconfig(const std::string& path, const std::string& token,
                                   const std::string& ns) const {
  std::ostringstream yaml;
  yaml << "apiVersion: v1\nkind: Config\n"
       << "clusters:\n- name: envtest\n  cluster:\n    server: " << server_
       << "\n    certificate-authority: " << caFile_ << "\n"
       << "users:\n- name: token\n  user:\n    token: " << token << "\n"
       << "contexts:\n- name: token\n  context:\n    cluster: envtest\n    user: token\n"
       << "    namespace: " << ns << "\n"
       << "current-context: token\n";
  writeTextFile(path, yaml.str());
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
}

bool waitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return condition();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return true;
}

std::pair<int, std::string> httpGet(int port, const std::string& path) {
  try {
    web::http::client::http_client client("http://127.0.0.1:" + std::to_string(port));
    auto response = client.request(web::http::methods::GET, path).get();
    return {response.status_code(), response.extract_string().get()};
  } catch (const std::exception&) {
    return {0, ""};
  }
}

// --- ClusterTest ---------------------------------------------------------------------------

void ClusterTest::SetUp() {
  // Under ctest (the envtest fixture set ALEMBIC_SIDECAR_ENVTEST_DIR) the postgres fixture's
  // server is the one to use; run by hand, testServer() starts its own.
  if (!envOr("ALEMBIC_SIDECAR_ENVTEST_DIR", "").empty()) {
    ::setenv("ALEMBIC_SIDECAR_TEST_PG_DIR", ALEMBIC_SIDECAR_CLUSTER_PG_DIR, /*overwrite=*/0);
  }
  std::string why;
  env_ = Envtest::get(&why);
  if (env_ == nullptr) {
    if (envOr("ALEMBIC_SIDECAR_REQUIRE_CLUSTER", "") == "1") {
      FAIL() << "ALEMBIC_SIDECAR_REQUIRE_CLUSTER=1 but there is no cluster: " << why;
    }
    GTEST_SKIP() << why;
  }
  ASSERT_EQ(::access(kubectlPath().c_str(), X_OK), 0)
      << "no kubectl at " << kubectlPath() << " (run ./scripts/install-deps.sh)";
  admin_ = env_->adminClient();
  ns_ = namespaceName_.empty() ? "cl-" + randomName(6) : namespaceName_;
  auto created = kubectlGlobal({"create", "namespace", ns_});
  ASSERT_EQ(created.exitCode, 0) << created.err;
}

void ClusterTest::TearDown() {
  if (HasFailure()) {
    for (const auto& sidecar : sidecars_) {
      std::string own = sidecar->log();
      std::cerr << "--- sidecar log (tail) ---\n"
                << (own.size() > 8000 ? own.substr(own.size() - 8000) : own) << "\n";
    }
  }
  sidecars_.clear();
  if (env_ != nullptr && !ns_.empty()) {
    (void)kubectlGlobal({"delete", "namespace", ns_, "--wait=false"});
  }
}

void ClusterTest::applyMigrationRunCrd() {
  auto applied = kubectlGlobal({"apply", "--server-side", "--force-conflicts", "-f",
                                std::string(ALEMBIC_SIDECAR_SOURCE_DIR) +
                                    "/manifests/crd/migrationruns.yaml"});
  ASSERT_EQ(applied.exitCode, 0) << applied.err;
  auto established = kubectlGlobal({"wait", "--for=condition=Established",
                                    "crd/migrationruns.alembic.sidecar.dev", "--timeout=60s"});
  ASSERT_EQ(established.exitCode, 0) << established.err;
}

ToolResult ClusterTest::kubectlGlobal(const std::vector<std::string>& args,
                                      const ToolOptions& options) {
  std::vector<std::string> argv = {kubectlPath(), "--kubeconfig",
                                   options.kubeconfig.empty() ? env_->kubeconfig()
                                                              : options.kubeconfig};
  if (!options.context.empty()) {
    argv.insert(argv.end(), {"--context", options.context});
  }
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<std::string> shown = {"kubectl"};
  shown.insert(shown.end(), args.begin(), args.end());
  return runTool(argv, shown, options, scratch_.str());
}

ToolResult ClusterTest::kubectl(const std::vector<std::string>& args, const ToolOptions& options) {
  std::vector<std::string> withNs = {"-n", ns_};
  withNs.insert(withNs.end(), args.begin(), args.end());
  return kubectlGlobal(withNs, options);
}

ToolResult ClusterTest::helm(const std::vector<std::string>& args, const ToolOptions& options) {
  std::vector<std::string> argv = {helmPath(), "--kubeconfig",
                                   options.kubeconfig.empty() ? env_->kubeconfig()
                                                              : options.kubeconfig};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<std::string> shown = {"helm"};
  shown.insert(shown.end(), args.begin(), args.end());
  return runTool(argv, shown, options, scratch_.str());
}

nlohmann::json ClusterTest::getJson(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"get"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.insert(argv.end(), {"-o", "json"});
  auto got = kubectl(argv);
  EXPECT_EQ(got.exitCode, 0) << got.command << ": " << got.err;
  auto parsed = got.json();
  return parsed.is_discarded() ? nlohmann::json() : parsed;
}

std::string ClusterTest::serviceAccountToken(const std::string& serviceAccount) {
  auto token = kubectl({"create", "token", serviceAccount, "--duration=2h"});
  EXPECT_EQ(token.exitCode, 0) << token.err;
  return trim(token.out);
}

std::string ClusterTest::serviceAccountKubeconfig(const std::string& serviceAccount) {
  std::string path = scratch_.str() + "/kubeconfig-" + serviceAccount;
  env_->writeTokenKubeconfig(path, serviceAccountToken(serviceAccount), ns_);
  return path;
}

void ClusterTest::installChart(const std::string& release,
                               const std::vector<std::string>& extraArgs) {
  std::vector<std::string> args = {"install", release, sourceDir() + "/helm/alembic-sidecar",
                                   "--namespace", ns_, "--set", "fullnameOverride=" + release};
  args.insert(args.end(), extraArgs.begin(), extraArgs.end());
  auto installed = helm(args);
  ASSERT_EQ(installed.exitCode, 0) << installed.command << "\n" << installed.out << installed.err;
}

void ClusterTest::applySampleApp(const std::map<std::string, std::string>& roots) {
  std::vector<YAML::Node> docs = YAML::LoadAllFromFile(sourceDir() + "/manifests/sample-app.yaml");
  nlohmann::json list = {{"apiVersion", "v1"}, {"kind", "List"}, {"items", nlohmann::json::array()}};
  for (const auto& doc : docs) {
    nlohmann::json object = yamlToJson(doc);
    if (auto root = roots.find(core::stringField(object["metadata"], "name")); root != roots.end()) {
      object["spec"]["template"]["metadata"]["annotations"]["local-kubelet/root"] = root->second;
    }
    list["items"].push_back(object);
  }
  const std::string manifest = list.dump();
  ToolOptions withStdin;
  withStdin.stdinData = manifest;
  auto applied = kubectl({"apply", "-f", "-"}, withStdin);
  ASSERT_EQ(applied.exitCode, 0) << applied.out << applied.err;
  for (const auto& object : list["items"]) {
    std::string name = object["metadata"]["name"];
    auto rolled = kubectl({"rollout", "status", "deployment/" + name, "--timeout=120s"});
    ASSERT_EQ(rolled.exitCode, 0) << rolled.out << rolled.err;
  }
  auto ready = kubectl({"wait", "--for=condition=Ready", "pod", "-l", "app=backend",
                        "--timeout=120s"});
  ASSERT_EQ(ready.exitCode, 0) << ready.out << ready.err;
}

std::vector<std::string> ClusterTest::podNames(const std::string& selector) {
  std::vector<std::string> names;
  auto pods = getJson({"pods", "-l", selector});
  for (const auto& pod : core::arrayField(pods, "items")) {
    const auto& meta = core::objectOr(pod, "metadata");
    if (core::stringField(core::objectOr(pod, "status"), "phase") == "Running" &&
        core::stringField(meta, "deletionTimestamp").empty()) {
      names.push_back(core::stringField(meta, "name"));
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

ChildProcess& ClusterTest::startSidecar(const std::string& pod, const std::string& kubeconfig,
                                        int port, const std::vector<std::string>& extraArgs) {
  std::vector<std::string> argv = {ALEMBIC_SIDECAR_EXE, "sidecar",      "--port",
                                   std::to_string(port), "--kubeconfig", kubeconfig};
  argv.insert(argv.end(), extraArgs.begin(), extraArgs.end());
  std::string log = scratch_.str() + "/sidecar-" + pod + "-" + std::to_string(sidecars_.size()) +
                    ".log";
  sidecars_.push_back(std::make_unique<ChildProcess>(
      argv,
      std::map<std::string, std::string>{
          {"POD_NAME", pod},
          {"POD_NAMESPACE", ns_},
          {"ALEMBIC_SIDECAR_SQUAWK", sourceDir() + "/.tools/bin/squawk"},
          {"ALEMBIC_SIDECAR_LOG_LEVEL", "debug"},
          {"KUBECONFIG", ""},
          {"HOME", scratch_.str()},
          {"DATABASE_URL", ""}},
      log));
  return *sidecars_.back();
}

CliResult ClusterTest::request(const std::vector<std::string>& args, const std::string& kubeconfig,
                               const std::string& context) {
  std::vector<std::string> argv = {"request", "--kubeconfig", kubeconfig, "--namespace", ns_,
                                   "--wait",  "--json",       "--timeout",  "300"};
  if (!context.empty()) {
    argv.insert(argv.end(), {"--context", context});
  }
  argv.insert(argv.end(), args.begin(), args.end());
  return runCli(argv, {{"HOME", scratch_.str()}, {"KUBECONFIG", ""}});
}

nlohmann::json ClusterTest::run(const std::string& name) {
  auto got = admin_->get(res::migrationRuns(ns_).named(name));
  return got.ok() ? *got : nlohmann::json();
}

std::vector<nlohmann::json> ClusterTest::eventsFor(const std::string& runName) {
  std::vector<nlohmann::json> out;
  auto list = kube::listAll(*admin_, res::events(ns_), {});
  if (!list.ok()) {
    ADD_FAILURE() << list.error().message;
    return out;
  }
  for (const auto& e : list->items) {
    if (core::stringField(core::objectOr(e, "regarding"), "name") == runName) {
      out.push_back(e);
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return core::stringField(a, "eventTime") < core::stringField(b, "eventTime");
  });
  return out;
}

std::vector<std::string> ClusterTest::eventReasons(const std::string& runName) {
  std::vector<std::string> reasons;
  for (const auto& e : eventsFor(runName)) {
    reasons.push_back(core::stringField(e, "reason"));
  }
  return reasons;
}

std::string ClusterTest::newRun(const nlohmann::json& spec, const std::string& generateName) {
  auto created = admin_->create(res::migrationRuns(ns_),
                                {{"apiVersion", "alembic.sidecar.dev/v1alpha1"},
                                 {"kind", "MigrationRun"},
                                 {"metadata", {{"generateName", generateName}}},
                                 {"spec", spec}});
  EXPECT_TRUE(created.ok()) << (created.ok() ? "" : created.error().message);
  return created.ok() ? core::stringField(core::objectOr(*created, "metadata"), "name") : "";
}

bool ClusterTest::finished(const std::string& runName) {
  std::string phase = core::stringField(core::objectOr(run(runName), "status"), "phase");
  return phase == "Succeeded" || phase == "Escalated" || phase == "Failed";
}

int ClusterTest::execSessions() {
  std::ifstream audit(env_->auditLog());
  if (!audit) {
    ADD_FAILURE() << "no audit log at " << env_->auditLog()
                  << ": start the stack with tests/cluster/envtest.sh start DIR";
    return -1;
  }
  int sessions = 0;
  for (std::string line; std::getline(audit, line);) {
    auto entry = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    const auto& ref = core::objectOr(entry, "objectRef");
    sessions += core::stringField(ref, "namespace") == ns_ &&
                core::stringField(ref, "subresource") == "exec" &&
                core::stringField(entry, "stage") == "RequestReceived";
  }
  return sessions;
}

std::string ClusterTest::createdName(const std::string& output) {
  const std::string prefix = "migrationrun.alembic.sidecar.dev/";
  auto pos = output.find(prefix);
  if (pos == std::string::npos) {
    return {};
  }
  pos += prefix.size();
  return output.substr(pos, output.find_first_of(" \n", pos) - pos);
}

// --- CanaryDatabase ------------------------------------------------------------------------

CanaryDatabase::CanaryDatabase(const std::string& prefix) {
  connection.scheme = "postgresql+asyncpg";
  connection.host = "127.0.0.1";
  connection.port = testServer().port;
  connection.user = prefix + "_role_" + randomName(6);
  connection.password = "canary@/%" + randomName(12);
  connection.database = prefix + "_" + randomName(8);
  execSql("postgres", "CREATE ROLE \"" + connection.user + "\" LOGIN CREATEDB PASSWORD '" +
                          connection.password + "'");
  execSql("postgres",
          "CREATE DATABASE " + connection.database + " OWNER \"" + connection.user + "\"");
}

CanaryDatabase::~CanaryDatabase() {
  try {
    for (const auto& name : databasesWithPrefix(connection.database)) {
      execSql("postgres", "DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
    }
    execSql("postgres", "DROP ROLE IF EXISTS \"" + connection.user + "\"");
  } catch (const std::exception& e) {
    ADD_FAILURE() << "cleanup of " << connection.database << ": " << e.what();
  }
}

// --- SampleAppTest -------------------------------------------------------------------------

void SampleAppTest::SetUp() {
  ClusterTest::SetUp();
  if (IsSkipped() || HasFatalFailure()) {
    return;
  }
  ASSERT_NO_FATAL_FAILURE(installChart());
  db_ = std::make_unique<CanaryDatabase>("cl");
  // Through the API, not a kubectl argv: the canary stays out of every process list.
  auto secret = admin_->create(res::secrets(ns_), {{"apiVersion", "v1"},
                                                   {"kind", "Secret"},
                                                   {"metadata", {{"name", "app-db"}}},
                                                   {"stringData", {{"uri", db_->url()}}}});
  ASSERT_TRUE(secret.ok()) << secret.error().message;
  ASSERT_NO_FATAL_FAILURE(
      applySampleApp({{"backend", fs::path(nativeApp_.dir()).parent_path().string()},
                      {"backend-classic", fs::path(classicApp_.dir()).parent_path().string()}}));
  auto native = podNames("app=backend,sidecar-form=native");
  auto classic = podNames("app=backend,sidecar-form=classic");
  ASSERT_EQ(native.size(), 1u);
  ASSERT_EQ(classic.size(), 1u);
  nativePod_ = native.front();
  classicPod_ = classic.front();
  sidecarKubeconfig_ = serviceAccountKubeconfig("alembic-sidecar");
  auto bound = kubectl({"create", "rolebinding", "requester-dev",
                        "--role=alembic-sidecar-requester", "--user=dev"});
  ASSERT_EQ(bound.exitCode, 0) << bound.err;
}

void SampleAppTest::TearDown() {
  ClusterTest::TearDown();  // sidecars stop before their database goes
  db_.reset();
}

ChildProcess& SampleAppTest::startNativeSidecar(int port, const std::vector<std::string>& extraArgs) {
  return startSidecar(nativePod_, sidecarKubeconfig_, port, extraArgs);
}

CliResult SampleAppTest::requestAsDev(const std::vector<std::string>& args) {
  return request(args, env_->kubeconfig(), "dev");
}

void SampleAppTest::expectNoCanaryAnywhere(const std::vector<std::string>& moreOutputs) {
  const std::string password = db_->connection.password;
  const std::string url = db_->url();
  const auto userEnd = url.find(':', url.find("://") + 3);
  const std::string encoded = url.substr(userEnd + 1, url.rfind('@') - userEnd - 1);
  std::vector<std::pair<std::string, std::string>> places;
  for (size_t i = 0; i < sidecars_.size(); ++i) {
    places.emplace_back("sidecar log " + std::to_string(i), sidecars_[i]->log());
  }
  for (const char* kind : {"migrationruns", "configmaps", "events.events.k8s.io", "events"}) {
    auto listed = kubectl({"get", kind, "-o", "json"});
    EXPECT_EQ(listed.exitCode, 0) << listed.err;
    places.emplace_back(std::string("kubectl get ") + kind, listed.out);
  }
  for (size_t i = 0; i < moreOutputs.size(); ++i) {
    places.emplace_back("output " + std::to_string(i), moreOutputs[i]);
  }
  // Every pods/exec argv the sidecar sent, as the apiserver logged it: a URL passed on a
  // command line would end up in a real cluster's audit trail.
  if (std::ifstream audit(env_->auditLog()); audit) {
    places.emplace_back("the apiserver's audit log",
                        std::string(std::istreambuf_iterator<char>(audit), {}));
  }
  for (const auto& [where, text] : places) {
    EXPECT_EQ(text.find(password), std::string::npos) << "canary password in " << where;
    EXPECT_EQ(text.find(encoded), std::string::npos) << "encoded canary password in " << where;
  }
}

}  // namespace alembic_sidecar::testing::cluster
