"""The isolation fence: every SQLAlchemy connection of a request must reach its target.

Installed once per driver, before env.py runs. Two SQLAlchemy hooks at class level, so they
apply to every engine env.py creates (sync or async, any pool):

- Dialect `do_connect`, before the DBAPI connects: a non-PostgreSQL dialect, or a database
  name other than the target's, is refused (nothing is created, no SQLite file appears).
- Pool `connect`, right after connecting and before the application's first statement: the
  server is asked, read-only, which database this is (name, pg_database oid, postmaster
  start time); anything but the request's target is closed and refused.

A refusal raises IsolationBreached inside env.py and is remembered as `FENCE.breach`, so the
driver reports it even when env.py swallows or rewraps the exception.
"""

import re

IDENTITY_SQL = (
    "SELECT current_database() || ':' || d.oid::text || ':' || "
    "extract(epoch from pg_postmaster_start_time())::text "
    "FROM pg_database d WHERE d.datname = current_database()"
)


class IsolationBreached(Exception):
    """env.py tried to reach a database other than the run's target."""


class _Fence:
    """What connections may reach, for the request being served."""

    def __init__(self):
        self.identity = None  # "db:oid:start" of the only database allowed; None: none
        self.database = None
        self.breach = None
        self.installed = False

    def allow(self, database, identity):
        self.database = database
        self.identity = identity
        self.breach = None

    def refuse_all(self):
        self.database = None
        self.identity = None
        self.breach = None

    def _refuse(self, what):
        if self.breach is None:
            self.breach = what
        allowed = self.database or "no database (this operation needs none)"
        raise IsolationBreached(
            "alembic-sidecar refused a connection to %s: this run may only reach %s"
            % (_describe_breach(what), allowed))

    def install(self):
        if self.installed:
            return
        from sqlalchemy import event
        from sqlalchemy.engine import Engine
        from sqlalchemy.pool import Pool

        fence = self

        def do_connect(dialect, conn_rec, cargs, cparams):
            # Before the DBAPI connects: a non-PostgreSQL URL or another database name is
            # refused without touching anything (no SQLite file is created).
            name = getattr(dialect, "name", "")
            if name != "postgresql":
                where = str(cargs[0]) if cargs else str(cparams.get("database") or "")
                fence._refuse({"dialect": name, "database": where})
            wanted = _cparam_db(cargs, cparams)
            if fence.identity is None or (wanted and wanted != fence.database):
                fence._refuse({"dialect": name, "database": wanted,
                               "host": str(cparams.get("host") or "")})

        def on_connect(dbapi_connection, connection_record):
            # After connecting, before the application's first statement: ask the server
            # which database this really is (a read-only query).
            try:
                cursor = dbapi_connection.cursor()
                cursor.execute(IDENTITY_SQL)
                row = cursor.fetchone()
                cursor.close()
            except IsolationBreached:
                raise
            except Exception as e:  # noqa: BLE001 - any failure is a refusal
                _close_quietly(dbapi_connection)
                fence._refuse({"database": "?", "error": _one_line(e)})
            identity = str(row[0]) if row else ""
            if fence.identity is None or identity != fence.identity:
                _close_quietly(dbapi_connection)
                fence._refuse({"database": identity.split(":", 1)[0], "identity": identity,
                               "otherServer": identity.split(":", 1)[0] == fence.database})

        event.listen(Engine, "do_connect", do_connect)
        event.listen(Pool, "connect", on_connect)
        self.installed = True


def _cparam_db(cargs, cparams):
    for key in ("dbname", "database"):
        value = cparams.get(key)
        if value:
            return str(value)
    if cargs:
        match = re.search(r"dbname=([^\s]+)", str(cargs[0]))
        if match:
            return match.group(1).strip("'")
    return ""


def _describe_breach(what):
    if what.get("dialect") and what.get("dialect") != "postgresql":
        return "a %s database (%s)" % (what["dialect"], what.get("database") or "?")
    if what.get("otherServer"):
        return "database '%s' of another server or an earlier incarnation" % what["database"]
    return "database '%s'" % (what.get("database") or "?")


def _close_quietly(conn):
    try:
        conn.close()
    except Exception:  # noqa: BLE001
        pass


def _one_line(exc):
    text = str(exc).strip().splitlines()
    return "%s: %s" % (type(exc).__name__, text[0] if text else "")


FENCE = _Fence()
