"""The driver: one process per run, a fork server for the steps.

The C++ side starts it once per run in the application's own interpreter (a child process
locally, one pods/exec session in a cluster) and speaks the line protocol (protocol.py) on its
stdin and original stdout; everything else written to fd 1 goes to stderr.

At `hello` the parent imports what carries no application state: alembic, SQLAlchemy and its
PostgreSQL dialects, psycopg2 and asyncpg where importable (psycopg and pg8000 are patched when
a step imports them), SQLModel, this package; it installs the fence
(fence.py) and writes the libpq tool shims. It never imports env.py or the models. Every request
that runs project code (upgrade, downgrade, revision, history, current, compare, models, and
`run`) is served by a child forked for it: the child's environment already holds the step's URL
(DATABASE_URL, the --url-env variable, libpq's PG* variables; sqlalchemy.url on the Config),
the fence allows exactly the step's database, and env.py, the models and every engine or
settings singleton they create vanish when the child exits. File requests, pyflakes, adopt and
discard are served by the parent itself.
"""

import gc
import hashlib
import json
import os
import shutil
import signal
import sys
import tempfile
import time

from alembic_sidecar_driver import files
from alembic_sidecar_driver import uncompared
from alembic_sidecar_driver.fence import FENCE, read_breaches, step_environment, write_shims
from alembic_sidecar_driver.operations import (
    Operations, _importable, _is_async_env, _patch_load_module, _patch_script_directory,
    _split_paths)
from alembic_sidecar_driver.protocol import (
    PROTOCOL_VERSION, Channel, DriverError, decode_request, dedupe, describe_error,
    error_reply)

ADOPTION_RECORD = "adopted.json"
STEP_OPS = ("upgrade", "downgrade", "revision", "heads", "history", "compare", "current",
            "models")
PRELOAD = (
    "alembic", "alembic.command", "alembic.config", "alembic.script", "alembic.operations",
    "alembic.runtime.environment", "alembic.runtime.migration", "alembic.autogenerate",
    "alembic.ddl.postgresql", "sqlalchemy", "sqlalchemy.orm", "sqlalchemy.ext.asyncio",
    "sqlalchemy.ext.declarative", "sqlalchemy.dialects.postgresql", "sqlalchemy.pool",
    "logging.config", "asyncio", "argparse", "ctypes", "psycopg2", "psycopg2.extensions",
    "psycopg2.extras", "asyncpg",
    # Libraries, not the application: importing them reads no application setting.
    "sqlmodel",
)
DBAPI_MODULES = ("asyncpg", "psycopg", "psycopg2", "pg8000")
# Imported here, compiled once from the embedded source, for every step that compares.
PRELOADED_PACKAGE_MODULES = (uncompared,)


