#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "alembic/driver.h"
#include "alembic/predictions.h"
#include "alembic/revision_analysis.h"
#include "alembic/revision_file.h"
#include "core/report.h"
#include "database/database.h"
#include "database/resolver.h"
#include "pipeline/pipeline.h"

namespace alembic_sidecar::pipeline {

struct GeneratedRevision {
  /** Where the file is now, relative to the project: staged until adopted. */
  std::string path;
  /** The version location it joins once validated. */
  std::string destination;
  std::string text;
  std::string sha256;
  alembic::ParsedRevision parsed;
  bool removed = false;
  /** Moved from staging into the history. */
  bool adopted = false;
};

/** What the steps hand to each other during one run. Internal to pipeline/. */
struct RunState {
  RunState(const RunRequest& r, PipelineDeps& d, core::Report& rep) : request(r), deps(d), report(rep) {}

  const RunRequest& request;
  PipelineDeps& deps;
  core::Report& report;
  std::chrono::steady_clock::time_point deadline;
  std::string runId;

  std::optional<database::ResolvedDatabase> resolved;
  std::unique_ptr<database::Database> db;
  /** The one Python process of the run (alembic, env.py, the models, the project's files). */
  std::unique_ptr<alembic::Driver> driver;
  /** The database alembic works on: a scratch copy or, in place, the app's. */
  alembic::DriverTarget target;
  std::string scratchName;
  /** Owns the scratch databases while the run lives; released after they are dropped. */
  std::unique_ptr<database::ScratchLease> scratchLease;
  /** Further scratch databases (the round trip's reference), dropped with the first. */
  std::vector<std::string> extraScratch;
  std::optional<database::SchemaFingerprint> baseline;
  /** The history as alembic reads it (heads, branch labels), once a step asked. */
  std::optional<alembic::HistoryOutcome> history;
  std::optional<GeneratedRevision> revision;
  /** What the models say beyond the file (enums, compare_type). */
  std::optional<alembic::CompareOutcome> compared;
  /** env.py's version table (`table` or `schema.table`), from the models step. */
  std::string versionTable = "alembic_version";
  /** The tables of target_metadata (`table` or `schema.table`), from the models step. */
  std::vector<std::string> modelTables;
  /** The tables mapped by SQLModel classes (their advice is written as Field(...)). */
  std::set<std::string> sqlmodelTables;
  /** In place: the app's database before the run touched it (what stayed changed). */
  std::optional<database::SchemaFingerprint> inplaceBefore;
  std::vector<std::string> inplaceBeforeVersions;
  /** In place: the round trip was not run because the revision could lose data. */
  bool inplaceRefused = false;
  /** The generated revision was empty: removed, no round trip. */
  bool noChanges = false;
  /** A leg of the round trip failed or the schema was not restored: the file is removed. */
  bool roundTripFailed = false;
  /** What each revision (by path) did on the scratch database: observation beats prediction. */
  std::map<std::string, alembic::ObservedLegs> observed;

  /** The project's files, through the driver. */
  workspace::Workspace& files() { return driver->files(); }
  const alembic::DriverInfo& project() const { return driver->info(); }

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
/**
 * Observation beats prediction: findings whose predicted failure the scratch database
 * disproved become notes, and a Validated condition they alone made False turns True.
 */
void reconcileObservations(RunState& state);
/** Adds a finding after scrubbing its text. */
void addFinding(RunState& state, core::Finding finding);

/**
 * Ends the step as Failed with alembic's own error: IsolationBreached when the fence refused
 * a connection, Timeout/Cancelled when the driver was stopped, else `reason` with the line
 * that says what failed.
 */
StepOutcome failAlembic(RunState& state, const char* type, const std::string& reason,
                        const std::string& what, const alembic::OpOutcome& outcome);
/**
 * Ends the step as IsolationBreached: during `what` (the operation), env.py tried `breach`
 * ("database 'x' (psycopg2.connect)"); the message says which flag fixes it.
 */
StepOutcome failBreach(RunState& state, const std::string& type, const std::string& what,
                       const std::string& breach);
/** Ends the step as Failed because the driver is gone (its error says why). */
StepOutcome failDriver(RunState& state, const char* type, const core::Error& error);
/**
 * A second autogenerate comparison on the scratch database the revision migrated (`migrated`
 * is its fingerprint): what it still finds is escalated (SchemaNotCompared for a model table
 * in a schema env.py does not compare, AutogenerateNotRepeatable for anything else).
 */
void checkRepeatable(RunState& state, const database::SchemaFingerprint& migrated);
/** Where the round trip runs, for messages ("the scratch database, which has no rows"). */
std::string roundTripDatabase(const RunState& state);
/** Tables and enum types (with labels) of a schema, for the revision analysis. */
void fillBaseline(const database::SchemaFingerprint& fp, alembic::AnalysisContext& ctx);
/** The schema of `dbName` without env.py's version table (its rows differ by design). */
core::Result<database::SchemaFingerprint> fingerprintOf(RunState& state, const std::string& dbName);
/** The same fingerprint without env.py's version table (its rows differ by design). */
database::SchemaFingerprint withoutVersionTable(const RunState& state,
                                                database::SchemaFingerprint fingerprint);
/**
 * Puts the scratch database at the history's head (`to`: head or heads) from the baseline the
 * request asks for (auto, history, live-schema) and records it on the report
 * (baseline.cc). Returns the failure outcome, or nullopt when ready.
 */
std::optional<StepOutcome> buildBaseline(RunState& state, const char* type, const std::string& to);
/** A target for the driver: `connection` and the identity the fence expects of it. */
core::Result<alembic::DriverTarget> targetFor(RunState& state,
                                              const database::ConnectionInfo& connection);
/**
 * Isolates the run once: creates its scratch database (unless in place) and sets state.target
 * with the identity the fence expects. Returns the failure outcome, or nullopt when ready.
 */
std::optional<StepOutcome> isolate(RunState& state, const char* type);
/**
 * Isolates (scratch database unless in place), upgrades the target to head and records its
 * fingerprint as state.baseline. Returns the failure outcome, or nullopt when ready.
 */
std::optional<StepOutcome> prepareHead(RunState& state, const char* type);

}  // namespace alembic_sidecar::pipeline
