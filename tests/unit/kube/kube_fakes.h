#pragma once

// Test doubles for the kube package's seams: the clock, the HTTP transport, the exec
// connection and the KubeApi itself. Header-only so that every kube unit test can use them.

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "kube/api_errors.h"
#include "kube/clock.h"
#include "kube/exec_stream.h"
#include "kube/http_transport.h"
#include "kube/kube_api.h"

namespace alembic_sidecar::kube::testing {

/** Time moves only when someone sleeps (or the test advances it). */
class FakeClock final : public Clock {
 public:
  std::chrono::steady_clock::time_point now() const override {
    std::lock_guard lock(mutex_);
    return steady_;
  }
  std::chrono::system_clock::time_point wallNow() const override {
    std::lock_guard lock(mutex_);
    return wall_ + (steady_ - std::chrono::steady_clock::time_point{});
  }
  bool sleepFor(std::chrono::nanoseconds duration, Interrupt* interrupt) override {
    {
      std::lock_guard lock(mutex_);
      sleeps_.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(duration));
      steady_ += duration;
    }
    if (onSleep) {
      onSleep(duration);
    }
    return interrupt == nullptr || !interrupt->fired();
  }
  void advance(std::chrono::nanoseconds duration) {
    std::lock_guard lock(mutex_);
    steady_ += duration;
  }
  std::vector<std::chrono::milliseconds> sleeps() const {
    std::lock_guard lock(mutex_);
    return sleeps_;
  }
  /** Called after every sleep (e.g. to stop a loop). */
  std::function<void(std::chrono::nanoseconds)> onSleep;

 private:
  mutable std::mutex mutex_;
  std::chrono::steady_clock::time_point steady_{std::chrono::hours(1000)};
  // 2024-05-01T10:00:00Z minus the steady offset above, so wallNow() starts there.
  std::chrono::system_clock::time_point wall_{std::chrono::seconds(1714557600) -
                                              std::chrono::hours(1000)};
  std::vector<std::chrono::milliseconds> sleeps_;
};

inline HttpResponse jsonResponse(int status, const nlohmann::json& body,
                                 std::map<std::string, std::string> headers = {}) {
  HttpResponse response;
  response.status = status;
  response.body = body.dump();
  response.headers = std::move(headers);
  return response;
}

inline nlohmann::json statusBody(int code, const std::string& reason, const std::string& message) {
  return {{"kind", "Status"}, {"apiVersion", "v1"}, {"status", "Failure"},
          {"code", code},     {"reason", reason},   {"message", message}};
}

/** A body that yields scripted chunks, then the end (or an error). */
class FakeBodyStream final : public HttpBodyStream {
 public:
  explicit FakeBodyStream(std::vector<std::string> chunks,
                          std::optional<core::Error> endError = std::nullopt)
      : chunks_(chunks.begin(), chunks.end()), endError_(std::move(endError)) {}
  core::Result<std::string> read() override {
    if (!chunks_.empty()) {
      std::string chunk = chunks_.front();
      chunks_.pop_front();
      return chunk;
    }
    if (endError_) {
      return *endError_;
    }
    return std::string();
  }
  void cancel() override {}

 private:
  std::deque<std::string> chunks_;
  std::optional<core::Error> endError_;
};

/** Answers requests from a script, and records what was sent (and with which token). */
class FakeTransport final : public HttpTransport {
 public:
  struct Sent {
    HttpRequest request;
    std::string token;
  };
  using Reply = core::Result<HttpResponse>;

  void push(Reply reply) { replies_.push_back(std::move(reply)); }
  void pushStream(std::vector<std::string> chunks) { streams_.push_back(std::move(chunks)); }

  core::Result<HttpResponse> send(const HttpRequest& request,
                                  const std::string& bearerToken) override {
    sent.push_back({request, bearerToken});
    if (replies_.empty()) {
      return jsonResponse(500, statusBody(500, "InternalError", "no scripted reply"));
    }
    Reply reply = replies_.front();
    replies_.pop_front();
    return reply;
  }