class Server:
    def __init__(self, channel):
        self.channel = channel
        self.ops = None
        self.root = os.getcwd()
        self.config_file = "alembic.ini"
        self.url_env = "DATABASE_URL"
        self.staging = None
        self.record_adoptions = False
        self.lock = None
        self.private = None  # the shims and the steps' breach files
        self.steps = 0

    # ---- the loop ----------------------------------------------------------------------------

    def serve(self):
        while True:
            line = self.channel.next_line()
            if line is None:
                return
            if not line.strip():
                continue
            request, bad = decode_request(line)
            if bad is not None:
                self.channel.send(bad)
                continue
            op = request.get("op")
            rid = request.get("id")
            if op == "shutdown":
                self.channel.send({"id": rid, "ok": True, "result": {}})
                return
            try:
                if op in STEP_OPS or op == "run":
                    reply = self.in_child(request)
                else:
                    handler = getattr(self, "op_" + str(op), None)
                    if handler is None and op in files.OPS:
                        reply = files.serve(self.root, request)
                    elif handler is None:
                        reply = error_reply(rid, "ProtocolError", "unknown op %r" % op)
                    else:
                        reply = handler(request)
            except BaseException as e:  # noqa: BLE001 - the driver must answer
                if isinstance(e, KeyboardInterrupt):
                    raise
                reply = {"ok": False, "error": describe_error(e, "")}
            reply["id"] = rid
            self.channel.send(reply)
            if self.channel.closed:
                return

    def in_child(self, request):
        """Serves `request` in a fresh child; its reply comes back through a pipe."""
        if self.ops is None and request.get("op") != "run":
            return error_reply(request.get("id"), "ProtocolError", "hello first")
        self.steps += 1
        breach_file = os.path.join(self.private, "breach-%d.jsonl" % self.steps) \
            if self.private else ""
        rd, wr = os.pipe()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # the step's own interpreter state
            os.close(rd)
            _die_with(parent)
            if self.lock is not None:
                os.close(self.lock)  # the parent holds the project lock; a step never does
            code = 0
            try:
                reply = self.child(request, breach_file)
                data = json.dumps(reply, default=str).encode("utf-8")
            except BaseException as e:  # noqa: BLE001
                data = json.dumps({"ok": False, "error": describe_error(e, "")},
                                  default=str).encode("utf-8")
                code = 1
            try:
                while data:
                    data = data[os.write(wr, data):]
            finally:
                os._exit(code)
        os.close(wr)
        chunks = []
        while True:
            ready = self.channel.wait([rd])
            if rd in ready:
                chunk = os.read(rd, 1 << 16)
                if not chunk:
                    break
                chunks.append(chunk)
            elif self.channel.closed:
                # The C++ side is gone: do not outlive it, even mid-step.
                _kill(pid)
                os._exit(0)
        os.close(rd)
        _, status, usage = os.wait4(pid, 0)
        if breach_file:
            try:
                os.remove(breach_file)
            except OSError:
                pass
        if not chunks:
            how = ("signal %d" % os.WTERMSIG(status)) if os.WIFSIGNALED(status) \
                else "exit code %d" % os.WEXITSTATUS(status)
            return {"ok": False, "error": {
                "type": "StepProcessDied",
                "line": "the step's Python process (pid %d) ended with %s before it answered"
                        % (pid, how)}}
        reply = json.loads(b"".join(chunks).decode("utf-8"))
        reply["stepCpuMs"] = int((usage.ru_utime + usage.ru_stime) * 1000)
        reply["stepFaults"] = usage.ru_minflt
        reply["stepSysMs"] = int(usage.ru_stime * 1000)
        return reply

    def child(self, request, breach_file):
        """In the forked child: the step's environment and fence, then the operation."""
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)  # the protocol's input is the parent's alone
        os.close(null)
        try:
            os.close(self.channel.out_fd)
        except OSError:
            pass
        target = request.get("target")
        op = request.get("op")
        step = request.get("step") or op
        env, unset = step_environment(target, self.url_env, self.private, breach_file, step)
        for name in unset:
            os.environ.pop(name, None)
        os.environ.update(env)
        FENCE.allow(target, self.url_env, step)
        if op == "run":
            reply = files.serve(self.root, request)
        else:
            reply = getattr(self.ops, "op_" + op)(request)
        breaches = ([FENCE.breach] if FENCE.breach else []) + read_breaches(breach_file)
        if breaches:
            reply["ok"] = False
            reply["breach"] = breaches[0]
            reply["breaches"] = breaches
            reply.setdefault("error", {"type": "IsolationBreached",
                                       "line": "a connection outside the step was refused"})
        return reply

    # ---- requests the parent serves ------------------------------------------------------------

    def op_hello(self, request):
        preloaded = _preload()
        self.root = os.path.abspath(request.get("root") or os.getcwd())
        os.chdir(self.root)
        self.config_file = request.get("config") or "alembic.ini"
        self.url_env = request.get("urlEnv") or "DATABASE_URL"
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
        info["drivers"] = [m for m in DBAPI_MODULES if _importable(m)]
        info["preloaded"] = preloaded
        if self.root not in sys.path:
            sys.path.insert(0, self.root)
        # Where the run's URL could come from, nothing but a step's own target may say.
        for name in {"DATABASE_URL", self.url_env}:
            os.environ.pop(name, None)
        self.private = tempfile.mkdtemp(prefix="alembic-sidecar-fence-")
        write_shims(self.private)
        FENCE.install()
        # What the parent imported stays put: the steps' garbage collector never walks (and so
        # never copies on write) the preloaded modules' objects.
        gc.collect()
        gc.freeze()
        if not os.path.exists(self.config_file):
            return {"ok": False, "result": info,
                    "error": {"type": "ProjectInvalid",
                              "line": "no alembic config %s in %s" % (self.config_file, self.root)}}
        self.ops = Operations(self.root, self.config_file, self.url_env, None)
        _patch_script_directory(self.ops)
        _patch_load_module(self.ops)
        try:
            info.update(self._layout())
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
            self.ops.staging = self.staging
            self.record_adoptions = bool(request.get("recordAdoptions"))
            _private_dir(os.path.dirname(self.staging))
            if self.lock is not None:
                info["unadopted"] = [os.path.relpath(p, self.root) for p in
                                     _sweep_staging(os.path.dirname(self.staging))]
            os.makedirs(self.staging, exist_ok=True)
            info["staging"] = os.path.relpath(self.staging, self.root)
        return {"ok": True, "result": info}

    def _layout(self):
        """Where the scripts are, read without running env.py or importing a revision."""
        from alembic.config import Config
        from alembic.script import ScriptDirectory

        saved = list(sys.path)
        cfg = Config(self.config_file)
        script = ScriptDirectory.from_config(cfg)
        sys.path[:] = saved  # prepend_sys_path is for the steps, which apply it themselves
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
        os.pwrite(fd, _holder_text().encode(), 0)
        self.lock = fd
        return None

    def op_pyflakes(self, request):
        try:
            from pyflakes import api, reporter
        except ImportError as e:
            return {"ok": False, "error": {"type": "PyflakesNotImportable", "line": str(e)}}
        import io

        out, err = io.StringIO(), io.StringIO()
        api.check(request.get("source", ""), request.get("filename") or "revision.py",
                  reporter.Reporter(out, err))
        return {"ok": True, "result": {"output": out.getvalue() + err.getvalue()}}

    def op_adopt(self, request):
        """Moves a validated revision from the staging directory into the history."""
        source = files.where(self.root, request["file"])
        destination = files.where(self.root, request["destination"])
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

    def close(self):
        if self.private:
            shutil.rmtree(self.private, ignore_errors=True)


