"""The isolation fence: every PostgreSQL connection of a step must reach the step's database.

Installed once in the driver's parent, before any step (so every step's child inherits it),
at three levels:

- SQLAlchemy, at class level, for every engine env.py creates (sync or async, any pool):
  `do_connect` refuses a non-PostgreSQL dialect or another database name before the DBAPI
  connects; the pool's `connect` asks the server which database it is (name, pg_database oid,
  postmaster start time) before the application's first statement; the pool's `checkout`
  hands out a pooled connection only while it still matches the step's identity.
- The DBAPI modules' own entry points, for raw connections env.py opens itself:
  psycopg2.connect, psycopg.connect / Connection.connect / AsyncConnection.connect,
  asyncpg.connect / create_pool (every pooled connection), pg8000.connect. Each is checked by
  name (the parameters libpq or the driver would use, PG* environment included) before it
  connects, and by the server's answer after.
- libpq's command-line tools: the step's PATH starts with a private directory where psql,
  pg_dump, ... are a shim (pgtools.py) that checks the tool's connection options the same
  way and runs the real tool only for the step's database; subprocess calls that name a tool
  by absolute path are pointed at the shim too. libpq's environment (PGHOST, PGPORT,
  PGDATABASE, PGUSER, PGPASSWORD, with PGSERVICE unset and PGSERVICEFILE, PGPASSFILE,
  PGSYSCONFDIR pointing at empty private files) names the step's database, so a tool started
  without connection options lands there.

A refusal raises IsolationBreached inside env.py and is remembered (FENCE.breach, and the
step's breach file for the shims), so the driver reports it even when env.py swallows it.
"""

import json
import os
import sys

from alembic_sidecar_driver import pgtools

IDENTITY_SQL = (
    "SELECT current_database() || ':' || d.oid::text || ':' || "
    "extract(epoch from pg_postmaster_start_time())::text "
    "FROM pg_database d WHERE d.datname = current_database()"
)
_INFO_KEY = "alembic_sidecar_identity"
# id() of a raw DBAPI connection -> the identity its DBAPI wrapper read right after connecting,
# so SQLAlchemy's connect hook does not ask the server a second time. A step is one short-lived
# process, and every connection of the four wrapped modules passes through its wrapper.
_VERIFIED = {}


class IsolationBreached(Exception):
    """env.py tried to reach a database other than the step's."""


