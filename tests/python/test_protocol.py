"""The protocol as both sides speak it. golden/*.json are exchanges recorded from this
driver: the C++ DriverClient test (tests/unit/alembic/driver_client_test.cc) checks that it
sends exactly these requests and reads these replies; this test sends the same requests to
the real driver and checks that every reply still has the golden reply's shape (the same
keys with the same JSON types; `ok`, error types and breach tools equal). Either side
breaking the protocol fails its test."""

import json
import os
import shutil

import harness

GOLDEN = os.path.join(os.path.dirname(__file__), "golden")


def load(name):
    with open(os.path.join(GOLDEN, name), encoding="utf-8") as f:
        return json.load(f)


def substitute(value, names):
    if isinstance(value, str):
        for key, text in names.items():
            value = value.replace("${%s}" % key, text)
        return value
    if isinstance(value, list):
        return [substitute(v, names) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, names) for k, v in value.items()}
    return value


def same_shape(golden, actual, where="reply"):
    """Every key of `golden` is in `actual` with the same JSON type, recursively."""
    assert type(actual) is type(golden) or (isinstance(golden, (int, float)) and
                                           isinstance(actual, (int, float))), \
        "%s: %r is not like %r" % (where, actual, golden)
    if isinstance(golden, dict):
        for key, value in golden.items():
            assert key in actual, "%s: no %r in %r" % (where, key, sorted(actual))
            same_shape(value, actual[key], where + "." + key)
    elif isinstance(golden, list) and golden and actual:
        for item in actual:
            same_shape(golden[0], item, where + "[]")


def replay(name, root, names, env=None, before=None):
    exchanges = load(name)
    d = harness.Driver(root, env=env)
    try:
        for exchange in exchanges:
            request = substitute(exchange["request"], names)
            if before:
                before(request)
            reply = d.request(request)
            golden = exchange["reply"]
            assert reply["ok"] == golden["ok"], (request["op"], reply)
            same_shape(golden, reply, request["op"])
            if "error" in golden:
                assert reply["error"]["type"] == golden["error"]["type"]
            if "breach" in golden:
                assert reply["breach"]["tool"] == golden["breach"]["tool"]
    finally:
        d.close()


def test_golden_facade_app_session(tmp_path, pg, database):
    root = str(tmp_path / "app")
    shutil.copytree(os.path.join(harness.FIXTURES, "facade_app"), root)
    target = pg.target(database)

    def change_models(request):
        if request["op"] == "revision":
            shutil.copy(os.path.join(harness.FIXTURES, "changes", "orders_note", "orders", "db",
                                     "models.py"), os.path.join(root, "orders", "db", "models.py"))

    replay("facade_app.json", root,
           {"ROOT": root, "URL": target["url"], "DATABASE": database,
            "IDENTITY": target["identity"]}, before=change_models)


def test_golden_breach(tmp_path, pg, database):
    root = str(tmp_path / "app")
    shutil.copytree(os.path.join(harness.FIXTURES, "hooks_app"), root)
    live = pg.create("live")
    try:
        target = pg.target(database)
        replay("hooks_app_breach.json", root,
               {"ROOT": root, "URL": target["url"], "DATABASE": database,
                "IDENTITY": target["identity"]},
               env={"MIGRATION_PSQL_DSN": pg.libpq_url(live)})
    finally:
        pg.drop(live)


def test_unreadable_and_unknown_requests_are_answered(tmp_path):
    root = str(tmp_path)
    d = harness.Driver(root)
    try:
        d.send_line("not json")
        assert d.read_reply() == {"id": None, "ok": False,
                                  "error": {"type": "ProtocolError", "line": "unreadable request"}}
        reply = d.request({"op": "frobnicate"})
        assert reply["error"]["type"] == "ProtocolError"
        reply = d.request({"op": "upgrade", "revision": "head"})
        assert reply["error"] == {"type": "ProtocolError", "line": "hello first"}
    finally:
        d.close()


def test_the_exec_launcher_serves_one_file_request(tmp_path):
    import subprocess
    import sys

    (tmp_path / "a.txt").write_bytes(b"\x00\xff\n")
    request = {"op": "read", "path": "a.txt", "root": str(tmp_path), "encoding": "base64"}
    done = subprocess.run([sys.executable, "-c", harness.bootstrap()],
                          input=harness.preamble("alembic_sidecar_driver.files:serve_once") +
                          json.dumps(request).encode() + b"\n", capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"id": None, "ok": True, "result": {"base64": "AP8K"}}
