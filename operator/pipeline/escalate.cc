#include "core/reasons.h"
#include "pipeline/steps.h"

namespace alembic_sidecar::pipeline {
namespace {

/**
 * The last act of a run that keeps its revision: the validated file moves from the
 * run-private staging directory into the history. Before this, nothing an interruption
 * leaves behind is a revision alembic loads.
 */
bool adopt(RunState& state) {
  auto& rev = *state.revision;
  state.driver->setTimeout(state.remaining());
  auto adopted = state.driver->adopt(rev.path, rev.destination);
  if (!adopted) {
    failStep(state, core::condition::kReady, adopted.error().reason,
             "the revision was validated but could not join the history: " +
                 adopted.error().message);
    return false;
  }
  rev.path = *adopted;
  rev.adopted = true;
  if (state.report.revision) {
    state.report.revision->file = rev.path;
  }
  for (auto& f : state.report.findings) {
    if (!f.file.empty() && f.file.find("/staging-") != std::string::npos) {
      f.file = rev.path;
    }
  }
  if (state.deps.progress) {
    state.deps.progress->revisionFileCreated(rev.path);
  }
  return true;
}

}  // namespace

StepOutcome escalate(RunState& state) {
  auto& report = state.report;
  const bool keep = state.revision && !state.noChanges && !state.roundTripFailed &&
                    report.phase != core::phase::kFailed;
  std::vector<const core::Finding*> escalations;
  for (const auto& f : report.findings) {
    if (f.severity == core::severity::kEscalation) {
      escalations.push_back(&f);
    }
  }
  if (keep && !adopt(state)) {
    return StepOutcome::kFailed;
  }
  const std::string file = state.revision ? state.revision->path : std::string{};
  if (!escalations.empty()) {
    std::string codes;
    for (const auto* f : escalations) {
      codes += (codes.empty() ? "" : ", ") + f->code;
    }
    std::string message = std::to_string(escalations.size()) +
                          " finding(s) need a human decision: " + codes + ".";
    if (state.roundTripFailed) {
      message += " The round trip failed as well (" + report.reason + ").";
    } else if (!state.noChanges) {
      message += " " + file + " was kept for review" +
                 (state.inplaceRefused ? std::string(" (not round-tripped: it was not run on "
                                                     "the app's database)")
                                       : std::string()) +
                 ".";
    }
    report.phase = core::phase::kEscalated;
    report.reason = escalations.front()->code;
    report.message = message;
    finishStep(state, {core::condition::kReady, "False", report.reason, message});
    return StepOutcome::kDone;
  }
  if (report.phase == core::phase::kFailed) {
    return StepOutcome::kFailed;  // the round trip failed; its reason stands
  }
  report.phase = core::phase::kSucceeded;
  if (state.noChanges) {
    report.reason = core::reason::kNoChanges;
    report.message = "no changes: the models match the migrations" +
                     (file.empty() ? std::string()
                                   : "; the empty revision was not added to the history");
  } else {
    report.reason = core::reason::kRevisionCreated;
    report.message = "revision " + state.revision->parsed.revision + " created in " + file +
                     "; it round-trips cleanly";
  }
  finishStep(state, {core::condition::kReady, "True", report.reason, report.message});
  return StepOutcome::kDone;
}

}  // namespace alembic_sidecar::pipeline
