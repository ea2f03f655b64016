"""The fence below SQLAlchemy, from inside env.py as a project writes it: every DBAPI entry
point, libpq's tools and environment, against real PostgreSQL. Each probe runs in a step of
a real driver (a forked child) and tries to reach the step's database and another one (the
"live" database); the live database is byte-identical afterwards."""

import json
import textwrap

import pytest

ENV_PY = '''
import json
import os
import traceback

from alembic import context

results = {}


def attempt(name, fn):
    try:
        value = fn()
        results[name] = ["ok", "" if value is None else str(value)]
    except BaseException as e:  # noqa: BLE001
        results[name] = [type(e).__name__, str(e)]


%s

with open(os.environ["PROBE_OUT"], "w") as f:
    json.dump(results, f)
'''

INI = "[alembic]\nscript_location = migrations\n"


@pytest.fixture
def probe(tmp_path, driver_for, pg, database):
    """Runs `code` as env.py in a step of a real driver whose target is `database`; returns
    (results, reply). `live` in the code is the other database's libpq URL."""
    live = pg.create("live")
    pg.psql(live, "CREATE TABLE precious (id int); INSERT INTO precious VALUES (1), (2)")
    before = pg.dump(live)

    def run(code, scheme="postgresql+psycopg2", extra_env=None, identity=None):
        root = tmp_path / "probe"
        (root / "migrations" / "versions").mkdir(parents=True, exist_ok=True)
        (root / "alembic.ini").write_text(INI)
        (root / "migrations" / "env.py").write_text(ENV_PY % textwrap.dedent(code))
        out = tmp_path / "out.json"
        env = {"PROBE_OUT": str(out), "LIVE_URL": pg.libpq_url(live), "LIVE_DB": live,
               "PGPORT_SERVER": str(pg.port)}
        env.update(extra_env or {})
        # The app's container points libpq at the live database; the step must override it.
        env.update(pg.env(live))
        d = driver_for(str(root), env=env)
        target = pg.target(database, scheme)
        if identity:
            target["identity"] = identity(target["identity"])
        reply = d.request({"op": "upgrade", "revision": "head", "target": target})
        with open(out) as f:
            return json.load(f), reply

    yield run
    assert pg.dump(live) == before, "the live database changed"
    pg.drop(live)


def test_psycopg2_to_the_step_database_works_and_elsewhere_is_refused(probe, database):
    results, reply = probe('''
        import psycopg2
        def mine():
            c = psycopg2.connect(os.environ["DATABASE_URL"].replace("+psycopg2", ""))
            cur = c.cursor(); cur.execute("SELECT current_database()"); return cur.fetchone()[0]
        attempt("mine", mine)
        attempt("libpq-env", lambda: psycopg2.connect("").info.dbname)
        attempt("live", lambda: psycopg2.connect(os.environ["LIVE_URL"]).cursor().execute(
            "CREATE TABLE written (id int)"))
        attempt("live-kwargs", lambda: psycopg2.connect(dbname=os.environ["LIVE_DB"]))
    ''')
    assert results["mine"] == ["ok", database]
    assert results["libpq-env"] == ["ok", database]
    assert results["live"][0] == "IsolationBreached"
    assert results["live-kwargs"][0] == "IsolationBreached"
    assert "--url-env" in results["live"][1]
    assert reply["ok"] is False
    assert reply["breach"]["tool"] == "psycopg2.connect"
    assert reply["breach"]["database"].startswith("live_")


def test_psycopg3_sync_and_async(probe, database):
    results, reply = probe('''
        import asyncio
        import psycopg
        attempt("mine", lambda: psycopg.connect("").info.dbname)
        attempt("class", lambda: psycopg.Connection.connect(dbname=os.environ["LIVE_DB"]))
        attempt("live", lambda: psycopg.connect(os.environ["LIVE_URL"]))
        async def both():
            mine = await psycopg.AsyncConnection.connect("")
            name = mine.info.dbname
            await mine.close()
            try:
                await psycopg.AsyncConnection.connect(os.environ["LIVE_URL"])
            except Exception as e:
                return name + " " + type(e).__name__
            return name + " connected"
        attempt("async", lambda: asyncio.run(both()))
    ''')
    assert results["mine"] == ["ok", database]
    assert results["class"][0] == "IsolationBreached"
    assert results["live"][0] == "IsolationBreached"
    assert results["async"] == ["ok", database + " IsolationBreached"]
    assert reply["breach"]["tool"] == "psycopg.Connection.connect" or \
        reply["breach"]["tool"].startswith("psycopg")


def test_asyncpg_connect_and_pools(probe, database):
    results, reply = probe('''
        import asyncio
        import asyncpg
        async def mine():
            c = await asyncpg.connect()
            try:
                return await c.fetchval("SELECT current_database()")
            finally:
                await c.close()
        async def pool(dsn):
            p = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
            try:
                async with p.acquire() as c:
                    return await c.fetchval("SELECT current_database()")
            finally:
                await p.close()
        attempt("mine", lambda: asyncio.run(mine()))
        attempt("pool-mine", lambda: asyncio.run(pool(None)))
        attempt("live", lambda: asyncio.run(asyncpg.connect(os.environ["LIVE_URL"])))
        attempt("pool-live", lambda: asyncio.run(pool(os.environ["LIVE_URL"])))
    ''', scheme="postgresql+asyncpg")
    assert results["mine"] == ["ok", database]
    assert results["pool-mine"] == ["ok", database]
    assert results["live"][0] == "IsolationBreached"
    assert results["pool-live"][0] == "IsolationBreached"
    assert reply["breach"]["tool"] == "asyncpg.connect"


