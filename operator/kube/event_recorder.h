#pragma once

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/redactor.h"
#include "core/result.h"
#include "kube/clock.h"
#include "kube/kube_api.h"

namespace alembic_sidecar::kube {

inline constexpr char kEventNormal[] = "Normal";
inline constexpr char kEventWarning[] = "Warning";
inline constexpr char kReportingController[] = "alembic-sidecar";
/** events.k8s.io/v1 limits. */
inline constexpr size_t kMaxEventNoteBytes = 1024;
inline constexpr size_t kMaxEventFieldBytes = 128;

struct EventRecorderOptions {
  std::string reportingController = kReportingController;
  /** Who reports: the sidecar's pod name (or host name out of cluster). */
  std::string reportingInstance;
};

/** What happened, to which object. */
struct EventSpec {
  /** The object the event is about (needs apiVersion, kind, metadata.name/namespace/uid). */
  nlohmann::json regarding;
  std::string type = kEventNormal;  // Normal or Warning
  std::string reason;               // CamelCase, e.g. RevisionGenerated
  std::string action;               // what the controller did, e.g. Generate
  std::string note;                 // for a person; at most 1 KiB
};

/** The ObjectReference of an object (apiVersion, kind, name, namespace, uid, resourceVersion). */
nlohmann::json objectReference(const nlohmann::json& object);

/**
 * Builds the events.k8s.io/v1 Event: named "<regarding>.<hex nanoseconds>" in the
 * regarding object's namespace, eventTime with microseconds, text scrubbed by `redactor`
 * and cut to the API's limits.
 */
nlohmann::json buildEvent(const EventSpec& spec, const EventRecorderOptions& options,
                          std::chrono::system_clock::time_point now,
                          const core::Redactor& redactor);

/** Emits Events so that `kubectl describe` tells the story of a run. Thread-safe. */
class EventRecorder {
 public:
  EventRecorder(std::shared_ptr<KubeApi> api, core::RedactorPtr redactor,
                EventRecorderOptions options, ClockPtr clock = systemClock());

  core::Status record(const EventSpec& spec);
  core::Status normal(const nlohmann::json& regarding, std::string reason, std::string action,
                      std::string note);
  core::Status warning(const nlohmann::json& regarding, std::string reason, std::string action,
                       std::string note);

 private:
  std::shared_ptr<KubeApi> api_;
  core::RedactorPtr redactor_;
  EventRecorderOptions options_;
  ClockPtr clock_;
};

}  // namespace alembic_sidecar::kube
