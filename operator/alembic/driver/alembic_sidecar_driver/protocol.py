"""The line protocol: one JSON request a line in, one JSON reply a line out.

Requests carry `op` and `id`; replies carry the same `id`, `ok`, and either `result` or
`error` ({type, line, message, tail}); operations that ran env.py add `output` (what alembic and
env.py printed), `durationMs` and, when the fence refused a connection, `breach`. The same
requests and replies serve the long-lived driver (one line each way per request) and the exec
workspace's one-shot launcher (one request, one reply, then exit). tests/python/golden/ holds
examples both sides are tested against.
"""

import io
import json
import os
import select
import traceback

PROTOCOL_VERSION = 2
MAX_CAPTURE = 64 * 1024


class DriverError(Exception):
    """A request the driver cannot serve (bad arguments, missing file)."""


class Channel:
    """Requests from `in_fd`, replies to `out_fd`, no Python-level buffering of the input (the
    bootstrap read exactly its own bytes before this), so select() sees every pending byte."""

    def __init__(self, in_fd=0, out_fd=1):
        self.in_fd = in_fd
        self.out_fd = out_fd
        self.pending = b""
        self.closed = False

    def next_line(self):
        """The next request line (str), or None at end of input."""
        while b"\n" not in self.pending:
            if self.closed:
                return None
            self.fill()
        line, _, self.pending = self.pending.partition(b"\n")
        return line.decode("utf-8", "replace")

    def fill(self):
        """Reads what is there (blocking for at least one byte); False at end of input."""
        data = os.read(self.in_fd, 1 << 16)
        if not data:
            self.closed = True
            return False
        self.pending += data
        return True

    def wait(self, fds, timeout=None):
        """Waits for `fds` or the input; reads input that arrives (end of input sets closed).
        Returns the ready fds of `fds`."""
        watch = list(fds) + ([] if self.closed else [self.in_fd])
        ready, _, _ = select.select(watch, [], [], timeout)
        if self.in_fd in ready:
            self.fill()
        return [fd for fd in ready if fd != self.in_fd]

    def send(self, payload):
        data = (encode(payload) + "\n").encode("utf-8")
        while data:
            written = os.write(self.out_fd, data)
            data = data[written:]


def encode(payload):
    return json.dumps(payload, default=str, ensure_ascii=False)


def decode_request(line):
    """The request of a line, or a ProtocolError reply (with id None) when it is not one."""
    try:
        request = json.loads(line)
    except ValueError:
        return None, error_reply(None, "ProtocolError", "unreadable request")
    if not isinstance(request, dict):
        return None, error_reply(None, "ProtocolError", "a request is a JSON object")
    return request, None


def error_reply(rid, kind, line):
    return {"id": rid, "ok": False, "error": {"type": kind, "line": line}}


class Capture(io.TextIOBase):
    """A bounded text sink standing in for sys.stdout/sys.stderr during one operation."""

    def __init__(self):
        super().__init__()
        self.parts = []
        self.size = 0

    def writable(self):
        return True

    def write(self, text):
        if not isinstance(text, str):
            text = str(text)
        if self.size < MAX_CAPTURE:
            self.parts.append(text)
            self.size += len(text)
        return len(text)

    def flush(self):
        pass

    def isatty(self):
        return False

    @property
    def encoding(self):
        return "utf-8"

    def getvalue(self):
        text = "".join(self.parts)
        return text if self.size < MAX_CAPTURE else text + "\n...(output truncated)"


def describe_error(exc, output):
    """The exception as data: its type, the line that says what failed, and a short tail."""
    kind = type(exc).__name__
    text = str(exc).strip()
    first = text.splitlines()[0] if text else kind
    if kind == "CommandError":
        line = "FAILED: " + first
    elif kind == "IsolationBreached":
        line = first
    else:
        line = "%s: %s" % (kind, first)
    # A DBAPI error's first line is the server's message; keep the SQL it ran in the tail.
    tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
    tail_lines = [l for l in "".join(tb).splitlines() if l.strip()][-12:]
    out_lines = [l for l in (output or "").splitlines() if l.strip()][-8:]
    return {"type": kind, "line": line, "message": text[:4000],
            "tail": "\n".join(out_lines + tail_lines)[-4000:]}


def dedupe(items):
    seen, out = set(), []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def as_tuple(value):
    if value is None:
        return ()
    if isinstance(value, (list, tuple)):
        return tuple(value)
    return (value,)
