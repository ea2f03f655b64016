#include "core/reasons.h"
#include "pipeline/steps.h"

namespace alembic_sidecar::pipeline {
namespace {

std::string where(const std::string& file, int line) {
  return file.empty() ? std::string("?") : line > 0 ? file + ":" + std::to_string(line) : file;
}

}  // namespace

StepOutcome checkModels(RunState& state) {
  const char* type = core::condition::kModelsRegistered;
  state.driver->setTimeout(state.remaining());
  auto models = state.driver->models(state.request.modelPaths);
  if (!models) {
    return failDriver(state, type, models.error());
  }
  const auto& envPy = state.project().envPy;
  if (!models->ok) {
    if (models->breach) {
      return failAlembic(state, type, core::reason::kProjectInvalid, "loading env.py", *models);
    }
    if (models->errorType == "ModelImportFailed") {
      addFinding(state, {core::finding::kModelImportFailed, core::severity::kError,
                         "a module env.py imports failed: " + models->errorLine,
                         "fix the error in that module", "", 0});
      return failStep(state, type, core::reason::kModelImportFailed,
                      envPy + " could not be loaded because a module it imports failed: " +
                          models->describe(4));
    }
    return failStep(state, type, core::reason::kProjectInvalid,
                    envPy + " could not be loaded (as alembic does, without a database) to read "
                            "its target_metadata: " + models->describe());
  }

  state.versionTable = models->versionTable;
  state.modelTables = models->tables;
  state.sqlmodelTables = {models->sqlmodelTables.begin(), models->sqlmodelTables.end()};
  if (!models->importFailures.empty()) {
    std::string names;
    for (const auto& f : models->importFailures) {
      std::string what = f.module.empty() ? f.file : f.module;
      addFinding(state, {core::finding::kModelImportFailed, core::severity::kError,
                         "model module " + what + " cannot be imported: " + f.line,
                         "fix the import error, or pass --models with the model modules to "
                         "check (paths or dotted names)",
                         f.file, 0});
      names += (names.empty() ? "" : "; ") + what + " (" + f.line + ")";
    }
    return failStep(state, type, core::reason::kModelImportFailed,
                    "model module(s) failed to import: " + names);
  }

  if (!models->unregistered.empty()) {
    std::string names;
    for (const auto& m : models->unregistered) {
      std::string subject = m.className.empty() ? "table " + m.table : "model class " + m.className;
      std::string message = subject + " (table " + m.table + ", " + where(m.file, m.line) +
                            ") is mapped but not in the target_metadata " + envPy +
                            " gives autogenerate, so its table would never be migrated";
      if (m.otherMetadata) {
        message += "; it belongs to another MetaData/registry than target_metadata";
      }
      addFinding(state, {core::finding::kModelNotRegistered, core::severity::kError, message,
                         m.fix, m.file, m.line});
      names += (names.empty() ? "" : ", ") +
               (m.className.empty() ? m.table : m.className) + " in " + where(m.file, m.line);
    }
    return failStep(state, type, core::reason::kModelNotRegistered,
                    "mapped table(s) missing from target_metadata: " + names + ". To fix: " +
                        models->unregistered.front().fix + ".");
  }

  std::string from = models->metadataModule.empty() ? envPy : models->metadataModule;
  std::string message = std::to_string(models->tables.size()) + " table(s) in target_metadata (" +
                        from + "); " + std::to_string(models->modules.size()) +
                        " model module(s) imported, every mapped table registered (env.py "
                        "loaded " + models->source + ")";
  if (models->tables.empty()) {
    message = "target_metadata (" + from + ") holds no table and no model module maps one; "
              "pass --models to name the model modules";
  }
  finishStep(state, {type, "True", core::reason::kAllModelsRegistered, message});
  return StepOutcome::kContinue;
}

}  // namespace alembic_sidecar::pipeline