class Fence:
    """What connections may reach during the step being served (one step per process)."""

    def __init__(self):
        self.database = None  # the only database name allowed; None: none at all
        self.identity = None  # its "name:oid:start"
        self.host = ""
        self.port = ""
        self.url_env = "DATABASE_URL"
        self.step = ""
        self.breach = None
        self.installed = False

    # ---- the step ----------------------------------------------------------------------------

    def allow(self, target, url_env="DATABASE_URL", step=""):
        """Allows `target` ({url, database, identity}) for this step; None: no database."""
        self.url_env = url_env or "DATABASE_URL"
        self.step = step
        self.breach = None
        self.database = self.identity = None
        self.host = self.port = ""
        if target and target.get("identity"):
            self.database = target.get("database") or target["identity"].split(":", 1)[0]
            self.identity = target["identity"]
            parts = _url_parts(target.get("url") or "")
            self.host, self.port = parts.get("host", ""), parts.get("port", "")

    def allowed(self):
        if not self.database:
            return None
        return {"database": self.database, "host": self.host, "port": self.port}

    def refuse(self, what):
        what.setdefault("step", self.step)
        if self.breach is None:
            self.breach = what
        raise IsolationBreached(refusal_text(what, self.database, self.url_env))

    def check_params(self, tool, params):
        """Before connecting: `params` (libpq names) must resolve to the step's database."""
        tried = pgtools.verdict(params, self.allowed())
        if tried is not None:
            tried["tool"] = tool
            self.refuse(tried)

    def check_identity(self, tool, identity, close):
        """After connecting: the server's answer must be the step's database."""
        if self.identity is None or identity != self.identity:
            close()
            name = (identity or "?").split(":", 1)[0]
            self.refuse({"tool": tool, "database": name, "identity": identity or "",
                         "otherServer": name == self.database})

    # ---- installation ------------------------------------------------------------------------

    def install(self):
        """Patches the DBAPI modules already imported, and any other the moment a step imports
        it (psycopg and pg8000 are costly to import and rarely used: no step pays for them
        unless env.py or the app imports them)."""
        if self.installed:
            return
        self.installed = True
        self._install_sqlalchemy()
        for name, patch in _PATCHES.items():
            module = sys.modules.get(name)
            if module is not None:
                patch(self, module)
        sys.meta_path.insert(0, _PatchOnImport(self))
        _patch_subprocess()

    def _install_sqlalchemy(self):
        from sqlalchemy import event
        from sqlalchemy.engine import Engine
        from sqlalchemy.pool import Pool

        fence = self

        def do_connect(dialect, conn_rec, cargs, cparams):
            name = getattr(dialect, "name", "")
            tool = "SQLAlchemy (%s)" % (getattr(dialect, "driver", "") or name)
            if name != "postgresql":
                where = str(cargs[0]) if cargs else str(cparams.get("database") or "")
                fence.refuse({"tool": tool, "dialect": name, "database": where})
            params = dict(cparams)
            if "database" in params and "dbname" not in params:
                params["dbname"] = params.pop("database")
            if cargs:
                params = dict(pgtools.parse_conninfo(str(cargs[0])), **params)
            fence.check_params(tool, {k: v for k, v in params.items() if v is not None})

        def on_connect(dbapi_connection, connection_record):
            raw = getattr(dbapi_connection, "_connection", dbapi_connection)  # async adapters
            identity = _VERIFIED.get(id(raw))
            if identity is None:
                identity = _identity_sync(dbapi_connection, fence)
            fence.check_identity("SQLAlchemy", identity,
                                 lambda: _close_quietly(dbapi_connection))
            connection_record.info[_INFO_KEY] = identity

        def on_checkout(dbapi_connection, connection_record, connection_proxy):
            identity = connection_record.info.get(_INFO_KEY)
            if fence.identity is None or identity != fence.identity:
                from sqlalchemy import exc

                try:
                    fence.refuse({"tool": "SQLAlchemy pool checkout",
                                  "database": (identity or "?").split(":", 1)[0],
                                  "identity": identity or "", "pooled": True})
                except IsolationBreached as e:
                    connection_record.invalidate(e)
                    raise exc.DisconnectionError(str(e)) from e

        event.listen(Engine, "do_connect", do_connect)
        event.listen(Pool, "connect", on_connect)
        event.listen(Pool, "checkout", on_checkout)


def _identity_sync(conn, fence):
    try:
        cursor = conn.cursor()
        cursor.execute(IDENTITY_SQL)
        row = cursor.fetchone()
        cursor.close()
        return str(row[0]) if row else ""
    except IsolationBreached:
        raise
    except Exception as e:  # noqa: BLE001 - any failure is a refusal
        _close_quietly(conn)
        fence.refuse({"database": "?", "error": _one_line(e)})


def _rollback_quietly(conn):
    try:
        conn.rollback()
    except Exception:  # noqa: BLE001
        pass


def _close_quietly(conn):
    try:
        conn.close()
    except Exception:  # noqa: BLE001
        pass


def _one_line(exc):
    text = str(exc).strip().splitlines()
    return "%s: %s" % (type(exc).__name__, text[0] if text else "")


def _url_parts(url):
    if not url:
        return {}
    try:
        from sqlalchemy.engine import make_url

        u = make_url(url)
    except Exception:  # noqa: BLE001
        return {}
    out = {"host": u.host or "", "port": str(u.port or ""), "user": u.username or "",
           "password": u.password or "", "dbname": u.database or ""}
    query = dict(u.query)
    if not out["host"] and query.get("host"):
        out["host"] = str(query["host"])
    for key in ("sslmode", "sslrootcert", "sslcert", "sslkey"):
        if query.get(key):
            out[key] = str(query[key])
    return out


def refusal_text(what, allowed, url_env):
    tool = what.get("tool") or "a connection"
    if what.get("dialect") and what.get("dialect") != "postgresql":
        target = "a %s database (%s)" % (what["dialect"], what.get("database") or "?")
    elif what.get("otherServer"):
        target = "database '%s' on another server" % (what.get("database") or "?")
    else:
        target = "database '%s'" % (what.get("database") or "?")
    if what.get("error"):
        target += " (%s)" % what["error"]
    return ("alembic-sidecar refused %s to %s: this step may only reach %s. Make env.py take its "
            "URL from $%s or config.get_main_option(\"sqlalchemy.url\") (libpq's PG* variables "
            "point there too); if env.py reads it from another variable, pass --url-env NAME"
            % (tool, target, "'%s'" % allowed if allowed else "no database", url_env))


