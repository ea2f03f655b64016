#include <memory>

#include "core/reasons.h"
#include "database/scratch.h"
#include "pipeline/steps.h"

namespace alembic_sidecar::pipeline {
namespace {

/** Heads of the history; several are fine only when every one carries a branch label. */
struct Heads {
  std::vector<alembic::HistoryEntry> heads;
  bool labelled = true;
};

Heads headsOf(const alembic::HistoryOutcome& history) {
  Heads out;
  for (const auto& rev : history.revisions) {
    if (rev.isHead) {
      out.heads.push_back(rev);
      out.labelled = out.labelled && !rev.branchLabels.empty();
    }
  }
  return out;
}

std::string listHeads(const Heads& heads) {
  std::string list;
  for (const auto& h : heads.heads) {
    std::string label;
    for (const auto& l : h.branchLabels) {
      label += (label.empty() ? "" : ",") + l;
    }
    list += (list.empty() ? "" : ", ") + h.revision + (label.empty() ? "" : " (" + label + ")");
  }
  return list;
}

/** alembic refuses `upgrade head` on a forked history; say which heads and how to merge. */
StepOutcome failMultipleHeads(RunState& state, const char* type, const Heads& heads) {
  std::string list = listHeads(heads);
  addFinding(state, {core::finding::kMultipleHeads, core::severity::kError,
                     "the migration history has several heads: " + list,
                     "merge them first: `alembic merge heads -m \"merge heads\"`, review and "
                     "commit the merge revision, then run again (or give every branch a "
                     "branch label if the history is split by design)",
                     "", 0});
  return failStep(state, type, core::reason::kMultipleHeads,
                  "refusing to work on a history with several unlabelled heads (" + list +
                      "); run `alembic merge heads -m \"merge heads\"` first");
}

}  // namespace

StepOutcome failAlembic(RunState& state, const char* type, const std::string& reason,
                        const std::string& what, const alembic::OpOutcome& outcome) {
  if (outcome.breach) {
    addFinding(state,
               {core::finding::kIsolationBreached, core::severity::kError,
                "env.py tried to connect to " + *outcome.breach + " while the run works on " +
                    state.target.connection.database + "; the connection was refused before "
                    "any statement ran",
                "make env.py take its URL from $" + state.request.alembic.urlEnvVar +
                    " or from config.get_main_option(\"sqlalchemy.url\") (the stock env.py "
                    "does); if it reads another variable, pass --url-env NAME",
                state.project().envPy, 0});
    return failStep(state, type, core::reason::kIsolationBreached,
                    what + " was stopped: env.py connected to " + *outcome.breach +
                        " instead of the run's database " + state.target.connection.database +
                        " (refused before any statement ran). Make env.py read its URL from $" +
                        state.request.alembic.urlEnvVar +
                        " or config.get_main_option(\"sqlalchemy.url\"), or pass --url-env "
                        "with the variable it reads");
  }
  return failStep(state, type, reason, what + " failed: " + outcome.describe());
}

StepOutcome failDriver(RunState& state, const char* type, const core::Error& error) {
  return failStep(state, type, error.reason, error.message);
}

database::SchemaFingerprint withoutVersionTable(const RunState& state,
                                                database::SchemaFingerprint fingerprint) {
  auto dot = state.versionTable.rfind('.');
  std::string table =
      dot == std::string::npos ? state.versionTable : state.versionTable.substr(dot + 1);
  return table == "alembic_version" ? std::move(fingerprint) : fingerprint.withoutTable(table);
}

core::Result<database::SchemaFingerprint> fingerprintOf(RunState& state,
                                                        const std::string& dbName) {
  auto fingerprint = state.db->fingerprint(dbName);
  if (!fingerprint) {
    return fingerprint.error();
  }
  return withoutVersionTable(state, std::move(*fingerprint));
}

core::Result<alembic::DriverTarget> targetFor(RunState& state,
                                              const database::ConnectionInfo& connection) {
  auto identity = state.db->identity(connection.database);
  if (!identity) {
    return identity.error();
  }
  return alembic::DriverTarget{connection, *identity};
}

std::optional<StepOutcome> prepareHead(RunState& state, const char* type) {
  state.driver->setTimeout(state.remaining());
  auto history = state.driver->history();
  if (!history) {
    return failDriver(state, type, history.error());
  }
  if (!history->ok) {
    return failAlembic(state, type, core::reason::kProjectInvalid, "reading the history",
                       *history);
  }
  state.history = *history;
  auto heads = headsOf(*history);
  if (heads.heads.size() > 1 && !heads.labelled) {
    return failMultipleHeads(state, type, heads);
  }

  if (state.request.isolation == kIsolationScratch) {
    const auto& live = state.resolved->connection;
    database::sweepScratchDatabases(*state.db, live.database, state.deps.now());
    std::string name =
        database::scratchDatabaseName(live.database, state.deps.now(), state.deps.randomSuffix());
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
    state.target.connection = live.withDatabase(name);
  }
  auto target = targetFor(state, state.target.connection);
  if (!target) {
    return failStep(state, type, target.error().reason, target.error().message);
  }
  state.target = *target;

  // Branches by design (every head labelled): all of them.
  const std::string to = heads.heads.size() > 1 ? "heads" : "head";
  if (state.request.isolation == kIsolationScratch) {
    return buildBaseline(state, type, to);
  }

  // In place: what the database is before the run touches it, to say later what changed.
  const std::string& live = state.target.connection.database;
  auto before = fingerprintOf(state, live);
  auto versions = state.db->appliedRevisions(live, state.versionTable);
  if (!before || !versions) {
    const auto& error = !before ? before.error() : versions.error();
    return failStep(state, type, error.reason, error.message);
  }
  state.inplaceBefore = std::move(*before);
  state.inplaceBeforeVersions = *versions;
  state.driver->setTimeout(state.remaining());
  auto upgraded = state.driver->upgrade(state.target, to);
  if (!upgraded) {
    return failDriver(state, type, upgraded.error());
  }
  if (!upgraded->ok) {
    return failAlembic(
        state, type, core::reason::kBaselineUpgradeFailed,
        "alembic upgrade " + to + " (on the app's database " + live + ", --isolation inplace)",
        *upgraded);
  }
  auto fingerprint = fingerprintOf(state, live);
  if (!fingerprint) {
    return failStep(state, type, fingerprint.error().reason, fingerprint.error().message);
  }
  state.baseline = std::move(*fingerprint);
  std::string at;
  for (const auto& v : *versions) {
    at += (at.empty() ? "" : ",") + v;
  }
  state.report.baseline = core::BaselineInfo{
      "in-place", at,
      "--isolation inplace: alembic works on the app's database " + live + " itself" +
          (*state.baseline == *state.inplaceBefore
               ? std::string()
               : " (its pending migrations were applied first)")};
  return std::nullopt;
}

}  // namespace alembic_sidecar::pipeline
