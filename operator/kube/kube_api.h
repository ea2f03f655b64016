#pragma once

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"

namespace alembic_sidecar::kube {

class ExecConnection;  // kube/exec_stream.h

/**
 * Names a resource collection (name empty) or one object, optionally a subresource of it.
 * The core group is "". `namespace_` empty means cluster-scoped (or all namespaces for a list).
 */
struct ResourceRef {
  std::string group;
  std::string version;
  std::string plural;
  std::string namespace_;
  std::string name;
  std::string subresource;

  /** "v1" for the core group, "group/version" otherwise. */
  std::string apiVersion() const;
  /** The URL path, e.g. /apis/coordination.k8s.io/v1/namespaces/ns/leases/name. */
  std::string path() const;
  /** The same resource in another namespace / another object / a subresource. */
  ResourceRef inNamespace(std::string ns) const;
  ResourceRef named(std::string objectName) const;
  ResourceRef withSubresource(std::string sub) const;
  /** The collection this object belongs to (name and subresource dropped). */
  ResourceRef collection() const;
  /** "plural.group/namespace/name" for messages. */
  std::string describe() const;
};

struct ListOptions {
  std::string labelSelector;
  std::string fieldSelector;
  /** Page size; 0 lets the server decide. */
  int limit = 0;
  std::string continueToken;
  /** Empty: the most recent state (a quorum read). */
  std::string resourceVersion;
};

struct ObjectList {
  std::vector<nlohmann::json> items;
  std::string resourceVersion;
  std::string continueToken;
};

struct WatchOptions {
  std::string resourceVersion;
  std::string labelSelector;
  std::string fieldSelector;
  bool allowBookmarks = true;
  /** The server ends the watch after this long; the informer then reconnects. */
  std::chrono::seconds timeout{300};
};

struct WatchEvent {
  /** ADDED, MODIFIED, DELETED, BOOKMARK or ERROR (then object is a Status). */
  std::string type;
  nlohmann::json object;
};

/** An open watch: events are read one by one as the server sends them. */
class WatchStream {
 public:
  virtual ~WatchStream() = default;
  /**
   * Blocks until the next event. Returns nullopt when the server ended the stream cleanly;
   * an error when the connection broke or a line was not valid JSON.
   */
  virtual core::Result<std::optional<WatchEvent>> next() = 0;
  /** Unblocks next() from another thread; the stream then ends. */
  virtual void cancel() = 0;
};

/** A command to run in a container through pods/exec. */
struct ExecRequest {
  std::string namespace_;
  std::string pod;
  std::string container;
  std::vector<std::string> command;
  /** Sent on channel 0 when set (stdin=true is then requested). */
  std::optional<std::string> stdinData;
  /** After stdinData, half-close stdin (v5 only; v4 has no way to signal EOF). */
  bool closeStdin = true;
  /** The whole exchange, connection included; past it the stream is closed. */
  std::chrono::milliseconds timeout{std::chrono::minutes(10)};
};

struct ExecResult {
  int exitCode = -1;
  std::string out;
  std::string err;
  /** The deadline passed; out/err hold what arrived before it, exitCode is -1. */
  bool timedOut = false;
};

/**
 * The Kubernetes API as the sidecar uses it: objects as JSON, errors as core::Error with
 * the reasons of api_errors.h. Implementations retry transient failures themselves; an
 * error that comes back is final for this call.
 */
class KubeApi {
 public:
  virtual ~KubeApi() = default;

  virtual core::Result<nlohmann::json> get(const ResourceRef& ref) = 0;
  /** One page; follow continueToken (or use listAll) for the rest. */
  virtual core::Result<ObjectList> list(const ResourceRef& ref, const ListOptions& options) = 0;
  /** POST to the collection of `ref`; the object's metadata names it. */
  virtual core::Result<nlohmann::json> create(const ResourceRef& ref,
                                              const nlohmann::json& object) = 0;
  /** PUT; a metadata.resourceVersion in `object` makes it conditional (409 when stale). */
  virtual core::Result<nlohmann::json> replace(const ResourceRef& ref,
                                               const nlohmann::json& object) = 0;
  /**
   * PATCH with application/merge-patch+json (ref.subresource "status" for the status).
   * A metadata.resourceVersion in the patch makes it conditional.
   */
  virtual core::Result<nlohmann::json> mergePatch(const ResourceRef& ref,
                                                  const nlohmann::json& patch) = 0;
  /** DELETE. NotFound is reported, not swallowed. */
  virtual core::Status remove(const ResourceRef& ref) = 0;
  /** Starts a watch on the collection of `ref`. An expired resourceVersion gives kGone. */
  virtual core::Result<std::unique_ptr<WatchStream>> watch(const ResourceRef& ref,
                                                           const WatchOptions& options) = 0;
  /**
   * Runs a command through pods/exec and waits for it. A non-zero exit is a result, not
   * an error; an error means the command could not be run (or a Failure Status).
   */
  virtual core::Result<ExecResult> exec(const ExecRequest& request) = 0;
  /**
   * Opens pods/exec for a conversation (stdin stays open, nothing is sent): the caller
   * speaks the channel protocol on the returned connection (see exec_session.h). The
   * default says this API cannot.
   */
  virtual core::Result<std::unique_ptr<ExecConnection>> openExec(const ExecRequest& request);
  /** The namespace of the configuration (service account or kubeconfig context). */
  virtual std::string defaultNamespace() const = 0;
};

/** Lists every page by following `continue`; items in server order. */
core::Result<ObjectList> listAll(KubeApi& api, const ResourceRef& ref, ListOptions options);

/** "namespace/name" of an object (name alone when cluster-scoped). */
std::string objectKey(const nlohmann::json& object);
/** metadata.resourceVersion, or "" when absent. */
std::string resourceVersionOf(const nlohmann::json& object);

}  // namespace alembic_sidecar::kube
