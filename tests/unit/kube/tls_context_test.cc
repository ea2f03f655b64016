#include "kube/tls_context.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <memory>

#include "kube/api_errors.h"

namespace alembic_sidecar::kube {
namespace {

struct Pem {
  std::string cert;
  std::string key;
};

template <class T, auto Free>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};

/** A fresh self-signed EC certificate, all in memory. */
Pem selfSigned(const char* commonName) {
  std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>> key(EVP_EC_gen("P-256"));
  std::unique_ptr<X509, Deleter<X509, X509_free>> cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(commonName), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509_sign(cert.get(), key.get(), EVP_sha256());
  auto toPem = [](auto write) {
    std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>> bio(BIO_new(BIO_s_mem()));
    write(bio.get());
    char* data = nullptr;
    long size = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<size_t>(size));
  };
  Pem pem;
  pem.cert = toPem([&](BIO* bio) { PEM_write_bio_X509(bio, cert.get()); });
  pem.key = toPem([&](BIO* bio) {
    PEM_write_bio_PrivateKey(bio, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  });
  return pem;
}

TEST(TlsContext, AcceptsACaAndAMatchingClientIdentity) {
  const Pem ca = selfSigned("test-ca");
  const Pem client = selfSigned("client");
  auto tls = TlsContext::create({"127.0.0.1", ca.cert + ca.cert, client.cert, client.key, false});
  ASSERT_TRUE(tls) << tls.error().message;
  EXPECT_TRUE((*tls)->verifies());
  EXPECT_EQ((*tls)->serverHost(), "127.0.0.1");
  std::unique_ptr<SSL_CTX, Deleter<SSL_CTX, SSL_CTX_free>> ctx(SSL_CTX_new(TLS_client_method()));
  ASSERT_TRUE((*tls)->apply(ctx.get()));
  EXPECT_NE(SSL_CTX_get0_certificate(ctx.get()), nullptr);
  EXPECT_EQ(X509_STORE_get0_objects(SSL_CTX_get_cert_store(ctx.get())) != nullptr, true);
  EXPECT_TRUE((*tls)->lastVerifyFailure().empty());
}

TEST(TlsContext, GarbageCaIsAClearError) {
  auto tls = TlsContext::create({"h", "not a certificate", "", "", false});
  ASSERT_FALSE(tls);
  EXPECT_EQ(tls.error().reason, kTlsConfigInvalid);
  EXPECT_NE(tls.error().message.find("CA"), std::string::npos);
}

TEST(TlsContext, TruncatedCaIsRejected) {
  const Pem ca = selfSigned("test-ca");
  auto tls = TlsContext::create({"h", ca.cert.substr(0, ca.cert.size() / 2), "", "", false});
  ASSERT_FALSE(tls);
  EXPECT_EQ(tls.error().reason, kTlsConfigInvalid);
}

TEST(TlsContext, KeyOfAnotherCertificateIsRejected) {
  const Pem client = selfSigned("client");
  const Pem other = selfSigned("other");
  auto tls = TlsContext::create({"h", "", client.cert, other.key, false});
  ASSERT_FALSE(tls);
  EXPECT_NE(tls.error().message.find("does not belong"), std::string::npos);
}

TEST(TlsContext, CertificateWithoutKeyIsRejected) {
  const Pem client = selfSigned("client");
  auto tls = TlsContext::create({"h", "", client.cert, "", false});
  ASSERT_FALSE(tls);
}

TEST(TlsContext, NoCaKeepsTheSystemStore) {
  auto tls = TlsContext::create({"api.example", "", "", "", false});
  ASSERT_TRUE(tls);
  std::unique_ptr<SSL_CTX, Deleter<SSL_CTX, SSL_CTX_free>> ctx(SSL_CTX_new(TLS_client_method()));
  X509_STORE* before = SSL_CTX_get_cert_store(ctx.get());
  ASSERT_TRUE((*tls)->apply(ctx.get()));
  EXPECT_EQ(SSL_CTX_get_cert_store(ctx.get()), before);
}

}  // namespace
}  // namespace alembic_sidecar::kube
