#include "core/reasons.h"
#include "database/driver_scheme.h"
#include "pipeline/steps.h"

namespace alembic_sidecar::pipeline {
namespace {

/** The directory alembic.ini is in, relative to the project ("." for the root). */
std::string configDir(const std::string& configFile) {
  auto slash = configFile.rfind('/');
  return slash == std::string::npos ? std::string(".") : configFile.substr(0, slash);
}

/** Starts the run's driver: the app's interpreter, once for the whole run. */
core::Result<std::unique_ptr<alembic::Driver>> startRunDriver(RunState& state) {
  const auto& request = state.request;
  alembic::DriverOptions options;
  options.launch.alembicCommand = request.alembic.command;
  options.launch.python = request.pythonCommand;
  options.launch.root = state.deps.workspace->root();
  options.configFile = request.alembic.configFile;
  options.urlEnvVar = request.alembic.urlEnvVar;
  options.runId = state.runId;
  // Runs that write (a new revision, the app's database) hold the project; check and
  // roundtrip only read it and may run beside them.
  const std::string privateDir = configDir(request.alembic.configFile) + "/.alembic-sidecar";
  if (request.action == kActionRevision || request.action == kActionUpgrade) {
    options.lockPath = privateDir + "/lock";
    options.lockWait = request.lockWait;
  }
  if (request.action == kActionRevision) {
    options.stagingDir = privateDir + "/staging-" + state.runId;
  }
  options.startTimeout = state.remaining();
  return state.deps.startDriver(*state.deps.workspace, options);
}

}  // namespace

StepOutcome resolveDatabase(RunState& state) {
  const char* type = core::condition::kDatabaseReady;
  auto resolved = state.deps.resolver->resolve();
  if (!resolved) {
    return failStep(state, type, resolved.error().reason, resolved.error().message);
  }
  state.deps.redactor->add(resolved->connection.password);
  const auto& conn = resolved->connection;
  state.report.database =
      core::DatabaseInfo{resolved->source, conn.host, conn.port, conn.database};
  for (const auto& note : resolved->notes) {
    addFinding(state, {core::finding::kDatabaseNote, core::severity::kInfo, note, "", "", 0});
  }

  state.db = state.deps.databaseFactory(conn);
  if (auto probed = state.db->probe(database::ProbePolicy{}); !probed) {
    return failStep(state, type, probed.error().reason, probed.error().message);
  }

  auto driver = startRunDriver(state);
  if (!driver) {
    return failStep(state, type, driver.error().reason, driver.error().message);
  }
  state.driver = std::move(*driver);
  const auto& app = state.project();

  // A database the tool found itself gets the driver the app's env.py can use.
  std::string how = "the scheme given";
  if (!resolved->schemeChosen) {
    auto scheme = database::chooseScheme(app.asyncEnv, app.drivers, app.sqlalchemyVersion);
    if (!scheme) {
      return failStep(state, type, scheme.error().reason, scheme.error().message);
    }
    resolved->connection = resolved->connection.withScheme(*scheme);
    how = std::string(app.asyncEnv ? "async" : "sync") + " env.py";
  }
  state.driver->setScheme(resolved->connection.scheme);
  std::string message = "PostgreSQL " + conn.endpoint() + "/" + conn.database + " (source " +
                        resolved->source + "; " + resolved->connection.scheme + " from " + how +
                        "; alembic " + app.alembicVersion + " in " + app.python + ")";
  state.resolved = std::move(*resolved);
  state.target.connection = state.resolved->connection;
  finishStep(state, {type, "True", core::reason::kConnected, message});
  return StepOutcome::kContinue;
}

}  // namespace alembic_sidecar::pipeline
