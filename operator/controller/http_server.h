#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "core/result.h"

namespace alembic_sidecar::controller {

/** One HTTP answer: status code, content type, body. */
struct HttpAnswer {
  int status = 200;
  std::string contentType = "text/plain; charset=utf-8";
  std::string body;
};

/**
 * The probe and metrics endpoint (/healthz, /readyz, /metrics): GET only, one handler per
 * path, 404 for anything else. Backed by cpprestsdk's listener; no cpprestsdk type leaks.
 */
class HttpServer {
 public:
  using Handler = std::function<HttpAnswer()>;

  HttpServer(std::string host, int port, std::map<std::string, Handler> routes);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  core::Status start();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace alembic_sidecar::controller
