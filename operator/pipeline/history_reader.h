#pragma once

#include <string>
#include <vector>

#include "alembic/revision_file.h"
#include "core/result.h"
#include "pipeline/run_state.h"

namespace alembic_sidecar::pipeline {

struct HistoryRevision {
  std::string path;
  alembic::ParsedRevision parsed;
  /** What alembic says of it: branch labels, head, merge point. */
  alembic::HistoryEntry entry;
};

/**
 * The history from base to head(s) as alembic orders it (driver `history`, asked once per run:
 * state.history when an earlier step read it), each revision's file parsed for the analysis. Every revision file is read in one request. Internal to
 * pipeline/.
 */
core::Result<std::vector<HistoryRevision>> readHistory(RunState& state);

}  // namespace alembic_sidecar::pipeline
