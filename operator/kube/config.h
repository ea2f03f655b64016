#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "kube/clock.h"
#include "workspace/process.h"

namespace alembic_sidecar::kube {

/** Reads a whole file; injected so configuration loading is tested without a disk. */
using FileReader = std::function<core::Result<std::string>(const std::string& path)>;
/** Looks up an environment variable. */
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

/** Runs a process (an exec credential plugin); injected so configuration is tested without one. */
using ProcessRunner =
    std::function<core::Result<workspace::ProcessResult>(const workspace::ProcessSpec&)>;

FileReader defaultFileReader();
EnvLookup defaultEnvLookup();

/** Where the bearer token comes from. Thread-safe. */
class TokenSource {
 public:
  virtual ~TokenSource() = default;
  /** The token to send now. */
  virtual core::Result<std::string> token() = 0;
  /** Drops any cached token, so the next token() reads it afresh (called after a 401). */
  virtual void invalidate() = 0;
};

class StaticTokenSource final : public TokenSource {
 public:
  explicit StaticTokenSource(std::string token) : token_(std::move(token)) {}
  core::Result<std::string> token() override { return token_; }
  void invalidate() override {}

 private:
  std::string token_;
};

/**
 * A token file that something else rotates (the kubelet's projected service account token,
 * a kubeconfig tokenFile). The file is re-read once `period` has passed since the last read
 * (client-go: a minute) and after invalidate(); it is never cached for longer.
 */
class FileTokenSource final : public TokenSource {
 public:
  static constexpr std::chrono::seconds kDefaultPeriod{60};

  FileTokenSource(std::string path, std::chrono::milliseconds period, ClockPtr clock,
                  FileReader readFile);
  core::Result<std::string> token() override;
  void invalidate() override;

 private:
  std::string path_;
  std::chrono::milliseconds period_;
  ClockPtr clock_;
  FileReader readFile_;
  std::mutex mutex_;
  std::string cached_;
  std::optional<std::chrono::steady_clock::time_point> readAt_;
};

/** Everything needed to talk to one API server. Holds secrets: never log it. */
struct ClusterConfig {
  /** https://host:port, no trailing slash. */
  std::string server;
  /** PEM of the CA(s) the server certificate must chain to; empty: the system store. */
  std::string caPem;
  /** Only when a kubeconfig explicitly says `insecure-skip-tls-verify: true`. */
  bool insecureSkipTlsVerify = false;
  std::string clientCertPem;
  std::string clientKeyPem;
  /** Null when the client authenticates by certificate only. */
  std::shared_ptr<TokenSource> token;
  /** The namespace to work in: the service account's or the context's ("default"). */
  std::string namespace_ = "default";
  /** Where this came from, for messages: "in-cluster" or "kubeconfig PATH context NAME". */
  std::string source;
};

struct InClusterOptions {
  std::string serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount";
  std::chrono::milliseconds tokenRefresh = FileTokenSource::kDefaultPeriod;
  EnvLookup getenv;     // default: the process environment
  FileReader readFile;  // default: the file system
  ClockPtr clock;       // default: systemClock()
};

/** Whether KUBERNETES_SERVICE_HOST is set, i.e. we run in a pod. */
bool inCluster(const EnvLookup& getenv = {});

/**
 * The service account configuration: KUBERNETES_SERVICE_HOST/_PORT, and token, ca.crt,
 * namespace under serviceAccountDir. The token is read through a FileTokenSource.
 */
core::Result<ClusterConfig> loadInClusterConfig(const InClusterOptions& options = {});

struct KubeconfigOptions {
  /**
   * Empty: $KUBECONFIG (':'-separated; merged as kubectl merges: the first file that defines a
   * cluster, user or context by name, or current-context, wins; missing files are skipped) or
   * ~/.kube/config.
   */
  std::string path;
  /** Empty: the kubeconfig's current-context. */
  std::string context;
  /** Overrides the context's namespace when set. */
  std::string namespace_;
  std::chrono::milliseconds tokenRefresh = FileTokenSource::kDefaultPeriod;
  EnvLookup getenv;
  FileReader readFile;
  ClockPtr clock;
  /** Runs exec credential plugins; default: workspace::runProcess. */
  ProcessRunner runPlugin;
};

/**
 * Reads the kubeconfig as kubectl does: `server`, `certificate-authority(-data)`,
 * `insecure-skip-tls-verify`, and the user's credentials: an exec credential plugin
 * (`users[].user.exec`, client.authentication.k8s.io/v1 or v1beta1: command, args, env,
 * installHint, provideClusterInfo, interactiveMode; see ExecTokenSource), `tokenFile`
 * (re-read as it rotates), `token`, or a client certificate. An exec plugin runs once here, so
 * a missing or failing one is reported at once (reason ExecPluginFailed, with its installHint).
 */
core::Result<ClusterConfig> loadKubeconfig(const KubeconfigOptions& options = {});

/**
 * Parses kubeconfig text. Relative file paths (certificate-authority, client-certificate,
 * client-key, tokenFile) are resolved against baseDir. Errors name the missing context,
 * cluster or user.
 */
core::Result<ClusterConfig> parseKubeconfig(std::string_view yaml, const std::string& baseDir,
                                            const KubeconfigOptions& options);

/** In-cluster when running in a pod (and no kubeconfig path was given), else the kubeconfig. */
core::Result<ClusterConfig> loadDefaultConfig(const KubeconfigOptions& options = {});

}  // namespace alembic_sidecar::kube
