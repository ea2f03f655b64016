#pragma once

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace alembic_sidecar::alembic {

/** A mapped table class found in the source: `class User(SQLModel, table=True)` and the like. */
struct ModelClass {
  std::string name;
  std::string module;  // dotted: fastapi_template.models.user
  std::string file;    // relative path
  int line = 0;
};

/** An import statement, resolved to absolute dotted names. */
struct ImportRef {
  std::string module;              // the module named by the statement
  std::vector<std::string> names;  // for `from module import a, b`: a, b (may be submodules)
};

struct ModuleImports {
  std::vector<ImportRef> imports;
  /** pkgutil.walk_packages / iter_modules / importlib.import_module: imports its package. */
  bool importsOwnPackageDynamically = false;
};

/**
 * Imports that run when the module is imported. Imports under `if TYPE_CHECKING:` are left
 * out (they never run). Relative imports are resolved against `module` (`isPackage` when
 * the source is an __init__.py).
 */
ModuleImports parseImports(std::string_view source, const std::string& module, bool isPackage);

/**
 * Classes that map a table: SQLModel subclasses with `table=True`, and declarative classes
 * (a `__tablename__` or `__table__` in the body) that are not `__abstract__`.
 */
std::vector<ModelClass> findTableClasses(std::string_view source, const std::string& module,
                                         const std::string& file);

/**
 * "pkg/models/user.py" -> "pkg.models.user"; "pkg/models/__init__.py" -> "pkg.models".
 * `sysPathRoot` (e.g. "src") is stripped first when the path lies under it.
 */
std::string moduleNameForPath(const std::string& relativePath, const std::string& sysPathRoot = ".");

/** Returns the file's text, or nullopt when there is no such file. */
using FileLoader = std::function<std::optional<std::string>(const std::string& relativePath)>;
/** Lists the .py files directly in a directory (relative paths); for dynamic package imports. */
using PackageLister = std::function<std::vector<std::string>(const std::string& relativeDir)>;

struct RegistrationScan {
  std::vector<ModelClass> tables;        // every table class in the model files
  std::vector<ModelClass> unregistered;  // those no import from the roots reaches
  std::set<std::string> reachableModules;
};

/**
 * Follows imports from the root files (env.py, the configured registries) through the
 * project's own modules, and reports table classes of `modelFiles` whose module is never
 * imported: SQLAlchemy only knows a table once its class has been executed. Modules are
 * looked up under each of `sysPathRoots` (relative directories, "." for the project root).
 */
RegistrationScan scanRegistration(const std::vector<std::string>& rootFiles,
                                  const std::vector<std::string>& modelFiles,
                                  const std::vector<std::string>& sysPathRoots,
                                  const FileLoader& load, const PackageLister& listPackage);

}  // namespace alembic_sidecar::alembic
