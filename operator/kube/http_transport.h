#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "core/result.h"

namespace alembic_sidecar::kube {

struct HttpRequest {
  std::string method;  // GET, POST, PUT, PATCH, DELETE
  /** Path and query, already percent-encoded: /api/v1/pods?limit=10. */
  std::string target;
  std::string body;
  /** Content-Type of body; empty when there is none. */
  std::string contentType;
  /** Longest silence tolerated while waiting for the answer (or between stream chunks). */
  std::chrono::milliseconds timeout{30000};
};

struct HttpResponse {
  int status = 0;
  /** Header names in lower case. */
  std::map<std::string, std::string> headers;
  std::string body;

  std::string header(std::string_view lowerCaseName) const;
};

/** A response body read as it arrives (a watch). */
class HttpBodyStream {
 public:
  virtual ~HttpBodyStream() = default;
  /**
   * Blocks until bytes arrive and returns them; an empty string at the end of the body.
   * An error when the connection broke or the stream was cancelled.
   */
  virtual core::Result<std::string> read() = 0;
  /** Thread-safe; closes the connection so a blocked read() returns. */
  virtual void cancel() = 0;
};

struct StreamingResponse {
  /** Status and headers; for a non-2xx answer also the whole body. */
  HttpResponse head;
  /** The body, for a 2xx answer only. */
  std::unique_ptr<HttpBodyStream> body;
};

/**
 * One API server over HTTPS. Errors are connection-level only (kConnectionFailed,
 * kTlsVerificationFailed, kRequestTimeout); any HTTP status is a response. The bearer token
 * is passed apart from the request so that a request can be logged whole.
 */
class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  virtual core::Result<HttpResponse> send(const HttpRequest& request,
                                          const std::string& bearerToken) = 0;
  /** Returns as soon as the headers are in; a 2xx body is then read from the stream. */
  virtual core::Result<StreamingResponse> open(const HttpRequest& request,
                                               const std::string& bearerToken) = 0;
};

}  // namespace alembic_sidecar::kube
