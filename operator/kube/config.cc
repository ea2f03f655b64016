#include "kube/config.h"

#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "kube/api_errors.h"
#include "kube/base64.h"
#include "kube/exec_credential.h"

namespace alembic_sidecar::kube {
namespace {

namespace fs = std::filesystem;

core::Error configError(std::string message) {
  return core::Error::terminal(kConfigInvalid, std::move(message));
}

std::string trimmed(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) {
    return {};
  }
  const auto last = text.find_last_not_of(" \t\r\n");
  return std::string(text.substr(first, last - first + 1));
}

std::string resolvePath(const std::string& baseDir, const std::string& path) {
  if (path.empty() || fs::path(path).is_absolute() || baseDir.empty()) {
    return path;
  }
  return (fs::path(baseDir) / path).lexically_normal().string();
}

std::vector<std::string> splitList(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::string current;
  std::istringstream in(text);
  while (std::getline(in, current, separator)) {
    if (!current.empty()) {
      parts.push_back(current);
    }
  }
  return parts;
}

/** A named kubeconfig entry (cluster, user or context) and the directory of its file. */
struct Entry {
  YAML::Node body;
  std::string baseDir;
};

/** The parts of one or more kubeconfig files that matter, merged (first definition wins). */
struct Merged {
  std::string currentContext;
  std::map<std::string, Entry> clusters;
  std::map<std::string, Entry> users;
  std::map<std::string, Entry> contexts;
  std::string files;
};

std::string scalar(const YAML::Node& node, const char* key) {
  const YAML::Node value = node[key];
  if (!value || !value.IsScalar()) {
    return {};
  }
  return value.as<std::string>();
}

bool explicitlyTrue(const YAML::Node& node, const char* key) {
  const YAML::Node value = node[key];
  if (!value || !value.IsScalar()) {
    return false;
  }
  bool flag = false;
  return YAML::convert<bool>::decode(value, flag) && flag;
}

core::Status mergeFile(std::string_view yaml, const std::string& baseDir, const std::string& label,
                       Merged& merged) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return configError("kubeconfig " + label + " is not valid YAML: " + e.what());
  }
  if (!root || root.IsNull()) {
    return {};
  }
  if (!root.IsMap()) {
    return configError("kubeconfig " + label + " is not a YAML mapping");
  }
  if (merged.currentContext.empty()) {
    merged.currentContext = scalar(root, "current-context");
  }
  struct Section {
    const char* list;
    const char* body;
    std::map<std::string, Entry>* into;
  };
  const Section sections[] = {{"clusters", "cluster", &merged.clusters},
                              {"users", "user", &merged.users},
                              {"contexts", "context", &merged.contexts}};
  for (const auto& section : sections) {
    const YAML::Node list = root[section.list];
    if (!list || list.IsNull()) {
      continue;
    }
    if (!list.IsSequence()) {
      return configError("kubeconfig " + label + ": '" + section.list + "' is not a list");
    }
    for (const auto& item : list) {
      const std::string name = item.IsMap() ? scalar(item, "name") : std::string();
      if (name.empty()) {
        return configError("kubeconfig " + label + ": an entry of '" + section.list +
                           "' has no name");
      }
      YAML::Node body = item[section.body];
      section.into->emplace(name, Entry{body ? body : YAML::Node(YAML::NodeType::Map), baseDir});
    }
  }
  return {};
}

std::string names(const std::map<std::string, Entry>& entries) {
  std::string out;
  for (const auto& [name, entry] : entries) {
    out += (out.empty() ? "" : ", ") + name;
  }
  return out.empty() ? "none" : out;
}

/** Reads `<key>-data` (base64) or the file named by `<key>`. */
core::Result<std::string> inlineOrFile(const Entry& entry, const std::string& key,
                                       const std::string& what, const FileReader& readFile) {
  const std::string data = scalar(entry.body, (key + "-data").c_str());
  if (!data.empty()) {
    auto decoded = decodeBase64(data);
    if (!decoded) {
      return configError(what + ": " + key + "-data is not valid base64");
    }
    return *decoded;
  }
  const std::string path = scalar(entry.body, key.c_str());
  if (path.empty()) {
    return std::string();
  }
  auto content = readFile(resolvePath(entry.baseDir, path));
  if (!content) {
    return configError(what + ": cannot read " + key + " " + resolvePath(entry.baseDir, path) +
                       ": " + content.error().message);
  }
  return content.value();
}

