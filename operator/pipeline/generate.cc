#include "core/hash.h"
#include "core/reasons.h"
#include "pipeline/steps.h"

namespace alembic_sidecar::pipeline {
namespace {

/** alembic could not pick the parent: several heads and no --head. */
bool needsHead(const alembic::OpOutcome& outcome) {
  return outcome.errorLine.find("Multiple heads are present") != std::string::npos ||
         outcome.errorLine.find("Multiple head revisions") != std::string::npos;
}

}  // namespace

StepOutcome generate(RunState& state) {
  const char* type = core::condition::kRevisionGenerated;
  if (auto failed = prepareHead(state, type)) {
    return *failed;
  }

  state.driver->setTimeout(state.remaining());
  auto generated = state.driver->revision(state.target, state.request.message, state.request.head,
                                          state.request.revId);
  if (!generated) {
    return failDriver(state, type, generated.error());
  }
  if (!generated->ok && needsHead(*generated) && state.request.head.empty()) {
    return failStep(state, type, core::reason::kHeadRequired,
                    "the history has several heads by design; say which branch the revision "
                    "goes on with --head BRANCH@head (alembic: " +
                        generated->errorLine + ")");
  }
  if (!generated->ok) {
    return failAlembic(state, type, core::reason::kAutogenerateFailed,
                       "alembic revision --autogenerate", *generated);
  }
  if (generated->file.empty()) {
    // env.py's process_revision_directives dropped an empty revision: nothing was written.
    state.noChanges = true;
    finishStep(state, {type, "True", core::reason::kNoChanges,
                       "autogenerate found no change and env.py wrote no file"});
    return StepOutcome::kContinue;
  }
  if (state.deps.progress) {
    state.deps.progress->revisionFileCreated(generated->file);
  }
  GeneratedRevision revision;
  revision.path = generated->file;
  revision.destination = generated->destination;
  revision.text = generated->text;
  revision.sha256 = core::sha256Hex(revision.text);
  state.revision = std::move(revision);
  finishStep(state, {type, "True", core::reason::kGenerated,
                     generated->file + " (staged; it joins " + generated->destination +
                         " once validated)"});
  return StepOutcome::kContinue;
}

}  // namespace alembic_sidecar::pipeline