def test_pg8000_is_checked_by_name(probe):
    results, _ = probe('''
        import pg8000
        attempt("live", lambda: pg8000.connect(user="postgres", host="127.0.0.1",
                                               port=int(os.environ["PGPORT_SERVER"]),
                                               database=os.environ["LIVE_DB"], password="x"))
        attempt("default", lambda: pg8000.connect(user="postgres", password="x"))
    ''')
    assert results["live"][0] == "IsolationBreached"
    assert results["default"][0] == "IsolationBreached"  # pg8000 reads no PG* variable


def test_same_name_other_identity_is_refused_after_connecting(probe, database):
    # The name matches; the server's answer (pg_database oid, postmaster start) does not, as for
    # a database of the same name on another server or an earlier incarnation of it.
    results, reply = probe('''
        import asyncio
        import asyncpg
        import psycopg
        import psycopg2
        import sqlalchemy
        attempt("psycopg2", lambda: psycopg2.connect(""))
        attempt("psycopg", lambda: psycopg.connect(""))
        attempt("asyncpg", lambda: asyncio.run(asyncpg.connect()))
        attempt("sqlalchemy", lambda: sqlalchemy.create_engine(os.environ["DATABASE_URL"])
                .connect())
    ''', identity=lambda real: real.split(":")[0] + ":1:1")
    for name in ("psycopg2", "psycopg", "asyncpg", "sqlalchemy"):
        assert results[name][0] in ("IsolationBreached", "DisconnectionError"), (name, results)
        assert "on another server" in results[name][1], results[name]
    assert reply["breach"]["otherServer"] is True


def test_sqlalchemy_checkout_rechecks_pooled_connections(probe, database):
    results, reply = probe('''
        import sqlalchemy
        from alembic_sidecar_driver.fence import FENCE
        engine = sqlalchemy.create_engine(os.environ["DATABASE_URL"])
        with engine.connect() as c:
            first = c.exec_driver_sql("SELECT current_database()").scalar()
        # The step's target changes under the pool (as it did when one interpreter served
        # every step): the pooled connection must not be handed out again.
        FENCE.identity = FENCE.identity + "-moved"
        def again():
            with engine.connect() as c:
                return c.exec_driver_sql("SELECT 1").scalar()
        attempt("first", lambda: first)
        attempt("again", again)
    ''')
    assert results["first"] == ["ok", database]
    assert results["again"][0] != "ok"
    assert reply["breach"]["tool"] in ("SQLAlchemy pool checkout", "SQLAlchemy")


def test_psql_and_pg_dump_land_on_the_step_database_or_are_refused(probe, database):
    results, reply = probe('''
        import subprocess
        def run(argv):
            done = subprocess.run(argv, capture_output=True, text=True)
            return "%d %s" % (done.returncode, (done.stdout + done.stderr).strip())
        attempt("psql", lambda: run(["psql", "-X", "-At", "-c", "SELECT current_database()"]))
        attempt("psql-live", lambda: run(["psql", "-X", "-d", os.environ["LIVE_URL"], "-c",
                                          "CREATE TABLE written (id int)"]))
        attempt("psql-abs", lambda: run(["/usr/bin/psql", "-X", os.environ["LIVE_DB"], "-c",
                                         "CREATE TABLE written (id int)"]))
        attempt("dump-live", lambda: run(["pg_dump", "--schema-only", "--dbname",
                                          "dbname=" + os.environ["LIVE_DB"]]))
        def own_env():
            env = {"PATH": "/usr/bin:/bin", "PGHOST": "127.0.0.1",
                   "PGPORT": os.environ["PGPORT"], "PGUSER": os.environ["PGUSER"],
                   "PGPASSWORD": os.environ["PGPASSWORD"], "PGDATABASE": os.environ["LIVE_DB"]}
            done = subprocess.run(["psql", "-X", "-c", "CREATE TABLE written (id int)"],
                                  env=env, capture_output=True, text=True)
            return "%d %s" % (done.returncode, done.stderr.strip())
        attempt("psql-own-env", own_env)
        attempt("dump", lambda: run(["pg_dump", "--schema-only"]).split()[0])
        attempt("env", lambda: os.environ["PGDATABASE"])
    ''')
    assert results["psql"] == ["ok", "0 " + database]
    for name in ("psql-live", "psql-abs", "dump-live", "psql-own-env"):
        assert results[name][0] == "ok" and results[name][1].startswith("2 "), results[name]
        assert "--url-env" in results[name][1]
    assert results["dump"] == ["ok", "0"]
    assert results["env"] == ["ok", database]
    tools = [b["tool"] for b in reply["breaches"]]
    assert tools == ["psql", "psql", "pg_dump", "psql"]
    assert all(b["database"].startswith("live_") for b in reply["breaches"])
