"""pods/exec over WebSocket (channel.k8s.io v4 / v5), running a LOCAL subprocess.

Wire behaviour follows the kubelet's remotecommand server
(staging/src/k8s.io/kubelet/pkg/cri/streaming/remotecommand): channel byte prefix,
an empty frame on the lowest writable channel once the connection is up, a Status JSON
on channel 3 when the command ends, and for v5 the [255, N] "close stream" message.
"""
import asyncio
import base64
import json
import os
import re
import signal
import secrets as pysecrets

from aiohttp import WSMsgType, web

from . import status as st

STDIN, STDOUT, STDERR, ERROR, RESIZE = 0, 1, 2, 3, 4
STREAM_CLOSE = 255
CHUNK = 32 * 1024
WORKDIR_ANNOTATION = "kube-api-server.test/workdir"
# "close-stdin": when the client disconnects, the command only loses its stdin and runs on until
# it exits (at most ORPHAN_GRACE seconds), as containerd does with an exec whose stream broke.
DISCONNECT_ANNOTATION = "kube-api-server.test/exec-disconnect"
ORPHAN_GRACE = 60


def _truthy(v):
    return v is not None and v.lower() in ("1", "true")


def _podres(server):
    return server.registry.types[("", "pods")]


class ExecHandler:
    def __init__(self, server):
        self.server = server

    # -------------------------------------------------------------- checks
    def negotiate(self, request):
        offered = []
        for h in request.headers.getall("Sec-WebSocket-Protocol", []):
            offered += [p.strip() for p in h.split(",") if p.strip()]
        if not offered:
            offered = [""]
        accepted = self.server.exec_protocols
        for p in offered:            # the client's order wins, like wsstream.handshake
            if p in accepted:
                return p
        # golang.org/x/net/websocket answers a failed handshake with a bare 403, no body
        why = f"requested protocol(s) are not supported: {offered}; supports {accepted}"
        raise st.ApiError(403, "Forbidden", why, empty_body=True,
                          headers={"X-Kube-Api-Server-Test-Reason": why})

    def _secret_value(self, ns, ref, container, var):
        name, key = ref.get("name"), ref.get("key")
        sec = self.server.store.get(("", "secrets"), ns, name)
        if sec is None or key not in (sec.get("data") or {}):
            if ref.get("optional"):
                return None
            what = f'secret "{name}" not found' if sec is None else f'couldn\'t find key {key} in Secret {ns}/{name}'
            raise st.ApiError(500, "InternalError",
                              f'unable to upgrade connection: container not found ("{container}") '
                              f'[env {var}: {what}; the container could not have started]')
        return os.fsdecode(base64.b64decode(sec["data"][key]))

    def _configmap_value(self, ns, ref, container, var):
        name, key = ref.get("name"), ref.get("key")
        cm = self.server.store.get(("", "configmaps"), ns, name)
        data = (cm or {}).get("data") or {}
        if cm is None or key not in data:
            if ref.get("optional"):
                return None
            what = f'configmap "{name}" not found' if cm is None else f"couldn't find key {key} in ConfigMap {ns}/{name}"
            raise st.ApiError(500, "InternalError",
                              f'unable to upgrade connection: container not found ("{container}") '
                              f'[env {var}: {what}; the container could not have started]')
        return data[key]

    def build_env(self, pod, c):
        ns = pod["metadata"].get("namespace", "")
        cname = c.get("name")
        env = dict(os.environ)
        defined = {}
        for src in c.get("envFrom") or []:
            prefix = src.get("prefix") or ""
            if src.get("secretRef"):
                ref = src["secretRef"]
                sec = self.server.store.get(("", "secrets"), ns, ref.get("name"))
                if sec is None and not ref.get("optional"):
                    raise st.ApiError(500, "InternalError",
                                      f'unable to upgrade connection: container not found ("{cname}") '
                                      f'[envFrom: secret "{ref.get("name")}" not found]')
                for k, v in ((sec or {}).get("data") or {}).items():
                    defined[prefix + k] = os.fsdecode(base64.b64decode(v))
            if src.get("configMapRef"):
                ref = src["configMapRef"]
                cm = self.server.store.get(("", "configmaps"), ns, ref.get("name"))
                if cm is None and not ref.get("optional"):
                    raise st.ApiError(500, "InternalError",
                                      f'unable to upgrade connection: container not found ("{cname}") '
                                      f'[envFrom: configmap "{ref.get("name")}" not found]')
                for k, v in ((cm or {}).get("data") or {}).items():
                    defined[prefix + k] = v
        for e in c.get("env") or []:
            name = e.get("name")
            if not name:
                continue
            if "valueFrom" in e and e["valueFrom"]:
                vf = e["valueFrom"]
                v = None
                if vf.get("secretKeyRef"):
                    v = self._secret_value(ns, vf["secretKeyRef"], cname, name)
                elif vf.get("configMapKeyRef"):
                    v = self._configmap_value(ns, vf["configMapKeyRef"], cname, name)
                elif vf.get("fieldRef"):
                    v = self._field_ref(pod, vf["fieldRef"].get("fieldPath", ""))
                if v is None:
                    continue
                defined[name] = v
            else:
                defined[name] = _expand(e.get("value") or "", defined)
        env.update(defined)
        return env

    @staticmethod
    def _field_ref(pod, path):
        md = pod.get("metadata") or {}
        m = re.fullmatch(r"metadata\.(labels|annotations)\['([^']*)'\]", path)
        if m:
            return (md.get(m.group(1)) or {}).get(m.group(2), "")
        simple = {"metadata.name": md.get("name"), "metadata.namespace": md.get("namespace"),
                  "metadata.uid": md.get("uid"),
                  "spec.nodeName": (pod.get("spec") or {}).get("nodeName"),
                  "spec.serviceAccountName": (pod.get("spec") or {}).get("serviceAccountName"),
                  "status.podIP": (pod.get("status") or {}).get("podIP"),
                  "status.hostIP": (pod.get("status") or {}).get("hostIP")}
        return simple.get(path) or ""

    def workdir(self, pod, c):
        ann = (pod["metadata"].get("annotations") or {}).get(WORKDIR_ANNOTATION)
        if ann:
            return ann
        wd = c.get("workingDir")
        if wd and os.path.isdir(wd):
            return wd
        return self.server.exec_root

    # -------------------------------------------------------------- handle
    async def handle(self, request, ns, name):
        server = self.server
        pod = server.store.get(("", "pods"), ns, name)
        if pod is None:
            raise st.not_found(_podres(server), name)
        q = request.query
        command = q.getall("command", [])
        stdin, stdout, stderr = _truthy(q.get("stdin")), _truthy(q.get("stdout")), _truthy(q.get("stderr"))
        spec = pod.get("spec") or {}
        containers = [c for c in spec.get("containers") or [] if isinstance(c, dict)]
        all_containers = containers + [c for c in (spec.get("initContainers") or []) +
                                       (spec.get("ephemeralContainers") or []) if isinstance(c, dict)]
        cname = q.get("container")
        if not cname:
            if len(containers) == 1:
                cname = containers[0].get("name")
            elif not containers:
                raise st.bad_request(f"a container name must be specified for pod {name}")
            else:
                names = " ".join(c.get("name", "") for c in containers)
                raise st.bad_request(f"a container name must be specified for pod {name}, "
                                     f"choose one of: [{names}]")
        container = next((c for c in all_containers if c.get("name") == cname), None)
        if container is None:
            raise st.bad_request(f"container {cname} is not valid for pod {name}")
        if request.headers.get("Upgrade", "").lower() != "websocket":
            raise st.bad_request("Upgrade request required")
        if not command:
            raise st.bad_request("you must specify at least one command for the container")
        if not (stdin or stdout or stderr):
            raise st.bad_request("you must specify at least 1 of stdin, stdout, stderr")
        proto = self.negotiate(request)
        env = self.build_env(pod, container)
        cwd = self.workdir(pod, container)

        ws = web.WebSocketResponse(protocols=(proto,) if proto else (), compress=False,
                                   max_msg_size=16 * 1024 * 1024, autoping=True)
        await ws.prepare(request)
        if request.get("entry") is not None:
            request["entry"]["status"] = 101
        v5 = proto == "v5.channel.k8s.io"
        v4 = proto in ("v4.channel.k8s.io", "v5.channel.k8s.io")
        lock = asyncio.Lock()

        async def send(ch, data=b""):
            async with lock:
                if not ws.closed:
                    await ws.send_bytes(bytes([ch]) + data)

        # tell the client the streams are up (empty message on the lowest writable channel)
        await send(STDOUT if stdout else STDERR if stderr else ERROR)

        async def finish(status_obj):
            if v4:
                await send(ERROR, json.dumps(status_obj, separators=(",", ":")).encode())
            elif status_obj.get("status") != "Success":
                await send(ERROR, (status_obj.get("message") or "").encode())
            await ws.close()

        try:
            proc = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE if stdout else asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE if stderr else asyncio.subprocess.DEVNULL,
                cwd=cwd, env=env, start_new_session=True)
        except OSError as e:
            await finish(_start_failure(command, cwd, e))
            return ws

        server.processes.add(proc)
        try:
            orphan = (pod["metadata"].get("annotations") or {}).get(DISCONNECT_ANNOTATION)
            return await self._run(ws, proc, send, finish, command, v5,
                                   orphan == "close-stdin")
        finally:
            server.processes.discard(proc)
            if proc.returncode is None:
                _kill(proc)
                try:
                    await asyncio.wait_for(proc.wait(), 5)
                except (asyncio.TimeoutError, asyncio.CancelledError):
                    pass

    async def _run(self, ws, proc, send, finish, command, v5, orphan=False):
        async def pump(stream, ch):
            gone = False
            while True:
                chunk = await stream.read(CHUNK)
                if not chunk:
                    return
                if gone:
                    continue  # an orphaned command's output goes nowhere, but it is read
                try:
                    await send(ch, chunk)
                except Exception:   # noqa: BLE001 - the client's connection broke
                    if not orphan:
                        raise
                    gone = True

        async def from_client():
            stdin_open = proc.stdin is not None
            async for msg in ws:
                if msg.type == WSMsgType.BINARY:
                    data = msg.data
                elif msg.type == WSMsgType.TEXT:
                    continue   # base64 channel protocols are not offered
                else:
                    break
                if not data:
                    continue
                ch = data[0]
                if ch == STREAM_CLOSE and v5:
                    if len(data) == 2 and data[1] == STDIN and stdin_open:
                        stdin_open = False
                        _close_stdin(proc)
                    continue
                if ch == STDIN and stdin_open:
                    try:
                        proc.stdin.write(data[1:])
                        await proc.stdin.drain()
                    except (BrokenPipeError, ConnectionResetError):
                        stdin_open = False
                # RESIZE and unknown channels are ignored (no TTY support)

        async def command_done():
            outs = []
            if proc.stdout is not None:
                outs.append(pump(proc.stdout, STDOUT))
            if proc.stderr is not None:
                outs.append(pump(proc.stderr, STDERR))
            await asyncio.gather(*outs)
            return await proc.wait()

        client = asyncio.ensure_future(from_client())
        done_task = asyncio.ensure_future(command_done())
        try:
            finished, _ = await asyncio.wait({client, done_task}, return_when=asyncio.FIRST_COMPLETED)
            if done_task not in finished:
                if orphan:
                    # the client went away first: the command keeps running without stdin
                    _close_stdin(proc)
                    try:
                        await asyncio.wait_for(asyncio.shield(done_task), ORPHAN_GRACE)
                    except BaseException:   # noqa: BLE001 - timeout, or its output had nowhere to go
                        pass
                # the client went away first: kill the command (or what is left of it)
                _kill(proc)
                done_task.cancel()
                return ws
            rc = done_task.result()
            # Stop reading before closing: aiohttp's close() does not wait for the client's
            # close reply while another task sits in receive(), and the client then sees 1006.
            client.cancel()
            try:
                await client
            except BaseException:   # noqa: BLE001 - cancelled reader
                pass
            await finish(_exit_status(command, rc))
            return ws
        finally:
            for t in (client, done_task):
                if not t.done():
                    t.cancel()
            for t in (client, done_task):
                try:
                    await t
                except BaseException:   # noqa: BLE001 - cleanup only
                    pass


