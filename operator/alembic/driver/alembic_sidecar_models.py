"""Step 2, asked of the running app: is every mapped table in the metadata alembic compares?

1. env.py is loaded the way alembic loads it, with no database: offline mode first (what
   `alembic upgrade --sql` does); if env.py has no working offline mode, online with the
   fence refusing every connection. Its `target_metadata` (a MetaData or a list) and the
   tables it holds at that moment are what autogenerate will compare.
2. Every model module the project declares is imported under its canonical name (the
   `--models` paths or dotted names; by default every `models` package and `models.py`).
3. Every mapped table of every registry (declarative_base, registry(), @as_declarative,
   SQLModel), and every Core Table a model module defines, that env.py's load did not put
   in target_metadata is reported with its class, its module and one import that fixes it.
"""

import importlib
import io
import os
import pkgutil
import re
import sys

from alembic_sidecar_fence import FENCE

SKIPPED = {
    ".git", ".hg", ".venv", "venv", "env", "node_modules", "__pycache__", ".tox", "build",
    "dist", ".eggs", "site-packages", ".mypy_cache", ".pytest_cache", "tests", "test", ".cache",
    ".alembic-sidecar", "docs",
}


def check_models(driver, request):
    from alembic_sidecar_driver import describe_error

    capture_out = io.StringIO()
    saved = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = capture_out
    try:
        loaded = _load_target_metadata(driver, request.get("target"))
    finally:
        sys.stdout, sys.stderr = saved
        FENCE.refuse_all()
    if loaded.get("error") is not None:
        error = describe_error(loaded["error"], capture_out.getvalue())
        where = _failing_project_file(driver, loaded["error"])
        if where:
            # env.py itself is fine; a module it imports is not.
            error["type"] = "ModelImportFailed"
            error["file"] = where
            error["line"] = "%s (%s)" % (error["line"], where)
        return {"ok": False, "error": error, "result": {"source": loaded.get("source")}}
    metadatas = loaded["metadatas"]
    if not metadatas:
        return {"ok": False, "result": {"source": loaded["source"]},
                "error": {"type": "TargetMetadataMissing",
                          "line": "env.py sets no target_metadata (it is None): autogenerate "
                                  "has nothing to compare the database with"}}
    registered = set()
    for md in metadatas:
        registered.update(md.tables.keys())
    metadata_module = _metadata_module(driver, loaded)

    modules, failures = _import_model_modules(driver, request.get("models") or [],
                                              loaded.get("scriptDir"))
    unregistered = []
    seen = set()
    for cls, table in _mapped_tables():
        key = table.key
        if key in registered or key in seen:
            continue
        seen.add(key)
        unregistered.append(_describe_class(driver, cls, table, metadata_module, metadatas))
    for module_name, table in _core_tables(modules):
        key = table.key
        if key in registered or key in seen:
            continue
        seen.add(key)
        unregistered.append(_describe_table(driver, module_name, table, metadata_module,
                                            metadatas))
    return {"ok": True, "result": {
        "source": loaded["source"],
        "tables": sorted(registered),
        "sqlmodelTables": sorted({t.key for c, t in _mapped_tables() if any(b.__module__ == "sqlmodel.main" and b.__name__ == "SQLModel" for b in c.__mro__)}),  # noqa: E501
        "metadataModule": metadata_module.get("module", ""),
        "metadataFile": metadata_module.get("file", ""),
        "modules": sorted(modules),
        "unregistered": sorted(unregistered, key=lambda u: (u["file"], u["line"])),
        "importFailures": failures,
        "versionTable": loaded["versionTable"],
        "versionTableSchema": loaded["versionTableSchema"],
    }}


def _load_target_metadata(driver, target):
    """env.py as alembic loads it, without a database: offline, else online and fenced."""
    from alembic.runtime.environment import EnvironmentContext
    from alembic.script import ScriptDirectory

    captured = {}

    def capture(rev, context):
        captured["metadata"] = context.opts.get("target_metadata")
        captured["versionTable"] = context.opts.get("version_table") or "alembic_version"
        captured["versionTableSchema"] = context.opts.get("version_table_schema") or ""
        return []

    FENCE.refuse_all()
    offline_error = None
    cfg = driver.config(target)
    script = ScriptDirectory.from_config(cfg)
    try:
        cfg.output_buffer = io.StringIO()
        with EnvironmentContext(cfg, script, fn=capture, as_sql=True,
                                starting_rev=None, destination_rev="heads"):
            script.run_env()
    except BaseException as e:  # noqa: BLE001 - env.py may raise anything
        if isinstance(e, KeyboardInterrupt):
            raise
        offline_error = e
    source = "offline"
    if "metadata" not in captured:
        # Online, with every connection refused: env.py sets target_metadata at module level
        # before it connects, so its module still tells.
        source = "online"
        FENCE.refuse_all()
        driver.env_module = None
        try:
            with EnvironmentContext(cfg, script, fn=capture):
                script.run_env()
        except BaseException as e:  # noqa: BLE001
            if isinstance(e, KeyboardInterrupt):
                raise
            if driver.env_module is None or not hasattr(driver.env_module, "target_metadata"):
                return {"error": offline_error or e, "source": source}
        FENCE.breach = None  # the refusal was the point
        if "metadata" not in captured:
            captured["metadata"] = getattr(driver.env_module, "target_metadata", None)
    metadata = captured["metadata"]
    if isinstance(metadata, dict):  # the multidb template keys metadata by engine name
        metadata = list(metadata.values())
    metadatas = [m for m in (metadata if isinstance(metadata, (list, tuple)) else [metadata])
                 if m is not None and hasattr(m, "tables")]
    return {"metadatas": metadatas, "source": source, "scriptDir": script.dir,
            "envModule": driver.env_module,
            "versionTable": captured.get("versionTable", "alembic_version"),
            "versionTableSchema": captured.get("versionTableSchema", "")}


