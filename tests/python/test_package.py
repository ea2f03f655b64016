"""The package's shape: layered modules, no import cycle, a standalone shim."""

import ast
import os

import harness

ORDER = ["protocol", "pgtools", "fence", "files", "uncompared", "models", "operations", "server"]


def imports(module):
    path = os.path.join(harness.PACKAGE_DIR, module + ".py")
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            name = node.module
            if name == "alembic_sidecar_driver":
                found.update(alias.name for alias in node.names)
            elif name.startswith("alembic_sidecar_driver."):
                found.add(name.split(".", 1)[1])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("alembic_sidecar_driver."):
                    found.add(alias.name.split(".", 1)[1])
    return found


def test_every_module_imports_only_modules_below_it():
    present = sorted(n[:-3] for n in os.listdir(harness.PACKAGE_DIR)
                     if n.endswith(".py") and n != "__init__.py")
    assert sorted(ORDER) == present
    for i, module in enumerate(ORDER):
        assert imports(module) <= set(ORDER[:i]), (module, imports(module))


def test_the_shim_needs_nothing_but_the_standard_library():
    assert imports("pgtools") == set()