/** A YAML node as JSON (scalars that read as a bool or a number become one). */
nlohmann::json yamlToJson(const YAML::Node& node) {
  if (node.IsMap()) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& item : node) {
      out[item.first.as<std::string>()] = yamlToJson(item.second);
    }
    return out;
  }
  if (node.IsSequence()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& item : node) {
      out.push_back(yamlToJson(item));
    }
    return out;
  }
  if (!node.IsScalar()) {
    return nullptr;
  }
  if (node.Tag() != "!") {  // a plain (unquoted) scalar
    bool flag = false;
    if (YAML::convert<bool>::decode(node, flag)) {
      return flag;
    }
    long long integer = 0;
    if (YAML::convert<long long>::decode(node, integer)) {
      return integer;
    }
  }
  return node.as<std::string>();
}

/** `users[].user.exec`, read as client-go reads it. */
core::Result<ExecConfig> execConfigOf(const YAML::Node& exec, const std::string& userName,
                                      const std::string& baseDir) {
  ExecConfig config;
  config.user = userName;
  config.baseDir = baseDir;
  config.apiVersion = scalar(exec, "apiVersion");
  config.command = scalar(exec, "command");
  config.installHint = scalar(exec, "installHint");
  config.interactiveMode = scalar(exec, "interactiveMode");
  config.provideClusterInfo = explicitlyTrue(exec, "provideClusterInfo");
  if (const YAML::Node args = exec["args"]; args && args.IsSequence()) {
    for (const auto& arg : args) {
      config.args.push_back(arg.as<std::string>());
    }
  }
  if (const YAML::Node env = exec["env"]; env && env.IsSequence()) {
    for (const auto& entry : env) {
      const std::string name = scalar(entry, "name");
      if (name.empty()) {
        return configError("user \"" + userName + "\": an exec env entry has no name");
      }
      config.env.emplace_back(name, scalar(entry, "value"));
    }
  }
  if (auto valid = validateExecConfig(config); !valid) {
    return valid.error();
  }
  return config;
}

/** The cluster's `client.authentication.k8s.io/exec` extension, as JSON text. */
std::string execExtensionOf(const YAML::Node& cluster) {
  const YAML::Node extensions = cluster["extensions"];
  if (!extensions || !extensions.IsSequence()) {
    return {};
  }
  for (const auto& item : extensions) {
    if (scalar(item, "name") == "client.authentication.k8s.io/exec" && item["extension"]) {
      return yamlToJson(item["extension"]).dump();
    }
  }
  return {};
}

