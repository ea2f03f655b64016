#include "kube/http_transport_impl.h"

#include <cpprest/containerstream.h>
#include <cpprest/http_client.h>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <system_error>

#include "kube/api_errors.h"

namespace alembic_sidecar::kube {
namespace {

namespace http = web::http;
using http::client::http_client;
using http::client::http_client_config;

constexpr size_t kReadChunk = 64 * 1024;

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

/** Turns a cpprestsdk exception into a connection-level error that names the server. */
core::Error connectionError(const std::exception& e, const std::string& server,
                            const TlsContext& tls) {
  const std::string what = e.what();
  if (auto* httpError = dynamic_cast<const http::http_exception*>(&e)) {
    if (httpError->error_code() == std::errc::timed_out) {
      return core::Error::retryable(kRequestTimeout,
                                    "the API server " + server + " did not answer in time");
    }
    if (httpError->error_code() == std::errc::operation_canceled) {
      return core::Error::terminal(kCancelled, "request to " + server + " cancelled");
    }
  }
  if (what.find("SSL") != std::string::npos || what.find("handshake") != std::string::npos) {
    const std::string failure = tls.lastVerifyFailure();
    if (!failure.empty()) {
      return core::Error::terminal(kTlsVerificationFailed,
                                   "the certificate of the API server " + server +
                                       " could not be verified against the configured CA (" +
                                       failure + ")");
    }
    return core::Error::retryable(
        kConnectionFailed, "TLS handshake with the API server " + server + " failed: " + what);
  }
  return core::Error::retryable(kConnectionFailed,
                                "cannot reach the API server " + server + ": " + what);
}

http::http_request buildRequest(const HttpRequest& request, const std::string& token,
                                const std::string& userAgent) {
  http::http_request req(utility::conversions::to_string_t(request.method));
  req.set_request_uri(web::uri(utility::conversions::to_string_t(request.target)));
  req.headers().add(U("Accept"), U("application/json"));
  req.headers().add(U("User-Agent"), utility::conversions::to_string_t(userAgent));
  if (!token.empty()) {
    req.headers().add(U("Authorization"), utility::conversions::to_string_t("Bearer " + token));
  }
  if (!request.contentType.empty()) {
    req.set_body(request.body, request.contentType);
  }
  return req;
}

HttpResponse headOf(const http::http_response& response) {
  HttpResponse head;
  head.status = response.status_code();
  for (const auto& [name, value] : response.headers()) {
    head.headers[lower(utility::conversions::to_utf8string(name))] =
        utility::conversions::to_utf8string(value);
  }
  return head;
}

std::string readWholeBody(const http::http_response& response) {
  concurrency::streams::container_buffer<std::vector<uint8_t>> buffer;
  response.body().read_to_end(buffer).get();
  return std::string(buffer.collection().begin(), buffer.collection().end());
}

class CppRestBodyStream final : public HttpBodyStream {
 public:
  CppRestBodyStream(std::shared_ptr<http_client> client, http::http_response response,
                    pplx::cancellation_token_source cancel, std::string server,
                    std::shared_ptr<const TlsContext> tls)
      : client_(std::move(client)),
        response_(std::move(response)),
        cancel_(std::move(cancel)),
        server_(std::move(server)),
        tls_(std::move(tls)) {}

  ~CppRestBodyStream() override { cancel(); }

  core::Result<std::string> read() override {
    try {
      // The body is a producer_consumer_buffer that the HTTP client fills chunk by chunk
      // but never sync()s, and its getn(n) waits until n bytes are there (or the end).
      // So: take what is buffered now; when nothing is, wait for a single byte, then take
      // whatever else has arrived with it. Events are thus read as the server sends them.
      auto buffer = response_.body().streambuf();
      std::string chunk(kReadChunk, '\0');
      auto* data = reinterpret_cast<uint8_t*>(chunk.data());
      size_t n = 0;
      size_t available = buffer.in_avail();
      if (available == 0) {
        n = buffer.getn(data, 1).get();
        available = n == 0 ? 0 : buffer.in_avail();
      }
      if (available > 0) {
        n += buffer.getn(data + n, std::min(available, chunk.size() - n)).get();
      }
      if (n > 0) {
        chunk.resize(n);
        return chunk;
      }
      // End of the buffered body: tell a clean end (terminating chunk) from a broken one.
      response_.content_ready().get();
      return std::string();
    } catch (const std::exception& e) {
      if (cancel_.get_token().is_canceled()) {
        return core::Error::terminal(kCancelled, "stream from " + server_ + " cancelled");
      }
      return connectionError(e, server_, *tls_);
    }
  }

  void cancel() override { cancel_.cancel(); }

