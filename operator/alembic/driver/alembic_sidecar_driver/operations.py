"""The alembic operations of one step, run in the step's own child process.

Every operation goes through alembic's own API (alembic.command.*, EnvironmentContext), so
env.py, the models, post_write_hooks and every alembic setting behave exactly as under the
alembic CLI. The child was forked from a parent that has imported alembic, SQLAlchemy and the
DBAPI modules but nothing of the application: env.py and the models are imported here, with
the step's URL already in the environment, and vanish with the child.
"""

import io
import os
import re
import sys
import time

from alembic_sidecar_driver.protocol import Capture, as_tuple as _as_tuple, dedupe as _dedupe
from alembic_sidecar_driver.models import script_info as _script_info
from alembic_sidecar_driver.protocol import describe_error


class Operations:
    """What a step needs of the project: its root, config file, URL variable and staging."""

    def __init__(self, root, config_file, url_env, staging):
        self.root = root
        self.config_file = config_file
        self.url_env = url_env
        self.staging = staging
        self.env_module = None

    def config(self, target=None, sql=False, cmd=None, **opts):
        """A Config as alembic's CLI builds it: env.py files read config.cmd_opts (its
        `autogenerate`, `cmd`), so it carries what `alembic <cmd> ...` would have parsed. The
        step's URL is its sqlalchemy.url (the environment already holds it too)."""
        from alembic.config import Config
        from alembic import command
        import argparse

        cmd_opts = argparse.Namespace(
            config=self.config_file, name="alembic", raiseerr=True, x=None, sql=sql,
            autogenerate=opts.get("autogenerate", False), message=opts.get("message"),
            head=opts.get("head"), splice=False, branch_label=opts.get("branch_label"),
            version_path=None, rev_id=None, depends_on=None, tag=None,
            cmd=(getattr(command, cmd), [], []) if cmd else None,
        )
        cfg = Config(self.config_file, stdout=sys.stdout, cmd_opts=cmd_opts)
        url = target.get("url") if target else None
        if url:
            # ConfigParser interpolates '%': a percent-encoded password must be escaped.
            cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
        return cfg

    def run_alembic(self, request, body):
        """Runs body() with output captured and errors turned into data."""
        capture = Capture()
        saved = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = capture
        started = time.monotonic()
        result = {}
        error = None
        try:
            result = body() or {}
        except BaseException as e:  # noqa: BLE001 - env.py may even raise SystemExit
            if isinstance(e, KeyboardInterrupt):
                raise
            error = e
        finally:
            sys.stdout, sys.stderr = saved
            sys.path[:] = _dedupe(sys.path)
        out = {"ok": error is None, "result": result, "output": capture.getvalue(),
               "durationMs": int((time.monotonic() - started) * 1000)}
        if error is not None:
            out["error"] = describe_error(error, capture.getvalue())
        return out

    def op_upgrade(self, request):
        from alembic import command

        sql = bool(request.get("sql"))

        def body():
            if sql:
                buffer = io.StringIO()
                cfg = self.config(request.get("target"), sql=True, cmd="upgrade")
                cfg.output_buffer = buffer
                command.upgrade(cfg, request["revision"], sql=True)
                return {"sql": buffer.getvalue()}
            command.upgrade(self.config(request.get("target"), cmd="upgrade"), request["revision"])
            return {}

        return self.run_alembic(request, body)

    def op_downgrade(self, request):
        from alembic import command

        def body():
            command.downgrade(self.config(request.get("target"), cmd="downgrade"),
                              request["revision"])
            return {}

        return self.run_alembic(request, body)

    def op_revision(self, request):
        from alembic import command

        def body():
            captured = {}

            def directives(context, revision, directives_):
                for d in directives_:
                    captured["empty"] = bool(d.upgrade_ops.is_empty())
                    captured["ops"] = _describe_ops(d.upgrade_ops.ops)
                # What `compare` would say of the schema at head, from this very env.py run
                # (the same database, before the new revision): no second execution of env.py.
                try:
                    captured["compare"] = compare_in_context(context, False, True)
                except Exception as e:  # noqa: BLE001 - the C++ side asks `compare` instead
                    captured["compareError"] = "%s: %s" % (type(e).__name__, e)

            cfg = self.config(request.get("target"), cmd="revision", autogenerate=True,
                              message=request.get("message"), head=request.get("head"))
            scripts = command.revision(
                cfg, message=request.get("message"), autogenerate=True,
                head=request.get("head") or "head",
                branch_label=request.get("branchLabel"), rev_id=request.get("revId") or None,
                version_path=self.staging, process_revision_directives=directives)
            if not isinstance(scripts, list):
                scripts = [scripts]
            scripts = [s for s in scripts if s is not None]
            extra = {k: captured[k] for k in ("compare", "compareError") if k in captured}
            if not scripts:
                # env.py's process_revision_directives dropped the empty revision.
                return dict(extra, file=None, empty=True, ops=[])
            script = scripts[0]
            with open(script.path, encoding="utf-8") as f:
                text = f.read()
            return dict(extra, file=os.path.relpath(script.path, self.root), text=text,
                        revision=script.revision,
                        downRevisions=list(_as_tuple(script.down_revision)),
                        destination=self._destination(script),
                        empty=captured.get("empty", False), ops=captured.get("ops", []))

        return self.run_alembic(request, body)

    def _destination(self, script):
        """Where alembic itself would have written the file (version_path not given)."""
        from alembic.script import ScriptDirectory

        directory = ScriptDirectory.from_config(self.config())
        locations = [p for p in directory._version_locations if p != self.staging]
        if len(locations) == 1:
            return os.path.relpath(locations[0], self.root)
        for down in _as_tuple(script.down_revision):
            parent = directory.get_revision(down)
            if parent is not None and os.path.dirname(parent.path) != self.staging:
                return os.path.relpath(os.path.dirname(parent.path), self.root)
        return os.path.relpath(locations[0], self.root)

    def op_heads(self, request):
        def body():
            from alembic.script import ScriptDirectory

            script = ScriptDirectory.from_config(self.config())
            return {"heads": [_script_info(script.get_revision(h), self.root)
                              for h in script.get_heads()]}

        return self.run_alembic(request, body)

    def op_history(self, request):
        def body():
            from alembic.script import ScriptDirectory

            script = ScriptDirectory.from_config(self.config())
            revisions = [_script_info(s, self.root) for s in script.walk_revisions()]
            revisions.reverse()  # base first
            return {"revisions": revisions, "heads": list(script.get_heads())}

        return self.run_alembic(request, body)

    def op_compare(self, request):
        """What autogenerate would write now, plus what the models say about enums."""

        def body():
            from alembic.runtime.environment import EnvironmentContext
            from alembic.script import ScriptDirectory

            out = {}
            cfg = self.config(request.get("target"))
            script = ScriptDirectory.from_config(cfg)

            def inspect(rev, context):
                out.update(compare_in_context(context, request.get("diff", True),
                                              request.get("uncompared", True)))
                return []

            with EnvironmentContext(cfg, script, fn=inspect, dont_mutate=True):
                script.run_env()
            return out

        return self.run_alembic(request, body)

    def op_current(self, request):
        """The target's applied revisions, read through env.py as `alembic current` does."""

        def body():
            from alembic.runtime.environment import EnvironmentContext
            from alembic.script import ScriptDirectory

            out = {}
            cfg = self.config(request.get("target"))
            script = ScriptDirectory.from_config(cfg)

            def current(rev, context):
                out["heads"] = [r for r in _as_tuple(rev) if r]
                out["versionTable"] = context.opts.get("version_table") or "alembic_version"
                out["versionTableSchema"] = context.opts.get("version_table_schema") or ""
                return []

            with EnvironmentContext(cfg, script, fn=current, dont_mutate=True):
                script.run_env()
            return out

        return self.run_alembic(request, body)

    # ---- models (step 2) -------------------------------------------------------------------

    def op_models(self, request):
        from alembic_sidecar_driver import models

        return models.check_models(self, request)

