#include "alembic/models_scanner.h"

#include <deque>
#include <map>
#include <regex>

#include "alembic/python_source.h"

namespace alembic_sidecar::alembic {
namespace {

bool startsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

std::string joinPath(const std::string& root, const std::string& path) {
  if (root.empty() || root == ".") {
    return path;
  }
  return root + "/" + path;
}

std::string stripRoot(const std::string& path, const std::string& root) {
  if (root.empty() || root == ".") {
    return path;
  }
  std::string prefix = root + "/";
  return startsWith(path, prefix) ? path.substr(prefix.size()) : path;
}

/** Resolves `from ..x import` style module references to absolute names. */
std::string resolveRelative(const std::string& spec, const std::string& module, bool isPackage) {
  size_t dots = 0;
  while (dots < spec.size() && spec[dots] == '.') {
    ++dots;
  }
  if (dots == 0) {
    return spec;
  }
  std::string base = module;
  if (!isPackage) {
    auto cut = base.rfind('.');
    base = cut == std::string::npos ? "" : base.substr(0, cut);
  }
  for (size_t i = 1; i < dots; ++i) {
    auto cut = base.rfind('.');
    base = cut == std::string::npos ? "" : base.substr(0, cut);
  }
  std::string rest = spec.substr(dots);
  if (base.empty()) {
    return rest;
  }
  return rest.empty() ? base : base + "." + rest;
}

std::string firstWord(const std::string& text) {
  auto space = text.find(' ');
  return space == std::string::npos ? text : text.substr(0, space);
}

}  // namespace

std::string moduleNameForPath(const std::string& relativePath, const std::string& sysPathRoot) {
  std::string path = stripRoot(relativePath, sysPathRoot);
  if (startsWith(path, "./")) {
    path = path.substr(2);
  }
  if (path.size() > 3 && path.substr(path.size() - 3) == ".py") {
    path = path.substr(0, path.size() - 3);
  }
  if (path == "__init__") {
    return "";
  }
  const std::string init = "/__init__";
  if (path.size() > init.size() && path.substr(path.size() - init.size()) == init) {
    path = path.substr(0, path.size() - init.size());
  }
  for (char& c : path) {
    if (c == '/') {
      c = '.';
    }
  }
  return path;
}

ModuleImports parseImports(std::string_view source, const std::string& module, bool isPackage) {
  ModuleImports result;
  int skipDeeperThan = -1;  // indentation of an `if TYPE_CHECKING:` whose body never runs
  static const std::regex kTypeChecking(R"(^if\s+(typing\.)?TYPE_CHECKING\s*:)");
  for (const auto& line : logicalLines(source)) {
    if (skipDeeperThan >= 0) {
      if (line.indent > skipDeeperThan) {
        continue;
      }
      skipDeeperThan = -1;
    }
    const std::string& t = line.text;
    if (std::regex_search(t, kTypeChecking)) {
      skipDeeperThan = line.indent;
      continue;
    }
    if (t.find("pkgutil.walk_packages") != std::string::npos ||
        t.find("pkgutil.iter_modules") != std::string::npos ||
        t.find("importlib.import_module") != std::string::npos ||
        t.find("__import__(") != std::string::npos) {
      result.importsOwnPackageDynamically = true;
    }
    if (startsWith(t, "import ")) {
      for (const auto& part : splitTopLevel(t.substr(7))) {
        std::string name = firstWord(part);
        if (!name.empty()) {
          result.imports.push_back(ImportRef{name, {}});
        }
      }
    } else if (startsWith(t, "from ")) {
      auto importPos = t.find(" import ");
      if (importPos == std::string::npos) {
        continue;
      }
      std::string spec = trim(t.substr(5, importPos - 5));
      std::string names = trim(t.substr(importPos + 8));
      if (!names.empty() && names.front() == '(') {
        names = names.substr(1, names.rfind(')') - 1);
      }
      ImportRef ref{resolveRelative(spec, module, isPackage), {}};
      for (const auto& part : splitTopLevel(names)) {
        std::string name = firstWord(part);
        if (!name.empty() && name != "*") {
          ref.names.push_back(name);
        }
      }
      if (!ref.module.empty()) {
        result.imports.push_back(std::move(ref));
      }
    }
  }
  return result;
}

std::vector<ModelClass> findTableClasses(std::string_view source, const std::string& module,
                                         const std::string& file) {
  std::vector<ModelClass> classes;
  auto lines = logicalLines(source);
  static const std::regex kClass(R"(^class\s+(\w+)\s*(\((.*)\))?\s*:)");
  static const std::regex kTableName(R"(^(__tablename__|__table__)\s*(:[^=]*)?=)");
  static const std::regex kAbstract(R"(^__abstract__\s*=\s*True)");
  for (size_t i = 0; i < lines.size(); ++i) {
    std::smatch m;
    if (!std::regex_search(lines[i].text, m, kClass)) {
      continue;
    }
    std::string name = m[1].str();
    bool sqlmodelTable = false;
    bool tableFalse = false;
    if (m[2].matched) {
      if (auto call = parseCall(name + m[2].str())) {
        if (auto table = call->kwarg("table")) {
          sqlmodelTable = *table == "True";
          tableFalse = *table == "False";
        }
      }
    }
    bool declarative = false;
    bool abstract = false;
    for (size_t j = i + 1; j < lines.size() && lines[j].indent > lines[i].indent; ++j) {
      if (std::regex_search(lines[j].text, kTableName)) {
        declarative = true;
      }
      if (std::regex_search(lines[j].text, kAbstract)) {
        abstract = true;
      }
    }
    if ((sqlmodelTable || declarative) && !tableFalse && !abstract) {
      classes.push_back(ModelClass{name, module, file, lines[i].line});
    }
  }
  return classes;
}

RegistrationScan scanRegistration(const std::vector<std::string>& rootFiles,
                                  const std::vector<std::string>& modelFiles,
                                  const std::vector<std::string>& sysPathRoots,
                                  const FileLoader& load, const PackageLister& listPackage) {
  RegistrationScan scan;
  std::vector<std::string> roots = sysPathRoots.empty() ? std::vector<std::string>{"."}
                                                        : sysPathRoots;
  std::map<std::string, std::optional<std::string>> cache;
  auto loadCached = [&](const std::string& path) -> const std::optional<std::string>& {
    auto it = cache.find(path);
    if (it == cache.end()) {
      it = cache.emplace(path, load(path)).first;
    }
    return it->second;
  };

  struct Pending {
    std::string path;
    std::string module;
    std::string root;
  };
  std::deque<Pending> queue;
  std::set<std::string> visitedFiles;
  auto enqueueFile = [&](const std::string& path, const std::string& root) {
    if (visitedFiles.insert(path).second) {
      std::string module = moduleNameForPath(path, root);
      scan.reachableModules.insert(module);
      queue.push_back({path, module, root});
    }
  };
  /** Marks a dotted module (and its parent packages) reachable if it is one of ours. */
  auto enqueueModule = [&](const std::string& dotted) {
    std::string prefix;
    size_t start = 0;
    while (start <= dotted.size()) {
      size_t dot = dotted.find('.', start);
      std::string part = dotted.substr(start, dot == std::string::npos ? std::string::npos
                                                                       : dot - start);
      prefix = prefix.empty() ? part : prefix + "." + part;
      std::string rel = prefix;
      for (char& c : rel) {
        if (c == '.') {
          c = '/';
        }
      }
      for (const auto& root : roots) {
        for (const auto& candidate : {joinPath(root, rel + ".py"), joinPath(root, rel + "/__init__.py")}) {
          if (loadCached(candidate)) {
            enqueueFile(candidate, root);
          }
        }
      }
      if (dot == std::string::npos) {
        break;
      }
      start = dot + 1;
    }
  };

  for (const auto& file : rootFiles) {
    if (loadCached(file)) {
      enqueueFile(file, roots.front());
    }
  }
  while (!queue.empty()) {
    Pending current = queue.front();
    queue.pop_front();
    const auto& source = loadCached(current.path);
    if (!source) {
      continue;
    }
    bool isPackage = current.path.size() >= 11 &&
                     current.path.substr(current.path.size() - 11) == "__init__.py";
    ModuleImports imports = parseImports(*source, current.module, isPackage);
    for (const auto& ref : imports.imports) {
      enqueueModule(ref.module);
      for (const auto& name : ref.names) {
        enqueueModule(ref.module + "." + name);
      }
    }
    if (imports.importsOwnPackageDynamically && listPackage) {
      std::string dir = current.path.substr(0, current.path.rfind('/') == std::string::npos
                                                   ? 0
                                                   : current.path.rfind('/'));
      for (const auto& file : listPackage(dir.empty() ? "." : dir)) {
        enqueueFile(file, current.root);
      }
    }
  }

  for (const auto& file : modelFiles) {
    const auto& source = loadCached(file);
    if (!source) {
      continue;
    }
    std::string root = ".";
    for (const auto& r : roots) {
      if (r != "." && startsWith(file, r + "/")) {
        root = r;
      }
    }
    std::string module = moduleNameForPath(file, root);
    for (auto& cls : findTableClasses(*source, module, file)) {
      if (!scan.reachableModules.count(module)) {
        scan.unregistered.push_back(cls);
      }
      scan.tables.push_back(std::move(cls));
    }
  }
  return scan;
}

}  // namespace alembic_sidecar::alembic
