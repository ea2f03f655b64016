#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "alembic/alembic_ini.h"
#include "alembic/alembic_runner.h"
#include "alembic/inspect_helper.h"
#include "alembic/revision_file.h"
#include "core/report.h"
#include "database/database.h"
#include "database/resolver.h"
#include "pipeline/pipeline.h"

namespace alembic_sidecar::pipeline {

/** Where the project keeps its alembic pieces, relative to the workspace root. */
struct ProjectLayout {
  alembic::AlembicIni ini;
  std::string envPy;
  std::string envPySource;
};

struct GeneratedRevision {
  std::string path;  // relative to the workspace root
  std::string text;
  std::string sha256;
  alembic::ParsedRevision parsed;
  bool removed = false;
};

/** What the steps hand to each other during one run. Internal to pipeline/. */
struct RunState {
  RunState(const RunRequest& r, PipelineDeps& d, core::Report& rep) : request(r), deps(d), report(rep) {}

  const RunRequest& request;
  PipelineDeps& deps;
  core::Report& report;
  std::chrono::steady_clock::time_point deadline;

  std::optional<database::ResolvedDatabase> resolved;
  std::unique_ptr<database::Database> db;
  std::optional<ProjectLayout> layout;
  std::unique_ptr<alembic::AlembicRunner> alembic;
  /** The database alembic works on: a scratch copy or, in place, the app's. */
  database::ConnectionInfo target;
  std::string scratchName;
  /** Owns the scratch databases while the run lives; released after they are dropped. */
  std::unique_ptr<database::ScratchLease> scratchLease;
  /** Further scratch databases (the round trip's reference), dropped with the first. */
  std::vector<std::string> extraScratch;
  std::optional<database::SchemaFingerprint> baseline;
  std::optional<GeneratedRevision> revision;
  /** What env.py and the models say (enums, compare_type, alembic version). */
  std::optional<alembic::InspectResult> inspect;
  /** The generated revision was empty: removed, no round trip. */
  bool noChanges = false;
  /** A leg of the round trip failed or the schema was not restored: the file is removed. */
  bool roundTripFailed = false;

  /** Time left before the run's deadline (at least 1 s, so a command can report it). */
  std::chrono::milliseconds remaining() const;
  bool expired() const { return std::chrono::steady_clock::now() >= deadline; }
};

enum class StepOutcome {
  kContinue,  // the next step runs
  kDone,      // the run ends here, successfully (e.g. NoChanges)
  kFailed,    // the run ends here with report.phase Failed
};

/** Records the step's condition on the report and tells the progress sink. */
void finishStep(RunState& state, core::Condition condition);
/** Ends the run as Failed: sets phase, reason and message, and the step's False condition. */
StepOutcome failStep(RunState& state, const std::string& conditionType, const std::string& reason,
                     const std::string& message);
/** Adds a finding after scrubbing its text. */
void addFinding(RunState& state, core::Finding finding);

/** Revision files in the version locations, relative to the workspace root. */
std::set<std::string> versionFiles(RunState& state);
/** Ends the step as Failed with alembic's own error (Timeout when it timed out). */
StepOutcome failAlembic(RunState& state, const char* type, const std::string& reason,
                        const std::string& what, const alembic::AlembicRun& run);
/**
 * Isolates (scratch database unless in place), upgrades the target to head and records its
 * fingerprint as state.baseline. Returns the failure outcome, or nullopt when ready.
 */
std::optional<StepOutcome> prepareHead(RunState& state, const char* type);

}  // namespace alembic_sidecar::pipeline
