"""Where a libpq client would connect, and the psql/pg_dump shim that asks before it does.

Standard library only, no import from the rest of the package: the driver writes this file to
a private directory and puts it on the step's PATH under the names of libpq's command-line
tools (psql, pg_dump, ...), so a tool env.py starts runs this first. The shim reads the
tool's connection options the way libpq does (conninfo strings and URIs, -d/-h/-p/-U, the
positional database name, the PG* environment), and runs the real tool only when the database
is the step's; otherwise it records the refusal in the step's breach file, says which flag
fixes it, and exits 2 without connecting.
"""

import json
import os
import re
import sys
from urllib.parse import parse_qsl, unquote, urlsplit

# libpq's environment variables for the connection parameters the fence cares about.
ENV_OF = {"host": "PGHOST", "hostaddr": "PGHOSTADDR", "port": "PGPORT", "dbname": "PGDATABASE",
          "user": "PGUSER", "service": "PGSERVICE"}
TOOLS = ("psql", "pg_dump", "pg_dumpall", "pg_restore", "createdb", "dropdb", "vacuumdb",
         "reindexdb", "clusterdb", "pg_isready")
LOCAL_HOSTS = {"", "localhost", "127.0.0.1", "::1"}


def parse_conninfo(text):
    """A libpq connection string (`key=value ...` or a postgresql:// URI) as a dict."""
    text = (text or "").strip()
    if not text:
        return {}
    if re.match(r"^postgres(ql)?://", text):
        return _parse_uri(text)
    if "=" not in text:
        return {"dbname": text}  # psql/pg_dump take a bare name as the database
    out = {}
    for m in re.finditer(r"(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|\S+)", text):
        value = m.group(2)
        if value.startswith("'"):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        out[m.group(1)] = value
    return out


def _parse_uri(text):
    parts = urlsplit(text)
    out = {}
    netloc = parts.netloc
    if "@" in netloc:
        auth, netloc = netloc.rsplit("@", 1)
        user, _, password = auth.partition(":")
        if user:
            out["user"] = unquote(user)
        if password:
            out["password"] = unquote(password)
    hosts, ports = [], []
    for hp in netloc.split(","):
        if hp.startswith("["):
            host, _, rest = hp[1:].partition("]")
            port = rest.lstrip(":")
        else:
            host, _, port = hp.partition(":")
        if host:
            hosts.append(unquote(host))
        if port:
            ports.append(port)
    if hosts:
        out["host"] = ",".join(hosts)
    if ports:
        out["port"] = ",".join(ports)
    if parts.path and parts.path != "/":
        out["dbname"] = unquote(parts.path[1:])
    for key, value in parse_qsl(parts.query):
        out[key] = value
    return out


def resolve(params, environ=None):
    """The parameters libpq would use: explicit ones, then the PG* environment, then defaults
    (the database defaults to the user name). Returns dbname, host, port, user, service."""
    environ = os.environ if environ is None else environ
    out = {}
    for key in ("dbname", "host", "hostaddr", "port", "user", "service"):
        value = params.get(key)
        if value in (None, ""):
            value = environ.get(ENV_OF[key], "")
        out[key] = str(value)
    if not out["user"]:
        out["user"] = _os_user()
    if not out["dbname"]:
        out["dbname"] = out["user"]
    return out


def _os_user():
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError):
        return os.environ.get("USER", "")


def verdict(params, allowed, environ=None):
    """None when a client connecting with `params` reaches the allowed database; else a dict
    saying what it would reach. `allowed`: {"database", "host", "port"} or None (no database
    may be reached)."""
    where = resolve(params, environ)
    tried = {"database": where["dbname"], "host": where["host"] or where["hostaddr"],
             "port": where["port"]}
    if where["service"]:
        tried["service"] = where["service"]
        tried["database"] = where["dbname"] if params.get("dbname") else "service " + \
            where["service"]
        return tried
    if not allowed or not allowed.get("database"):
        return tried
    if where["dbname"] != allowed["database"]:
        return tried
    if not _same_host(tried["host"], allowed.get("host", "")):
        tried["otherServer"] = True
        return tried
    if tried["port"] and allowed.get("port") and str(tried["port"]) != str(allowed["port"]):
        tried["otherServer"] = True
        return tried
    return None


def _same_host(a, b):
    a = (a or "").split(",")[0].strip()
    b = (b or "").split(",")[0].strip()
    if a == b:
        return True
    if a in LOCAL_HOSTS and b in LOCAL_HOSTS:
        return True
    return a.startswith("/") and b.startswith("/") and os.path.realpath(a) == os.path.realpath(b)


# ---- command-line tools ---------------------------------------------------------------------

