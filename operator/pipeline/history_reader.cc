#include "pipeline/history_reader.h"

#include "core/reasons.h"

namespace alembic_sidecar::pipeline {

core::Result<std::vector<HistoryRevision>> readHistory(RunState& state) {
  if (!state.history) {
    // Read once per run: check and roundtrip write no revision, so it cannot change.
    state.driver->setTimeout(state.remaining());
    auto read = state.driver->history();
    if (!read) {
      return read.error();
    }
    if (!read->ok) {
      return core::Error::terminal(core::reason::kProjectInvalid,
                                   "alembic cannot read the history: " + read->describe());
    }
    state.history = *read;
  }
  const auto& history = state.history;
  workspace::FileMap files;
  for (const auto& dir : state.project().versionLocations) {
    workspace::TreeOptions tree;
    tree.skipDirs = {"__pycache__"};
    tree.maxDepth = 8;
    auto found = state.files().readTree(dir, tree);
    if (!found) {
      return found.error();
    }
    files.merge(*found);
  }
  std::vector<HistoryRevision> chain;
  for (const auto& entry : history->revisions) {
    auto text = files.find(entry.path);
    if (text == files.end()) {
      auto read = state.files().readFile(entry.path);
      if (!read) {
        return read.error();
      }
      text = files.emplace(entry.path, *read).first;
    }
    auto parsed = alembic::parseRevisionFile(text->second);
    if (!parsed) {
      return core::Error::terminal(parsed.error().reason,
                                   entry.path + ": " + parsed.error().message);
    }
    chain.push_back(HistoryRevision{entry.path, std::move(*parsed), entry});
  }
  return chain;
}

}  // namespace alembic_sidecar::pipeline