def _failing_project_file(driver, exc):
    """"file:line" of the innermost project module (not env.py) the exception came from."""
    found = ""
    tb = exc.__traceback__
    while tb is not None:
        path = tb.tb_frame.f_code.co_filename
        if (os.path.isabs(path) and _inside(path, driver.root)
                and os.path.basename(path) not in ("env.py", "env.pyc")):
            found = "%s:%d" % (os.path.relpath(path, driver.root), tb.tb_lineno)
        tb = tb.tb_next
    return found


def _metadata_module(driver, loaded):
    """The project module env.py takes target_metadata from, when there is one."""
    env = loaded.get("envModule")
    env_file = getattr(env, "__file__", "") or ""
    info = {"module": "", "file": os.path.relpath(env_file, driver.root) if env_file else ""}
    if env is None:
        return info
    target = getattr(env, "target_metadata", None)
    candidates = []
    for name, value in vars(env).items():
        if name.startswith("__"):
            continue
        if value is target or getattr(value, "metadata", None) is target:
            if _is_module(value):
                candidates.append(value.__name__)
            elif isinstance(value, type):
                candidates.append(value.__module__)
            else:  # a MetaData instance: the modules whose globals hold it
                candidates += _modules_holding(value)
    for module_name in candidates:
        module = sys.modules.get(module_name)
        path = getattr(module, "__file__", None) or ""
        if path and _inside(path, driver.root):
            return {"module": module_name, "file": os.path.relpath(path, driver.root)}
    return info


def _modules_holding(value):
    names = []
    for name, module in list(sys.modules.items()):
        try:
            if any(v is value for v in vars(module).values()):
                names.append(name)
        except TypeError:
            continue
    return sorted(names, key=len)


def _is_module(value):
    return type(value).__name__ == "module"


def _inside(path, root):
    path = os.path.abspath(path)
    root = os.path.abspath(root)
    return path == root or path.startswith(root + os.sep)


def _import_model_modules(driver, declared, script_dir):
    roots = _import_roots(driver)
    names = []
    failures = []
    if declared:
        for entry in declared:
            path = os.path.join(driver.root, entry)
            if os.path.exists(path):
                files = _python_files(path) if os.path.isdir(path) else [path]
                if not files:
                    failures.append({"module": "", "file": entry,
                                     "line": "--models %s names no Python file" % entry})
                names += [n for n in (_module_name(f, roots) for f in files) if n]
            elif re.match(r"^[A-Za-z_][\w]*(\.[A-Za-z_]\w*)*$", entry):
                names += _package_modules(entry, failures)
            else:
                failures.append({"module": "", "file": entry,
                                 "line": "--models %s is neither a path nor a module name"
                                         % entry})
    else:
        for path in _discover(driver.root, script_dir):
            name = _module_name(path, roots)
            if name:
                names.append(name)
    imported = set()
    for name in _dedupe(names):
        if name in sys.modules:
            imported.add(name)
            continue
        try:
            importlib.import_module(name)
            imported.add(name)
        except BaseException as e:  # noqa: BLE001 - a model module may raise anything
            if isinstance(e, KeyboardInterrupt):
                raise
            module = sys.modules.get(name)
            failures.append({"module": name, "file": _file_of(name, roots, driver.root),
                             "line": "%s: %s" % (type(e).__name__,
                                                 (str(e).strip().splitlines() or [""])[0])})
            if module is not None and name in sys.modules:
                del sys.modules[name]
    return imported, failures


def _package_modules(name, failures):
    try:
        module = importlib.import_module(name)
    except BaseException as e:  # noqa: BLE001
        if isinstance(e, KeyboardInterrupt):
            raise
        failures.append({"module": name, "file": "",
                         "line": "%s: %s" % (type(e).__name__, str(e).strip())})
        return []
    names = [name]
    if hasattr(module, "__path__"):
        names += [info.name for info in pkgutil.walk_packages(module.__path__, name + ".")]
    return names


