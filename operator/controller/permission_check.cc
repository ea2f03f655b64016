#include "controller/permission_check.h"

#include <spdlog/spdlog.h>

#include "core/json_util.h"
#include "core/reasons.h"
#include "kube/resources.h"

namespace alembic_sidecar::controller {
namespace {

const kube::ResourceRef kReviews{
    "authorization.k8s.io", "v1", "selfsubjectaccessreviews", "", "", ""};

}  // namespace

StatusPermission::StatusPermission(std::shared_ptr<kube::KubeApi> api, std::string ns,
                                   std::string ownPod, std::shared_ptr<kube::EventRecorder> events)
    : api_(std::move(api)),
      ns_(std::move(ns)),
      ownPod_(std::move(ownPod)),
      events_(std::move(events)) {}

nlohmann::json StatusPermission::reviewFor(const std::string& ns) {
  return {{"apiVersion", "authorization.k8s.io/v1"},
          {"kind", "SelfSubjectAccessReview"},
          {"spec",
           {{"resourceAttributes",
             {{"namespace", ns},
              {"verb", "patch"},
              {"group", "alembic.sidecar.dev"},
              {"resource", "migrationruns"},
              {"subresource", "status"}}}}}};
}

bool StatusPermission::check() {
  auto answer = api_->create(kReviews, reviewFor(ns_));
  if (!answer) {
    changed(false, core::reason::kPermissionCheckFailed,
            "cannot ask the API server whether this sidecar may patch migrationruns/status in "
            "namespace " +
                ns_ + " (" + answer.error().reason + "): " + answer.error().message);
    return false;
  }
  const auto& status = core::objectOr(*answer, "status");
  auto allowedField = status.find("allowed");
  bool allowed =
      allowedField != status.end() && allowedField->is_boolean() && allowedField->get<bool>();
  if (allowed) {
    changed(true, core::reason::kStatusWriteAllowed,
            "this sidecar may patch migrationruns/status in namespace " + ns_);
    return true;
  }
  std::string why = core::stringField(status, "reason");
  changed(false, core::reason::kStatusWriteForbidden,
          "this sidecar may not patch migrationruns/status in namespace " + ns_ +
              (why.empty() ? std::string() : " (" + why + ")") +
              ": runs it claimed could never report. Grant it (manifests/rbac.yaml: resources "
              "[\"migrationruns/status\"], verbs [\"get\", \"patch\", \"update\"]) and bind the "
              "Role to the sidecar's ServiceAccount");
  return false;
}

void StatusPermission::changed(bool allowed, const std::string& reason, const std::string& note) {
  bool announce = false;
  bool wasRefused = false;
  {
    std::lock_guard lock(mutex_);
    announce = !known_ || allowed != allowed_ || reason != lastEventReason_;
    wasRefused = known_ && !allowed_;
    known_ = true;
    allowed_ = allowed;
    reason_ = allowed ? std::string() : reason + ": " + note;
    lastEventReason_ = reason;
  }
  if (!announce) {
    return;
  }
  if (allowed) {
    spdlog::info("Permission to write MigrationRun status confirmed namespace={}", ns_);
    if (wasRefused && events_ && !ownPod_.empty()) {
      auto recorded = events_->normal(regarding(), reason, "CheckPermission", note);
      (void)recorded;
    }
    return;
  }
  spdlog::error("Not ready reason={} {}", reason, note);
  if (events_ && !ownPod_.empty()) {
    auto recorded = events_->warning(regarding(), reason, "CheckPermission", note);
    (void)recorded;
  }
}

nlohmann::json StatusPermission::regarding() {
  auto pod = api_->get(kube::resources::pods(ns_).named(ownPod_));
  nlohmann::json object = pod ? *pod : nlohmann::json{{"metadata", {{"name", ownPod_}}}};
  object["apiVersion"] = "v1";
  object["kind"] = "Pod";
  object["metadata"]["namespace"] = ns_;
  return object;
}

bool StatusPermission::allowed() const {
  std::lock_guard lock(mutex_);
  return allowed_;
}

std::string StatusPermission::reason() const {
  std::lock_guard lock(mutex_);
  return reason_;
}

}  // namespace alembic_sidecar::controller
