#include "pipeline/pipeline.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "core/random.h"
#include "core/reasons.h"
#include "pipeline/steps.h"

namespace alembic_sidecar::pipeline {
namespace {

using SteadyClock = std::chrono::steady_clock;
using StepFn = StepOutcome (*)(RunState&);

struct StepEntry {
  const char* condition;
  StepFn run;
};

const std::vector<StepEntry> kRevisionSteps = {
    {core::condition::kDatabaseReady, resolveDatabase},
    {core::condition::kModelsRegistered, checkModels},
    {core::condition::kRevisionGenerated, generate},
    {core::condition::kValidated, validate},
    {core::condition::kRoundTripPassed, roundTrip},
    {core::condition::kReady, escalate},
};

const std::vector<StepEntry> kCheckSteps = {
    {core::condition::kDatabaseReady, resolveDatabase},
    {core::condition::kModelsRegistered, checkModels},
    {core::condition::kModelsInSync, checkSync},
    {core::condition::kValidated, lintHistory},
    {core::condition::kRoundTripPassed, roundTripHistory},
    {core::condition::kReady, conclude},
};

const std::vector<StepEntry> kRoundTripSteps = {
    {core::condition::kDatabaseReady, resolveDatabase},
    {core::condition::kModelsRegistered, checkModels},
    {core::condition::kRoundTripPassed, roundTripHistory},
    {core::condition::kReady, conclude},
};

const std::vector<StepEntry> kUpgradeSteps = {
    {core::condition::kDatabaseReady, resolveDatabase},
    {core::condition::kDatabaseUpgraded, upgradeLive},
    {core::condition::kReady, conclude},
};

/** The steps of an action; nullptr for an unknown action. */
const std::vector<StepEntry>* stepsFor(const std::string& action) {
  if (action == kActionRevision) {
    return &kRevisionSteps;
  }
  if (action == kActionCheck) {
    return &kCheckSteps;
  }
  if (action == kActionRoundTrip) {
    return &kRoundTripSteps;
  }
  if (action == kActionUpgrade) {
    return &kUpgradeSteps;
  }
  return nullptr;
}

std::string joinedList(const std::vector<std::string>& items, const std::string& empty) {
  std::string out;
  for (const auto& i : items) {
    out += (out.empty() ? "" : ",") + i;
  }
  return out.empty() ? empty : out;
}

/**
 * In place: says plainly what the run left changed in the app's database, compared with
 * before it touched it (a finding and the report's message). Returns its revisions now.
 */
std::vector<std::string> reportInplaceChanges(RunState& state) {
  if (state.request.isolation != kIsolationInplace || !state.inplaceBefore || !state.db) {
    return {};
  }
  const std::string live = state.resolved->connection.database;
  auto versions = state.db->appliedRevisions(live, state.versionTable);
  auto after = fingerprintOf(state, live);
  const std::string from = joinedList(state.inplaceBeforeVersions, "base");
  if (!versions || !after) {
    const auto& error = !versions ? versions.error() : after.error();
    addFinding(state, {core::finding::kInplaceDatabaseChanged, core::severity::kWarning,
                       "in place, the app's database " + live + " was at " + from +
                           " before the run; what it is now could not be read: " + error.message,
                       "check it with `alembic current` and pg_dump --schema-only", "", 0});
    return {};
  }
  const std::string to = joinedList(*versions, "base");
  auto diffs = database::diffFingerprints(*state.inplaceBefore, *after);
  if (diffs.empty() && *versions == state.inplaceBeforeVersions) {
    std::string text = "In place, the app's database " + live + " is unchanged (at " + from +
                       ", the same schema as before the run).";
    addFinding(state,
               {core::finding::kInplaceDatabaseChanged, core::severity::kInfo, text, "", "", 0});
    state.report.message += " " + text;
    return *versions;
  }
  std::string objects;
  for (size_t i = 0; i < diffs.size() && i < 10; ++i) {
    objects += (objects.empty() ? "" : "; ") +
               database::describeDifference(diffs[i], "before the run", "now");
  }
  if (diffs.size() > 10) {
    objects += "; and " + std::to_string(diffs.size() - 10) + " more";
  }
  std::string text =
      "In place, the app's database " + live + " stays changed: it was at " + from +
      " and is now at " + to +
      (diffs.empty() ? std::string(", with the same schema")
                     : "; " + std::to_string(diffs.size()) +
                           " schema object(s) differ from before the run: " + objects) +
      ".";
  addFinding(state, {core::finding::kInplaceDatabaseChanged, core::severity::kWarning, text,
                     "this is what --isolation inplace does to the database it is given; to "
                     "undo it, `alembic downgrade " +
                         from + "` (review what that drops first)",
                     "", 0});
  state.report.message += " " + text;
  return *versions;
}

/** Drops the scratch databases, then discards what the run staged and ends the driver. */
void cleanUp(RunState& state) {
  auto& rev = state.revision;
  const auto inplaceVersions = reportInplaceChanges(state);
  if (state.driver) {
    const bool inplace = state.request.isolation == kIsolationInplace;
    const bool atRevision = rev && std::find(inplaceVersions.begin(), inplaceVersions.end(),
                                             rev->parsed.revision) != inplaceVersions.end();
    if (rev && !rev->adopted && !rev->removed && !state.noChanges && inplace && atRevision) {
      // In place, the app's database is at this revision: its file must be in the history.
      state.driver->setTimeout(std::chrono::seconds(30));
      if (auto adopted = state.driver->adopt(rev->path, rev->destination)) {
        rev->path = *adopted;
        rev->adopted = true;
        state.report.message += " The generated file " + rev->path +
                                " was kept: the app's database is at that revision.";
      }
    }
    if (rev && !rev->adopted && !rev->removed && !state.noChanges && !inplace &&
        state.report.phase == core::phase::kFailed) {
      state.report.message += " The generated revision was not added to the history; nothing "
                              "was applied to the app's database.";
    }
  }
  for (const auto& name : state.extraScratch) {
    if (state.db && !state.db->dropDatabase(name)) {
      spdlog::warn("Cannot drop scratch database name={}", name);
    }
  }
  if (!state.scratchName.empty() && state.db) {
    if (auto dropped = state.db->dropDatabase(state.scratchName); !dropped) {
      addFinding(state, {core::finding::kScratchLeftBehind, core::severity::kWarning,
                         "the scratch database " + state.scratchName +
                             " could not be dropped: " + dropped.error().message,
                         "its owner is gone once this run ends: the next run or "
                         "`alembic-sidecar sweep` drops it",
                         "", 0});
    }
  }
  if (state.driver) {
    // Last before the report: the staging directory holds the adoption record, which tells
    // the next run that this one adopted a revision and died before reporting its verdict.
    state.driver->setTimeout(std::chrono::seconds(30));
    if (auto discarded = state.driver->discard(); discarded && rev && !rev->adopted) {
      rev->removed = true;
    }
    state.driver->shutDown();
  }
  // revision.file is where the file is: in the history, or nowhere in the project.
  if (rev && state.report.revision) {
    state.report.revision->file = rev->adopted || !rev->removed ? rev->path : std::string();
  }
  // After the drops: a sweep may take whatever is left from here on.
  state.scratchLease.reset();
}

/**
 * A cancellation that arrives while a step runs surfaces as that step's failure (its command
 * was stopped): the run was cancelled, not broken, so say that instead.
 */
void reportCancelledStep(RunState& state) {
  auto& report = state.report;
  if (report.phase != core::phase::kFailed || report.reason == core::reason::kCancelled) {
    return;
  }
  for (const auto& c : report.conditions) {
    if (c.status == "False" && c.reason == report.reason) {
      std::string text = "the run was interrupted during " + c.type + "; its commands were stopped";
      report.reason = core::reason::kCancelled;
      report.message = text;
      report.setCondition(core::Condition{c.type, "False", core::reason::kCancelled, text});
      return;
    }
  }
}

void scrubReport(core::Report& report, const core::Redactor& redactor) {
  report.message = redactor.scrub(report.message);
  for (auto& c : report.conditions) {
    c.message = redactor.scrub(c.message);
  }
  for (auto& f : report.findings) {
    f.message = redactor.scrub(f.message);
    f.recommendation = redactor.scrub(f.recommendation);
  }
}

}  // namespace

std::chrono::milliseconds RunState::remaining() const {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
  return std::max(left, std::chrono::milliseconds(1000));
}

void finishStep(RunState& state, core::Condition condition) {
  state.report.setCondition(condition);
  if (state.deps.progress) {
    state.deps.progress->stepFinished(condition, state.report);
  }
}

StepOutcome failStep(RunState& state, const std::string& conditionType, const std::string& reason,
                     const std::string& message) {
  std::string text = state.deps.redactor ? state.deps.redactor->scrub(message) : message;
  state.report.phase = core::phase::kFailed;
  state.report.reason = reason;
  state.report.message = text;
  finishStep(state, core::Condition{conditionType, "False", reason, text});
  return StepOutcome::kFailed;
}

void addFinding(RunState& state, core::Finding finding) {
  if (state.deps.redactor) {
    finding.message = state.deps.redactor->scrub(finding.message);
    finding.recommendation = state.deps.redactor->scrub(finding.recommendation);
  }
  state.report.findings.push_back(std::move(finding));
}

RunOutcome runPipeline(const RunRequest& request, PipelineDeps deps) {
  if (!deps.now) {
    deps.now = [] { return std::chrono::system_clock::now(); };
  }
  if (!deps.randomSuffix) {
    deps.randomSuffix = [] { return core::randomHex(3); };
  }
  if (!deps.redactor) {
    deps.redactor = std::make_shared<core::Redactor>();
  }
  if (!deps.startDriver) {
    deps.startDriver = [redactor = deps.redactor, cancelled = deps.cancelled](
                           workspace::Workspace& ws, const alembic::DriverOptions& options) {
      return alembic::startDriver(ws, options, redactor, cancelled);
    };
  }
  const auto start = SteadyClock::now();
  core::Report report;
  report.action = request.action;
  report.phase = core::phase::kRunning;
  RunState state(request, deps, report);
  state.deadline = start + request.timeout;
  state.runId = request.runId.empty() ? deps.randomSuffix() : request.runId;
  const auto* steps = stepsFor(request.action);
  for (const auto& step : steps ? *steps : kRevisionSteps) {
    report.conditions.push_back(core::Condition{step.condition, "Unknown", core::reason::kNotRun, ""});
  }

  if (steps == nullptr) {
    failStep(state, core::condition::kReady, core::reason::kUsageError,
             "unknown action '" + request.action + "' (revision, check, roundtrip, upgrade)");
  } else {
    for (const auto& step : *steps) {
      if (deps.cancelled && deps.cancelled()) {
        failStep(state, step.condition, core::reason::kCancelled,
                 std::string("the run was interrupted before ") + step.condition);
        break;
      }
      if (state.expired()) {
        failStep(state, step.condition, core::reason::kTimeout,
                 "the run exceeded its timeout of " + std::to_string(request.timeout.count()) +
                     " s before " + step.condition);
        break;
      }
      if (deps.progress) {
        deps.progress->stepStarted(step.condition);
      }
      spdlog::debug("Step started step={}", step.condition);
      StepOutcome outcome;
      try {
        outcome = step.run(state);
      } catch (const std::exception& e) {
        // A bug must end this run with a reason, not the process (the sidecar keeps serving).
        spdlog::error("Step threw step={} error={}", step.condition, e.what());
        outcome = failStep(state, step.condition, core::reason::kInternalError,
                           std::string("internal error in ") + step.condition + ": " + e.what());
      }
      if (outcome != StepOutcome::kContinue) {
        break;
      }
    }
  }

  if (deps.cancelled && deps.cancelled()) {
    reportCancelledStep(state);
  }
  cleanUp(state);
  if (report.phase == core::phase::kFailed) {
    report.setCondition(
        core::Condition{core::condition::kReady, "False", report.reason, report.message});
  }
  report.durationMs =
      std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - start).count();
  scrubReport(report, *deps.redactor);
  RunOutcome outcome{
      std::move(report), state.revision ? state.revision->text : std::string{},
      state.revision && state.revision->removed,
      state.revision && !state.revision->adopted ? state.revision->path : std::string{}};
  return outcome;
}

}  // namespace alembic_sidecar::pipeline