# ---- the DBAPI modules --------------------------------------------------------------------------

class _PatchOnImport:
    """A meta path finder that lets the real finders find a DBAPI module, then patches the
    module right after it executes, before the importing statement binds any name from it."""

    def __init__(self, fence):
        self.fence = fence
        self.busy = set()

    def find_spec(self, name, path=None, target=None):
        if name not in _PATCHES or name in self.busy:
            return None
        import importlib.util

        self.busy.add(name)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            self.busy.discard(name)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader = spec.loader
        fence = self.fence

        class _Loader:
            def create_module(self, spec):
                return loader.create_module(spec)

            def exec_module(self, module):
                loader.exec_module(module)
                _PATCHES[name](fence, module)

            def __getattr__(self, attr):
                return getattr(loader, attr)

        spec.loader = _Loader()
        return spec


_LIBPQ_KEYS = {"host", "hostaddr", "port", "dbname", "user", "password", "service", "sslmode",
               "options", "passfile", "connect_timeout", "application_name", "target_session_attrs"}


def _patch_psycopg2(fence, psycopg2):
    original = psycopg2.connect
    if getattr(original, "_alembic_sidecar", False):
        return

    def connect(dsn=None, connection_factory=None, cursor_factory=None, **kwargs):
        params = pgtools.parse_conninfo(dsn or "")
        for key, value in kwargs.items():
            if value is not None:
                params["dbname" if key == "database" else key] = str(value)
        fence.check_params("psycopg2.connect", params)
        conn = original(dsn, connection_factory=connection_factory,
                        cursor_factory=cursor_factory, **kwargs)
        identity = _identity_sync(conn, fence)
        if not getattr(conn, "autocommit", True):
            _rollback_quietly(conn)
        fence.check_identity("psycopg2.connect", identity, lambda: _close_quietly(conn))
        _VERIFIED[id(conn)] = identity
        return conn

    connect._alembic_sidecar = True
    psycopg2.connect = connect


def _patch_psycopg(fence, psycopg):
    sync_cls = getattr(psycopg, "Connection", None)
    async_cls = getattr(psycopg, "AsyncConnection", None)

    def params_of(conninfo, kwargs):
        params = pgtools.parse_conninfo(conninfo or "")
        for key, value in kwargs.items():
            if key in _LIBPQ_KEYS or key == "database":
                if value is not None:
                    params["dbname" if key == "database" else key] = str(value)
        return params

    if sync_cls is not None and not getattr(sync_cls.connect, "_alembic_sidecar", False):
        original = sync_cls.connect.__func__

        def connect(cls, conninfo="", **kwargs):
            fence.check_params("psycopg.connect", params_of(conninfo, kwargs))
            conn = original(cls, conninfo, **kwargs)
            try:
                row = conn.execute(IDENTITY_SQL).fetchone()
                identity = str(row[0]) if row else ""
                if not conn.autocommit:
                    conn.rollback()
            except Exception as e:  # noqa: BLE001
                _close_quietly(conn)
                fence.refuse({"tool": "psycopg.connect", "database": "?", "error": _one_line(e)})
            fence.check_identity("psycopg.connect", identity, lambda: _close_quietly(conn))
            _VERIFIED[id(conn)] = identity
            return conn

        connect._alembic_sidecar = True
        sync_cls.connect = classmethod(connect)
        psycopg.connect = sync_cls.connect

    if async_cls is not None and not getattr(async_cls.connect, "_alembic_sidecar", False):
        original_async = async_cls.connect.__func__

        async def connect_async(cls, conninfo="", **kwargs):
            fence.check_params("psycopg.AsyncConnection.connect", params_of(conninfo, kwargs))
            conn = await original_async(cls, conninfo, **kwargs)
            try:
                cursor = await conn.execute(IDENTITY_SQL)
                row = await cursor.fetchone()
                identity = str(row[0]) if row else ""
                if not conn.autocommit:
                    await conn.rollback()
            except Exception as e:  # noqa: BLE001
                await conn.close()
                fence.refuse({"tool": "psycopg.AsyncConnection.connect", "database": "?",
                              "error": _one_line(e)})
            if fence.identity is None or identity != fence.identity:
                await conn.close()
            fence.check_identity("psycopg.AsyncConnection.connect", identity, lambda: None)
            _VERIFIED[id(conn)] = identity
            return conn

        connect_async._alembic_sidecar = True
        async_cls.connect = classmethod(connect_async)


