"""The fork server: each step a clean interpreter with the step's URL already in its
environment; the shapes of env.py that one shared interpreter could not serve."""

import sys


def test_process_global_engine_follows_each_steps_database(project, driver_for, pg, database):
    # facade_app caches its engine in a process-global factory on first use: one interpreter
    # for every step would reuse the first step's engine for the second database.
    root = project("facade_app")
    d = driver_for(root, env={"ORDERS_DATABASE_CONNECTION": pg.url("nowhere")},
                   urlEnv="ORDERS_DATABASE_CONNECTION")
    other = pg.create("second")
    try:
        for name in (database, other):
            reply = d.request({"op": "upgrade", "revision": "head", "target": pg.target(name)})
            assert reply["ok"], reply
            assert pg.psql(name, "SELECT version_num FROM alembic_version") == "6967e795047d"
        models = d.request({"op": "models", "models": [], "target": pg.target(other)})
        assert models["ok"], models
        assert models["result"]["tables"] == ["line_items", "orders"]
        assert models["result"]["source"] == "online"
    finally:
        pg.drop(other)


def test_target_metadata_given_only_online(project, driver_for, pg, database):
    d = driver_for(project("online_app"))
    reply = d.request({"op": "models", "models": [], "target": pg.target(database)})
    assert reply["ok"], reply
    assert reply["result"]["tables"] == ["article", "author"]
    assert reply["result"]["unregistered"] == []


def test_the_steps_environment_holds_its_url_and_libpq_points_there(project, driver_for, pg,
                                                                       database):
    d = driver_for(project("facade_app"), env=dict(pg.env("elsewhere"),
                                                   DATABASE_URL=pg.url("elsewhere"),
                                                   PGSERVICE="prod"),
                   urlEnv="ORDERS_DATABASE_CONNECTION")
    target = pg.target(database)
    probe = ("import os; print(' '.join(os.environ.get(k, '-') for k in ('DATABASE_URL', "
             "'ORDERS_DATABASE_CONNECTION', 'PGDATABASE', 'PGHOST', 'PGSERVICE')))")
    reply = d.request({"op": "run", "argv": [sys.executable, "-c", probe], "target": target})
    assert reply["ok"], reply
    url, own, pgdatabase, pghost, service = reply["result"]["out"].split()
    assert url == own == target["url"]
    assert (pgdatabase, pghost, service) == (database, "127.0.0.1", "-")
    # Without a target nothing names a database, not even the app's own environment.
    reply = d.request({"op": "run", "argv": [sys.executable, "-c", probe]})
    url, own, pgdatabase, pghost, service = reply["result"]["out"].split()
    assert url == own == "-"
    assert pgdatabase == "alembic_sidecar_no_database"


def test_settings_read_at_import_are_read_again_by_each_step(project, driver_for, pg,
                                                              database):
    # enum_app's settings module reads DATABASE_URL when it is imported: a module imported by
    # an earlier step must not survive into the next, which names another database.
    d = driver_for(project("enum_app"))
    other = pg.create("second")
    try:
        for name in (database, other):
            reply = d.request({"op": "upgrade", "revision": "head", "target": pg.target(name)})
            assert reply["ok"], reply
            current = d.request({"op": "current", "target": pg.target(name)})
            assert current["result"]["heads"] == ["26c5c0bf3f3d"]
    finally:
        pg.drop(other)


def test_a_step_that_dies_is_reported_and_the_driver_goes_on(tmp_path, driver_for, pg,
                                                             database):
    root = tmp_path / "dies"
    (root / "migrations" / "versions").mkdir(parents=True)
    (root / "alembic.ini").write_text("[alembic]\nscript_location = migrations\n")
    (root / "migrations" / "env.py").write_text("import os\nos._exit(9)\n")
    d = driver_for(str(root))
    reply = d.request({"op": "upgrade", "revision": "head", "target": pg.target(database)})
    assert reply["ok"] is False
    assert reply["error"]["type"] == "StepProcessDied"
    assert "exit code 9" in reply["error"]["line"]
    assert d.request({"op": "exists", "path": "alembic.ini"})["result"]["exists"] is True


def test_end_of_input_ends_the_driver_mid_step(tmp_path, pg, database):
    import harness
    import time

    root = tmp_path / "slow"
    (root / "migrations" / "versions").mkdir(parents=True)
    (root / "alembic.ini").write_text("[alembic]\nscript_location = migrations\n")
    (root / "migrations" / "env.py").write_text("import time\ntime.sleep(60)\n")
    d = harness.Driver(str(root))
    assert d.request({"op": "hello", "root": str(root)})["ok"]
    d.send_line('{"op": "upgrade", "revision": "head", "id": 99}')
    time.sleep(1.0)
    d.proc.stdin.close()
    started = time.monotonic()
    d.proc.wait(timeout=20)
    assert time.monotonic() - started < 15