  core::Result<StreamingResponse> open(const HttpRequest& request,
                                       const std::string& bearerToken) override {
    if (!streams_.empty() && (replies_.empty())) {
      sent.push_back({request, bearerToken});
      StreamingResponse response;
      response.head.status = 200;
      response.body = std::make_unique<FakeBodyStream>(streams_.front());
      streams_.pop_front();
      return response;
    }
    auto reply = send(request, bearerToken);
    if (!reply) {
      return reply.error();
    }
    StreamingResponse response;
    response.head = reply.value();
    if (response.head.status >= 200 && response.head.status <= 299) {
      response.body = std::make_unique<FakeBodyStream>(std::vector<std::string>{});
    }
    return response;
  }

  std::vector<Sent> sent;

 private:
  std::deque<Reply> replies_;
  std::deque<std::vector<std::string>> streams_;
};

/** A token source whose token the test changes; counts invalidations. */
class FakeTokenSource final : public TokenSource {
 public:
  explicit FakeTokenSource(std::string token) : current_(std::move(token)) {}
  core::Result<std::string> token() override {
    if (invalidated_ && !next_.empty()) {
      current_ = next_;
    }
    return current_;
  }
  void invalidate() override {
    invalidated_ = true;
    ++invalidations;
  }
  /** The token the file will hold once re-read. */
  void rotateTo(std::string next) { next_ = std::move(next); }
  int invalidations = 0;

 private:
  std::string current_;
  std::string next_;
  bool invalidated_ = false;
};

/** Scripted frames from an exec server; records what the client sent. */
class FakeExecConnection final : public ExecConnection {
 public:
  void frame(unsigned char channel, std::string payload) {
    frames_.push_back({false, std::string(1, static_cast<char>(channel)) + payload, 0, ""});
  }
  void closeWith(int code) { frames_.push_back({true, "", code, ""}); }
  std::optional<ExecFrame> receive(std::chrono::steady_clock::time_point) override {
    if (frames_.empty()) {
      return std::nullopt;  // the deadline passed
    }
    ExecFrame next = frames_.front();
    if (!next.closed) {
      frames_.pop_front();
    }
    return next;
  }
  core::Status send(std::string data) override {
    if (sendError) {
      return *sendError;
    }
    sent.push_back(std::move(data));
    return {};
  }
  void close() override { ++closes; }

  std::vector<std::string> sent;
  int closes = 0;
  /** Set: every send fails with it (the server has already closed the socket). */
  std::optional<core::Error> sendError;

 private:
  std::deque<ExecFrame> frames_;
};

/** Hands out one connection per connect(), each built by `script`; records the targets. */
class ScriptedExecDialer final : public ExecDialer {
 public:
  using Script = std::function<std::unique_ptr<FakeExecConnection>()>;
  explicit ScriptedExecDialer(Script script) : script_(std::move(script)) {}
  core::Result<std::unique_ptr<ExecConnection>> connect(const std::string& target,
                                                        const std::string&,
                                                        std::chrono::milliseconds) override {
    targets.push_back(target);
    return std::unique_ptr<ExecConnection>(script_());
  }
  std::vector<std::string> targets;

 private:
  Script script_;
};

/** A scripted watch: events, then the end (clean, or an error). */
struct WatchScript {
  std::vector<WatchEvent> events;
  std::optional<core::Error> endError;
};

class ScriptedWatchStream final : public WatchStream {
 public:
  explicit ScriptedWatchStream(WatchScript script)
      : events_(script.events.begin(), script.events.end()), endError_(script.endError) {}
  core::Result<std::optional<WatchEvent>> next() override {
    if (!events_.empty()) {
      WatchEvent event = events_.front();
      events_.pop_front();
      return std::optional<WatchEvent>(std::move(event));
    }
    if (endError_) {
      return *endError_;
    }
    return std::optional<WatchEvent>();
  }
  void cancel() override {}

 private:
  std::deque<WatchEvent> events_;
  std::optional<core::Error> endError_;
};

