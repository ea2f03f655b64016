#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "core/redactor.h"
#include "kube/backoff.h"
#include "kube/clock.h"
#include "kube/config.h"
#include "kube/exec_stream.h"
#include "kube/http_transport.h"
#include "kube/kube_api.h"

namespace alembic_sidecar::kube {

struct ClientOptions {
  /** Connection failures, 429 and 5xx are retried under this policy. */
  BackoffPolicy retry;
  /** Longest wait for an answer to an ordinary request. */
  std::chrono::milliseconds requestTimeout{30000};
  std::string userAgent = std::string("alembic-sidecar/") + ALEMBIC_SIDECAR_VERSION;
  /** When set, every token the client sends is registered with it. */
  core::RedactorPtr redactor;
};

/**
 * KubeApi over HTTPS (cpprestsdk) and WebSocket exec. Thread-safe: one client is shared by
 * the informer, the reconciler and the exec workspaces.
 *
 * Per request: the bearer token is taken from the TokenSource (a 401 makes it re-read the
 * token and retry once); connection failures, 429 and 5xx are retried with jittered
 * exponential backoff, honouring Retry-After; each request is logged at debug level with
 * method, path, status and duration (never a header).
 */
class KubeClient final : public KubeApi {
 public:
  /** The production client: cpprestsdk transport and WebSocket dialer for `config`. */
  static core::Result<std::shared_ptr<KubeClient>> fromConfig(const ClusterConfig& config,
                                                              ClientOptions options = {});

  KubeClient(ClusterConfig config, std::shared_ptr<HttpTransport> transport,
             std::shared_ptr<ExecDialer> dialer, ClientOptions options, ClockPtr clock,
             RandomSource random);

  core::Result<nlohmann::json> get(const ResourceRef& ref) override;
  core::Result<ObjectList> list(const ResourceRef& ref, const ListOptions& options) override;
  core::Result<nlohmann::json> create(const ResourceRef& ref,
                                      const nlohmann::json& object) override;
  core::Result<nlohmann::json> replace(const ResourceRef& ref,
                                       const nlohmann::json& object) override;
  core::Result<nlohmann::json> mergePatch(const ResourceRef& ref,
                                          const nlohmann::json& patch) override;
  core::Status remove(const ResourceRef& ref) override;
  core::Result<std::unique_ptr<WatchStream>> watch(const ResourceRef& ref,
                                                   const WatchOptions& options) override;
  core::Result<ExecResult> exec(const ExecRequest& request) override;
  core::Result<std::unique_ptr<ExecConnection>> openExec(const ExecRequest& request) override;
  std::string defaultNamespace() const override { return config_.namespace_; }

  /**
   * Any request (e.g. /version, or a test server's control API), with the same
   * authentication, retries and logging. Every HTTP status is returned as a response.
   */
  core::Result<HttpResponse> request(const std::string& method, const std::string& target,
                                     const std::string& body = {},
                                     const std::string& contentType = {});

  const std::string& server() const { return config_.server; }

 private:
  /** Dials pods/exec (token refresh on 401, retries on transient failures) until `deadline`. */
  core::Result<std::unique_ptr<ExecConnection>> dialExec(
      const std::string& target, std::chrono::steady_clock::time_point deadline);
  template <class Response, class SendFn>
  core::Result<Response> withRetries(const HttpRequest& request, SendFn send);
  core::Result<std::string> currentToken();
  core::Result<nlohmann::json> jsonCall(const HttpRequest& request);
  core::Error scrub(core::Error error) const;

  ClusterConfig config_;
  std::shared_ptr<HttpTransport> transport_;
  std::shared_ptr<ExecDialer> dialer_;
  ClientOptions options_;
  ClockPtr clock_;
  JitteredBackoff backoff_;
  core::RedactorPtr tokens_;
};

}  // namespace alembic_sidecar::kube