def compare_in_context(context, diff, with_uncompared):
    """compare_type / compare_server_default, the models' native enums and, on request, what
    autogenerate would write and what it does not compare, read on a MigrationContext that env.py
    configured."""
    import sqlalchemy as sa

    out = {}
    metadata = context.opts.get("target_metadata")
    out["compareType"] = context.opts.get("compare_type", None)
    out["compareServerDefault"] = context.opts.get("compare_server_default", None)
    enums = {}
    for md in _metadatas(metadata):
        for table in md.tables.values():
            for column in table.columns:
                t = column.type
                if isinstance(t, sa.Enum) and t.native_enum and t.name:
                    enums[t.name] = list(t.enums)
    out["enums"] = [{"name": k, "labels": v} for k, v in sorted(enums.items())]
    if diff:
        from alembic.autogenerate import produce_migrations

        migration = produce_migrations(context, metadata)
        out["inSync"] = migration.upgrade_ops.is_empty()
        out["ops"] = _describe_ops(migration.upgrade_ops.ops)
    if with_uncompared and metadata is not None:
        from alembic_sidecar_driver import uncompared

        try:
            out["uncompared"] = uncompared.differences(context, metadata, _metadatas(metadata))
        except Exception as e:  # noqa: BLE001 - the rest of compare stands
            out["uncomparedError"] = "%s: %s" % (type(e).__name__, e)
    return out