/**
 * An in-memory KubeApi: objects by path with a global resourceVersion, conditional writes
 * (replace and merge patch: 409 on a stale metadata.resourceVersion), AlreadyExists,
 * NotFound; lists paginate by `limit`; watch() plays scripts; exec() returns scripted
 * results. Every call is recorded.
 */
class FakeKubeApi final : public KubeApi {
 public:
  core::Result<nlohmann::json> get(const ResourceRef& ref) override {
    calls.push_back("get " + ref.path());
    if (auto injected = takeFailure("get")) {
      return *injected;
    }
    auto it = objects_.find(ref.path());
    if (it == objects_.end()) {
      return core::Error::terminal(kNotFound, ref.plural + " \"" + ref.name + "\" not found");
    }
    nlohmann::json read = it->second;
    if (afterGet) {
      afterGet(ref);  // what the caller read is already decided: a write now races with it
    }
    return read;
  }

  core::Result<ObjectList> list(const ResourceRef& ref, const ListOptions& options) override {
    calls.push_back("list " + ref.path() + " continue=" + options.continueToken);
    if (auto injected = takeFailure("list")) {
      return *injected;
    }
    const std::string prefix = ref.collection().path() + "/";
    std::vector<nlohmann::json> all;
    for (const auto& [path, object] : objects_) {
      if (path.rfind(prefix, 0) == 0 && path.find('/', prefix.size()) == std::string::npos) {
        all.push_back(object);
      }
    }
    size_t start = options.continueToken.empty() ? 0 : std::stoul(options.continueToken);
    size_t end = options.limit > 0 ? std::min(all.size(), start + options.limit) : all.size();
    ObjectList out;
    out.items.assign(all.begin() + static_cast<long>(start), all.begin() + static_cast<long>(end));
    out.resourceVersion = std::to_string(rv_);
    out.continueToken = end < all.size() ? std::to_string(end) : "";
    return out;
  }

  core::Result<nlohmann::json> create(const ResourceRef& ref,
                                      const nlohmann::json& object) override {
    const std::string name = object["metadata"].value("name", "");
    const ResourceRef target = ref.collection().named(name);
    calls.push_back("create " + target.path());
    if (auto injected = takeFailure("create")) {
      return *injected;
    }
    if (objects_.count(target.path()) != 0) {
      return core::Error::terminal(kAlreadyExists, ref.plural + " \"" + name + "\" already exists");
    }
    nlohmann::json stored = object;
    stored["metadata"]["resourceVersion"] = std::to_string(++rv_);
    stored["metadata"]["uid"] = "uid-" + name;
    if (!ref.namespace_.empty()) {
      stored["metadata"]["namespace"] = ref.namespace_;
    }
    objects_[target.path()] = stored;
    created.push_back(stored);
    return stored;
  }

  core::Result<nlohmann::json> replace(const ResourceRef& ref,
                                       const nlohmann::json& object) override {
    calls.push_back("replace " + ref.path());
    if (auto injected = takeFailure("replace")) {
      return *injected;
    }
    auto it = objects_.find(ref.path());
    if (it == objects_.end()) {
      return core::Error::terminal(kNotFound, ref.name + " not found");
    }
    const std::string sent = resourceVersionOf(object);
    if (!sent.empty() && sent != resourceVersionOf(it->second)) {
      return core::Error::retryable(kConflict, "the object has been modified");
    }
    nlohmann::json stored = object;
    stored["metadata"]["resourceVersion"] = std::to_string(++rv_);
    it->second = stored;
    return stored;
  }

