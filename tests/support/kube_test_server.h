#pragma once

#include <sys/types.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/result.h"
#include "kube/config.h"
#include "kube/kube_client.h"
#include "support/temp_dir.h"

namespace alembic_sidecar::testing {

/**
 * The test Kubernetes API server (tests/kube_api_server/server.py) running in a temp dir for
 * the lifetime of this object. The process (and its process group) is killed when the
 * object is destroyed, and by the kernel if the test process dies first.
 */
class KubeTestServer {
 public:
  struct Options {
    std::vector<std::string> crdFiles;
    /** Where pods/exec commands run (unless the pod has the workdir annotation). */
    std::string execRoot;
    int compactionWindow = 0;            // 0: the server's default
    double bookmarkIntervalSeconds = 0;  // 0: the server's default
    std::vector<std::string> extraArgs;
  };

  /** Starts the server and waits for its JSON line; an error carries the server's log. */
  static core::Result<std::unique_ptr<KubeTestServer>> start(const Options& options);
  static core::Result<std::unique_ptr<KubeTestServer>> start() { return start(Options{}); }
  ~KubeTestServer();
  KubeTestServer(const KubeTestServer&) = delete;
  KubeTestServer& operator=(const KubeTestServer&) = delete;

  const std::string& url() const { return url_; }
  int port() const { return port_; }
  const std::string& caFile() const { return caFile_; }
  const std::string& token() const { return token_; }
  const std::string& clientCertFile() const { return clientCertFile_; }
  const std::string& clientKeyFile() const { return clientKeyFile_; }
  const std::string& otherCaFile() const { return otherCaFile_; }
  const std::string& kubeconfig() const { return kubeconfig_; }
  const std::string& kubeconfigCert() const { return kubeconfigCert_; }
  const std::string& stateDir() const { return stateDir_; }
  const std::string& execRoot() const { return execRoot_; }
  /** A scratch directory next to the server's state, removed with it. */
  std::string scratchDir() const { return dir_.str(); }
  /** The server's stderr so far (for failure messages). */
  std::string log() const;

  /** CA + admin bearer token. */
  kube::ClusterConfig adminConfig() const;
  /** A ClusterConfig with the server's CA and `token`. */
  kube::ClusterConfig configWithToken(const std::string& token) const;
  /** A client on adminConfig() (no retries beyond one, short backoff). */
  std::shared_ptr<kube::KubeClient> adminClient() const { return admin_; }

  // The control API.
  core::Status addToken(const std::string& token, const std::string& user,
                        const nlohmann::json& rules);
  core::Status revokeToken(const std::string& token);
  /** `faults` is the array of fault rules. */
  core::Status addFaults(const nlohmann::json& faults);
  core::Status clearFaults();
  core::Status compact();
  /** The request log: [{method, path, query, contentType, user, status}]. */
  core::Result<nlohmann::json> requests();
  core::Status clearRequests();
  /** Empties the store and the faults (tokens stay). */
  core::Status reset();
  core::Status setExecProtocols(const std::vector<std::string>& protocols);
  core::Result<nlohmann::json> state();

 private:
  KubeTestServer() = default;
  core::Result<nlohmann::json> control(const std::string& method, const std::string& path,
                                       const nlohmann::json& body = nullptr);
  void kill();

  TempDir dir_{"kube-test-server"};
  pid_t pid_ = -1;
  std::string url_;
  int port_ = 0;
  std::string caFile_;
  std::string caPem_;
  std::string token_;
  std::string clientCertFile_;
  std::string clientKeyFile_;
  std::string otherCaFile_;
  std::string kubeconfig_;
  std::string kubeconfigCert_;
  std::string stateDir_;
  std::string execRoot_;
  std::string logFile_;
  std::shared_ptr<kube::KubeClient> admin_;
};

/** Reads a whole file ("" when it cannot). */
std::string readTextFile(const std::string& path);
/** Writes a whole file atomically (write to a temp name, rename). */
void writeTextFile(const std::string& path, const std::string& content);

}  // namespace alembic_sidecar::testing
