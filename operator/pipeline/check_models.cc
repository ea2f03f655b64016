#include <set>

#include "alembic/models_scanner.h"
#include "core/reasons.h"
#include "pipeline/steps.h"

namespace alembic_sidecar::pipeline {
namespace {

constexpr int kMaxDepth = 6;

bool skippedDirectory(const std::string& name) {
  static const std::set<std::string> kSkipped = {
      ".git",  ".hg",   ".venv", "venv",         "node_modules", "__pycache__", ".tox",
      "build", "dist",  ".eggs", "site-packages", ".mypy_cache", ".pytest_cache", "tests",
      "test",  ".cache"};
  return kSkipped.count(name) > 0 || (!name.empty() && name.back() == '~');
}

std::string join(const std::string& dir, const std::string& name) {
  return dir == "." || dir.empty() ? name : dir + "/" + name;
}

bool isPython(const std::string& name) {
  return name.size() > 3 && name.substr(name.size() - 3) == ".py";
}

/** Every .py file under dir (relative paths), skipping virtualenvs, caches and tests. */
void collectPython(workspace::Workspace& ws, const std::string& dir, int depth,
                   std::vector<std::string>& out) {
  auto entries = ws.listDir(dir);
  if (!entries || depth > kMaxDepth) {
    return;
  }
  for (const auto& e : *entries) {
    if (e.isDirectory && !skippedDirectory(e.name)) {
      collectPython(ws, join(dir, e.name), depth + 1, out);
    } else if (!e.isDirectory && isPython(e.name)) {
      out.push_back(join(dir, e.name));
    }
  }
}

/** Model files by convention: the contents of every `models` package and every models.py. */
void discoverModelFiles(workspace::Workspace& ws, const std::string& dir, int depth,
                        const std::string& migrationsDir, std::vector<std::string>& out) {
  auto entries = ws.listDir(dir);
  if (!entries || depth > kMaxDepth) {
    return;
  }
  for (const auto& e : *entries) {
    std::string path = join(dir, e.name);
    if (e.isDirectory) {
      if (skippedDirectory(e.name) || path == migrationsDir) {
        continue;
      }
      if (e.name == "models") {
        collectPython(ws, path, depth + 1, out);
      } else {
        discoverModelFiles(ws, path, depth + 1, migrationsDir, out);
      }
    } else if (e.name == "models.py") {
      out.push_back(path);
    }
  }
}

std::string registrationHint(const alembic::ModelClass& cls) {
  std::string package = cls.module.substr(0, cls.module.rfind('.'));
  return "import it where the other models are registered, e.g. add `from " + cls.module +
         " import " + cls.name + "` to the " + package +
         " package's __init__.py (or to the module env.py's metadata comes from)";
}

}  // namespace

StepOutcome checkModels(RunState& state) {
  const char* type = core::condition::kModelsRegistered;
  auto& ws = *state.deps.workspace;
  const std::string& configFile = state.request.alembic.configFile;
  auto iniText = ws.readFile(configFile);
  if (!iniText) {
    return failStep(state, type, core::reason::kProjectInvalid,
                    "no alembic config " + configFile + " in " + ws.describe() +
                        " (pass --project DIR or --config FILE)");
  }
  std::string configDir = configFile.find('/') == std::string::npos
                              ? "."
                              : configFile.substr(0, configFile.rfind('/'));
  auto ini = alembic::parseAlembicIni(*iniText, configDir);
  if (!ini) {
    return failStep(state, type, ini.error().reason, configFile + ": " + ini.error().message);
  }
  ProjectLayout layout;
  layout.ini = *ini;
  layout.envPy = alembic::joinRelative(ini->scriptLocation, "env.py");
  auto envSource = ws.readFile(layout.envPy);
  if (!envSource) {
    return failStep(state, type, core::reason::kProjectInvalid,
                    "script_location " + ini->scriptLocation + " of " + configFile +
                        " has no env.py");
  }
  layout.envPySource = *envSource;

  std::vector<std::string> modelFiles;
  for (const auto& path : state.request.modelPaths) {
    if (isPython(path)) {
      if (!ws.exists(path)) {
        return failStep(state, type, core::reason::kProjectInvalid,
                        "--models " + path + " does not exist in " + ws.describe());
      }
      modelFiles.push_back(path);
    } else {
      size_t before = modelFiles.size();
      collectPython(ws, path, 0, modelFiles);
      if (modelFiles.size() == before) {
        return failStep(state, type, core::reason::kProjectInvalid,
                        "--models " + path + " holds no Python files in " + ws.describe());
      }
    }
  }
  if (state.request.modelPaths.empty()) {
    discoverModelFiles(ws, ".", 0, ini->scriptLocation, modelFiles);
  }

  auto loader = [&ws](const std::string& path) -> std::optional<std::string> {
    auto text = ws.readFile(path);
    return text ? std::optional<std::string>(*text) : std::nullopt;
  };
  auto lister = [&ws](const std::string& dir) {
    std::vector<std::string> files;
    if (auto entries = ws.listDir(dir)) {
      for (const auto& e : *entries) {
        if (!e.isDirectory && isPython(e.name)) {
          files.push_back(join(dir, e.name));
        }
      }
    }
    return files;
  };
  std::vector<std::string> sysPath = ini->prependSysPath;
  if (sysPath.empty()) {
    sysPath.push_back(".");
  }
  auto scan = alembic::scanRegistration({layout.envPy}, modelFiles, sysPath, loader, lister);
  state.layout = std::move(layout);

  if (!scan.unregistered.empty()) {
    std::string names;
    for (const auto& cls : scan.unregistered) {
      addFinding(state, {core::finding::kModelNotRegistered, core::severity::kError,
                         "model class " + cls.name + " (" + cls.file +
                             ") is never imported from " + state.layout->envPy +
                             ", so autogenerate cannot see its table",
                         registrationHint(cls), cls.file, cls.line});
      names += (names.empty() ? "" : ", ") + cls.name + " in " + cls.file + ":" +
               std::to_string(cls.line);
    }
    return failStep(state, type, core::reason::kModelNotRegistered,
                    "model class(es) not registered with the metadata alembic compares: " + names +
                        ". " + registrationHint(scan.unregistered.front()) + ".");
  }
  std::string message = std::to_string(scan.tables.size()) + " table class(es) in " +
                        std::to_string(modelFiles.size()) + " model file(s), all imported from " +
                        state.layout->envPy;
  if (scan.tables.empty()) {
    message = "no table classes found in " + std::to_string(modelFiles.size()) +
              " model file(s); pass --models to point at them";
  }
  finishStep(state, {type, "True", core::reason::kAllModelsRegistered, message});
  return StepOutcome::kContinue;
}

}  // namespace alembic_sidecar::pipeline
