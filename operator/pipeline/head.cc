#include <memory>

#include "core/reasons.h"
#include "database/scratch.h"
#include "pipeline/steps.h"

namespace alembic_sidecar::pipeline {
namespace {

/** alembic refuses `upgrade head` on a forked history; say which heads and how to merge. */
StepOutcome failMultipleHeads(RunState& state, const char* type) {
  auto heads = state.alembic->heads(state.target);
  std::string list;
  if (heads) {
    for (const auto& h : *heads) {
      list += (list.empty() ? "" : ", ") + h;
    }
  }
  addFinding(state, {core::finding::kMultipleHeads, core::severity::kError,
                     "the migration history has several heads: " + list,
                     "merge them first: `alembic merge heads -m \"merge heads\"`, review and "
                     "commit the merge revision, then run again",
                     "", 0});
  return failStep(state, type, core::reason::kMultipleHeads,
                  "refusing to work on a history with several heads (" + list +
                      "); run `alembic merge heads -m \"merge heads\"` first");
}

}  // namespace

std::set<std::string> versionFiles(RunState& state) {
  std::set<std::string> files;
  for (const auto& dir : state.layout->ini.versionLocations) {
    if (auto entries = state.deps.workspace->listDir(dir)) {
      for (const auto& e : *entries) {
        if (!e.isDirectory && e.name.size() > 3 && e.name.substr(e.name.size() - 3) == ".py") {
          files.insert(dir + "/" + e.name);
        }
      }
    }
  }
  return files;
}

StepOutcome failAlembic(RunState& state, const char* type, const std::string& reason,
                        const std::string& what, const alembic::AlembicRun& run) {
  std::string reasonCode = run.timedOut ? std::string(core::reason::kTimeout) : reason;
  return failStep(state, type, reasonCode,
                  what + " failed (exit " + std::to_string(run.exitCode) + "):\n" + run.tail());
}

std::optional<StepOutcome> prepareHead(RunState& state, const char* type) {
  state.alembic = std::make_unique<alembic::AlembicRunner>(*state.deps.workspace,
                                                           state.request.alembic,
                                                           state.deps.redactor);
  if (state.request.isolation == kIsolationScratch) {
    database::sweepScratchDatabases(*state.db, state.target.database, state.deps.now());
    std::string name = database::scratchDatabaseName(state.target.database, state.deps.now(),
                                                     state.deps.randomSuffix());
    auto claimed = state.db->claimScratch(name);
    if (!claimed) {
      return failStep(state, type, core::reason::kScratchDatabaseFailed,
                      "cannot create the scratch database " + name + ": " +
                          claimed.error().message +
                          ". Grant the user CREATEDB, or pass --isolation inplace to work on "
                          "the database itself");
    }
    state.scratchLease = std::move(*claimed);
    state.scratchName = name;
    if (state.deps.progress) {
      state.deps.progress->scratchDatabaseCreated(name);
    }
    state.target = state.target.withDatabase(name);
  }

  state.alembic->setTimeout(state.remaining());
  auto upgraded = state.alembic->upgrade("head", state.target);
  if (!upgraded) {
    return failStep(state, type, upgraded.error().reason, upgraded.error().message);
  }
  if (!upgraded->succeeded() && upgraded->err.find("Multiple head") != std::string::npos) {
    return failMultipleHeads(state, type);
  }
  if (!upgraded->succeeded()) {
    return failAlembic(state, type, core::reason::kBaselineUpgradeFailed,
                       "alembic upgrade head (on " + state.target.database + ")", *upgraded);
  }
  auto fingerprint = state.db->fingerprint(state.target.database);
  if (!fingerprint) {
    return failStep(state, type, fingerprint.error().reason, fingerprint.error().message);
  }
  state.baseline = std::move(*fingerprint);
  return std::nullopt;
}

}  // namespace alembic_sidecar::pipeline
