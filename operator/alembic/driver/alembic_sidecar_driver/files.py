"""The project's files and commands, as requests: read, list, exists, remove, tree, run.

Served by the long-lived driver (so a run in a pod needs no second exec session) and, one
request per process, by the exec workspace's launcher (`serve_once`). Paths are relative to
the request's `root` (the driver's project root when it has none).
"""

import base64
import os
import subprocess

from alembic_sidecar_driver.protocol import Channel, DriverError, error_reply

OPS = ("read", "list", "exists", "remove", "tree", "run")


def where(root, path):
    return path if os.path.isabs(path or "") else os.path.join(root, path or "")


def read(root, request):
    with open(where(root, request["path"]), "rb") as f:
        data = f.read()
    if request.get("encoding") == "base64":
        return {"base64": base64.b64encode(data).decode("ascii")}
    return {"text": data.decode("utf-8", errors="replace")}


def listdir(root, request):
    p = where(root, request["path"])
    return {"entries": [[n, os.path.isdir(os.path.join(p, n))] for n in sorted(os.listdir(p))]}


def exists(root, request):
    return {"exists": os.path.exists(where(root, request["path"]))}


def remove(root, request):
    os.remove(where(root, request["path"]))
    return {}


def tree(root, request):
    top = where(root, request.get("path") or ".")
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
                files[os.path.relpath(path, root)] = text
    return {"files": files}


def run(root, request):
    """Runs argv (no shell) in its own session; output captured, killed at the timeout. With
    `outputEncoding: base64` the output comes back as `outBase64`/`errBase64`, byte for byte."""
    env = dict(os.environ)
    env.update(request.get("env") or {})
    if "stdinBase64" in request:
        data = base64.b64decode(request.get("stdinBase64") or "")
    else:
        data = (request.get("stdin") or "").encode()
    raw = request.get("outputEncoding") == "base64"

    def output(code, timed_out, out, err):
        out, err = out or b"", err or b""
        result = {"exitCode": code, "timedOut": timed_out}
        if raw:
            result["outBase64"] = base64.b64encode(out).decode("ascii")
            result["errBase64"] = base64.b64encode(err).decode("ascii")
        else:
            result["out"] = out.decode("utf-8", "replace")
            result["err"] = err.decode("utf-8", "replace")
        return result

    try:
        done = subprocess.run(
            request["argv"], cwd=where(root, request.get("cwd") or "."), env=env,
            input=data, capture_output=True, timeout=float(request.get("timeout", 600)),
            start_new_session=True)
    except subprocess.TimeoutExpired as e:
        return output(-1, True, e.stdout, e.stderr)
    except OSError as e:
        raise DriverError("cannot run %s: %s" % (request["argv"][0], e.strerror))
    return output(done.returncode, False, done.stdout, done.stderr)


HANDLERS = {"read": read, "list": listdir, "exists": exists, "remove": remove, "tree": tree,
            "run": run}


def serve(root, request):
    """The reply to one file request."""
    op = request.get("op")
    try:
        return {"id": request.get("id"), "ok": True, "result": HANDLERS[op](root, request)}
    except KeyError as e:
        if op not in HANDLERS:
            return error_reply(request.get("id"), "ProtocolError", "unknown op %r" % op)
        return error_reply(request.get("id"), "ProtocolError", "missing %s" % e)
    except OSError as e:
        return error_reply(request.get("id"), type(e).__name__,
                           "%s: %s" % (e.strerror or e, request.get("path", "")))
    except DriverError as e:
        return error_reply(request.get("id"), "DriverError", str(e))


def serve_once():
    """The exec workspace's launcher: one request from stdin, one reply on stdout, exit."""
    channel = Channel(0, 1)
    line = channel.next_line()
    if line is None:
        os._exit(3)
    import json

    request = json.loads(line)
    channel.send(serve(request.get("root") or os.getcwd(), request))
    os._exit(0)
