#include <memory>
#include <set>

#include "core/hash.h"
#include "core/reasons.h"
#include "database/scratch.h"
#include "pipeline/steps.h"

namespace alembic_sidecar::pipeline {
namespace {

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

/** The generated file relative to the workspace root, from alembic's output or the listing. */
std::string locateGenerated(RunState& state, const std::string& output,
                            const std::set<std::string>& before) {
  std::string path = alembic::generatedPathFromOutput(output);
  const std::string root = state.deps.workspace->root() + "/";
  if (!path.empty() && path.rfind(root, 0) == 0) {
    return path.substr(root.size());
  }
  for (const auto& file : versionFiles(state)) {
    if (!before.count(file)) {
      return file;
    }
  }
  return path;
}

StepOutcome failAlembic(RunState& state, const char* type, const std::string& reason,
                        const std::string& what, const alembic::AlembicRun& run) {
  std::string reasonCode = run.timedOut ? std::string(core::reason::kTimeout) : reason;
  return failStep(state, type, reasonCode,
                  what + " failed (exit " + std::to_string(run.exitCode) + "):\n" + run.tail());
}

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
                     "commit the merge revision, then generate again",
                     "", 0});
  return failStep(state, type, core::reason::kMultipleHeads,
                  "refusing to generate on a history with several heads (" + list +
                      "); run `alembic merge heads -m \"merge heads\"` first");
}

}  // namespace

StepOutcome generate(RunState& state) {
  const char* type = core::condition::kRevisionGenerated;
  state.alembic = std::make_unique<alembic::AlembicRunner>(*state.deps.workspace,
                                                           state.request.alembic,
                                                           state.deps.redactor);
  if (state.request.isolation == kIsolationScratch) {
    database::sweepScratchDatabases(*state.db, state.target.database, state.deps.now());
    std::string name = database::scratchDatabaseName(state.target.database, state.deps.now(),
                                           state.deps.randomSuffix());
    if (auto created = state.db->createDatabase(name); !created) {
      return failStep(state, type, core::reason::kScratchDatabaseFailed,
                      "cannot create the scratch database " + name + ": " +
                          created.error().message +
                          ". Grant the user CREATEDB, or pass --isolation inplace to work on "
                          "the database itself");
    }
    state.scratchName = name;
    if (state.deps.progress) {
      state.deps.progress->scratchDatabaseCreated(name);
    }
    state.target = state.target.withDatabase(name);
  }

  state.alembic->setTimeout(state.remaining());
  auto baseline = state.alembic->upgrade("head", state.target);
  if (!baseline) {
    return failStep(state, type, baseline.error().reason, baseline.error().message);
  }
  if (!baseline->succeeded() && baseline->err.find("Multiple head") != std::string::npos) {
    return failMultipleHeads(state, type);
  }
  if (!baseline->succeeded()) {
    return failAlembic(state, type, core::reason::kBaselineUpgradeFailed,
                       "alembic upgrade head (before autogenerate, on " + state.target.database +
                           ")",
                       *baseline);
  }
  auto fingerprint = state.db->fingerprint(state.target.database);
  if (!fingerprint) {
    return failStep(state, type, fingerprint.error().reason, fingerprint.error().message);
  }
  state.baseline = std::move(*fingerprint);

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
  GeneratedRevision revision;
  revision.path = path;
  revision.text = *text;
  revision.sha256 = core::sha256Hex(revision.text);
  state.revision = std::move(revision);
  finishStep(state, {type, "True", core::reason::kGenerated, path});
  return StepOutcome::kContinue;
}

}  // namespace alembic_sidecar::pipeline
