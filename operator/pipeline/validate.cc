#include <regex>

#include "core/reasons.h"
#include "pipeline/steps.h"

namespace alembic_sidecar::pipeline {
namespace {

bool compareTypeEnabled(const std::string& envPy) {
  static const std::regex kCompareType(R"(compare_type\s*=\s*(True|[A-Za-z_]\w*))");
  std::smatch m;
  return std::regex_search(envPy, m, kCompareType) && m[1] != "False";
}

}  // namespace

StepOutcome validate(RunState& state) {
  const char* type = core::condition::kValidated;
  auto& rev = *state.revision;
  auto parsed = alembic::parseRevisionFile(rev.text);
  if (!parsed) {
    return failStep(state, type, parsed.error().reason,
                    rev.path + " could not be read as a revision: " + parsed.error().message);
  }
  rev.parsed = std::move(*parsed);
  state.report.revision = core::RevisionInfo{rev.parsed.revision, rev.parsed.downRevisionText(),
                                             rev.path, rev.parsed.message, rev.sha256};

  if (rev.parsed.empty()) {
    std::string diagnosis =
        "autogenerate compared the models with the schema at head" +
        (rev.parsed.downRevisions.empty() ? std::string{}
                                          : " (" + rev.parsed.downRevisionText() + ")") +
        " and found no difference";
    std::string recommendation =
        "nothing to migrate. If you expected a change: make sure the model's module is "
        "imported from env.py (step ModelsRegistered checks classes it can see)";
    if (!compareTypeEnabled(state.layout->envPySource)) {
      diagnosis += "; column type changes are invisible because env.py does not pass "
                   "compare_type=True to context.configure()";
      recommendation += ", and pass compare_type=True to context.configure() in " +
                        state.layout->envPy + " to detect type changes";
    }
    addFinding(state, {core::finding::kNoModelChanges, core::severity::kInfo, diagnosis,
                       recommendation, "", 0});
    if (auto removed = state.deps.workspace->removeFile(rev.path); removed) {
      rev.removed = true;
    }
    state.report.revision.reset();
    state.report.phase = core::phase::kSucceeded;
    state.report.reason = core::reason::kNoChanges;
    state.report.message = "no changes: the models match the migrations; the empty revision " +
                           rev.path + " was removed";
    finishStep(state, {type, "True", core::reason::kNoChanges, diagnosis});
    finishStep(state, {core::condition::kReady, "True", core::reason::kNoChanges,
                       state.report.message});
    return StepOutcome::kDone;
  }

  for (const auto& op : rev.parsed.upgradeOps) {
    state.report.operations.push_back(core::Operation{op.op, op.table, op.column, op.name});
  }
  finishStep(state, {type, "True", core::reason::kNoEscalations,
                     std::to_string(rev.parsed.upgradeOps.size()) + " operation(s) in upgrade, " +
                         std::to_string(rev.parsed.downgradeOps.size()) + " in downgrade"});
  return StepOutcome::kContinue;
}

}  // namespace alembic_sidecar::pipeline
