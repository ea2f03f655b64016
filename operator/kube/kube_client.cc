#include "kube/kube_client.h"

#include <spdlog/spdlog.h>

#include "kube/api_errors.h"
#include "kube/http_transport_impl.h"

namespace alembic_sidecar::kube {
namespace {

constexpr char kJson[] = "application/json";
constexpr char kMergePatch[] = "application/merge-patch+json";
/** Extra silence tolerated on a watch beyond its timeoutSeconds before it counts as dead. */
constexpr std::chrono::seconds kWatchGrace{30};
constexpr size_t kMinRedactedTokenLength = 8;

const HttpResponse& headOf(const HttpResponse& response) { return response; }
const HttpResponse& headOf(const StreamingResponse& response) { return response.head; }

std::string pathOnly(const std::string& target) { return target.substr(0, target.find('?')); }

std::string addQuery(std::string target, const std::string& key, const std::string& value) {
  if (value.empty()) {
    return target;
  }
  target += target.find('?') == std::string::npos ? "?" : "&";
  return target + core::percentEncode(key) + "=" + core::percentEncode(value);
}

std::optional<std::chrono::seconds> retryAfter(const HttpResponse& response) {
  const std::string value = response.header("retry-after");
  if (value.empty()) {
    return std::nullopt;
  }
  try {
    size_t used = 0;
    const long seconds = std::stol(value, &used);
    if (used == value.size() && seconds >= 0) {
      return std::chrono::seconds(seconds);
    }
  } catch (const std::exception&) {
    // An HTTP-date: fall back to our own backoff.
  }
  return std::nullopt;
}

bool retryableFailure(const core::Error& error) {
  return error.reason == kConnectionFailed || error.reason == kRequestTimeout;
}

/** Splits a watch body into lines as the bytes arrive and decodes each as an event. */
class LineWatchStream final : public WatchStream {
 public:
  LineWatchStream(std::unique_ptr<HttpBodyStream> body, std::string path)
      : body_(std::move(body)), path_(std::move(path)) {}

  core::Result<std::optional<WatchEvent>> next() override {
    while (true) {
      const auto newline = buffer_.find('\n');
      if (newline != std::string::npos) {
        std::string line = buffer_.substr(0, newline);
        buffer_.erase(0, newline + 1);
        if (line.find_first_not_of(" \t\r") == std::string::npos) {
          continue;
        }
        auto parsed = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
        if (parsed.is_discarded() || !parsed.is_object() || !parsed.contains("type")) {
          return core::Error::retryable(kBadResponse,
                                        "watch " + path_ + ": a line is not a watch event");
        }
        WatchEvent event;
        event.type = parsed.value("type", "");
        event.object = parsed.value("object", nlohmann::json::object());
        return std::optional<WatchEvent>(std::move(event));
      }
      auto chunk = body_->read();
      if (!chunk) {
        return chunk.error();
      }
      if (chunk->empty()) {
        // An unterminated last line was cut off mid-event: dropped, the reconnect
        // from the last complete event's resourceVersion brings it back.
        return std::optional<WatchEvent>();
      }
      buffer_ += chunk.value();
    }
  }

  void cancel() override { body_->cancel(); }

