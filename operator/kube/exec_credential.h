#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"
#include "kube/clock.h"
#include "kube/config.h"
#include "workspace/process.h"

namespace alembic_sidecar::kube {

inline constexpr char kExecApiV1[] = "client.authentication.k8s.io/v1";
inline constexpr char kExecApiV1beta1[] = "client.authentication.k8s.io/v1beta1";

/** A kubeconfig `users[].user.exec` entry (client-go's ExecConfig). */
struct ExecConfig {
  std::string apiVersion;
  std::string command;
  std::vector<std::string> args;
  /** Added to this process's environment for the plugin, in order. */
  std::vector<std::pair<std::string, std::string>> env;
  std::string installHint;
  bool provideClusterInfo = false;
  /** Never | IfAvailable | Always (required in v1; v1beta1 defaults to IfAvailable). */
  std::string interactiveMode;
  /** The directory of the kubeconfig file that defined it: "./plugin" is found there. */
  std::string baseDir;
  /** The user's name in the kubeconfig, for messages. */
  std::string user;
};

/** What `provideClusterInfo` hands the plugin in KUBERNETES_EXEC_INFO's spec.cluster. */
struct ExecClusterInfo {
  std::string server;
  std::string caPem;
  bool insecureSkipTlsVerify = false;
  /** The cluster's `client.authentication.k8s.io/exec` extension, as JSON text; may be empty. */
  std::string configJson;
};

/**
 * A bearer token from an exec credential plugin, as client-go gets it: the plugin runs from
 * argv (never a shell) with KUBERNETES_EXEC_INFO in its environment and prints an
 * ExecCredential; the token is cached until its `expirationTimestamp` (for ever without one)
 * and the plugin runs again after invalidate() (a 401). Plugins run non-interactively: stdin
 * is not a terminal, so `interactiveMode: Always` is refused. The token never reaches a log or
 * an error message. Thread-safe; one plugin runs at a time.
 *
 * Errors (reason kExecPluginFailed, terminal) name the command and user and carry the
 * installHint when the plugin is missing or fails.
 */
class ExecTokenSource final : public TokenSource {
 public:
  static constexpr std::chrono::seconds kTimeout{120};

  ExecTokenSource(ExecConfig config, ExecClusterInfo cluster, ClockPtr clock, EnvLookup getenv,
                  ProcessRunner run);

  core::Result<std::string> token() override;
  void invalidate() override;
  /** How many times the plugin ran (for tests and debug logs). */
  int runs() const;

 private:
  core::Result<std::string> runPlugin();
  core::Error failure(const std::string& what) const;

  ExecConfig config_;
  ExecClusterInfo cluster_;
  ClockPtr clock_;
  EnvLookup getenv_;
  ProcessRunner run_;
  mutable std::mutex mutex_;
  std::string cached_;
  std::optional<std::chrono::system_clock::time_point> expiresAt_;
  int runs_ = 0;
};

/**
 * Validates an exec entry as client-go does: a command, a known apiVersion (v1 or v1beta1;
 * v1alpha1 is gone), interactiveMode required in v1 and one of Never/IfAvailable/Always.
 */
core::Status validateExecConfig(ExecConfig& config);

}  // namespace alembic_sidecar::kube
