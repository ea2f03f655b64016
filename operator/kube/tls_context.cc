#include "kube/tls_context.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <vector>

#include "kube/api_errors.h"

namespace alembic_sidecar::kube {
namespace {

template <class T, auto Free>
struct CDeleter {
  void operator()(T* handle) const { Free(handle); }
};
template <class T, auto Free>
using CSmartPtr = std::unique_ptr<T, CDeleter<T, Free>>;

using X509Ptr = CSmartPtr<X509, X509_free>;
using EvpPkeyPtr = CSmartPtr<EVP_PKEY, EVP_PKEY_free>;
using BioPtr = CSmartPtr<BIO, BIO_free_all>;
using X509StorePtr = CSmartPtr<X509_STORE, X509_STORE_free>;

core::Error tlsError(std::string message) {
  return core::Error::terminal(kTlsConfigInvalid, std::move(message));
}

/** The text of the most recent OpenSSL error (and clears the queue). */
std::string openSslError() {
  unsigned long code = ERR_peek_last_error();
  ERR_clear_error();
  if (code == 0) {
    return "unknown OpenSSL error";
  }
  char buffer[256];
  ERR_error_string_n(code, buffer, sizeof(buffer));
  return buffer;
}

BioPtr memoryBio(const std::string& pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

core::Result<std::vector<X509Ptr>> parseCertificates(const std::string& pem,
                                                     const std::string& what) {
  BioPtr bio = memoryBio(pem);
  if (!bio) {
    return tlsError("cannot read " + what + ": " + openSslError());
  }
  std::vector<X509Ptr> certs;
  while (true) {
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) {
      break;
    }
    certs.push_back(std::move(cert));
  }
  // Reading past the last certificate leaves a "no start line" error; anything else is
  // a damaged certificate.
  const unsigned long last = ERR_peek_last_error();
  const bool clean = last == 0 || (ERR_GET_LIB(last) == ERR_LIB_PEM &&
                                   ERR_GET_REASON(last) == PEM_R_NO_START_LINE);
  if (!clean) {
    return tlsError(what + " is not valid PEM: " + openSslError());
  }
  ERR_clear_error();
  if (certs.empty()) {
    return tlsError(what + " contains no PEM certificate");
  }
  return certs;
}

bool isIpAddress(const std::string& host) {
  unsigned char buffer[sizeof(struct in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buffer) == 1 ||
         inet_pton(AF_INET6, host.c_str(), buffer) == 1;
}

}  // namespace

struct TlsContext::Impl {
  TlsSettings settings;
  std::vector<X509Ptr> caCerts;
  std::vector<X509Ptr> clientChain;  // leaf first
  EvpPkeyPtr clientKey;
  mutable std::mutex mutex;
  mutable std::string lastFailure;

  void recordFailure(std::string failure) const {
    std::lock_guard lock(mutex);
    lastFailure = std::move(failure);
  }
};

namespace {

/**
 * Runs OpenSSL's chain verification (which still calls the per-connection callback the HTTP
 * library installs) and keeps the reason when it fails.
 */
int verifyAndRecord(X509_STORE_CTX* storeCtx, void* arg) {
  const int ok = X509_verify_cert(storeCtx);
  if (arg == nullptr) {
    return ok;
  }
  if (ok > 0) {
    static_cast<const TlsContext::Impl*>(arg)->recordFailure("");
  } else {
    const int code = X509_STORE_CTX_get_error(storeCtx);
    std::string reason = code == X509_V_OK ? "certificate rejected by the host name check"
                                           : X509_verify_cert_error_string(code);
    static_cast<const TlsContext::Impl*>(arg)->recordFailure(std::move(reason));
  }
  return ok;
}

}  // namespace

TlsContext::TlsContext(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TlsContext::~TlsContext() = default;

core::Result<std::shared_ptr<const TlsContext>> TlsContext::create(const TlsSettings& settings) {
  auto impl = std::make_unique<Impl>();
  impl->settings = settings;
  if (!settings.caPem.empty()) {
    auto certs = parseCertificates(settings.caPem, "the CA certificate data");
    if (!certs) {
      return certs.error();
    }
    impl->caCerts = std::move(certs.value());
  }
  if (settings.clientCertPem.empty() != settings.clientKeyPem.empty()) {
    return tlsError("a client certificate needs a key and a key needs a certificate");
  }
  if (!settings.clientCertPem.empty()) {
    auto chain = parseCertificates(settings.clientCertPem, "the client certificate");
    if (!chain) {
      return chain.error();
    }
    impl->clientChain = std::move(chain.value());
    BioPtr bio = memoryBio(settings.clientKeyPem);
    impl->clientKey.reset(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr)
                              : nullptr);
    if (!impl->clientKey) {
      return tlsError("the client key is not a valid PEM private key: " + openSslError());
    }
    if (X509_check_private_key(impl->clientChain.front().get(), impl->clientKey.get()) != 1) {
      ERR_clear_error();
      return tlsError("the client key does not belong to the client certificate");
    }
  }
  return std::shared_ptr<const TlsContext>(new TlsContext(std::move(impl)));
}

core::Status TlsContext::apply(ssl_ctx_st* ctx) const {
  const TlsSettings& settings = impl_->settings;
  if (!settings.insecureSkipVerify) {
    if (!impl_->caCerts.empty()) {
      X509StorePtr store(X509_STORE_new());
      if (!store) {
        return tlsError("cannot create a certificate store: " + openSslError());
      }
      for (const auto& cert : impl_->caCerts) {
        if (X509_STORE_add_cert(store.get(), cert.get()) != 1) {
          return tlsError("cannot add a CA certificate: " + openSslError());
        }
      }
      SSL_CTX_set_cert_store(ctx, store.release());  // the context owns it from here
    }
    X509_VERIFY_PARAM* param = SSL_CTX_get0_param(ctx);
    const std::string& host = settings.serverHost;
    const int set = isIpAddress(host)
                        ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str())
                        : X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
    if (set != 1) {
      return tlsError("cannot set the expected server name " + host + ": " + openSslError());
    }
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    SSL_CTX_set_cert_verify_callback(ctx, &verifyAndRecord, impl_.get());
  }
  if (!impl_->clientChain.empty()) {
    if (SSL_CTX_use_certificate(ctx, impl_->clientChain.front().get()) != 1) {
      return tlsError("cannot use the client certificate: " + openSslError());
    }
    for (size_t i = 1; i < impl_->clientChain.size(); ++i) {
      if (SSL_CTX_add1_chain_cert(ctx, impl_->clientChain[i].get()) != 1) {
        return tlsError("cannot add a client chain certificate: " + openSslError());
      }
    }
    if (SSL_CTX_use_PrivateKey(ctx, impl_->clientKey.get()) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
      return tlsError("cannot use the client key: " + openSslError());
    }
  }
  return {};
}

bool TlsContext::verifies() const { return !impl_->settings.insecureSkipVerify; }

const std::string& TlsContext::serverHost() const { return impl_->settings.serverHost; }

std::string TlsContext::lastVerifyFailure() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->lastFailure;
}

}  // namespace alembic_sidecar::kube