 private:
  std::unique_ptr<HttpBodyStream> body_;
  std::string path_;
  std::string buffer_;
};

}  // namespace

core::Result<std::shared_ptr<KubeClient>> KubeClient::fromConfig(const ClusterConfig& config,
                                                                 ClientOptions options) {
  if (config.server.empty()) {
    return core::Error::terminal(kConfigInvalid, "no API server configured");
  }
  auto tls = makeTlsContext(config);
  if (!tls) {
    return tls.error();
  }
  auto transport = makeHttpTransport(config, tls.value(), options.userAgent);
  if (!transport) {
    return transport.error();
  }
  auto dialer = makeWebSocketDialer(config, tls.value());
  return std::make_shared<KubeClient>(config, std::move(transport.value()), std::move(dialer),
                                      std::move(options), systemClock(), defaultRandom());
}

KubeClient::KubeClient(ClusterConfig config, std::shared_ptr<HttpTransport> transport,
                       std::shared_ptr<ExecDialer> dialer, ClientOptions options, ClockPtr clock,
                       RandomSource random)
    : config_(std::move(config)),
      transport_(std::move(transport)),
      dialer_(std::move(dialer)),
      options_(std::move(options)),
      clock_(clock ? std::move(clock) : systemClock()),
      backoff_(options_.retry, random ? std::move(random) : defaultRandom()),
      tokens_(std::make_shared<core::Redactor>()) {}

core::Result<std::string> KubeClient::currentToken() {
  if (!config_.token) {
    return std::string();
  }
  auto token = config_.token->token();
  if (!token) {
    return token.error();
  }
  // A token too short to be real (a test value) would mask every occurrence of its
  // characters in every message.
  if (token->size() >= kMinRedactedTokenLength) {
    tokens_->add(token.value());
    if (options_.redactor) {
      options_.redactor->add(token.value());
    }
  }
  return token;
}

core::Error KubeClient::scrub(core::Error error) const {
  error.message = tokens_->scrub(error.message);
  return error;
}

template <class Response, class SendFn>
core::Result<Response> KubeClient::withRetries(const HttpRequest& request, SendFn send) {
  const int attempts = std::max(1, options_.retry.attempts);
  bool tokenRefreshed = false;
  int retry = 0;
  while (true) {
    auto token = currentToken();
    if (!token) {
      return scrub(token.error());
    }
    const auto start = clock_->now();
    core::Result<Response> result = send(request, token.value());
    const auto elapsed =
        std::chrono::duration_cast<std::chrono::milliseconds>(clock_->now() - start);
    if (!result) {
      spdlog::debug("Kube request method={} path={} error={} durationMs={}", request.method,
                    pathOnly(request.target), result.error().reason, elapsed.count());
      if (retryableFailure(result.error()) && retry + 1 < attempts) {
        clock_->sleepFor(backoff_.delay(retry));
        ++retry;
        continue;
      }
      core::Error error = result.error();
      if (retry > 0) {
        error.message += " (gave up after " + std::to_string(retry + 1) + " attempts)";
      }
      return scrub(std::move(error));
    }
    const HttpResponse& head = headOf(result.value());
    spdlog::debug("Kube request method={} path={} status={} durationMs={}", request.method,
                  pathOnly(request.target), head.status, elapsed.count());
    if (head.status == 401 && config_.token && !tokenRefreshed) {
      // The token may have rotated under us: read it again and retry once.
      tokenRefreshed = true;
      config_.token->invalidate();
      auto fresh = currentToken();
      if (fresh && fresh.value() != token.value()) {
        continue;
      }
    }
    if (isRetryableStatus(head.status) && retry + 1 < attempts) {
      const auto after = retryAfter(head);
      const auto delay = after ? backoff_.retryAfterDelay(*after) : backoff_.delay(retry);
      spdlog::debug("Kube request retry method={} path={} status={} delayMs={}", request.method,
                    pathOnly(request.target), head.status, delay.count());
      clock_->sleepFor(delay);
      ++retry;
      continue;
    }
    return result;
  }
}

core::Result<HttpResponse> KubeClient::request(const std::string& method, const std::string& target,
                                               const std::string& body,
                                               const std::string& contentType) {
  HttpRequest req;
  req.method = method;
  req.target = target;
  req.body = body;
  req.contentType = contentType.empty() && !body.empty() ? kJson : contentType;
  req.timeout = options_.requestTimeout;
  return withRetries<HttpResponse>(req, [this](const HttpRequest& r, const std::string& token) {
    return transport_->send(r, token);
  });
}

core::Result<nlohmann::json> KubeClient::jsonCall(const HttpRequest& req) {
  auto response =
      withRetries<HttpResponse>(req, [this](const HttpRequest& r, const std::string& token) {
        return transport_->send(r, token);
      });
  if (!response) {
    return response.error();
  }
  if (response->status < 200 || response->status > 299) {
    return scrub(
        errorFromResponse(response->status, response->body, req.method, pathOnly(req.target)));
  }
  if (response->body.empty()) {
    return nlohmann::json::object();
  }
  auto parsed = nlohmann::json::parse(response->body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    return core::Error::retryable(
        kBadResponse, req.method + " " + pathOnly(req.target) + ": the response is not JSON");
  }
  return parsed;
}

core::Result<nlohmann::json> KubeClient::get(const ResourceRef& ref) {
  HttpRequest req{"GET", ref.path(), "", "", options_.requestTimeout};
  return jsonCall(req);
}

core::Result<ObjectList> KubeClient::list(const ResourceRef& ref, const ListOptions& options) {
  std::string target = ref.collection().path();
  target = addQuery(target, "labelSelector", options.labelSelector);
  target = addQuery(target, "fieldSelector", options.fieldSelector);
  if (options.limit > 0) {
    target = addQuery(target, "limit", std::to_string(options.limit));
  }
  target = addQuery(target, "continue", options.continueToken);
  target = addQuery(target, "resourceVersion", options.resourceVersion);
  HttpRequest req{"GET", target, "", "", options_.requestTimeout};
  auto body = jsonCall(req);
  if (!body) {
    return body.error();
  }
  ObjectList out;
  const auto metadata = body->value("metadata", nlohmann::json::object());
  out.resourceVersion = metadata.value("resourceVersion", "");
  out.continueToken = metadata.value("continue", "");
  if (auto items = body->find("items"); items != body->end() && items->is_array()) {
    out.items.reserve(items->size());
    for (auto& item : *items) {
      out.items.push_back(std::move(item));
    }
  }
  return out;
}

core::Result<nlohmann::json> KubeClient::create(const ResourceRef& ref,
                                                const nlohmann::json& object) {
  HttpRequest req{"POST", ref.collection().path(), object.dump(), kJson, options_.requestTimeout};
  return jsonCall(req);
}

core::Result<nlohmann::json> KubeClient::replace(const ResourceRef& ref,
                                                 const nlohmann::json& object) {
  HttpRequest req{"PUT", ref.path(), object.dump(), kJson, options_.requestTimeout};
  return jsonCall(req);
}

core::Result<nlohmann::json> KubeClient::mergePatch(const ResourceRef& ref,
                                                    const nlohmann::json& patch) {
  HttpRequest req{"PATCH", ref.path(), patch.dump(), kMergePatch, options_.requestTimeout};
  return jsonCall(req);
}

core::Status KubeClient::remove(const ResourceRef& ref) {
  HttpRequest req{"DELETE", ref.path(), "", "", options_.requestTimeout};
  auto result = jsonCall(req);
  if (!result) {
    return result.error();
  }
  return {};
}

core::Result<std::unique_ptr<WatchStream>> KubeClient::watch(const ResourceRef& ref,
                                                             const WatchOptions& options) {
  std::string target = ref.collection().path() + "?watch=true";
  target = addQuery(target, "resourceVersion", options.resourceVersion);
  if (options.allowBookmarks) {
    target += "&allowWatchBookmarks=true";
  }
  target = addQuery(target, "timeoutSeconds", std::to_string(options.timeout.count()));
  target = addQuery(target, "labelSelector", options.labelSelector);
  target = addQuery(target, "fieldSelector", options.fieldSelector);
  HttpRequest req{
      "GET", target, "", "",
      std::chrono::duration_cast<std::chrono::milliseconds>(options.timeout + kWatchGrace)};
  auto opened =
      withRetries<StreamingResponse>(req, [this](const HttpRequest& r, const std::string& token) {
        return transport_->open(r, token);
      });
  if (!opened) {
    return opened.error();
  }
  if (!opened->body) {
    return scrub(errorFromResponse(opened->head.status, opened->head.body, req.method,
                                   pathOnly(req.target)));
  }
  return std::unique_ptr<WatchStream>(
      std::make_unique<LineWatchStream>(std::move(opened->body), pathOnly(req.target)));
}

core::Result<std::unique_ptr<ExecConnection>> KubeClient::dialExec(
    const std::string& target, std::chrono::steady_clock::time_point deadline) {
  const std::string path = pathOnly(target);
  const int attempts = std::max(1, options_.retry.attempts);
  bool tokenRefreshed = false;
  int retry = 0;
  while (true) {
    auto token = currentToken();
    if (!token) {
      return scrub(token.error());
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_->now());
    auto connection = dialer_->connect(target, token.value(),
                                       std::max(left, std::chrono::milliseconds(1000)));
    if (connection) {
      return connection;
    }
    spdlog::debug("Kube exec path={} error={}", path, connection.error().reason);
    if (connection.error().reason == kTlsVerificationFailed) {
      return scrub(connection.error());
    }
    // The WebSocket library does not report why an upgrade was refused; the same GET
    // without the upgrade gets the API server's Status (401, 403, 404...).
    HttpRequest probe{"GET", target, "", "", options_.requestTimeout};
    auto answer = transport_->send(probe, token.value());
    if (answer && answer->status == 401 && config_.token && !tokenRefreshed) {
      tokenRefreshed = true;
      config_.token->invalidate();
      auto fresh = currentToken();
      if (fresh && fresh.value() != token.value()) {
        continue;
      }
    }
    if (answer && answer->status >= 400 && answer->status != 400 &&
        !isRetryableStatus(answer->status)) {
      return scrub(errorFromResponse(answer->status, answer->body, "exec", path));
    }
    if (retry + 1 < attempts && clock_->now() < deadline) {
      clock_->sleepFor(backoff_.delay(retry));
      ++retry;
      continue;
    }
    return scrub(connection.error());
  }
}

core::Result<ExecResult> KubeClient::exec(const ExecRequest& request) {
  if (!dialer_) {
    return core::Error::terminal(kExecFailed, "this client cannot exec");
  }
  const std::string target = execTarget(request);
  const std::string path = pathOnly(target);
  const auto deadline = clock_->now() + request.timeout;
  const auto start = clock_->now();
  auto connection = dialExec(target, deadline);
  if (!connection) {
    return connection.error();
  }
  auto result = runExecSession(**connection, request, deadline);
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(clock_->now() - start);
  spdlog::debug("Kube exec path={} exitCode={} timedOut={} durationMs={}", path,
                result ? result->exitCode : -1, result ? result->timedOut : false,
                elapsed.count());
  if (!result) {
    return scrub(result.error());
  }
  return result;
}

core::Result<std::unique_ptr<ExecConnection>> KubeClient::openExec(const ExecRequest& request) {
  if (!dialer_) {
    return core::Error::terminal(kExecFailed, "this client cannot exec");
  }
  ExecRequest conversation = request;
  if (!conversation.stdinData) {
    conversation.stdinData = std::string();  // stdin=true: the caller writes to it
  }
  return dialExec(execTarget(conversation), clock_->now() + request.timeout);
}

}  // namespace alembic_sidecar::kube
