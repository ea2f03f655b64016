"""alembic-sidecar's driver: every Python-side operation of one run, in one interpreter.

The C++ side starts this program once per run in the application's own interpreter (a child
process locally, one pods/exec session in a cluster) and speaks line-delimited JSON with it:
one request per line on stdin, one reply per line on the protocol channel (the process's
original stdout; everything else the application prints goes to stderr). The program is
embedded in the alembic-sidecar binary and sent as the first stdin line.

Every alembic operation runs in-process through alembic's own API (alembic.command.*), so
env.py, the models, post_write_hooks and every alembic setting behave exactly as under the
alembic CLI, and sqlalchemy/alembic/the models are imported once instead of once per command.

Before env.py runs, every SQLAlchemy connection is fenced: a connection must reach exactly
the database the current request names (its name, its pg_database oid and its server's start
time, read by the C++ side with libpq), or it is refused before any statement runs.
"""

import hashlib
import io
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback

from alembic_sidecar_fence import FENCE, IsolationBreached

PROTOCOL_VERSION = 1
ADOPTION_RECORD = "adopted.json"
MAX_CAPTURE = 64 * 1024
SKIPPED_DIRS = {
    ".git", ".hg", ".venv", "venv", "node_modules", "__pycache__", ".tox", "build", "dist",
    ".eggs", "site-packages", ".mypy_cache", ".pytest_cache", "tests", "test", ".cache",
    ".alembic-sidecar",
}


class DriverError(Exception):
    """A request the driver cannot serve (bad arguments, missing file)."""


class _Capture(io.TextIOBase):
    """A bounded text sink standing in for sys.stdout/sys.stderr during one operation."""

    def __init__(self):
        super().__init__()
        self.parts = []
        self.size = 0

    def writable(self):
        return True

    def write(self, text):
        if not isinstance(text, str):
            text = str(text)
        if self.size < MAX_CAPTURE:
            self.parts.append(text)
            self.size += len(text)
        return len(text)

    def flush(self):
        pass

    def isatty(self):
        return False

    @property
    def encoding(self):
        return "utf-8"

    def getvalue(self):
        text = "".join(self.parts)
        return text if self.size < MAX_CAPTURE else text + "\n...(output truncated)"


