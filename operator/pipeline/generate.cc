#include <set>

#include "core/hash.h"
#include "core/reasons.h"
#include "pipeline/steps.h"

namespace alembic_sidecar::pipeline {
namespace {

/** The generated file relative to the workspace root, from alembic's output or the listing. */
std::string locateGenerated(RunState& state, const std::string& output,
                            const std::set<std::string>& before) {
  std::string path = alembic::generatedPathFromOutput(output);
  const std::string root = state.deps.workspace->root();
  // A workspace whose root is the process's own working directory (pods/exec without a
  // workingDir) has no prefix to strip: the listing says which file is new.
  if (!root.empty() && !path.empty() && path.rfind(root + "/", 0) == 0) {
    return path.substr(root.size() + 1);
  }
  for (const auto& file : versionFiles(state)) {
    if (!before.count(file)) {
      return file;
    }
  }
  return path;
}

}  // namespace

StepOutcome generate(RunState& state) {
  const char* type = core::condition::kRevisionGenerated;
  if (auto failed = prepareHead(state, type)) {
    return *failed;
  }

  auto before = versionFiles(state);
  state.alembic->setTimeout(state.remaining());
  auto generated = state.alembic->autogenerate(state.request.message, state.target);
  if (!generated) {
    return failStep(state, type, generated.error().reason, generated.error().message);
  }
  if (!generated->succeeded()) {
    return failAlembic(state, type, core::reason::kAutogenerateFailed,
                       "alembic revision --autogenerate", *generated);
  }
  std::string path = locateGenerated(state, generated->out + "\n" + generated->err, before);
  auto text = path.empty() ? core::Result<std::string>(core::Error::terminal(
                                 core::reason::kAutogenerateFailed, "no file was generated"))
                           : state.deps.workspace->readFile(path);
  if (!text) {
    return failStep(state, type, core::reason::kAutogenerateFailed,
                    "alembic reported success but the generated file cannot be read (" + path +
                        "): " + text.error().message);
  }
  if (state.deps.progress) {
    state.deps.progress->revisionFileCreated(path);
  }
  GeneratedRevision revision;
  revision.path = path;
  revision.text = *text;
  revision.sha256 = core::sha256Hex(revision.text);
  state.revision = std::move(revision);
  finishStep(state, {type, "True", core::reason::kGenerated, path});
  return StepOutcome::kContinue;
}

}  // namespace alembic_sidecar::pipeline
