#include "kube/exec_credential.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/json_util.h"
#include "kube/api_errors.h"
#include "kube/base64.h"
#include "kube/time_format.h"

namespace alembic_sidecar::kube {
namespace {

namespace fs = std::filesystem;

std::string lastLines(const std::string& text, size_t maxBytes) {
  std::string tail = text.size() > maxBytes ? "..." + text.substr(text.size() - maxBytes) : text;
  while (!tail.empty() && (tail.back() == '\n' || tail.back() == '\r' || tail.back() == ' ')) {
    tail.pop_back();
  }
  return tail;
}

}  // namespace

core::Status validateExecConfig(ExecConfig& config) {
  auto invalid = [&](const std::string& what) {
    return core::Error::terminal(kConfigInvalid,
                                 "user \"" + config.user + "\": exec plugin " + what);
  };
  if (config.command.empty()) {
    return invalid("has no command");
  }
  if (config.apiVersion != kExecApiV1 && config.apiVersion != kExecApiV1beta1) {
    return invalid("apiVersion \"" + config.apiVersion + "\" is not supported (use " + kExecApiV1 +
                   " or " + kExecApiV1beta1 + ")");
  }
  if (config.interactiveMode.empty()) {
    if (config.apiVersion == kExecApiV1) {
      return invalid("needs interactiveMode (Never, IfAvailable or Always) in " +
                     std::string(kExecApiV1));
    }
    config.interactiveMode = "IfAvailable";
  }
  if (config.interactiveMode != "Never" && config.interactiveMode != "IfAvailable" &&
      config.interactiveMode != "Always") {
    return invalid("interactiveMode \"" + config.interactiveMode +
                   "\" is not one of Never, IfAvailable, Always");
  }
  return {};
}

ExecTokenSource::ExecTokenSource(ExecConfig config, ExecClusterInfo cluster, ClockPtr clock,
                                 EnvLookup getenv, ProcessRunner run)
    : config_(std::move(config)),
      cluster_(std::move(cluster)),
      clock_(clock ? std::move(clock) : systemClock()),
      getenv_(getenv ? std::move(getenv) : defaultEnvLookup()),
      run_(run ? std::move(run) : ProcessRunner(workspace::runProcess)) {}

core::Result<std::string> ExecTokenSource::token() {
  std::lock_guard lock(mutex_);
  if (!cached_.empty() && (!expiresAt_ || clock_->wallNow() < *expiresAt_)) {
    return cached_;
  }
  return runPlugin();
}

void ExecTokenSource::invalidate() {
  std::lock_guard lock(mutex_);
  cached_.clear();
  expiresAt_.reset();
}

int ExecTokenSource::runs() const {
  std::lock_guard lock(mutex_);
  return runs_;
}

core::Error ExecTokenSource::failure(const std::string& what) const {
  std::string message = "the exec credential plugin \"" + config_.command + "\" of user \"" +
                        config_.user + "\" " + what;
  if (!config_.installHint.empty()) {
    message += ". " + lastLines(config_.installHint, 2000);
  }
  return core::Error::terminal(kExecPluginFailed, message);
}

core::Result<std::string> ExecTokenSource::runPlugin() {
  if (config_.interactiveMode == "Always") {
    return failure(
        "needs an interactive terminal (interactiveMode: Always), and alembic-sidecar runs "
        "plugins without one; configure the plugin to get a token without prompting");
  }
  // client-go: an absolute path as is, a path with a '/' relative to the kubeconfig's
  // directory, a bare name from PATH.
  std::optional<std::string> executable;
  if (config_.command.find('/') == std::string::npos) {
    executable = workspace::findExecutable(config_.command, getenv_("PATH").value_or(""));
    if (!executable) {
      return failure("was not found on PATH");
    }
  } else {
    fs::path path = config_.command;
    if (path.is_relative() && !config_.baseDir.empty()) {
      path = fs::path(config_.baseDir) / path;
    }
    executable = workspace::findExecutable(path.lexically_normal().string(), "");
    if (!executable) {
      return failure("was not found or is not executable (" + path.lexically_normal().string() +
                     ")");
    }
  }

  nlohmann::json spec = {{"interactive", false}};
  if (config_.provideClusterInfo) {
    nlohmann::json cluster = {{"server", cluster_.server},
                              {"insecure-skip-tls-verify", cluster_.insecureSkipTlsVerify}};
    if (!cluster_.caPem.empty()) {
      cluster["certificate-authority-data"] = encodeBase64(cluster_.caPem);
    }
    if (!cluster_.configJson.empty()) {
      auto config = nlohmann::json::parse(cluster_.configJson, nullptr, false);
      if (!config.is_discarded()) {
        cluster["config"] = config;
      }
    }
    spec["cluster"] = cluster;
  }
  workspace::ProcessSpec process;
  process.argv.push_back(*executable);
  process.argv.insert(process.argv.end(), config_.args.begin(), config_.args.end());
  for (const auto& [name, value] : config_.env) {
    process.env[name] = value;
  }
  process.env["KUBERNETES_EXEC_INFO"] = nlohmann::json{
      {"apiVersion", config_.apiVersion},
      {"kind", "ExecCredential"},
      {"spec", spec}}.dump();
  process.timeout = kTimeout;
  process.maxOutputBytes = 1024 * 1024;
  auto result = run_(process);
  ++runs_;
  if (!result) {
    return failure("could not be started: " + result.error().message);
  }
  if (result->timedOut) {
    return failure("did not answer within " + std::to_string(kTimeout.count()) + " s");
  }
  if (result->exitCode != 0) {
    std::string stderrTail = lastLines(result->err, 600);
    return failure("failed with exit code " + std::to_string(result->exitCode) +
                   (stderrTail.empty() ? "" : ": " + stderrTail));
  }
  // Never quote stdout in a message: it may hold a credential.
  auto credential = nlohmann::json::parse(result->out, nullptr, false);
  if (credential.is_discarded() || !credential.is_object()) {
    return failure("printed something that is not an ExecCredential (not a JSON object)");
  }
  if (core::stringField(credential, "kind") != "ExecCredential") {
    return failure("printed a JSON object whose kind is not ExecCredential");
  }
  if (const auto version = core::stringField(credential, "apiVersion");
      version != config_.apiVersion) {
    return failure("answered with apiVersion \"" + version + "\" but is configured for \"" +
                   config_.apiVersion + "\"");
  }
  const auto& status = core::objectOr(credential, "status");
  if (status.empty()) {
    return failure("returned an ExecCredential without status");
  }
  std::string token = core::stringField(status, "token");
  if (token.empty()) {
    if (!core::stringField(status, "clientCertificateData").empty()) {
      return failure(
          "returned a client certificate instead of a token; alembic-sidecar takes only tokens "
          "from exec plugins (put the certificate in client-certificate-data instead)");
    }
    return failure("returned no token");
  }
  std::optional<std::chrono::system_clock::time_point> expires;
  if (const auto text = core::stringField(status, "expirationTimestamp"); !text.empty()) {
    expires = parseTime(text);
    if (!expires) {
      return failure("returned an expirationTimestamp that is not RFC 3339: " + text);
    }
  }
  spdlog::debug("Exec credential plugin ran user={} command={} expires={}", config_.user,
                config_.command, expires ? formatTime(*expires) : std::string("never"));
  cached_ = std::move(token);
  expiresAt_ = expires;
  return cached_;
}

}  // namespace alembic_sidecar::kube
