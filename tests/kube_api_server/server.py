#!/usr/bin/python3
"""A test Kubernetes API server (HTTPS, in memory) for the project's C++ tests.

Usage:
  /usr/bin/python3 tests/kube_api_server/server.py --state-dir DIR [--host 127.0.0.1]
      [--port 0] [--exec-root DIR] [--compaction-window 1000] [--bookmark-interval 1.0]
      [--crd FILE]... [--verbose]

Once listening it prints ONE line of JSON (the contents of DIR/server.json) on stdout.
See README.md in this directory for the control API and what is faithful / simplified.
"""
import argparse
import asyncio
import base64
import json
import logging
import os
import secrets
import signal
import ssl
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from aiohttp import web  # noqa: E402

from kas import certs  # noqa: E402
from kas.app import ApiServer  # noqa: E402
from kas.resources import load_crd_file  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="test Kubernetes API server")
    p.add_argument("--state-dir", required=True, help="where certificates, token and server.json go")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 = pick a free port")
    p.add_argument("--exec-root", default=None,
                   help="working directory for pods/exec commands (default: the current directory)")
    p.add_argument("--compaction-window", type=int, default=1000,
                   help="how many events the watch history keeps")
    p.add_argument("--bookmark-interval", type=float, default=1.0,
                   help="seconds between BOOKMARK events on watches that allow them")
    p.add_argument("--future-rv-wait", type=float, default=3.0,
                   help="seconds a watch from a resourceVersion the server has not reached waits "
                        "for it before 504 'Too large resource version' (the watch cache: 3)")
    p.add_argument("--crd", action="append", default=[], help="CustomResourceDefinition YAML file")
    p.add_argument("--verbose", action="store_true", help="log every request to stderr")
    return p.parse_args(argv)


def write_kubeconfigs(state_dir, url, paths, token):
    def b64(path):
        with open(path, "rb") as f:
            return base64.b64encode(f.read()).decode()

    kc = {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": "test", "cluster": {"server": url,
                                                  "certificate-authority": paths["ca.crt"]}}],
        "users": [{"name": "test-admin", "user": {"token": token}}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": "test-admin",
                                                  "namespace": "default"}}],
        "current-context": "test",
    }
    kc_cert = {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": "test", "cluster": {"server": url,
                                                  "certificate-authority-data": b64(paths["ca.crt"])}}],
        "users": [{"name": "client-admin", "user": {
            "client-certificate-data": b64(paths["client.crt"]),
            "client-key-data": b64(paths["client.key"])}}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": "client-admin",
                                                  "namespace": "default"}}],
        "current-context": "test",
    }
    import yaml
    out = {}
    for fname, doc in (("kubeconfig", kc), ("kubeconfig-cert", kc_cert)):
        path = os.path.join(state_dir, fname)
        with open(path + ".tmp", "w") as f:
            yaml.safe_dump(doc, f, sort_keys=False)
        os.chmod(path + ".tmp", 0o600)
        os.replace(path + ".tmp", path)
        out[fname] = path
    return out


async def main_async(args):
    state_dir = os.path.abspath(args.state_dir)
    os.makedirs(state_dir, exist_ok=True)
    paths = certs.ensure_pki(state_dir, [args.host])
    token_path = os.path.join(state_dir, "token")
    if os.path.exists(token_path):
        with open(token_path) as f:
            token = f.read().strip()
    else:
        token = secrets.token_urlsafe(32)
        with open(token_path, "w") as f:
            f.write(token)
        os.chmod(token_path, 0o600)
    if args.exec_root is None:
        args.exec_root = os.getcwd()
    args.exec_root = os.path.abspath(args.exec_root)

    server = ApiServer(args, token, state_dir)
    for path in args.crd:
        for crd in load_crd_file(path):
            t = server.add_crd(crd)
            t.from_file = True

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(paths["server.crt"], paths["server.key"])
    ctx.load_verify_locations(paths["ca.crt"])
    ctx.verify_mode = ssl.CERT_OPTIONAL
    ctx.set_alpn_protocols(["http/1.1"])

    app = server.make_app()
    runner = web.AppRunner(app, handle_signals=False,
                           access_log=logging.getLogger("aiohttp.access") if args.verbose else None)
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.port, ssl_context=ctx, shutdown_timeout=1.0,
                       reuse_address=True)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    server.port = port
    host = args.host
    url_host = f"[{host}]" if ":" in host else host
    url = f"https://{url_host}:{port}"
    kcs = write_kubeconfigs(state_dir, url, paths, token)
    info = {"url": url, "port": port, "host": host, "ca": paths["ca.crt"], "caKey": paths["ca.key"],
            "token": token, "tokenFile": token_path,
            "clientCert": paths["client.crt"], "clientKey": paths["client.key"],
            "otherCa": paths["other-ca.crt"], "kubeconfig": kcs["kubeconfig"],
            "kubeconfigCert": kcs["kubeconfig-cert"], "stateDir": state_dir,
            "execRoot": args.exec_root, "pid": os.getpid()}
    line = json.dumps(info, separators=(",", ":"))
    with open(os.path.join(state_dir, "server.json.tmp"), "w") as f:
        f.write(json.dumps(info, indent=2) + "\n")
    os.replace(os.path.join(state_dir, "server.json.tmp"), os.path.join(state_dir, "server.json"))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
    await stop.wait()
    server.stopping = True
    for w in list(server.store.watchers):
        w.close()
    for proc in list(server.processes):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    try:
        await asyncio.wait_for(runner.cleanup(), 5)
    except asyncio.TimeoutError:
        pass


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.CRITICAL,
                        stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    if args.verbose:
        logging.getLogger("aiohttp.access").setLevel(logging.INFO)
    try:
        asyncio.run(main_async(args))
    except ValueError as e:
        print(f"kube-api-server: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
