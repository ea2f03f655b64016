#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "alembic/driver_client.h"
#include "core/redactor.h"
#include "core/report.h"
#include "database/resolver.h"
#include "pipeline/run_request.h"
#include "workspace/workspace.h"

namespace alembic_sidecar::pipeline {

/** Told about each step as it happens: the CLI prints it, the controller writes status. */
class ProgressSink {
 public:
  virtual ~ProgressSink() = default;
  virtual void stepStarted(const std::string& /*conditionType*/) {}
  /** `report` is the report so far, with this step's condition set. */
  virtual void stepFinished(const core::Condition& /*condition*/, const core::Report& /*report*/) {}
  /** A scratch database now exists; it is dropped when the run ends. */
  virtual void scratchDatabaseCreated(const std::string& /*name*/) {}
  /** alembic wrote a revision file (path relative to the project; staged until validated). */
  virtual void revisionFileCreated(const std::string& /*path*/) {}
};

/** Starts the run's alembic driver in a workspace. */
using DriverStarter = std::function<core::Result<std::unique_ptr<alembic::Driver>>(
    workspace::Workspace&, const alembic::DriverOptions&)>;

/** Everything a run touches, passed in so each piece can be replaced in tests. */
struct PipelineDeps {
  /** Where the driver starts (a local directory or a pod); files are then read through it. */
  workspace::Workspace* workspace = nullptr;
  database::DatabaseResolver* resolver = nullptr;
  database::DatabaseFactory databaseFactory;
  core::RedactorPtr redactor;
  ProgressSink* progress = nullptr;  // optional
  std::function<std::chrono::system_clock::time_point()> now;  // default: system_clock
  std::function<std::string()> randomSuffix;                   // default: 6 random hex
  /** Checked between steps and while alembic works: true ends the run (reason Cancelled). */
  std::function<bool()> cancelled;
  /** Default: alembic::startDriver (the real driver in the app's interpreter). */
  DriverStarter startDriver;
};

/** The finished report, plus the generated file's text (kept even when the file is removed). */
struct RunOutcome {
  core::Report report;
  std::string revisionText;
  /** The generated file did not join the history (rejected, or empty). */
  bool revisionRemoved = false;
  /** Where alembic wrote it (staging, now gone) when it did not join the history. */
  std::string removedPath;
};

/**
 * Runs the six steps (resolve database, check models, generate, validate, round trip,
 * escalate) for a request and builds the Report. Never throws; every failure ends the run
 * with a reason. Scratch databases are always dropped before returning.
 */
RunOutcome runPipeline(const RunRequest& request, PipelineDeps deps);

}  // namespace alembic_sidecar::pipeline
