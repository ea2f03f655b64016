#include "core/reasons.h"
#include "pipeline/steps.h"

namespace alembic_sidecar::pipeline {

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
  std::string message = "PostgreSQL " + conn.endpoint() + "/" + conn.database + " (source " +
                        resolved->source + ")";
  state.resolved = std::move(*resolved);
  state.target = state.resolved->connection;
  finishStep(state, {type, "True", core::reason::kConnected, message});
  return StepOutcome::kContinue;
}

}  // namespace alembic_sidecar::pipeline
