#include "kube/event_recorder.h"

#include <spdlog/spdlog.h>

#include <cstdio>

#include "kube/api_errors.h"
#include "kube/resources.h"
#include "kube/time_format.h"

namespace alembic_sidecar::kube {
namespace {

/** Cuts `text` to at most `limit` bytes without splitting a UTF-8 sequence. */
std::string truncateUtf8(std::string text, size_t limit) {
  if (text.size() <= limit) {
    return text;
  }
  size_t cut = limit;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) {
    --cut;
  }
  text.resize(cut);
  return text;
}

std::string metadataField(const nlohmann::json& object, const char* key) {
  auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) {
    return {};
  }
  return metadata->value(key, "");
}

}  // namespace

nlohmann::json objectReference(const nlohmann::json& object) {
  nlohmann::json ref = nlohmann::json::object();
  ref["apiVersion"] = object.value("apiVersion", "");
  ref["kind"] = object.value("kind", "");
  ref["name"] = metadataField(object, "name");
  for (const char* key : {"namespace", "uid", "resourceVersion"}) {
    if (std::string value = metadataField(object, key); !value.empty()) {
      ref[key] = value;
    }
  }
  return ref;
}

nlohmann::json buildEvent(const EventSpec& spec, const EventRecorderOptions& options,
                          std::chrono::system_clock::time_point now,
                          const core::Redactor& redactor) {
  const nlohmann::json regarding = objectReference(spec.regarding);
  std::string ns = regarding.value("namespace", "");
  if (ns.empty()) {
    ns = "default";
  }
  const auto nanos =
      std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
  char suffix[32];
  std::snprintf(suffix, sizeof(suffix), "%llx", static_cast<unsigned long long>(nanos));
  const std::string base = regarding.value("name", "");
  const std::string name = (base.empty() ? "alembic-sidecar" : base) + "." + suffix;

  nlohmann::json event;
  event["apiVersion"] = "events.k8s.io/v1";
  event["kind"] = "Event";
  event["metadata"] = {{"name", name}, {"namespace", ns}};
  event["regarding"] = regarding;
  event["type"] = spec.type == kEventWarning ? kEventWarning : kEventNormal;
  event["reason"] = truncateUtf8(redactor.scrub(spec.reason), kMaxEventFieldBytes);
  event["action"] = truncateUtf8(redactor.scrub(spec.action), kMaxEventFieldBytes);
  event["note"] = truncateUtf8(redactor.scrub(spec.note), kMaxEventNoteBytes);
  event["eventTime"] = formatMicroTime(now);
  event["reportingController"] = truncateUtf8(options.reportingController, kMaxEventFieldBytes);
  event["reportingInstance"] = truncateUtf8(
      options.reportingInstance.empty() ? options.reportingController : options.reportingInstance,
      kMaxEventFieldBytes);
  return event;
}

EventRecorder::EventRecorder(std::shared_ptr<KubeApi> api, core::RedactorPtr redactor,
                             EventRecorderOptions options, ClockPtr clock)
    : api_(std::move(api)),
      redactor_(redactor ? std::move(redactor) : std::make_shared<core::Redactor>()),
      options_(std::move(options)),
      clock_(clock ? std::move(clock) : systemClock()) {}

core::Status EventRecorder::record(const EventSpec& spec) {
  nlohmann::json event = buildEvent(spec, options_, clock_->wallNow(), *redactor_);
  const std::string ns = event["metadata"]["namespace"].get<std::string>();
  auto created = api_->create(resources::events(ns), event);
  if (!created) {
    spdlog::warn("Event not recorded reason={} regarding={} error={}",
                 event["reason"].get<std::string>(), objectKey(spec.regarding),
                 redactor_->scrub(created.error().message));
    return created.error();
  }
  return {};
}

core::Status EventRecorder::normal(const nlohmann::json& regarding, std::string reason,
                                   std::string action, std::string note) {
  return record(
      EventSpec{regarding, kEventNormal, std::move(reason), std::move(action), std::move(note)});
}

core::Status EventRecorder::warning(const nlohmann::json& regarding, std::string reason,
                                    std::string action, std::string note) {
  return record(
      EventSpec{regarding, kEventWarning, std::move(reason), std::move(action), std::move(note)});
}

}  // namespace alembic_sidecar::kube
