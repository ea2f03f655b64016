#pragma once

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "database/connection_url.h"
#include "support/example_app.h"

namespace alembic_sidecar::testing {

/**
 * What a run decided, as the fault tests compare it: an interrupted run followed by a fresh one
 * must reach the same verdict as a run nobody interrupted.
 */
struct Verdict {
  std::string phase;
  std::string reason;
  std::vector<std::string> escalations;  // codes of the escalation findings, sorted

  bool operator==(const Verdict&) const = default;
};

void PrintTo(const Verdict& verdict, std::ostream* out);

/** The JSON report line of a --json run in a log that also holds stderr; null if none. */
nlohmann::json reportIn(const std::string& log);

/** The verdict of a JSON report (a MigrationRun status has the same fields). */
Verdict verdictOf(const nlohmann::json& report);

/**
 * The fault suites' project: the example app with `team.headquarters` dropped from the model
 * (fixture change team_drop_headquarters), its live database at the fixture's head with rows
 * whose headquarters would be lost. Autogenerate renders op.drop_column, which must escalate.
 */
void prepareDropColumnProject(ExampleApp& app, const database::ConnectionInfo& live);

/** What an uninterrupted run of that project reaches (FaultReference tests prove it). */
Verdict dropColumnVerdict();

/** Directories `.alembic-sidecar/staging-*` of the app (relative names). */
std::vector<std::string> stagingDirs(const ExampleApp& app);

/** Revision files (*.py) in any staging directory of the app. */
std::vector<std::string> stagedFiles(const ExampleApp& app);

/** `alembic heads` of the app's history, run by the app's own alembic (no database). */
std::vector<std::string> alembicHeads(const ExampleApp& app);

/** Polls `condition` every 5 ms until it holds or `timeout` passes. */
bool pollUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

}  // namespace alembic_sidecar::testing