def _import_roots(driver):
    """sys.path entries inside the project, most specific first."""
    roots = []
    for entry in sys.path:
        path = os.path.abspath(entry or driver.root)
        if _inside(path, driver.root) and os.path.isdir(path):
            roots.append(path)
    src = os.path.join(driver.root, "src")
    if os.path.isdir(src) and src not in roots:
        roots.append(src)
        sys.path.append(src)
    return sorted(set(roots), key=len, reverse=True)


def _module_name(path, roots):
    """The dotted name a file is imported under: relative to the most specific root."""
    path = os.path.abspath(path)
    for module_name, module in list(sys.modules.items()):
        if os.path.abspath(getattr(module, "__file__", "") or "") == path:
            return module_name  # already loaded: never import it a second time
    for root in roots:
        if not _inside(path, root) or path == root:
            continue
        rel = os.path.relpath(path, root)[:-3].split(os.sep)
        if rel[-1] == "__init__":
            rel = rel[:-1]
        if rel and all(re.match(r"^[A-Za-z_]\w*$", part) for part in rel):
            return ".".join(rel)
    return None


def _file_of(name, roots, root):
    for r in roots:
        for candidate in (os.path.join(r, *name.split(".")) + ".py",
                          os.path.join(r, *name.split("."), "__init__.py")):
            if os.path.exists(candidate):
                return os.path.relpath(candidate, root)
    return ""


def _python_files(directory):
    out = []
    for d, dirs, files in os.walk(directory):
        dirs[:] = sorted(n for n in dirs if n not in SKIPPED)
        out += [os.path.join(d, f) for f in sorted(files) if f.endswith(".py")]
    return out


def _discover(root, script_dir):
    """Every models.py and every file of a `models` package, outside the migrations."""
    found = []
    script_dir = os.path.abspath(script_dir) if script_dir else None
    for d, dirs, files in os.walk(root):
        dirs[:] = sorted(n for n in dirs if n not in SKIPPED and not n.startswith("."))
        if script_dir and _inside(d, script_dir):
            dirs[:] = []
            continue
        in_models = (os.sep + os.path.relpath(d, root) + os.sep).find(os.sep + "models" + os.sep)
        for f in sorted(files):
            if f.endswith(".py") and (f == "models.py" or in_models >= 0):
                found.append(os.path.join(d, f))
    return found


def _mapped_tables():
    """(class, table) for every mapper of every registry, declarative or imperative."""
    try:
        mapperlib = importlib.import_module("sqlalchemy.orm.mapperlib")
    except ImportError:
        mapperlib = importlib.import_module("sqlalchemy.orm.mapper")
    from sqlalchemy import Table

    out = []
    for registry in list(getattr(mapperlib, "_mapper_registries", {})):
        for mapper in list(registry.mappers):
            for table in getattr(mapper, "tables", []) or []:
                if isinstance(table, Table):
                    out.append((mapper.class_, table))
    return out


def _core_tables(modules):
    from sqlalchemy import Table

    out = []
    for name in sorted(modules):
        module = sys.modules.get(name)
        for value in list(vars(module).values()) if module else []:
            if isinstance(value, Table):
                out.append((name, value))
    return out


def _fix(driver, module_name, metadata_module, symbol=None):
    """One import that registers the table: in env.py, by the module's canonical name.

    env.py is never imported by a model, so the import cannot be circular (the module that
    defines Base may be imported by the model itself), and the canonical dotted name is the
    one the model is already loaded under, so no second MetaData appears.
    """
    statement = ("from %s import %s  # noqa: F401" % (module_name, symbol) if symbol
                 else "import %s  # noqa: F401" % module_name)
    env_py = os.path.relpath(driver.env_module.__file__, driver.root) \
        if driver.env_module is not None and getattr(driver.env_module, "__file__", None) \
        else "env.py"
    return ("add `%s` to %s next to its other model imports, so the table is in the "
            "metadata autogenerate compares" % (statement, env_py))


def _describe_class(driver, cls, table, metadata_module, metadatas):
    module_name = getattr(cls, "__module__", "") or ""
    module = sys.modules.get(module_name)
    path = getattr(module, "__file__", "") or ""
    return {
        "class": cls.__name__, "module": module_name, "table": table.key,
        "file": os.path.relpath(path, driver.root) if path else "",
        "line": _class_line(path, cls.__name__),
        "fix": _fix(driver, module_name, metadata_module, cls.__name__),
        "otherMetadata": not any(table.metadata is md for md in metadatas),
    }


def _describe_table(driver, module_name, table, metadata_module, metadatas):
    module = sys.modules.get(module_name)
    path = getattr(module, "__file__", "") or ""
    return {
        "class": "", "module": module_name, "table": table.key,
        "file": os.path.relpath(path, driver.root) if path else "",
        "line": 0, "fix": _fix(driver, module_name, metadata_module),
        "otherMetadata": not any(table.metadata is md for md in metadatas),
    }


def _class_line(path, name):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for number, line in enumerate(f, 1):
                if re.match(r"^\s*class\s+%s\b" % re.escape(name), line):
                    return number
    except OSError:
        pass
    return 0


def _dedupe(items):
    seen, out = set(), []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out