  core::Result<nlohmann::json> mergePatch(const ResourceRef& ref,
                                          const nlohmann::json& patch) override {
    calls.push_back("patch " + ref.path());
    patches.push_back({ref.path(), patch});
    if (auto injected = takeFailure("patch")) {
      return *injected;
    }
    auto it = objects_.find(ref.collection().named(ref.name).path());
    if (it == objects_.end()) {
      return core::Error::terminal(kNotFound, ref.name + " not found");
    }
    // Like the API server: a resourceVersion in the patch is a precondition.
    const std::string sent = resourceVersionOf(patch);
    if (!sent.empty() && sent != resourceVersionOf(it->second)) {
      return core::Error::retryable(kConflict, "Operation cannot be fulfilled on " + ref.plural +
                                                   " \"" + ref.name +
                                                   "\": the object has been modified");
    }
    it->second.merge_patch(patch);
    it->second["metadata"]["resourceVersion"] = std::to_string(++rv_);
    return it->second;
  }

  core::Status remove(const ResourceRef& ref) override {
    calls.push_back("delete " + ref.path());
    if (objects_.erase(ref.path()) == 0) {
      return core::Error::terminal(kNotFound, ref.name + " not found");
    }
    ++rv_;
    return {};
  }

  core::Result<std::unique_ptr<WatchStream>> watch(const ResourceRef& ref,
                                                   const WatchOptions& options) override {
    calls.push_back("watch " + ref.path() + " rv=" + options.resourceVersion);
    watchResourceVersions.push_back(options.resourceVersion);
    if (auto injected = takeFailure("watch")) {
      return *injected;
    }
    if (watchScripts.empty() && openStream) {
      return openStream();
    }
    if (watchScripts.empty()) {
      if (onWatchesExhausted) {
        onWatchesExhausted();
      }
      return std::unique_ptr<WatchStream>(std::make_unique<ScriptedWatchStream>(WatchScript{}));
    }
    WatchScript script = watchScripts.front();
    watchScripts.pop_front();
    return std::unique_ptr<WatchStream>(std::make_unique<ScriptedWatchStream>(script));
  }

  core::Result<ExecResult> exec(const ExecRequest& request) override {
    execRequests.push_back(request);
    if (execResults.empty()) {
      return core::Error::retryable(kConnectionFailed, "no scripted exec result");
    }
    auto result = execResults.front();
    execResults.pop_front();
    return result;
  }

  std::string defaultNamespace() const override { return "default"; }

  /** Stores an object directly (bumping the resourceVersion). */
  nlohmann::json put(const ResourceRef& ref, nlohmann::json object) {
    object["metadata"]["resourceVersion"] = std::to_string(++rv_);
    objects_[ref.path()] = object;
    return object;
  }
  void erase(const ResourceRef& ref) {
    objects_.erase(ref.path());
    ++rv_;
  }
  std::optional<nlohmann::json> stored(const ResourceRef& ref) const {
    auto it = objects_.find(ref.path());
    if (it == objects_.end()) {
      return std::nullopt;
    }
    return it->second;
  }
  /** The next call of `op` (get, list, create, replace, patch, watch) fails with `error`. */
  void failNext(const std::string& op, core::Error error) { failures_[op].push_back(error); }

  struct Patch {
    std::string path;
    nlohmann::json body;
  };

  std::vector<std::string> calls;
  std::vector<nlohmann::json> created;
  /** Every merge patch as sent (also those refused). */
  std::vector<Patch> patches;
  /** Runs after get() has read the object it returns (e.g. another writer racing the caller). */
  std::function<void(const ResourceRef&)> afterGet;
  std::deque<WatchScript> watchScripts;
  std::vector<std::string> watchResourceVersions;
  std::function<void()> onWatchesExhausted;
  /** When set, a watch with no script left gets this stream (e.g. one that blocks). */
  std::function<std::unique_ptr<WatchStream>()> openStream;
  std::vector<ExecRequest> execRequests;
  std::deque<core::Result<ExecResult>> execResults;

 private:
  std::optional<core::Error> takeFailure(const std::string& op) {
    auto it = failures_.find(op);
    if (it == failures_.end() || it->second.empty()) {
      return std::nullopt;
    }
    core::Error error = it->second.front();
    it->second.pop_front();
    return error;
  }

  std::map<std::string, nlohmann::json> objects_;
  std::map<std::string, std::deque<core::Error>> failures_;
  long rv_ = 100;
};

}  // namespace alembic_sidecar::kube::testing
