#include "core/reasons.h"
#include "pipeline/steps.h"

namespace alembic_sidecar::pipeline {

StepOutcome escalate(RunState& state) {
  auto& report = state.report;
  std::vector<const core::Finding*> escalations;
  for (const auto& f : report.findings) {
    if (f.severity == core::severity::kEscalation) {
      escalations.push_back(&f);
    }
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
      message += " " + file + " was kept for review.";
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
    report.message = "no changes: the models match the migrations; the empty revision " + file +
                     " was removed";
  } else {
    report.reason = core::reason::kRevisionCreated;
    report.message = "revision " + state.revision->parsed.revision + " created in " + file +
                     "; it round-trips cleanly";
  }
  finishStep(state, {core::condition::kReady, "True", report.reason, report.message});
  return StepOutcome::kDone;
}

}  // namespace alembic_sidecar::pipeline
