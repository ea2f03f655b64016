#include <set>

#include "alembic/models_scanner.h"
#include "core/reasons.h"
#include "pipeline/steps.h"

namespace alembic_sidecar::pipeline {
namespace {

const std::vector<std::string> kSkippedDirectories = {
    ".git",  ".hg",  ".venv", "venv",          "node_modules", "__pycache__",   ".tox",
    "build", "dist", ".eggs", "site-packages", ".mypy_cache",  ".pytest_cache", "tests",
    "test",  ".cache"};

bool isPython(const std::string& name) {
  return name.size() > 3 && name.substr(name.size() - 3) == ".py";
}

bool under(const std::string& path, const std::string& dir) {
  return dir == "." || dir.empty() || path.rfind(dir + "/", 0) == 0;
}

/** Model files by convention: the contents of every `models` package and every models.py. */
std::vector<std::string> discoverModelFiles(const workspace::FileMap& files,
                                            const std::string& migrationsDir) {
  std::vector<std::string> out;
  for (const auto& [path, _] : files) {
    if (under(path, migrationsDir) && migrationsDir != ".") {
      continue;
    }
    std::string name = path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
    bool inModelsPackage = ("/" + path).find("/models/") != std::string::npos;
    if (name == "models.py" || inModelsPackage) {
      out.push_back(path);
    }
  }
  return out;
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

  // One read of every Python file of the project (one round trip in a pod).
  workspace::TreeOptions tree;
  tree.skipDirs = kSkippedDirectories;
  auto files = ws.readTree(".", tree);
  if (!files) {
    return failStep(state, type, files.error().reason,
                    "cannot read the project's Python files: " + files.error().message);
  }
  std::vector<std::string> modelFiles;
  for (const auto& path : state.request.modelPaths) {
    size_t before = modelFiles.size();
    for (const auto& [file, _] : *files) {
      if (file == path || (!isPython(path) && under(file, path))) {
        modelFiles.push_back(file);
      }
    }
    if (modelFiles.size() == before) {
      return failStep(state, type, core::reason::kProjectInvalid,
                      "--models " + path + " names no Python file in " + ws.describe());
    }
  }
  if (state.request.modelPaths.empty()) {
    modelFiles = discoverModelFiles(*files, ini->scriptLocation);
  }

  auto loader = [&files](const std::string& path) -> std::optional<std::string> {
    auto it = files->find(path);
    return it == files->end() ? std::nullopt : std::optional<std::string>(it->second);
  };
  auto lister = [&files](const std::string& dir) {
    std::vector<std::string> inDir;
    for (const auto& [path, _] : *files) {
      auto slash = path.rfind('/');
      std::string parent = slash == std::string::npos ? "." : path.substr(0, slash);
      if (parent == dir) {
        inDir.push_back(path);
      }
    }
    return inDir;
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