class Driver:
    def __init__(self, proto):
        self.proto = proto
        self.root = os.getcwd()
        self.config_file = "alembic.ini"
        self.url_env = "DATABASE_URL"
        self.staging = None
        self.record_adoptions = False
        self.lock = None
        self.base_sys_path = list(sys.path)
        self.env_module = None

    # ---- plumbing -----------------------------------------------------------------------

    def reply(self, payload):
        self.proto.write(json.dumps(payload, default=str) + "\n")
        self.proto.flush()

    def config(self, target=None, sql=False, cmd=None, **opts):
        """A Config as alembic's CLI builds it: env.py files read config.cmd_opts (its
        `autogenerate`, `cmd`), so it carries what `alembic <cmd> ...` would have parsed."""
        from alembic.config import Config
        from alembic import command
        import argparse

        stdout = sys.stdout
        cmd_opts = argparse.Namespace(
            config=self.config_file, name="alembic", raiseerr=True, x=None, sql=sql,
            autogenerate=opts.get("autogenerate", False), message=opts.get("message"),
            head=opts.get("head"), splice=False, branch_label=opts.get("branch_label"),
            version_path=None, rev_id=None, depends_on=None, tag=None,
            cmd=(getattr(command, cmd), [], []) if cmd else None,
        )
        cfg = Config(self.config_file, stdout=stdout, cmd_opts=cmd_opts)
        url = target.get("url") if target else None
        if url:
            # ConfigParser interpolates '%': a percent-encoded password must be escaped.
            cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
            os.environ[self.url_env] = url
        else:
            os.environ.pop(self.url_env, None)
        return cfg

    def fence_for(self, target):
        if target and target.get("identity"):
            FENCE.allow(target.get("database"), target["identity"])
        else:
            FENCE.refuse_all()

    def run_alembic(self, request, body):
        """Runs body() with output captured, the fence set and errors turned into data."""
        target = request.get("target")
        self.fence_for(target)
        capture = _Capture()
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
        if FENCE.breach is not None:
            out["ok"] = False
            out["breach"] = FENCE.breach
            out.setdefault("error", {"type": "IsolationBreached",
                                     "line": "a connection outside the run was refused"})
        FENCE.refuse_all()
        return out

    # ---- operations ---------------------------------------------------------------------

    def op_hello(self, request):
        self.root = os.path.abspath(request.get("root") or os.getcwd())
        os.chdir(self.root)
        if self.root not in sys.path:
            sys.path.insert(0, self.root)
        self.config_file = request.get("config") or "alembic.ini"
        self.url_env = request.get("urlEnv") or "DATABASE_URL"
        self.base_sys_path = list(sys.path)
        info = {"protocol": PROTOCOL_VERSION, "python": sys.executable,
                "pythonVersion": "%d.%d.%d" % sys.version_info[:3], "pid": os.getpid()}
        try:
            import alembic
            import sqlalchemy
            info["alembicVersion"] = alembic.__version__
            info["sqlalchemyVersion"] = sqlalchemy.__version__
        except ImportError as e:
            return {"ok": False, "error": {"type": "AlembicNotImportable",
                                           "line": "%s (interpreter %s)" % (e, sys.executable)},
                    "result": info}
        FENCE.install()
        _patch_script_directory(self)
        _patch_load_module(self)
        if not os.path.exists(self.config_file):
            return {"ok": False, "result": info,
                    "error": {"type": "ProjectInvalid",
                              "line": "no alembic config %s in %s" % (self.config_file, self.root)}}
        info["drivers"] = [m for m in ("asyncpg", "psycopg", "psycopg2", "pg8000")
                           if _importable(m)]
        try:
            layout = self._layout()
            info.update(layout)
        except Exception as e:  # noqa: BLE001
            return {"ok": False, "result": info, "error": describe_error(e, "")}
        os.environ["ALEMBIC_SIDECAR_RUN"] = str(request.get("runId") or "")
        if request.get("lock"):
            try:
                held = self._lock(request["lock"], float(request.get("lockWaitSeconds", 0)))
            except OSError as e:  # a read-only project: nothing to protect against
                held = None
                info["lockSkipped"] = "%s: %s" % (request["lock"], e.strerror)
            if held is not None:
                return {"ok": False, "result": info,
                        "error": {"type": "ProjectLocked", "line": held}}
        if request.get("staging"):
            self.staging = os.path.abspath(request["staging"])
            self.record_adoptions = bool(request.get("recordAdoptions"))
            _private_dir(os.path.dirname(self.staging))
            if self.lock is not None:
                info["unadopted"] = [os.path.relpath(p, self.root) for p in
                                     _sweep_staging(os.path.dirname(self.staging))]
            os.makedirs(self.staging, exist_ok=True)
            info["staging"] = os.path.relpath(self.staging, self.root)
        return {"ok": True, "result": info}

    def _layout(self):
        from alembic.config import Config
        from alembic.script import ScriptDirectory

        cfg = Config(self.config_file)
        script = ScriptDirectory.from_config(cfg)
        sys.path[:] = _dedupe(sys.path)
        env_py = os.path.join(script.dir, "env.py")
        source = ""
        if os.path.exists(env_py):
            with open(env_py, encoding="utf-8", errors="replace") as f:
                source = f.read()
        return {
            "scriptLocation": os.path.relpath(script.dir, self.root),
            "envPy": os.path.relpath(env_py, self.root),
            "envPySource": source,
            "versionLocations": [os.path.relpath(p, self.root)
                                 for p in script._version_locations if p != self.staging],
            "asyncEnv": _is_async_env(source),
            "prependSysPath": _split_paths(cfg.get_main_option("prepend_sys_path") or ""),
        }

    def _lock(self, path, wait_seconds):
        """Holds an exclusive lock for the driver's lifetime; returns the holder when busy."""
        import fcntl

        path = os.path.abspath(path)
        _private_dir(os.path.dirname(path))
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                if time.monotonic() >= deadline:
                    try:
                        holder = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip()
                    finally:
                        os.close(fd)
                    return holder or "another alembic-sidecar run"
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.pwrite(fd, ("%s" % self._holder_text()).encode(), 0)
        self.lock = fd
        return None

    def _holder_text(self):
        import socket

        return "run %s (pid %d on %s, since %s)" % (
            os.environ.get("ALEMBIC_SIDECAR_RUN", "?"), os.getpid(), socket.gethostname(),
            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))

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
            if not scripts:
                # env.py's process_revision_directives dropped the empty revision.
                return {"file": None, "empty": True, "ops": []}
            script = scripts[0]
            with open(script.path, encoding="utf-8") as f:
                text = f.read()
            return {"file": os.path.relpath(script.path, self.root), "text": text,
                    "revision": script.revision,
                    "downRevisions": list(_as_tuple(script.down_revision)),
                    "destination": self._destination(script),
                    "empty": captured.get("empty", False), "ops": captured.get("ops", [])}

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
            import sqlalchemy as sa
            from alembic.autogenerate import produce_migrations
            from alembic.runtime.environment import EnvironmentContext
            from alembic.script import ScriptDirectory

            out = {}
            cfg = self.config(request.get("target"))
            script = ScriptDirectory.from_config(cfg)

            def inspect(rev, context):
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
                if request.get("diff", True):
                    migration = produce_migrations(context, metadata)
                    out["inSync"] = migration.upgrade_ops.is_empty()
                    out["ops"] = _describe_ops(migration.upgrade_ops.ops)
                if request.get("uncompared", True) and metadata is not None:
                    import alembic_sidecar_uncompared

                    try:
                        out["uncompared"] = alembic_sidecar_uncompared.differences(
                            context, metadata, _metadatas(metadata))
                    except Exception as e:  # noqa: BLE001 - the rest of compare stands
                        out["uncomparedError"] = "%s: %s" % (type(e).__name__, e)
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

    def op_pyflakes(self, request):
        try:
            from pyflakes import api, reporter
        except ImportError as e:
            return {"ok": False, "error": {"type": "PyflakesNotImportable", "line": str(e)}}
        out, err = io.StringIO(), io.StringIO()
        api.check(request.get("source", ""), request.get("filename") or "revision.py",
                  reporter.Reporter(out, err))
        return {"ok": True, "result": {"output": out.getvalue() + err.getvalue()}}

    def op_adopt(self, request):
        """Moves a validated revision from the staging directory into the history."""
        source = self._path(request["file"])
        destination = self._path(request["destination"])
        if self.staging is None or os.path.dirname(source) != self.staging:
            raise DriverError("only a staged revision can be adopted: %s" % request["file"])
        os.makedirs(destination, exist_ok=True)
        final = os.path.join(destination, os.path.basename(source))
        if os.path.exists(final):
            raise DriverError("%s already exists" % os.path.relpath(final, self.root))
        if self.record_adoptions:
            # The record stays in the staging directory until the run ends (discard): a run
            # killed between here and its report leaves it, and the next run takes the file
            # back out of the history (_undo_unreported_adoption).
            with open(source, "rb") as f:
                digest = hashlib.sha256(f.read()).hexdigest()
            record = os.path.join(self.staging, ADOPTION_RECORD)
            with open(record + ".tmp", "w") as f:
                json.dump({"file": final, "sha256": digest}, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(record + ".tmp", record)
        os.replace(source, final)
        return {"ok": True, "result": {"file": os.path.relpath(final, self.root)}}

    def op_discard(self, request):
        """Removes the staging directory and what is in it."""
        if self.staging and os.path.isdir(self.staging):
            shutil.rmtree(self.staging, ignore_errors=True)
        return {"ok": True, "result": {}}

    # ---- files (so a run in a pod needs no other exec session) ----------------------------

    def _path(self, path):
        return path if os.path.isabs(path) else os.path.join(self.root, path)

    def op_read(self, request):
        with open(self._path(request["path"]), "rb") as f:
            data = f.read()
        return {"ok": True, "result": {"text": data.decode("utf-8", errors="replace")}}

    def op_list(self, request):
        p = self._path(request["path"])
        return {"ok": True, "result": {"entries": [[n, os.path.isdir(os.path.join(p, n))]
                                                   for n in sorted(os.listdir(p))]}}

    def op_exists(self, request):
        return {"ok": True, "result": {"exists": os.path.exists(self._path(request["path"]))}}

    def op_remove(self, request):
        os.remove(self._path(request["path"]))
        return {"ok": True, "result": {}}

    def op_tree(self, request):
        top = self._path(request.get("path") or ".")
        skip = set(request.get("skip") or [])
        suffixes = tuple(request.get("suffixes") or [".py"])
        max_depth = int(request.get("maxDepth", 8))
        budget = int(request.get("maxBytes", 1 << 25))
        files = {}
        for d, dirs, names in os.walk(top):
            rel = os.path.relpath(d, top)
            depth = 0 if rel == "." else rel.count(os.sep) + 1
            dirs[:] = sorted(n for n in dirs if n not in skip and depth < max_depth)
            for n in sorted(names):
                if n.endswith(suffixes) and budget > 0:
                    path = os.path.join(d, n)
                    try:
                        with open(path, "rb") as f:
                            text = f.read().decode("utf-8", errors="replace")
                    except OSError:
                        continue
                    budget -= len(text)
                    files[os.path.relpath(path, self.root)] = text
        return {"ok": True, "result": {"files": files}}

    def op_run(self, request):
        env = dict(os.environ)
        env.update(request.get("env") or {})
        try:
            done = subprocess.run(
                request["argv"], cwd=self._path(request.get("cwd") or "."), env=env,
                input=(request.get("stdin") or "").encode(), capture_output=True,
                timeout=float(request.get("timeout", 600)), start_new_session=True)
        except subprocess.TimeoutExpired as e:
            return {"ok": True, "result": {"exitCode": -1, "timedOut": True,
                                           "out": (e.stdout or b"").decode("utf-8", "replace"),
                                           "err": (e.stderr or b"").decode("utf-8", "replace")}}
        except OSError as e:
            raise DriverError("cannot run %s: %s" % (request["argv"][0], e.strerror))
        return {"ok": True, "result": {"exitCode": done.returncode, "timedOut": False,
                                       "out": done.stdout.decode("utf-8", "replace"),
                                       "err": done.stderr.decode("utf-8", "replace")}}

    # ---- models (step 2) -------------------------------------------------------------------

    def op_models(self, request):
        import alembic_sidecar_models

        return alembic_sidecar_models.check_models(self, request)

    def serve(self, requests):
        while True:
            line = requests.get()
            if line is None:
                return
            try:
                request = json.loads(line)
            except ValueError:
                self.reply({"id": None, "ok": False,
                            "error": {"type": "ProtocolError", "line": "unreadable request"}})
                continue
            op = request.get("op")
            rid = request.get("id")
            if op == "shutdown":
                self.reply({"id": rid, "ok": True, "result": {}})
                return
            handler = getattr(self, "op_" + str(op), None)
            if handler is None:
                self.reply({"id": rid, "ok": False,
                            "error": {"type": "ProtocolError", "line": "unknown op %r" % op}})
                continue
            try:
                reply = handler(request)
            except BaseException as e:  # noqa: BLE001 - the driver must answer
                if isinstance(e, KeyboardInterrupt):
                    raise
                reply = {"ok": False, "error": describe_error(e, "")}
            reply["id"] = rid
            self.reply(reply)


def describe_error(exc, output):
    """The exception as data: its type, the line that says what failed, and a short tail."""
    kind = type(exc).__name__
    text = str(exc).strip()
    first = text.splitlines()[0] if text else kind
    if kind == "CommandError":
        line = "FAILED: " + first
    elif isinstance(exc, IsolationBreached):
        line = first
    else:
        line = "%s: %s" % (kind, first)
    # A DBAPI error's first line is the server's message; keep the SQL it ran in the tail.
    tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
    tail_lines = [l for l in "".join(tb).splitlines() if l.strip()][-12:]
    out_lines = [l for l in (output or "").splitlines() if l.strip()][-8:]
    return {"type": kind, "line": line, "message": text[:4000],
            "tail": "\n".join(out_lines + tail_lines)[-4000:]}


def _private_dir(path):
    """alembic-sidecar's directory beside alembic.ini, which git ignores by itself."""
    os.makedirs(path, exist_ok=True)
    ignore = os.path.join(path, ".gitignore")
    if not os.path.exists(ignore):
        with open(ignore, "w") as f:
            f.write("# alembic-sidecar's lock and run-private staging; nothing to commit\n*\n")


def _sweep_staging(directory):
    """With the project lock held, any staging directory belongs to a run that is gone.

    Returns the revision files taken back out of the history: those a run adopted and then
    died before it reported its verdict (see _undo_unreported_adoption)."""
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    undone = []
    for name in names:
        if name.startswith("staging-"):
            path = os.path.join(directory, name)
            final = _undo_unreported_adoption(path)
            if final:
                undone.append(final)
            shutil.rmtree(path, ignore_errors=True)
    return undone


def _undo_unreported_adoption(staging):
    """A staging directory that still holds an adoption record belongs to a run that moved its
    validated revision into the history and died before it reported the verdict (a run that
    ends removes its staging directory first). Nobody saw that verdict (an escalation, say), so
    the file goes back out of the history and this run reaches the verdict again. A file that
    was changed since (its sha256 differs) is someone's work now and stays."""
    try:
        with open(os.path.join(staging, ADOPTION_RECORD), encoding="utf-8") as f:
            record = json.load(f)
        final = record["file"]
        with open(final, "rb") as f:
            if hashlib.sha256(f.read()).hexdigest() != record["sha256"]:
                return None
        os.remove(final)
        return final
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _dedupe(paths):
    seen, out = set(), []
    for p in paths:
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out


def _split_paths(text):
    return [p for p in re.split(r"[ ,:]+", text) if p]


def _as_tuple(value):
    if value is None:
        return ()
    if isinstance(value, (list, tuple)):
        return tuple(value)
    return (value,)


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


def _script_info(script, root):
    return {
        "revision": script.revision,
        "downRevisions": list(_as_tuple(script.down_revision)),
        "branchLabels": sorted(script.branch_labels or ()),
        "dependsOn": list(_as_tuple(script.dependencies)),
        "path": os.path.relpath(script.path, root),
        "isHead": bool(script.is_head),
        "isMerge": bool(script.is_merge_point),
    }


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


def _reader(stream, requests):
    """Feeds request lines to the main thread; at end of input the driver goes away."""
    for line in iter(stream.readline, b""):
        if line.strip():
            requests.put(line.decode("utf-8", "replace"))
    # The C++ side is gone (its end of stdin closed): do not outlive it, even mid-operation.
    requests.put(None)
    time.sleep(2.0)
    os._exit(0)


def main():
    # The protocol channel is the original stdout; anything else written to fd 1 (C
    # extensions, subprocesses, print() in env.py) goes to stderr.
    proto = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    except (AttributeError, ValueError):
        pass
    requests = queue.Queue()
    stdin = sys.stdin.buffer
    threading.Thread(target=_reader, args=(stdin, requests), daemon=True).start()
    driver = Driver(proto)
    driver.serve(requests)
    proto.flush()
    os._exit(0)
