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
  if (!escalations.empty()) {
    std::string codes;
    for (const auto* f : escalations) {
      codes += (codes.empty() ? "" : ", ") + f->code;
    }
    report.phase = core::phase::kEscalated;
    report.reason = escalations.front()->code;
    report.message = std::to_string(escalations.size()) +
                     " finding(s) need a human decision before " + state.revision->path +
                     " is applied: " + codes + ". The file was kept for review.";
    finishStep(state, {core::condition::kReady, "False", report.reason, report.message});
    return StepOutcome::kDone;
  }
  report.phase = core::phase::kSucceeded;
  report.reason = core::reason::kRevisionCreated;
  report.message = "revision " + state.revision->parsed.revision + " created in " +
                   state.revision->path + "; it round-trips cleanly";
  finishStep(state, {core::condition::kReady, "True", core::reason::kRevisionCreated,
                     report.message});
  return StepOutcome::kDone;
}

}  // namespace alembic_sidecar::pipeline