 private:
  std::shared_ptr<http_client> client_;  // must outlive the response
  http::http_response response_;
  pplx::cancellation_token_source cancel_;
  std::string server_;
  std::shared_ptr<const TlsContext> tls_;
};

class CppRestTransport final : public HttpTransport {
 public:
  CppRestTransport(std::string server, std::shared_ptr<const TlsContext> tls, std::string userAgent)
      : server_(std::move(server)), tls_(std::move(tls)), userAgent_(std::move(userAgent)) {}

  core::Result<HttpResponse> send(const HttpRequest& request,
                                  const std::string& bearerToken) override {
    try {
      auto client = clientFor(request.timeout);
      auto response = client->request(buildRequest(request, bearerToken, userAgent_)).get();
      HttpResponse out = headOf(response);
      out.body = readWholeBody(response);
      return out;
    } catch (const std::exception& e) {
      return connectionError(e, server_, *tls_);
    }
  }

  core::Result<StreamingResponse> open(const HttpRequest& request,
                                       const std::string& bearerToken) override {
    try {
      auto client = clientFor(request.timeout);
      pplx::cancellation_token_source cancel;
      auto response =
          client->request(buildRequest(request, bearerToken, userAgent_), cancel.get_token()).get();
      StreamingResponse out;
      out.head = headOf(response);
      if (out.head.status < 200 || out.head.status > 299) {
        out.head.body = readWholeBody(response);
        return out;
      }
      out.body = std::make_unique<CppRestBodyStream>(std::move(client), std::move(response),
                                                     std::move(cancel), server_, tls_);
      return out;
    } catch (const std::exception& e) {
      return connectionError(e, server_, *tls_);
    }
  }

 private:
  /** cpprestsdk fixes the (inactivity) timeout per client: one client per timeout. */
  std::shared_ptr<http_client> clientFor(std::chrono::milliseconds timeout) {
    std::lock_guard lock(mutex_);
    auto& client = clients_[timeout];
    if (!client) {
      http_client_config config;
      config.set_timeout(timeout);
      config.set_validate_certificates(tls_->verifies());
      auto tls = tls_;
      config.set_ssl_context_callback([tls](boost::asio::ssl::context& context) {
        if (auto applied = tls->apply(context.native_handle()); !applied) {
          throw std::runtime_error(applied.error().message);
        }
      });
      client = std::make_shared<http_client>(utility::conversions::to_string_t(server_), config);
    }
    return client;
  }

  std::string server_;
  std::shared_ptr<const TlsContext> tls_;
  std::string userAgent_;
  std::mutex mutex_;
  std::map<std::chrono::milliseconds, std::shared_ptr<http_client>> clients_;
};

}  // namespace

std::string HttpResponse::header(std::string_view lowerCaseName) const {
  auto it = headers.find(std::string(lowerCaseName));
  return it == headers.end() ? std::string() : it->second;
}

std::string hostOfServer(const std::string& server) {
  std::string_view rest = server;
  if (auto scheme = rest.find("://"); scheme != std::string_view::npos) {
    rest.remove_prefix(scheme + 3);
  }
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    rest = rest.substr(0, slash);
  }
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    rest.remove_prefix(at + 1);
  }
  if (!rest.empty() && rest.front() == '[') {
    auto close = rest.find(']');
    return std::string(rest.substr(1, close == std::string_view::npos ? rest.npos : close - 1));
  }
  if (auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    rest = rest.substr(0, colon);
  }
  return std::string(rest);
}

core::Result<std::shared_ptr<const TlsContext>> makeTlsContext(const ClusterConfig& config) {
  TlsSettings settings;
  settings.serverHost = hostOfServer(config.server);
  settings.caPem = config.caPem;
  settings.clientCertPem = config.clientCertPem;
  settings.clientKeyPem = config.clientKeyPem;
  settings.insecureSkipVerify = config.insecureSkipTlsVerify;
  return TlsContext::create(settings);
}

core::Result<std::shared_ptr<HttpTransport>> makeHttpTransport(
    const ClusterConfig& config, std::shared_ptr<const TlsContext> tls, std::string userAgent) {
  if (config.server.rfind("https://", 0) != 0 && config.server.rfind("http://", 0) != 0) {
    return core::Error::terminal(kConfigInvalid,
                                 "server " + config.server + " is not an http(s) URL");
  }
  try {
    // Validates the URL once, so that later requests fail for network reasons only.
    web::uri parsed(utility::conversions::to_string_t(config.server));
    (void)parsed;
  } catch (const std::exception& e) {
    return core::Error::terminal(kConfigInvalid,
                                 "server " + config.server + " is not a valid URL: " + e.what());
  }
  return std::shared_ptr<HttpTransport>(
      std::make_shared<CppRestTransport>(config.server, std::move(tls), std::move(userAgent)));
}

}  // namespace alembic_sidecar::kube
