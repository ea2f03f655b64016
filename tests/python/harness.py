"""The driver as the C++ side runs it: bootstrap.py under `python3 -c`, the package sent on
stdin exactly as driverPreamble() sends it, then one JSON request a line."""

import json
import os
import select
import subprocess
import sys
import time

SOURCE = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DRIVER_DIR = os.path.join(SOURCE, "operator", "alembic", "driver")
PACKAGE_DIR = os.path.join(DRIVER_DIR, "alembic_sidecar_driver")
FIXTURES = os.path.join(SOURCE, "tests", "fixtures")
PROTOCOL = 2


def preamble(entry="alembic_sidecar_driver.server:main"):
    modules = {}
    for name in sorted(os.listdir(PACKAGE_DIR)):
        if not name.endswith(".py"):
            continue
        with open(os.path.join(PACKAGE_DIR, name), encoding="utf-8") as f:
            text = f.read()
        module = "alembic_sidecar_driver" if name == "__init__.py" else \
            "alembic_sidecar_driver." + name[:-3]
        modules[module] = ["." not in module, text]
    payload = json.dumps(modules).encode()
    return b"alembic-sidecar-driver %d %d %s\n" % (PROTOCOL, len(payload), entry.encode()) + payload


def bootstrap():
    with open(os.path.join(DRIVER_DIR, "bootstrap.py"), encoding="utf-8") as f:
        return f.read()


class Driver:
    """One driver process; request() sends a request and returns its reply."""

    def __init__(self, root, env=None, python=sys.executable):
        full = dict(os.environ)
        full.update(env or {})
        full["PYTHONUNBUFFERED"] = "1"
        self.proc = subprocess.Popen([python, "-c", bootstrap()], cwd=root, env=full,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, start_new_session=True)
        self.proc.stdin.write(preamble())
        self.proc.stdin.flush()
        self.next_id = 0
        self.buffer = b""
        self.sent = []
        self.received = []

    def send_line(self, line):
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()
        if '"shutdown"' in line:
            self.shut = True

    def request(self, payload, timeout=120):
        self.next_id += 1
        payload = dict(payload, id=self.next_id)
        self.sent.append(payload)
        self.send_line(json.dumps(payload))
        while True:
            reply = self.read_reply(timeout)
            if reply.get("id") == self.next_id:
                self.received.append(reply)
                return reply

    def read_reply(self, timeout=120):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no reply within %s s" % timeout)
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 1 << 16)
                if not chunk:
                    raise EOFError("the driver ended: " + self.stderr())
                self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return json.loads(line)

    def stderr(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            return self.proc.communicate(timeout=10)[1].decode(errors="replace")
        except subprocess.TimeoutExpired:
            return ""

    def close(self):
        if self.proc.poll() is None and not self.proc.stdin.closed:
            try:
                self.request({"op": "shutdown"}, timeout=10)
            except (OSError, ValueError, EOFError, TimeoutError):
                pass
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait()
