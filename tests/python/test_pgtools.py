"""Where a libpq client would connect: the parsing the fence and the tool shims rely on."""

from alembic_sidecar_driver import pgtools


def test_conninfo_strings_and_uris():
    assert pgtools.parse_conninfo("host=db dbname='a b' user=u") == \
        {"host": "db", "dbname": "a b", "user": "u"}
    assert pgtools.parse_conninfo("postgresql://u:p%40ss@h1:5,h2/live?sslmode=require") == \
        {"user": "u", "password": "p@ss", "host": "h1,h2", "port": "5", "dbname": "live",
         "sslmode": "require"}
    assert pgtools.parse_conninfo("live") == {"dbname": "live"}


def test_tool_arguments():
    assert pgtools.tool_params("psql", ["-X", "-v", "ON_ERROR_STOP=1", "-c", "SELECT 1",
                                        "-d", "postgresql://h/live"])["dbname"] == "live"
    assert pgtools.tool_params("psql", ["-c", "x", "live", "bob"]) == \
        {"dbname": "live", "user": "bob"}
    assert pgtools.tool_params("pg_dump", ["-n", "public", "-t", "t", "--dbname=live"]) == \
        {"dbname": "live"}
    assert pgtools.tool_params("pg_dump", ["-Fc", "-f", "out", "live"]) == {"dbname": "live"}
    assert pgtools.tool_params("psql", ["-hdb", "-p5433", "-Ubob"]) == \
        {"host": "db", "port": "5433", "user": "bob"}


def test_verdict_uses_the_environment_and_compares_servers():
    allowed = {"database": "scratch", "host": "127.0.0.1", "port": "5432"}
    env = {"PGDATABASE": "scratch", "PGHOST": "localhost", "PGPORT": "5432"}
    assert pgtools.verdict({}, allowed, env) is None
    assert pgtools.verdict({"dbname": "live"}, allowed, env)["database"] == "live"
    assert pgtools.verdict({"host": "db.prod"}, allowed, env)["otherServer"] is True
    assert pgtools.verdict({"port": "6432"}, allowed, env)["otherServer"] is True
    assert pgtools.verdict({"service": "prod"}, allowed, env)["service"] == "prod"
    assert pgtools.verdict({}, None, env)["database"] == "scratch"  # no database allowed
    assert pgtools.verdict({"user": "app"}, allowed, {})["database"] == "app"
