#include "controller/http_server.h"

// spdlog (fmt) first: cpprestsdk defines a U() macro that breaks fmt's headers.
#include <spdlog/spdlog.h>

#include <cpprest/http_listener.h>

#include "core/reasons.h"

namespace alembic_sidecar::controller {

struct HttpServer::Impl {
  std::string url;
  std::map<std::string, Handler> routes;
  std::unique_ptr<web::http::experimental::listener::http_listener> listener;
};

HttpServer::HttpServer(std::string host, int port, std::map<std::string, Handler> routes)
    : impl_(std::make_unique<Impl>()) {
  impl_->url = "http://" + host + ":" + std::to_string(port);
  impl_->routes = std::move(routes);
}

HttpServer::~HttpServer() { stop(); }

core::Status HttpServer::start() {
  try {
    impl_->listener =
        std::make_unique<web::http::experimental::listener::http_listener>(impl_->url);
    auto* impl = impl_.get();
    impl_->listener->support([impl](web::http::http_request request) {
      auto it = impl->routes.find(request.relative_uri().path());
      if (request.method() != web::http::methods::GET || it == impl->routes.end()) {
        request.reply(web::http::status_codes::NotFound, "not found\n").wait();
        return;
      }
      HttpAnswer answer = it->second();
      web::http::http_response response(static_cast<web::http::status_code>(answer.status));
      response.set_body(answer.body, answer.contentType);
      request.reply(response).wait();
    });
    impl_->listener->open().wait();
    spdlog::info("Serving probes and metrics url={}", impl_->url);
    return {};
  } catch (const std::exception& e) {
    return core::Error::terminal(core::reason::kUsageError,
                                 "cannot listen on " + impl_->url + ": " + e.what());
  }
}

void HttpServer::stop() {
  if (impl_ && impl_->listener) {
    try {
      impl_->listener->close().wait();
    } catch (const std::exception& e) {
      spdlog::warn("Closing the probe listener failed error={}", e.what());
    }
    impl_->listener.reset();
  }
}

}  // namespace alembic_sidecar::controller