_VALUE_OPTIONS = {
    # option letter or long name -> libpq parameter (None: takes a value, not a connection one)
    "-d": "dbname", "--dbname": "dbname", "-h": "host", "--host": "host", "-p": "port",
    "--port": "port", "-U": "user", "--username": "user", "--maintenance-db": "dbname",
}
# Options that take a value but say nothing about the connection, per tool ("*": every tool).
_TAKES_VALUE = {
    "*": {"-f", "--file", "-F", "--format", "-j", "--jobs", "-E", "--encoding", "-Z",
          "--compress", "--exclude-table", "--exclude-table-data", "--lock-wait-timeout",
          "--section", "--role", "--schema", "--exclude-schema", "--table", "--command",
          "--output", "--set", "--variable", "--pset", "--field-separator",
          "--record-separator", "--table-attr", "--log-file", "--index", "--function",
          "--use-list", "--extension", "--superuser"},
    "psql": {"-c", "-o", "-v", "-P", "-R", "-T", "-L"},
    "pg_dump": {"-n", "-N", "-t", "-T", "-S", "-e"},
    "pg_dumpall": {"-S"},
    "pg_restore": {"-n", "-N", "-t", "-T", "-S", "-L", "-P", "-I", "-e"},
}


def tool_params(tool, args):
    """The connection parameters a libpq tool would use from its arguments."""
    params = {}
    positional = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            positional += args[i + 1:]
            break
        if arg.startswith("--") and "=" in arg:
            name, value = arg.split("=", 1)
            if name in _VALUE_OPTIONS:
                _apply(params, _VALUE_OPTIONS[name], value)
            i += 1
            continue
        if arg in _VALUE_OPTIONS and i + 1 < len(args):
            _apply(params, _VALUE_OPTIONS[arg], args[i + 1])
            i += 2
            continue
        if len(arg) > 2 and arg[:2] in _VALUE_OPTIONS and not arg.startswith("--"):
            _apply(params, _VALUE_OPTIONS[arg[:2]], arg[2:])
            i += 1
            continue
        if (arg in _TAKES_VALUE["*"] or arg in _TAKES_VALUE.get(tool, ())) and i + 1 < len(args):
            i += 2
            continue
        if arg.startswith("-"):
            i += 1
            continue
        positional.append(arg)
        i += 1
    if positional and "dbname" not in params:
        _apply(params, "dbname", positional[0])
    if tool == "psql" and len(positional) > 1 and "user" not in params:
        params["user"] = positional[1]
    return params


def _apply(params, key, value):
    if key == "dbname" and ("=" in value or re.match(r"^postgres(ql)?://", value)):
        params.update(parse_conninfo(value))  # -d takes a whole connection string
    else:
        params[key] = value


def _real_tool(tool):
    here = os.path.dirname(os.path.abspath(__file__))
    for d in os.environ.get("ALEMBIC_SIDECAR_REAL_PATH", os.environ.get("PATH", "")).split(
            os.pathsep):
        if not d or os.path.abspath(d) == here:
            continue
        candidate = os.path.join(d, tool)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def record(path, refusal):
    """Appends one refusal to the step's breach file (one JSON object a line)."""
    if not path:
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, (json.dumps(refusal) + "\n").encode())
        finally:
            os.close(fd)
    except OSError:
        pass


def main(argv=None):
    argv = list(sys.argv if argv is None else argv)
    tool = os.path.basename(argv[0])
    args = argv[1:]
    try:
        allowed = json.loads(os.environ.get("ALEMBIC_SIDECAR_FENCE") or "null")
    except ValueError:
        allowed = None
    if tool == "pg_isready":
        refused = None  # asks the server whether it accepts connections, logs in nowhere
    else:
        refused = verdict(tool_params(tool, args), allowed)
    if refused is not None:
        refused["tool"] = tool
        refused["step"] = os.environ.get("ALEMBIC_SIDECAR_STEP", "")
        record(os.environ.get("ALEMBIC_SIDECAR_BREACH_FILE"), refused)
        sys.stderr.write(
            "alembic-sidecar refused %s: it would connect to database '%s'%s, and this step "
            "may only reach %s. Give it no -d/--dbname (libpq's PG* environment already points "
            "at the step's database) or the URL of $%s; if env.py reads its URL from another "
            "variable, pass --url-env NAME\n"
            % (tool, refused.get("database") or "?",
               " on another server" if refused.get("otherServer") else "",
               "'%s'" % allowed["database"] if allowed and allowed.get("database")
               else "no database",
               os.environ.get("ALEMBIC_SIDECAR_URL_ENV", "DATABASE_URL")))
        sys.stderr.flush()
        return 2
    real = _real_tool(tool)
    if real is None:
        sys.stderr.write("%s: command not found\n" % tool)
        return 127
    os.execv(real, [tool] + args)
    return 127


if __name__ == "__main__":
    sys.exit(main())
