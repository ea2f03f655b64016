"""The driver's own suite: the real package, over its real line protocol, against the real
PostgreSQL 15 of the test run (ctest's postgres fixture, ALEMBIC_SIDECAR_TEST_PG_DIR) or one
started for this session with `alembic-sidecar postgres start` (ALEMBIC_SIDECAR_EXE)."""

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

sys.path.insert(0, harness.DRIVER_DIR)  # the package itself, for unit tests of its modules


class Server:
    def __init__(self, state):
        self.port = int(state["port"])
        self.user = state["user"]
        self.password = state["password"]
        self.bin = state.get("binDir", "/usr/lib/postgresql/15/bin")

    def env(self, database="postgres"):
        return {"PGHOST": "127.0.0.1", "PGPORT": str(self.port), "PGUSER": self.user,
                "PGPASSWORD": self.password, "PGDATABASE": database}

    def psql(self, database, sql):
        env = dict(os.environ, **self.env(database))
        done = subprocess.run(["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql],
                              env=env, capture_output=True, text=True, check=True)
        return done.stdout.strip()

    def url(self, database, scheme="postgresql+psycopg2"):
        return "%s://%s:%s@127.0.0.1:%d/%s" % (scheme, self.user, self.password, self.port,
                                                database)

    def libpq_url(self, database):
        return self.url(database, "postgresql")

    def create(self, prefix="py"):
        name = "%s_%s" % (prefix, secrets.token_hex(4))
        self.psql("postgres", "CREATE DATABASE %s" % name)
        return name

    def drop(self, name):
        self.psql("postgres", "DROP DATABASE IF EXISTS %s WITH (FORCE)" % name)

    def identity(self, database):
        return self.psql(database, "SELECT current_database() || ':' || d.oid::text || ':' || "
                                   "extract(epoch from pg_postmaster_start_time())::text "
                                   "FROM pg_database d WHERE d.datname = current_database()")

    def target(self, database, scheme="postgresql+psycopg2"):
        return {"url": self.url(database, scheme), "database": database,
                "identity": self.identity(database)}

    def dump(self, database):
        env = dict(os.environ, **self.env(database))
        out = subprocess.run(["pg_dump", "--no-owner", database], env=env, capture_output=True,
                             text=True, check=True).stdout
        return "\n".join(l for l in out.splitlines()
                         if not l.startswith(("\\restrict ", "\\unrestrict ")))


@pytest.fixture(scope="session")
def pg():
    shared = os.environ.get("ALEMBIC_SIDECAR_TEST_PG_DIR")
    if shared and os.path.exists(os.path.join(shared, "state.json")):
        with open(os.path.join(shared, "state.json")) as f:
            yield Server(json.load(f))
        return
    exe = os.environ.get("ALEMBIC_SIDECAR_EXE") or shutil.which("alembic-sidecar")
    if not exe:
        pytest.skip("no PostgreSQL: set ALEMBIC_SIDECAR_TEST_PG_DIR or ALEMBIC_SIDECAR_EXE")
    directory = tempfile.mkdtemp(prefix="driver-pytest-pg-")
    started = subprocess.run([exe, "postgres", "start", "--dir", directory, "--json"],
                             capture_output=True, text=True, check=True)
    with open(os.path.join(directory, "state.json")) as f:
        state = json.load(f)
    del started
    yield Server(state)
    subprocess.run([exe, "postgres", "stop", "--dir", directory], capture_output=True)
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def database(pg):
    name = pg.create()
    yield name
    pg.drop(name)


@pytest.fixture
def project(tmp_path):
    """A private copy of a fixture app: project("facade_app")."""

    def copy(fixture):
        target = tmp_path / fixture
        shutil.copytree(os.path.join(harness.FIXTURES, fixture), target)
        return str(target)

    return copy


@pytest.fixture
def driver_for():
    started = []

    def start(root, env=None, **hello):
        d = harness.Driver(root, env=env)
        started.append(d)
        reply = d.request(dict({"op": "hello", "root": root, "config": "alembic.ini"}, **hello))
        assert reply["ok"], reply
        return d

    yield start
    for d in started:
        d.close()
