#pragma once

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "pipeline/run_request.h"

namespace alembic_sidecar::controller {

inline constexpr char kGroup[] = "alembic.sidecar.dev";
inline constexpr char kApiVersion[] = "alembic.sidecar.dev/v1alpha1";
inline constexpr char kKind[] = "MigrationRun";

/** spec.target: where alembic runs. */
struct TargetSpec {
  std::map<std::string, std::string> podSelector;  // matchLabels; empty: the sidecar's own pod
  std::string container;                           // empty: the sidecar's default
  std::string workingDir;
  std::vector<std::string> alembicCommand;
  std::vector<std::string> pythonCommand;
  std::string configFile;
};

/** A MigrationRun's spec, with the CRD's defaults applied. */
struct RunSpec {
  std::string action;
  std::string message;
  TargetSpec target;
  nlohmann::json database = nlohmann::json::object();  // spec.database as written
  std::string isolation = pipeline::kIsolationScratch;
  /** Where the scratch database starts: auto, history or live-schema (docs/baselines.md). */
  std::string baseline = pipeline::kBaselineAuto;
  pipeline::Approvals approvals;
  int timeoutSeconds = 900;
  int backoffLimit = 3;
  /** 0 turns round trips off (upgrade-only histories). */
  int roundtripLast = 1;
  int64_t largeTableRows = 100000;
  int liveCheckTimeoutSeconds = 10;
  std::string liveRole;
  /** revision: the head to build on (alembic's --head, e.g. "expand@head"). */
  std::string head;
  /** revision: the new revision's id (alembic's --rev-id); empty: alembic makes one up. */
  std::string revId;
  /** Model modules (dotted names) or paths to import and check. */
  std::vector<std::string> models;
  /** The variable env.py reads the URL from (default DATABASE_URL). */
  std::string urlEnv;
};

/**
 * Reads spec from a MigrationRun object. The API server validates against the CRD; this
 * re-checks what the controller relies on (a runs created before a CRD upgrade, or a test
 * server without validation) and returns reason InvalidSpec with the field at fault.
 */
core::Result<RunSpec> parseRunSpec(const nlohmann::json& run);

/** The pipeline request for a spec; `defaults` carries the sidecar's own settings. */
pipeline::RunRequest toRunRequest(const RunSpec& spec, const pipeline::RunRequest& defaults);

/** "ns/name" of an object. */
std::string objectKey(const nlohmann::json& object);

}  // namespace alembic_sidecar::controller
