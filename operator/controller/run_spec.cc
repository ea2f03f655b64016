#include "controller/run_spec.h"

#include "core/json_util.h"
#include "core/reasons.h"

namespace alembic_sidecar::controller {
namespace {

core::Error invalid(const std::string& field, const std::string& problem) {
  return core::Error::terminal(core::reason::kInvalidSpec, "spec." + field + ": " + problem);
}

std::vector<std::string> stringList(const nlohmann::json& j, const char* key) {
  std::vector<std::string> out;
  for (const auto& item : core::arrayField(j, key)) {
    if (item.is_string()) {
      out.push_back(item.get<std::string>());
    }
  }
  return out;
}

}  // namespace

std::string objectKey(const nlohmann::json& object) {
  const auto& meta = core::objectOr(object, "metadata");
  return core::stringField(meta, "namespace") + "/" + core::stringField(meta, "name");
}

core::Result<RunSpec> parseRunSpec(const nlohmann::json& run) {
  const auto& spec = core::objectOr(run, "spec");
  RunSpec s;
  s.action = core::stringField(spec, "action");
  if (s.action != pipeline::kActionRevision && s.action != pipeline::kActionCheck &&
      s.action != pipeline::kActionUpgrade && s.action != pipeline::kActionRoundTrip) {
    return invalid("action", "must be one of revision, check, upgrade, roundtrip (got '" +
                                 s.action + "')");
  }
  s.message = core::stringField(spec, "message");
  if (s.action == pipeline::kActionRevision && (s.message.empty() || s.message.size() > 200)) {
    return invalid("message", "a revision needs a message of 1 to 200 characters");
  }
  const auto& target = core::objectOr(spec, "target");
  for (const auto& [k, v] : core::objectOr(core::objectOr(target, "podSelector"), "matchLabels").items()) {
    if (v.is_string()) {
      s.target.podSelector[k] = v.get<std::string>();
    }
  }
  s.target.container = core::stringField(target, "container");
  s.target.workingDir = core::stringField(target, "workingDir");
  s.target.alembicCommand = stringList(target, "alembicCommand");
  s.target.pythonCommand = stringList(target, "pythonCommand");
  s.target.configFile = core::stringField(target, "configFile");
  s.database = core::objectOr(spec, "database");
  s.isolation = core::stringField(s.database, "isolation", pipeline::kIsolationScratch);
  if (s.isolation != pipeline::kIsolationScratch && s.isolation != pipeline::kIsolationInplace) {
    return invalid("database.isolation", "must be scratch or inplace");
  }
  s.baseline = core::stringField(spec, "baseline", pipeline::kBaselineAuto);
  if (s.baseline != pipeline::kBaselineAuto && s.baseline != pipeline::kBaselineHistory &&
      s.baseline != pipeline::kBaselineLiveSchema) {
    return invalid("baseline", "must be auto, history or live-schema (got '" + s.baseline + "')");
  }
  const auto& approvals = core::objectOr(spec, "approvals");
  s.approvals.rawSQL = core::boolField(approvals, "rawSQL");
  s.approvals.destructive = core::boolField(approvals, "destructive");
  s.timeoutSeconds = static_cast<int>(core::intField(spec, "timeoutSeconds", 900));
  if (s.timeoutSeconds < 30 || s.timeoutSeconds > 3600) {
    return invalid("timeoutSeconds", "must be between 30 and 3600");
  }
  s.backoffLimit = static_cast<int>(core::intField(spec, "backoffLimit", 3));
  if (s.backoffLimit < 0 || s.backoffLimit > 10) {
    return invalid("backoffLimit", "must be between 0 and 10");
  }
  s.roundtripLast = static_cast<int>(core::intField(spec, "roundtripLast", 1));
  if (s.roundtripLast < 0) {
    return invalid("roundtripLast", "must be 0 (no round trip) or more");
  }
  s.largeTableRows = core::intField(spec, "largeTableRows", 100000);
  s.liveCheckTimeoutSeconds =
      static_cast<int>(core::intField(spec, "liveCheckTimeoutSeconds", 10));
  if (s.liveCheckTimeoutSeconds < 1 || s.liveCheckTimeoutSeconds > 3600) {
    return invalid("liveCheckTimeoutSeconds", "must be between 1 and 3600");
  }
  s.liveRole = core::stringField(spec, "liveRole");
  s.head = core::stringField(spec, "head");
  s.revId = core::stringField(spec, "revId");
  if (!s.revId.empty() &&
      (s.revId.size() > 32 ||
       s.revId.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP"
                                 "QRSTUVWXYZ0123456789_") != std::string::npos)) {
    return invalid("revId", "must be 1 to 32 letters, digits or _ (alembic's version_num)");
  }
  s.models = stringList(spec, "models");
  s.urlEnv = core::stringField(target, "urlEnv");
  return s;
}

pipeline::RunRequest toRunRequest(const RunSpec& spec, const pipeline::RunRequest& defaults) {
  pipeline::RunRequest r = defaults;
  r.action = spec.action;
  r.message = spec.message;
  if (!spec.target.alembicCommand.empty()) {
    r.alembic.command = spec.target.alembicCommand;
  }
  if (!spec.target.configFile.empty()) {
    r.alembic.configFile = spec.target.configFile;
  }
  if (!spec.target.pythonCommand.empty()) {
    r.pythonCommand = spec.target.pythonCommand;
  }
  r.isolation = spec.action == pipeline::kActionUpgrade ? pipeline::kIsolationInplace
                                                        : spec.isolation;
  r.approvals = spec.approvals;
  r.timeout = std::chrono::seconds(spec.timeoutSeconds);
  r.roundtripLast = spec.roundtripLast;
  r.largeTableRows = spec.largeTableRows;
  r.liveCheckTimeout = std::chrono::seconds(spec.liveCheckTimeoutSeconds);
  if (!spec.liveRole.empty()) {
    r.liveRole = spec.liveRole;
  }
  r.head = spec.head;
  r.revId = spec.revId;
  r.baseline = spec.baseline;
  if (!spec.models.empty()) {
    r.modelPaths = spec.models;
  }
  if (!spec.urlEnv.empty()) {
    r.alembic.urlEnvVar = spec.urlEnv;
  }
  return r;
}

}  // namespace alembic_sidecar::controller
