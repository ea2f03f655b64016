# Runs as `python -c` in the application's interpreter. Reads a header line
# "alembic-sidecar-driver <protocol> <bytes> <module>:<function>", then exactly <bytes> bytes of
# JSON {module name: [is package, source]}, serves those modules from memory, and calls the
# entry point. It reads stdin unbuffered, byte-exact, so what follows is the entry point's.
import importlib.abc
import importlib.util
import json
import os
import sys


def _read(n):
    data = bytearray()
    while len(data) < n:
        chunk = os.read(0, n - len(data))
        if not chunk:
            sys.stderr.write("alembic-sidecar: the driver's sources ended early\n")
            sys.exit(3)
        data += chunk
    return bytes(data)


_header = bytearray()
while not _header.endswith(b"\n"):
    _header += _read(1)
_magic, _version, _size, _entry = _header.decode().split()
_modules = json.loads(_read(int(_size)))


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.InspectLoader):
    def find_spec(self, name, path=None, target=None):
        if name not in _modules:
            return None
        return importlib.util.spec_from_loader(name, self, origin="alembic-sidecar:" + name,
                                               is_package=_modules[name][0])

    def is_package(self, name):
        return _modules[name][0]

    def get_source(self, name):
        return _modules[name][1]

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        code = compile(_modules[module.__name__][1], "<%s>" % module.__name__, "exec")
        exec(code, module.__dict__)


sys.meta_path.insert(0, _Finder())
_module, _function = _entry.split(":")
getattr(importlib.import_module(_module), _function)()