def _split_paths(text):
    return [p for p in re.split(r"[ ,:]+", text) if p]


def _importable(name):
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _is_async_env(source):
    return bool(re.search(
        r"\b(async_engine_from_config|create_async_engine|run_sync|AsyncEngine|"
        r"asyncio\.run)\b", source))


def _metadatas(metadata):
    if metadata is None:
        return []
    if isinstance(metadata, (list, tuple)):
        return [m for m in metadata if m is not None]
    return [metadata]


def _snake(name):
    name = name[:-2] if name.endswith("Op") else name
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


def _describe_ops(ops, table=""):
    """Operations as data: what autogenerate wrote (or would write)."""
    out = []
    for op in ops:
        if hasattr(op, "ops") and not hasattr(op, "column"):
            out += _describe_ops(op.ops, getattr(op, "table_name", table) or table)
            continue
        column = getattr(op, "column", None)
        out.append({
            "op": _snake(type(op).__name__),
            "table": getattr(op, "table_name", None) or table or "",
            "column": getattr(op, "column_name", None)
            or (getattr(column, "name", "") if column is not None else ""),
            "name": str(getattr(op, "index_name", None) or getattr(op, "constraint_name", None)
                        or ""),
        })
    return out


def _patch_script_directory(driver):
    """Makes the run's staging directory a version location of every ScriptDirectory."""
    from alembic.script import ScriptDirectory

    if getattr(ScriptDirectory, "_alembic_sidecar_patched", False):
        return
    original = ScriptDirectory.from_config.__func__

    def from_config(cls, config, *args, **kwargs):
        directory = original(cls, config, *args, **kwargs)
        if driver.staging:
            locations = list(directory.version_locations or [os.path.join(directory.dir,
                                                                         "versions")])
            directory.version_locations = locations + [driver.staging]
        return directory

    ScriptDirectory.from_config = classmethod(from_config)
    ScriptDirectory._alembic_sidecar_patched = True


def _patch_load_module(driver):
    """Keeps a reference to env.py's module, so its globals are readable even if it fails."""
    from alembic.util import pyfiles

    if getattr(pyfiles, "_alembic_sidecar_patched", False):
        return
    original = pyfiles.load_module_py

    def load_module_py(module_id, path):
        import importlib.util

        if os.path.basename(path) not in ("env.py", "env.pyc"):
            return original(module_id, path)
        spec = importlib.util.spec_from_file_location(module_id, path)
        module = importlib.util.module_from_spec(spec)
        driver.env_module = module
        spec.loader.exec_module(module)
        return module

    pyfiles.load_module_py = load_module_py
    pyfiles._alembic_sidecar_patched = True