def _expand(value, defined):
    def rep(m):
        if m.group(0).startswith("$$"):
            return m.group(0)[1:]
        return defined.get(m.group(1), m.group(0))
    return re.sub(r"\$\$\([^)]*\)|\$\(([A-Za-z_][-._A-Za-z0-9]*)\)", rep, value)


def _close_stdin(proc):
    try:
        proc.stdin.close()
    except (BrokenPipeError, ConnectionResetError, OSError):
        pass


def _kill(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        try:
            proc.kill()
        except ProcessLookupError:
            pass


def _exit_status(command, rc):
    if rc == 0:
        return {"metadata": {}, "status": "Success"}
    if rc < 0:
        rc = 128 - rc     # killed by a signal: what a container runtime reports
    return {"metadata": {}, "status": "Failure",
            "message": f"command terminated with non-zero exit code: error executing command "
                       f"[{' '.join(command)}], exit code {rc}",
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": str(rc)}]}}


def _start_failure(command, cwd, e):
    exe = command[0]
    if isinstance(e, FileNotFoundError) and e.filename not in (None, exe) and str(e.filename) == str(cwd):
        why = f'chdir to cwd ("{cwd}") set in config.json failed: no such file or directory'
    elif isinstance(e, FileNotFoundError):
        if "/" in exe:
            why = f'exec: "{exe}": stat {exe}: no such file or directory'
        else:
            why = f'exec: "{exe}": executable file not found in $PATH'
    elif isinstance(e, PermissionError):
        why = f'exec: "{exe}": permission denied'
    elif isinstance(e, NotADirectoryError):
        why = f'chdir to cwd ("{cwd}") set in config.json failed: not a directory'
    else:
        why = f'exec: "{exe}": {e.strerror or e}'
    inner = (f'error executing command in container: failed to exec in container: failed to start '
             f'exec "{pysecrets.token_hex(32)}": OCI runtime exec failed: exec failed: unable to '
             f'start container process: {why}: unknown')
    return {"metadata": {}, "status": "Failure", "message": f"Internal error occurred: {inner}",
            "reason": "InternalError", "details": {"causes": [{"message": inner}]}, "code": 500}
