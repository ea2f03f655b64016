#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "core/result.h"

// OpenSSL's SSL_CTX, forward-declared so that this header pulls in no OpenSSL header.
struct ssl_ctx_st;

namespace alembic_sidecar::kube {

struct TlsSettings {
  /** The host name or IP address the server certificate must be valid for. */
  std::string serverHost;
  /** Trusted CA certificates (PEM, one or more); empty: the system store. */
  std::string caPem;
  std::string clientCertPem;  // leaf first, then any intermediates
  std::string clientKeyPem;
  bool insecureSkipVerify = false;
};

/**
 * The parsed TLS material of a cluster, applied to every SSL_CTX the HTTP and WebSocket
 * clients create. PEM is parsed once, up front, so a broken CA or a key that does not match
 * the certificate is reported when the client is built, not on the first request. It also
 * remembers why the last certificate verification failed, for the error message.
 */
class TlsContext {
 public:
  static core::Result<std::shared_ptr<const TlsContext>> create(const TlsSettings& settings);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  /**
   * Replaces the trust store of `ctx` with the configured CA (when there is one), turns on
   * host name / IP checking and installs the client certificate and key.
   */
  core::Status apply(ssl_ctx_st* ctx) const;
  bool verifies() const;
  const std::string& serverHost() const;
  /** Why the most recent verification failed ("" when none did). */
  std::string lastVerifyFailure() const;

  struct Impl;

 private:
  explicit TlsContext(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace alembic_sidecar::kube