core::Result<ClusterConfig> buildConfig(const Merged& merged, const KubeconfigOptions& options,
                                        const FileReader& readFile, const ClockPtr& clock) {
  const std::string contextName = options.context.empty() ? merged.currentContext : options.context;
  if (contextName.empty()) {
    return configError("kubeconfig " + merged.files +
                       " has no current-context; choose one with --context (available: " +
                       names(merged.contexts) + ")");
  }
  auto context = merged.contexts.find(contextName);
  if (context == merged.contexts.end()) {
    return configError("context \"" + contextName + "\" not found in kubeconfig " + merged.files +
                       " (available: " + names(merged.contexts) + ")");
  }
  const std::string clusterName = scalar(context->second.body, "cluster");
  const std::string userName = scalar(context->second.body, "user");
  if (clusterName.empty()) {
    return configError("context \"" + contextName + "\" names no cluster");
  }
  auto cluster = merged.clusters.find(clusterName);
  if (cluster == merged.clusters.end()) {
    return configError("cluster \"" + clusterName + "\" of context \"" + contextName +
                       "\" not found in kubeconfig " + merged.files);
  }

  ClusterConfig config;
  config.source = "kubeconfig " + merged.files + " context " + contextName;
  config.server = scalar(cluster->second.body, "server");
  while (!config.server.empty() && config.server.back() == '/') {
    config.server.pop_back();
  }
  if (config.server.empty()) {
    return configError("cluster \"" + clusterName + "\" has no server");
  }
  const std::string clusterWhat = "cluster \"" + clusterName + "\"";
  auto ca = inlineOrFile(cluster->second, "certificate-authority", clusterWhat, readFile);
  if (!ca) {
    return ca.error();
  }
  config.caPem = std::move(ca.value());
  config.insecureSkipTlsVerify = explicitlyTrue(cluster->second.body, "insecure-skip-tls-verify");
  if (config.insecureSkipTlsVerify && !config.caPem.empty()) {
    // kubectl refuses the same: a CA that is never checked is a misconfiguration, not a choice.
    return configError(clusterWhat +
                       " sets insecure-skip-tls-verify together with a certificate authority: "
                       "remove one (keep the CA to verify the API server)");
  }
  if (config.insecureSkipTlsVerify) {
    spdlog::warn(
        "Kubeconfig disables TLS verification cluster={} server={}: anyone on the path "
        "to the API server can read the bearer token; set certificate-authority "
        "instead",
        clusterName, config.server);
  }

  if (!userName.empty()) {
    auto user = merged.users.find(userName);
    if (user == merged.users.end()) {
      return configError("user \"" + userName + "\" of context \"" + contextName +
                         "\" not found in kubeconfig " + merged.files);
    }
    const std::string userWhat = "user \"" + userName + "\"";
    auto cert = inlineOrFile(user->second, "client-certificate", userWhat, readFile);
    if (!cert) {
      return cert.error();
    }
    auto key = inlineOrFile(user->second, "client-key", userWhat, readFile);
    if (!key) {
      return key.error();
    }
    if (cert->empty() != key->empty()) {
      return configError(userWhat +
                         " has a client certificate without a key or a key without "
                         "a certificate");
    }
    config.clientCertPem = std::move(cert.value());
    config.clientKeyPem = std::move(key.value());
    // client-go: a tokenFile, periodically re-read, takes precedence over an inline token.
    const std::string tokenFile = scalar(user->second.body, "tokenFile");
    const std::string token = scalar(user->second.body, "token");
    if (const YAML::Node exec = user->second.body["exec"]; exec && exec.IsMap()) {
      if (user->second.body["auth-provider"]) {
        return configError(userWhat + " sets both exec and auth-provider; keep exec");
      }
      auto execConfig = execConfigOf(exec, userName, user->second.baseDir);
      if (!execConfig) {
        return execConfig.error();
      }
      ExecClusterInfo clusterInfo{config.server, config.caPem, config.insecureSkipTlsVerify,
                                  execExtensionOf(cluster->second.body)};
      auto source = std::make_shared<ExecTokenSource>(
          std::move(*execConfig), std::move(clusterInfo), clock, options.getenv, options.runPlugin);
      // Run it now: a missing or failing plugin is reported before any request is made.
      if (auto first = source->token(); !first) {
        return first.error();
      }
      config.token = std::move(source);
    } else if (!tokenFile.empty()) {
      auto source = std::make_shared<FileTokenSource>(resolvePath(user->second.baseDir, tokenFile),
                                                      options.tokenRefresh, clock, readFile);
      if (auto first = source->token(); !first) {
        return configError(userWhat + ": " + first.error().message);
      }
      config.token = std::move(source);
    } else if (!token.empty()) {
      config.token = std::make_shared<StaticTokenSource>(token);
    }
    if (!config.token && config.clientCertPem.empty()) {
      if (user->second.body["auth-provider"]) {
        return configError(userWhat +
                           " authenticates through an auth-provider plugin (removed from "
                           "kubectl); use an exec credential plugin, a token, tokenFile or "
                           "client certificate");
      }
      if (!scalar(user->second.body, "username").empty()) {
        return configError(userWhat + " uses basic auth, which alembic-sidecar does not support");
      }
    }
  }

  config.namespace_ = options.namespace_;
  if (config.namespace_.empty()) {
    config.namespace_ = scalar(context->second.body, "namespace");
  }
  if (config.namespace_.empty()) {
    config.namespace_ = "default";
  }
  return config;
}

}  // namespace

FileReader defaultFileReader() {
  return [](const std::string& path) -> core::Result<std::string> {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      return core::Error::terminal(kConfigInvalid, "cannot open " + path);
    }
    std::ostringstream content;
    content << in.rdbuf();
    if (in.bad()) {
      return core::Error::terminal(kConfigInvalid, "cannot read " + path);
    }
    return content.str();
  };
}

EnvLookup defaultEnvLookup() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) {
      return std::nullopt;
    }
    return std::string(value);
  };
}

FileTokenSource::FileTokenSource(std::string path, std::chrono::milliseconds period, ClockPtr clock,
                                 FileReader readFile)
    : path_(std::move(path)),
      period_(period),
      clock_(clock ? std::move(clock) : systemClock()),
      readFile_(readFile ? std::move(readFile) : defaultFileReader()) {}

core::Result<std::string> FileTokenSource::token() {
  std::lock_guard lock(mutex_);
  const auto now = clock_->now();
  if (readAt_ && now - *readAt_ < period_ && !cached_.empty()) {
    return cached_;
  }
  auto content = readFile_(path_);
  if (!content) {
    if (!cached_.empty()) {
      // A rotation in progress; the token we have is still the best guess.
      return cached_;
    }
    return core::Error::retryable(
        kTokenUnavailable, "cannot read token file " + path_ + ": " + content.error().message);
  }
  std::string token = trimmed(content.value());
  if (token.empty()) {
    return core::Error::retryable(kTokenUnavailable, "token file " + path_ + " is empty");
  }
  cached_ = std::move(token);
  readAt_ = now;
  return cached_;
}

void FileTokenSource::invalidate() {
  std::lock_guard lock(mutex_);
  readAt_.reset();
}