def _asyncpg_params(dsn, kwargs):
    params = pgtools.parse_conninfo(dsn or "") if dsn else {}
    for key, name in (("host", "host"), ("port", "port"), ("user", "user"),
                      ("database", "dbname"), ("password", "password")):
        value = kwargs.get(key)
        if value is not None:
            params[name] = ",".join(map(str, value)) if isinstance(value, (list, tuple)) \
                else str(value)
    return params


def _patch_asyncpg(fence, asyncpg):
    from asyncpg import connection as connection_module
    from asyncpg import pool as pool_module

    original = connection_module.connect
    if getattr(original, "_alembic_sidecar", False):
        return

    async def checked(tool, conn):
        try:
            identity = str(await conn.fetchval(IDENTITY_SQL) or "")
        except Exception as e:  # noqa: BLE001
            await conn.close()
            fence.refuse({"tool": tool, "database": "?", "error": _one_line(e)})
        if fence.identity is None or identity != fence.identity:
            await conn.close()
        fence.check_identity(tool, identity, lambda: None)
        _VERIFIED[id(conn)] = identity
        return conn

    async def connect(dsn=None, **kwargs):
        fence.check_params("asyncpg.connect", _asyncpg_params(dsn, kwargs))
        return await checked("asyncpg.connect", await original(dsn, **kwargs))

    connect._alembic_sidecar = True
    connection_module.connect = connect
    asyncpg.connect = connect

    original_pool = pool_module.create_pool

    def create_pool(dsn=None, **kwargs):
        fence.check_params("asyncpg.create_pool", _asyncpg_params(dsn, kwargs))
        return original_pool(dsn, **kwargs)

    create_pool._alembic_sidecar = True
    pool_module.create_pool = create_pool
    asyncpg.create_pool = create_pool

    original_new = pool_module.Pool._get_new_connection

    async def _get_new_connection(self):
        # Every connection a pool opens, the first and those from its cached address.
        return await checked("asyncpg pool", await original_new(self))

    pool_module.Pool._get_new_connection = _get_new_connection


def _patch_pg8000(fence, pg8000):
    targets = [(pg8000, "connect")]
    for sub in ("dbapi", "legacy"):
        module = getattr(pg8000, sub, None)
        if module is not None and hasattr(module, "connect"):
            targets.append((module, "connect"))
    for module, attr in targets:
        original = getattr(module, attr)
        if getattr(original, "_alembic_sidecar", False):
            continue

        def make(original):
            def connect(*args, **kwargs):
                names = ("user", "host", "unix_sock", "port", "database", "password")
                given = dict(zip(names, args))
                given.update(kwargs)
                # pg8000 reads no PG* variable: its own defaults are localhost:5432 and the
                # user's name as the database.
                params = {"user": str(given.get("user") or ""),
                          "host": str(given.get("unix_sock") or given.get("host") or "localhost"),
                          "port": str(given.get("port") or 5432),
                          "dbname": str(given.get("database") or given.get("user") or "")}
                fence.check_params("pg8000.connect", params)
                conn = original(*args, **kwargs)
                identity = _identity_sync(conn, fence)
                _rollback_quietly(conn)
                fence.check_identity("pg8000.connect", identity, lambda: _close_quietly(conn))
                _VERIFIED[id(conn)] = identity
                return conn

            connect._alembic_sidecar = True
            return connect

        setattr(module, attr, make(original))


_FENCE_VARIABLES = ("ALEMBIC_SIDECAR_FENCE", "ALEMBIC_SIDECAR_BREACH_FILE", "ALEMBIC_SIDECAR_STEP",
                    "ALEMBIC_SIDECAR_URL_ENV", "ALEMBIC_SIDECAR_REAL_PATH")


_PATCHES = {"psycopg2": _patch_psycopg2, "psycopg": _patch_psycopg, "asyncpg": _patch_asyncpg,
            "pg8000": _patch_pg8000}