def _preload():
    """Imports the libraries every step needs, from the interpreter's own paths only (not the
    current directory, which may be the project)."""
    saved = list(sys.path)
    sys.path[:] = [p for p in sys.path if p not in ("", ".", os.getcwd())]
    try:
        return _import_all()
    finally:
        sys.path[:] = saved


def _import_all():
    loaded = []
    for name in PRELOAD:
        try:
            __import__(name)
            loaded.append(name)
        except Exception:  # noqa: BLE001 - absent or broken: the step imports it, or fails
            continue
    for name in ("postgresql.psycopg2", "postgresql.asyncpg", "postgresql.pg8000"):
        try:
            __import__("sqlalchemy.dialects." + name)
        except Exception:  # noqa: BLE001
            continue
    return loaded


def _die_with(parent):
    """A step never outlives the driver (killed, or its session gone): Linux's parent-death
    signal where ctypes can set it."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - not Linux, or no ctypes: the process group still is
        pass
    if os.getppid() != parent:
        os._exit(1)


def _kill(pid):
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except OSError:
        pass


def _holder_text():
    import socket

    return "run %s (pid %d on %s, since %s)" % (
        os.environ.get("ALEMBIC_SIDECAR_RUN", "?"), os.getpid(), socket.gethostname(),
        time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))


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


def main():
    # The protocol channel is the original stdout; anything else written to fd 1 (C
    # extensions, subprocesses, print() in env.py) goes to stderr.
    out = os.dup(1)
    os.set_inheritable(out, False)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    except (AttributeError, ValueError):
        pass
    server = Server(Channel(0, out))
    try:
        server.serve()
    finally:
        server.close()
    os._exit(0)


__all__ = ["Server", "main", "dedupe"]