bool inCluster(const EnvLookup& getenv) {
  const EnvLookup lookup = getenv ? getenv : defaultEnvLookup();
  auto host = lookup("KUBERNETES_SERVICE_HOST");
  return host && !host->empty();
}

core::Result<ClusterConfig> loadInClusterConfig(const InClusterOptions& options) {
  const EnvLookup getenv = options.getenv ? options.getenv : defaultEnvLookup();
  const FileReader readFile = options.readFile ? options.readFile : defaultFileReader();
  const ClockPtr clock = options.clock ? options.clock : systemClock();
  auto host = getenv("KUBERNETES_SERVICE_HOST");
  auto port = getenv("KUBERNETES_SERVICE_PORT");
  if (!host || host->empty() || !port || port->empty()) {
    return configError(
        "not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be "
        "set");
  }
  ClusterConfig config;
  config.source = "in-cluster";
  const bool ipv6 = host->find(':') != std::string::npos;
  config.server = "https://" + (ipv6 ? "[" + *host + "]" : *host) + ":" + *port;
  const std::string dir = options.serviceAccountDir;
  auto ca = readFile(dir + "/ca.crt");
  if (!ca) {
    return configError("cannot read the service account CA " + dir +
                       "/ca.crt: " + ca.error().message);
  }
  config.caPem = std::move(ca.value());
  auto source =
      std::make_shared<FileTokenSource>(dir + "/token", options.tokenRefresh, clock, readFile);
  if (auto first = source->token(); !first) {
    return configError("cannot read the service account token: " + first.error().message);
  }
  config.token = std::move(source);
  if (auto ns = readFile(dir + "/namespace"); ns && !trimmed(ns.value()).empty()) {
    config.namespace_ = trimmed(ns.value());
  }
  return config;
}

core::Result<ClusterConfig> parseKubeconfig(std::string_view yaml, const std::string& baseDir,
                                            const KubeconfigOptions& options) {
  Merged merged;
  merged.files = options.path.empty() ? "(inline)" : options.path;
  if (auto status = mergeFile(yaml, baseDir, merged.files, merged); !status) {
    return status.error();
  }
  const FileReader readFile = options.readFile ? options.readFile : defaultFileReader();
  const ClockPtr clock = options.clock ? options.clock : systemClock();
  try {
    return buildConfig(merged, options, readFile, clock);
  } catch (const YAML::Exception& e) {
    return configError("kubeconfig " + merged.files + ": " + e.what());
  }
}

core::Result<ClusterConfig> loadKubeconfig(const KubeconfigOptions& options) {
  const EnvLookup getenv = options.getenv ? options.getenv : defaultEnvLookup();
  const FileReader readFile = options.readFile ? options.readFile : defaultFileReader();
  const ClockPtr clock = options.clock ? options.clock : systemClock();
  std::vector<std::string> paths;
  if (!options.path.empty()) {
    paths.push_back(options.path);
  } else if (auto env = getenv("KUBECONFIG"); env && !env->empty()) {
    paths = splitList(*env, ':');
  } else if (auto home = getenv("HOME"); home && !home->empty()) {
    paths.push_back(*home + "/.kube/config");
  }
  if (paths.empty()) {
    return configError("no kubeconfig: set KUBECONFIG or pass --kubeconfig");
  }
  Merged merged;
  for (const auto& path : paths) {
    merged.files += (merged.files.empty() ? "" : ":") + path;
  }
  int read = 0;
  for (const auto& path : paths) {
    auto content = readFile(path);
    if (!content) {
      if (paths.size() > 1) {
        continue;  // kubectl skips missing files of a KUBECONFIG list
      }
      return configError("cannot read kubeconfig " + path + ": " + content.error().message);
    }
    ++read;
    const std::string baseDir = fs::path(path).parent_path().string();
    if (auto status = mergeFile(content.value(), baseDir, path, merged); !status) {
      return status.error();
    }
  }
  if (read == 0) {
    return configError("none of the kubeconfig files " + merged.files + " could be read");
  }
  try {
    return buildConfig(merged, options, readFile, clock);
  } catch (const YAML::Exception& e) {
    return configError("kubeconfig " + merged.files + ": " + e.what());
  }
}

core::Result<ClusterConfig> loadDefaultConfig(const KubeconfigOptions& options) {
  if (options.path.empty() && inCluster(options.getenv)) {
    InClusterOptions inClusterOptions;
    inClusterOptions.getenv = options.getenv;
    inClusterOptions.readFile = options.readFile;
    inClusterOptions.clock = options.clock;
    inClusterOptions.tokenRefresh = options.tokenRefresh;
    auto config = loadInClusterConfig(inClusterOptions);
    if (config && !options.namespace_.empty()) {
      config->namespace_ = options.namespace_;
    }
    return config;
  }
  return loadKubeconfig(options);
}

}  // namespace alembic_sidecar::kube