def _patch_subprocess():
    """A libpq tool that subprocess starts runs through the shim, whatever PATH says: named by
    absolute path (/usr/bin/psql), or with an `env=` that has no shim directory on PATH. An
    `env=` also gets the fence's own variables (never the step's URL or libpq settings: a tool
    given an environment of its own is checked against what that environment says)."""
    import subprocess

    if getattr(subprocess.Popen, "_alembic_sidecar", False):
        return
    original = subprocess.Popen._execute_child

    def _execute_child(self, args, executable, *rest, **kwargs):
        shims = os.environ.get("ALEMBIC_SIDECAR_SHIMS")
        if shims and not isinstance(args, (str, bytes)):
            argv = list(args)
            program = executable or (argv[0] if argv else "")
            if isinstance(program, bytes):
                program = program.decode(errors="replace")
            name = os.path.basename(str(program))
            if name in pgtools.TOOLS and os.path.dirname(str(program)) != shims:
                executable = os.path.join(shims, name)
                # _execute_child(args, executable, preexec_fn, close_fds, pass_fds, cwd, env, ...)
                if len(rest) > 4 and rest[4] is not None:
                    env = dict(rest[4])
                    for key in _FENCE_VARIABLES:
                        if key in os.environ:
                            env[key] = os.environ[key]
                    rest = rest[:4] + (env,) + rest[5:]
        return original(self, args, executable, *rest, **kwargs)

    subprocess.Popen._execute_child = _execute_child
    subprocess.Popen._alembic_sidecar = True


# ---- the step's environment ---------------------------------------------------------------------

def write_shims(directory):
    """pgtools.py as psql, pg_dump, ... in `directory`, run by this interpreter."""
    import importlib.util

    spec = importlib.util.find_spec("alembic_sidecar_driver.pgtools")
    source = spec.loader.get_source("alembic_sidecar_driver.pgtools")
    path = os.path.join(directory, "pgtools.py")
    with open(path, "w", encoding="utf-8") as f:
        f.write("#!%s\n" % sys.executable)
        f.write(source)
    os.chmod(path, 0o755)
    for tool in pgtools.TOOLS:
        link = os.path.join(directory, tool)
        if not os.path.exists(link):
            os.symlink("pgtools.py", link)
    for name in ("pg_service.conf", "pgpass"):
        empty = os.path.join(directory, name)
        with open(empty, "w"):
            pass
        os.chmod(empty, 0o600)


def step_environment(target, url_env, shim_dir, breach_file, step):
    """The variables a step's child runs with: the step's URL wherever env.py may look for it,
    libpq's environment pointing at the same database, the tool shims first on PATH."""
    env = {}
    url = (target or {}).get("url") or ""
    names = {"DATABASE_URL", url_env or "DATABASE_URL"}
    unset = set()
    if url:
        for name in names:
            env[name] = url
    else:
        unset |= names
    parts = _url_parts(url)
    for key, var in (("host", "PGHOST"), ("port", "PGPORT"), ("user", "PGUSER"),
                     ("password", "PGPASSWORD"), ("dbname", "PGDATABASE"),
                     ("sslmode", "PGSSLMODE"), ("sslrootcert", "PGSSLROOTCERT"),
                     ("sslcert", "PGSSLCERT"), ("sslkey", "PGSSLKEY")):
        if parts.get(key):
            env[var] = parts[key]
        else:
            unset.add(var)
    if not url:
        # No database for this step: libpq's defaults must not find one either.
        env["PGHOST"] = "/nonexistent/alembic-sidecar/no-database"
        env["PGDATABASE"] = "alembic_sidecar_no_database"
        unset -= {"PGHOST", "PGDATABASE"}
    unset |= {"PGSERVICE", "PGHOSTADDR", "PGOPTIONS"}
    if shim_dir:
        env["PGSERVICEFILE"] = os.path.join(shim_dir, "pg_service.conf")
        env["PGSYSCONFDIR"] = shim_dir
        env["PGPASSFILE"] = os.path.join(shim_dir, "pgpass")
        real = os.environ.get("ALEMBIC_SIDECAR_REAL_PATH") or os.environ.get("PATH", "")
        env["ALEMBIC_SIDECAR_REAL_PATH"] = real
        env["PATH"] = shim_dir + (os.pathsep + real if real else "")
        env["ALEMBIC_SIDECAR_SHIMS"] = shim_dir
    env["ALEMBIC_SIDECAR_BREACH_FILE"] = breach_file or ""
    env["ALEMBIC_SIDECAR_STEP"] = step or ""
    env["ALEMBIC_SIDECAR_URL_ENV"] = url_env or "DATABASE_URL"
    allowed = None
    if target and target.get("identity"):
        allowed = {"database": target.get("database") or parts.get("dbname", ""),
                   "host": parts.get("host", ""), "port": parts.get("port", "")}
    env["ALEMBIC_SIDECAR_FENCE"] = json.dumps(allowed)
    return env, unset


def read_breaches(path):
    """The refusals the shims recorded for this step."""
    out = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    continue
    except OSError:
        pass
    return out


FENCE = Fence()
