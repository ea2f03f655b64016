"""Self-tests for the test Kubernetes API server, through real HTTPS and WebSockets.

Run: cd tests/kube_api_server && /usr/bin/python3 -m unittest -v test_server
"""
import asyncio
import base64
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

import aiohttp

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "server.py")
CRD = os.path.join(HERE, "testdata", "widgets-crd.yaml")
PY = "/usr/bin/python3"

MR = "/apis/alembic.sidecar.dev/v1alpha1/namespaces/{ns}/migrationruns"
CM = "/api/v1/namespaces/{ns}/configmaps"
WG = "/apis/example.test.dev/v1/namespaces/{ns}/widgets"
PODS = "/api/v1/namespaces/{ns}/pods"
SECRETS = "/api/v1/namespaces/{ns}/secrets"


def start_server(state_dir, *extra):
    """Starts server.py and waits for its one-line JSON; stderr goes to state_dir/server.log."""
    log = open(os.path.join(state_dir, "server.log"), "w")
    proc = subprocess.Popen([PY, SERVER, "--state-dir", state_dir, "--port", "0",
                             "--bookmark-interval", "0.3", "--compaction-window", "500",
                             "--exec-root", state_dir, "--crd", CRD, *extra],
                            stdout=subprocess.PIPE, stderr=log, text=True)
    log.close()
    line = proc.stdout.readline()
    if not line:
        proc.wait(5)
        with open(os.path.join(state_dir, "server.log")) as f:
            raise RuntimeError("server did not start: " + f.read())
    return proc, json.loads(line)


class Fixture:
    proc = None
    info = None
    tmp = None


def setUpModule():
    Fixture.tmp = tempfile.mkdtemp(prefix="kas-test-")
    Fixture.proc, Fixture.info = start_server(Fixture.tmp)


def tearDownModule():
    if Fixture.proc is not None:
        Fixture.proc.send_signal(signal.SIGTERM)
        try:
            Fixture.proc.wait(10)
        except subprocess.TimeoutExpired:
            Fixture.proc.kill()
        Fixture.proc.stdout.close()
        if Fixture.proc.returncode != 0:
            print(f"server exited with {Fixture.proc.returncode}", file=sys.stderr)
        with open(os.path.join(Fixture.tmp, "server.log")) as f:
            errors = f.read()
        if errors.strip():
            print("---- server stderr ----\n" + errors, file=sys.stderr)
    if os.environ.get("KAS_KEEP_STATE"):
        print(f"state kept in {Fixture.tmp}", file=sys.stderr)
    else:
        shutil.rmtree(Fixture.tmp, ignore_errors=True)


def ns():
    return "t-" + uuid.uuid4().hex[:8]


class ApiTest(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.info = Fixture.info
        self.url = self.info["url"]
        self.ssl = ssl.create_default_context(cafile=self.info["ca"])
        self.session = aiohttp.ClientSession()
        self.token = self.info["token"]

    async def asyncTearDown(self):
        await self.session.close()
        # aiohttp: SSL transports finish closing asynchronously after session.close()
        await asyncio.sleep(0.05)

    async def req(self, method, path, body=None, token=None, ctype=None, params=None, raw=None,
                  headers=None):
        h = {"Authorization": f"Bearer {token or self.token}"} if token != "" else {}
        h.update(headers or {})
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = ctype or "application/json"
        elif ctype:
            h["Content-Type"] = ctype
        async with self.session.request(method, self.url + path, data=data, headers=h,
                                        ssl=self.ssl, params=params) as r:
            text = await r.text()
            try:
                js = json.loads(text) if text else None
            except ValueError:
                js = text
            return r.status, js, r.headers

    async def ok(self, method, path, body=None, expect=(200, 201), **kw):
        code, js, _ = await self.req(method, path, body, **kw)
        self.assertIn(code, expect if isinstance(expect, tuple) else (expect,), js)
        return js

    def assertStatus(self, js, code, reason):
        self.assertEqual(js["kind"], "Status", js)
        self.assertEqual(js["apiVersion"], "v1")
        self.assertEqual(js["status"], "Failure")
        self.assertEqual(js["code"], code, js)
        self.assertEqual(js["reason"], reason, js)

    async def mr(self, n, name, spec=None, **extra):
        body = {"apiVersion": "alembic.sidecar.dev/v1alpha1", "kind": "MigrationRun",
                "metadata": {"name": name, **extra},
                "spec": spec or {"action": "revision", "message": "add column"}}
        return await self.ok("POST", MR.format(ns=n), body, expect=201)

    async def watch_lines(self, path, params, max_events=None, timeout=10.0):
        """Collects events until the stream ends or max_events; returns (events, error)."""
        events = []
        err = None
        h = {"Authorization": f"Bearer {self.token}"}
        try:
            async with self.session.get(self.url + path, params=params, headers=h, ssl=self.ssl,
                                        timeout=aiohttp.ClientTimeout(total=timeout)) as r:
                self.assertEqual(r.status, 200)
                self.assertEqual(r.headers.get("Transfer-Encoding"), "chunked")
                self.assertTrue(r.headers.get("Content-Type", "").startswith("application/json"))
                while True:
                    line = await r.content.readline()
                    if not line:
                        break
                    events.append(json.loads(line))
                    if max_events and len(events) >= max_events:
                        break
        except aiohttp.ClientPayloadError as e:
            err = e
        return events, err


# ---------------------------------------------------------------------------
class TestTLSAndAuth(ApiTest):
    async def test_startup_files_and_open_endpoints(self):
        info = self.info
        for k in ("url", "port", "ca", "token", "clientCert", "clientKey", "otherCa",
                  "kubeconfig", "kubeconfigCert"):
            self.assertIn(k, info)
        self.assertEqual(info["url"], f"https://127.0.0.1:{info['port']}")
        with open(os.path.join(Fixture.tmp, "server.json")) as f:
            self.assertEqual(json.load(f)["token"], info["token"])
        import yaml
        with open(info["kubeconfig"]) as f:
            kc = yaml.safe_load(f)
        self.assertEqual(kc["current-context"], "test")
        self.assertEqual(kc["contexts"][0]["context"]["namespace"], "default")
        self.assertEqual(kc["clusters"][0]["cluster"]["certificate-authority"], info["ca"])
        self.assertEqual(kc["users"][0]["user"]["token"], info["token"])
        with open(info["kubeconfigCert"]) as f:
            kc2 = yaml.safe_load(f)
        self.assertIn("client-certificate-data", kc2["users"][0]["user"])
        self.assertIn("certificate-authority-data", kc2["clusters"][0]["cluster"])
        for p in ("/healthz", "/readyz", "/version"):
            code, _, _ = await self.req("GET", p, token="")
            self.assertEqual(code, 200, p)

    async def test_wrong_ca_refused_and_client_cert_accepted(self):
        bad = ssl.create_default_context(cafile=self.info["otherCa"])
        with self.assertRaises(ssl.SSLCertVerificationError):
            _, w = await asyncio.open_connection("127.0.0.1", self.info["port"], ssl=bad)
            w.close()
        # the certificate is valid for "localhost" as well as 127.0.0.1
        good = ssl.create_default_context(cafile=self.info["ca"])
        _, w = await asyncio.open_connection("127.0.0.1", self.info["port"], ssl=good,
                                             server_hostname="localhost")
        w.close()
        await w.wait_closed()
        cert_ctx = ssl.create_default_context(cafile=self.info["ca"])
        cert_ctx.load_cert_chain(self.info["clientCert"], self.info["clientKey"])
        async with self.session.get(self.url + CM.format(ns="default"), ssl=cert_ctx) as r:
            self.assertEqual(r.status, 200)
            self.assertEqual((await r.json())["kind"], "ConfigMapList")

    async def test_401_and_403(self):
        n = ns()
        code, js, _ = await self.req("GET", CM.format(ns=n), token="")
        self.assertEqual(code, 401)
        self.assertStatus(js, 401, "Unauthorized")
        code, js, _ = await self.req("GET", CM.format(ns=n), token="nope")
        self.assertEqual(code, 401)
        await self.ok("POST", "/_test/tokens", {"token": "limited-1", "user": "u", "rules": [
            {"apiGroups": [""], "resources": ["secrets", "pods/exec"], "verbs": ["get", "list"]},
            {"apiGroups": ["alembic.sidecar.dev"], "resources": ["migrationruns"], "verbs": ["*"]}]})
        code, js, _ = await self.req("GET", SECRETS.format(ns=n), token="limited-1")
        self.assertEqual(code, 200)
        code, js, _ = await self.req("GET", CM.format(ns=n), token="limited-1")
        self.assertEqual(code, 403)
        self.assertStatus(js, 403, "Forbidden")
        self.assertEqual(js["message"], f'configmaps is forbidden: User "u" cannot list resource '
                                        f'"configmaps" in API group "" in the namespace "{n}"')
        await self.mr(n, "x")
        code, js, _ = await self.req("PATCH", MR.format(ns=n) + "/x/status", {"status": {"phase": "Running"}},
                                     token="limited-1", ctype="application/merge-patch+json")
        self.assertEqual(code, 403)
        self.assertEqual(js["message"],
                         f'migrationruns.alembic.sidecar.dev "x" is forbidden: User "u" cannot patch '
                         f'resource "migrationruns/status" in API group "alembic.sidecar.dev" in the '
                         f'namespace "{n}"')
        self.assertEqual(js["details"], {"name": "x", "group": "alembic.sidecar.dev", "kind": "migrationruns"})
        code, _, _ = await self.req("GET", MR.format(ns=n) + "/x", token="limited-1")
        self.assertEqual(code, 200)
        # the control API needs the admin
        code, _, _ = await self.req("GET", "/_test/faults", token="limited-1")
        self.assertEqual(code, 403)
        await self.ok("DELETE", "/_test/tokens/limited-1")
        code, js, _ = await self.req("GET", SECRETS.format(ns=n), token="limited-1")
        self.assertEqual(code, 401)

    async def test_self_subject_access_review_answers_from_the_callers_rules(self):
        n = ns()
        await self.ok("POST", "/_test/tokens", {"token": "ssar-1", "user": "sidecar", "rules": [
            {"apiGroups": ["alembic.sidecar.dev"], "resources": ["migrationruns/status"],
             "verbs": ["get"]}]})
        path = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
        attrs = {"namespace": n, "verb": "patch", "group": "alembic.sidecar.dev",
                 "resource": "migrationruns", "subresource": "status"}
        body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                "spec": {"resourceAttributes": attrs}}
        js = await self.ok("POST", path, body, token="ssar-1", expect=201)
        self.assertEqual(js["kind"], "SelfSubjectAccessReview")
        self.assertEqual(js["status"], {"allowed": False})
        self.assertEqual(js["spec"]["resourceAttributes"], attrs)
        js = await self.ok("POST", path, {**body, "spec": {"resourceAttributes": {**attrs, "verb": "get"}}},
                           token="ssar-1", expect=201)
        self.assertTrue(js["status"]["allowed"])
        js = await self.ok("POST", path, body, expect=201)   # the admin may do everything
        self.assertTrue(js["status"]["allowed"])
        code, js, _ = await self.req("POST", path, {"spec": {}}, token="ssar-1")
        self.assertEqual(code, 422)
        code, _, _ = await self.req("POST", path, body, token="nope")
        self.assertEqual(code, 401)
        await self.ok("DELETE", "/_test/tokens/ssar-1")

    async def test_request_log_never_holds_tokens(self):
        await self.ok("DELETE", "/_test/requests")
        n = ns()
        await self.ok("GET", CM.format(ns=n), params={"labelSelector": "a=b"})
        log = (await self.ok("GET", "/_test/requests"))["requests"]
        self.assertEqual(len(log), 1)
        e = log[0]
        self.assertEqual((e["method"], e["path"], e["status"], e["user"]), ("GET", CM.format(ns=n), 200, "admin"))
        self.assertEqual(e["query"], {"labelSelector": ["a=b"]})
        self.assertNotIn(self.token, json.dumps(log))


# ---------------------------------------------------------------------------
class TestCrud(ApiTest):
    async def test_create_get_metadata_and_errors(self):
        n = ns()
        a = await self.ok("POST", CM.format(ns=n), {"metadata": {"name": "a", "labels": {"x": "1"}},
                                                    "data": {"k": "v"}}, expect=201)
        self.assertEqual(a["kind"], "ConfigMap")
        self.assertEqual(a["apiVersion"], "v1")
        md = a["metadata"]
        self.assertEqual(md["namespace"], n)
        uuid.UUID(md["uid"])
        self.assertRegex(md["creationTimestamp"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        b = await self.mr(n, "b")
        self.assertEqual(int(b["metadata"]["resourceVersion"]), int(md["resourceVersion"]) + 1)
        self.assertEqual(b["metadata"]["generation"], 1)
        g = await self.ok("POST", CM.format(ns=n), {"metadata": {"generateName": "gen-"}}, expect=201)
        self.assertRegex(g["metadata"]["name"], r"^gen-[a-z0-9]{5}$")
        code, js, _ = await self.req("POST", CM.format(ns=n), {"metadata": {"name": "a"}})
        self.assertEqual(code, 409)
        self.assertStatus(js, 409, "AlreadyExists")
        self.assertEqual(js["message"], 'configmaps "a" already exists')
        code, js, _ = await self.req("POST", MR.format(ns=n), {"spec": {}})
        self.assertEqual(code, 422)
        self.assertStatus(js, 422, "Invalid")
        self.assertEqual(js["message"], 'MigrationRun.alembic.sidecar.dev "" is invalid: metadata.name: '
                                        'Required value: name or generateName is required')
        code, js, _ = await self.req("POST", CM.format(ns=n), {"metadata": {"name": "Bad_Name"}})
        self.assertEqual(code, 422)
        self.assertEqual(js["details"]["causes"][0]["field"], "metadata.name")
        code, js, _ = await self.req("GET", MR.format(ns=n) + "/missing")
        self.assertEqual(code, 404)
        self.assertStatus(js, 404, "NotFound")
        self.assertEqual(js["message"], 'migrationruns.alembic.sidecar.dev "missing" not found')
        self.assertEqual(js["details"], {"name": "missing", "group": "alembic.sidecar.dev", "kind": "migrationruns"})
        code, js, _ = await self.req("GET", "/apis/nope.example/v1/namespaces/x/things")
        self.assertEqual(code, 404)
        self.assertStatus(js, 404, "NotFound")
        js = await self.ok("DELETE", CM.format(ns=n) + "/a")
        self.assertEqual((js["kind"], js["status"], js["details"]["name"]), ("Status", "Success", "a"))
        code, _, _ = await self.req("GET", CM.format(ns=n) + "/a")
        self.assertEqual(code, 404)

    async def test_secret_string_data(self):
        n = ns()
        s = await self.ok("POST", SECRETS.format(ns=n), {"metadata": {"name": "s"},
                                                         "stringData": {"password": "p@ss"},
                                                         "data": {"user": base64.b64encode(b"app").decode()}},
                          expect=201)
        self.assertNotIn("stringData", s)
        self.assertEqual(s["type"], "Opaque")
        self.assertEqual(base64.b64decode(s["data"]["password"]), b"p@ss")
        self.assertEqual(base64.b64decode(s["data"]["user"]), b"app")

    async def test_generation_only_on_spec_change(self):
        n = ns()
        r = await self.mr(n, "g")
        self.assertEqual(r["metadata"]["generation"], 1)
        r["metadata"]["labels"] = {"l": "1"}
        r = await self.ok("PUT", MR.format(ns=n) + "/g", r)
        self.assertEqual(r["metadata"]["generation"], 1)
        r = await self.ok("PATCH", MR.format(ns=n) + "/g", {"spec": {"message": "other"}},
                          ctype="application/merge-patch+json")
        self.assertEqual(r["metadata"]["generation"], 2)
        r = await self.ok("PATCH", MR.format(ns=n) + "/g/status", {"status": {"phase": "Running"}},
                          ctype="application/merge-patch+json")
        self.assertEqual(r["metadata"]["generation"], 2)
        # a no-op write keeps the resourceVersion
        rv = r["metadata"]["resourceVersion"]
        r = await self.ok("PATCH", MR.format(ns=n) + "/g/status", {"status": {"phase": "Running"}},
                          ctype="application/merge-patch+json")
        self.assertEqual(r["metadata"]["resourceVersion"], rv)

    async def test_status_subresource_isolation(self):
        n = ns()
        body = {"metadata": {"name": "s"}, "spec": {"action": "check"}, "status": {"phase": "Succeeded"}}
        r = await self.ok("POST", MR.format(ns=n), body, expect=201)
        self.assertNotIn("status", r)
        rv0 = int(r["metadata"]["resourceVersion"])
        r = await self.ok("PATCH", MR.format(ns=n) + "/s/status",
                          {"spec": {"action": "upgrade"}, "status": {"phase": "Running"}},
                          ctype="application/merge-patch+json")
        self.assertEqual(r["spec"]["action"], "check")
        self.assertEqual(r["status"]["phase"], "Running")
        self.assertGreater(int(r["metadata"]["resourceVersion"]), rv0)
        r = await self.ok("PATCH", MR.format(ns=n) + "/s", {"status": {"phase": "Failed"},
                                                             "spec": {"action": "roundtrip"}},
                          ctype="application/merge-patch+json")
        self.assertEqual(r["status"]["phase"], "Running")
        self.assertEqual(r["spec"]["action"], "roundtrip")
        r["status"] = {"phase": "Failed"}
        r = await self.ok("PUT", MR.format(ns=n) + "/s", r)
        self.assertEqual(r["status"]["phase"], "Running")
        got = await self.ok("GET", MR.format(ns=n) + "/s/status")
        self.assertEqual(got["status"]["phase"], "Running")
        r["status"] = {"phase": "Succeeded"}
        r["spec"]["action"] = "check"
        r = await self.ok("PUT", MR.format(ns=n) + "/s/status", r)
        self.assertEqual((r["status"]["phase"], r["spec"]["action"]), ("Succeeded", "roundtrip"))

    async def test_conflict_on_stale_resource_version(self):
        n = ns()
        r = await self.mr(n, "x")
        stale = r["metadata"]["resourceVersion"]
        await self.ok("PATCH", MR.format(ns=n) + "/x/status", {"status": {"phase": "Running"}},
                      ctype="application/merge-patch+json")
        expected = ('Operation cannot be fulfilled on migrationruns.alembic.sidecar.dev "x": the object '
                    'has been modified; please apply your changes to the latest version and try again')
        code, js, _ = await self.req("PUT", MR.format(ns=n) + "/x", r)
        self.assertEqual(code, 409)
        self.assertStatus(js, 409, "Conflict")
        self.assertEqual(js["message"], expected)
        code, js, _ = await self.req("PATCH", MR.format(ns=n) + "/x/status",
                                     {"metadata": {"resourceVersion": stale}, "status": {"phase": "Failed"}},
                                     ctype="application/merge-patch+json")
        self.assertEqual(code, 409)
        self.assertEqual(js["message"], expected)
        cur = await self.ok("GET", MR.format(ns=n) + "/x")
        r = await self.ok("PATCH", MR.format(ns=n) + "/x/status",
                          {"metadata": {"resourceVersion": cur["metadata"]["resourceVersion"]},
                           "status": {"phase": "Succeeded", "claimedBy": "me"}},
                          ctype="application/merge-patch+json")
        self.assertEqual(r["status"]["claimedBy"], "me")

    async def test_merge_patch_json_patch_and_unsupported(self):
        n = ns()
        await self.ok("POST", CM.format(ns=n), {"metadata": {"name": "p", "labels": {"a": "1", "b": "2"},
                                                             "annotations": {"x": "y"}},
                                                "data": {"k1": "v1", "k2": "v2"}}, expect=201)
        r = await self.ok("PATCH", CM.format(ns=n) + "/p",
                          {"metadata": {"labels": {"a": None, "c": "3"}, "annotations": None},
                           "data": {"k2": None}}, ctype="application/merge-patch+json")
        self.assertEqual(r["metadata"]["labels"], {"b": "2", "c": "3"})
        self.assertNotIn("annotations", r["metadata"])
        self.assertEqual(r["data"], {"k1": "v1"})
        m = await self.mr(n, "arr", spec={"action": "check", "list": [1, 2, 3]})
        r = await self.ok("PATCH", MR.format(ns=n) + "/arr", {"spec": {"list": [9]}},
                          ctype="application/merge-patch+json")
        self.assertEqual(r["spec"]["list"], [9])
        r = await self.ok("PATCH", CM.format(ns=n) + "/p",
                          [{"op": "add", "path": "/data/k3", "value": "v3"},
                           {"op": "remove", "path": "/data/k1"}], ctype="application/json-patch+json")
        self.assertEqual(r["data"], {"k3": "v3"})
        code, js, _ = await self.req("PATCH", MR.format(ns=n) + "/arr", {"spec": {}},
                                     ctype="application/strategic-merge-patch+json")
        self.assertEqual(code, 415)
        self.assertStatus(js, 415, "UnsupportedMediaType")
        code, js, _ = await self.req("PATCH", MR.format(ns=n) + "/arr", {"spec": {}}, ctype="text/plain")
        self.assertEqual(code, 415)
        self.assertIsNotNone(m)


# ---------------------------------------------------------------------------
class TestList(ApiTest):
    async def test_selectors_and_pagination(self):
        n = ns()
        for i in range(7):
            await self.ok("POST", CM.format(ns=n), {"metadata": {"name": f"c{i}", "labels": {
                "app": "web" if i % 2 else "db", "tier": str(i)}}}, expect=201)

        async def names(**params):
            js = await self.ok("GET", CM.format(ns=n), params=params)
            return [o["metadata"]["name"] for o in js["items"]]
        self.assertEqual(await names(labelSelector="app=web"), ["c1", "c3", "c5"])
        self.assertEqual(await names(labelSelector="app!=web"), ["c0", "c2", "c4", "c6"])
        self.assertEqual(await names(labelSelector="app==db,tier in (2,4,5)"), ["c2", "c4"])
        self.assertEqual(await names(labelSelector="tier notin (0,1,2,3,4)"), ["c5", "c6"])
        self.assertEqual(await names(labelSelector="!app"), [])
        self.assertEqual(await names(labelSelector="app"), [f"c{i}" for i in range(7)])
        self.assertEqual(await names(fieldSelector="metadata.name=c3"), ["c3"])
        self.assertEqual(await names(fieldSelector=f"metadata.namespace={n},metadata.name!=c0"),
                         [f"c{i}" for i in range(1, 7)])
        p1 = await self.ok("GET", CM.format(ns=n), params={"limit": "3"})
        self.assertEqual(p1["kind"], "ConfigMapList")
        self.assertEqual([o["metadata"]["name"] for o in p1["items"]], ["c0", "c1", "c2"])
        self.assertEqual(p1["metadata"]["remainingItemCount"], 4)
        tok = p1["metadata"]["continue"]
        # objects created after the first page are not part of the paginated snapshot
        await self.ok("POST", CM.format(ns=n), {"metadata": {"name": "c3a"}}, expect=201)
        await self.ok("DELETE", CM.format(ns=n) + "/c4")
        p2 = await self.ok("GET", CM.format(ns=n), params={"limit": "3", "continue": tok})
        self.assertEqual([o["metadata"]["name"] for o in p2["items"]], ["c3", "c4", "c5"])
        self.assertEqual(p2["metadata"]["resourceVersion"], p1["metadata"]["resourceVersion"])
        p3 = await self.ok("GET", CM.format(ns=n), params={"limit": "3", "continue": p2["metadata"]["continue"]})
        self.assertEqual([o["metadata"]["name"] for o in p3["items"]], ["c6"])
        self.assertNotIn("continue", p3["metadata"])
        await self.ok("POST", "/_test/compact")
        code, js, _ = await self.req("GET", CM.format(ns=n), params={"limit": "3", "continue": tok})
        self.assertEqual(code, 410)
        self.assertStatus(js, 410, "Expired")
        full = await self.ok("GET", CM.format(ns=n))
        self.assertGreater(int(full["metadata"]["resourceVersion"]), int(p1["metadata"]["resourceVersion"]))


# ---------------------------------------------------------------------------
class TestWatch(ApiTest):
    async def test_watch_from_resource_version(self):
        n = ns()
        await self.mr(n, "pre")
        lst = await self.ok("GET", MR.format(ns=n))
        rv = lst["metadata"]["resourceVersion"]
        await self.mr(n, "w1")
        await self.ok("PATCH", MR.format(ns=n) + "/w1/status", {"status": {"phase": "Running"}},
                      ctype="application/merge-patch+json")
        deleted_before = await self.ok("GET", MR.format(ns=n) + "/w1")
        await self.ok("DELETE", MR.format(ns=n) + "/w1")
        await self.mr("other-" + n, "elsewhere")
        events, err = await self.watch_lines(MR.format(ns=n), {"watch": "1", "resourceVersion": rv,
                                                                "timeoutSeconds": "1"})
        self.assertIsNone(err)
        self.assertEqual([e["type"] for e in events], ["ADDED", "MODIFIED", "DELETED"])
        self.assertTrue(all(e["object"]["kind"] == "MigrationRun" for e in events))
        rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
        self.assertEqual(rvs, sorted(rvs))
        self.assertGreater(rvs[2], int(deleted_before["metadata"]["resourceVersion"]))
        self.assertEqual(events[2]["object"]["status"]["phase"], "Running")
        events, _ = await self.watch_lines(MR.format(ns=n), {"watch": "true", "resourceVersion": "0",
                                                              "timeoutSeconds": "1"})
        self.assertEqual([(e["type"], e["object"]["metadata"]["name"]) for e in events], [("ADDED", "pre")])

    async def test_live_events_and_label_selector_transitions(self):
        n = ns()
        await self.ok("POST", CM.format(ns=n), {"metadata": {"name": "l", "labels": {"sel": "yes"}}}, expect=201)
        got = []

        async def watcher():
            ev, _ = await self.watch_lines(CM.format(ns=n), {"watch": "1", "labelSelector": "sel=yes",
                                                             "timeoutSeconds": "3"}, max_events=3)
            got.extend(ev)
        t = asyncio.ensure_future(watcher())
        await self.wait_for_watch(n)
        await self.ok("PATCH", CM.format(ns=n) + "/l", {"metadata": {"labels": {"sel": "no"}}},
                      ctype="application/merge-patch+json")
        await self.ok("PATCH", CM.format(ns=n) + "/l", {"metadata": {"labels": {"sel": "yes"}}},
                      ctype="application/merge-patch+json")
        await t
        self.assertEqual([e["type"] for e in got], ["ADDED", "DELETED", "ADDED"])

    async def wait_for_watch(self, namespace):
        for _ in range(100):
            st = await self.ok("GET", "/_test/state")
            if any(w["namespace"] == namespace for w in st["watches"]):
                return
            await asyncio.sleep(0.02)
        self.fail("watch did not start")

    async def test_bookmarks_and_timeout(self):
        n = ns()
        t0 = time.monotonic()
        events, err = await self.watch_lines(MR.format(ns=n), {"watch": "1", "allowWatchBookmarks": "true",
                                                                "timeoutSeconds": "1"})
        elapsed = time.monotonic() - t0
        self.assertIsNone(err)
        self.assertGreaterEqual(elapsed, 0.9)
        self.assertLess(elapsed, 3)
        bms = [e for e in events if e["type"] == "BOOKMARK"]
        self.assertGreaterEqual(len(bms), 2)
        st = await self.ok("GET", "/_test/state")
        for b in bms:
            self.assertEqual(b["object"]["kind"], "MigrationRun")
            self.assertEqual(b["object"]["apiVersion"], "alembic.sidecar.dev/v1alpha1")
            self.assertLessEqual(int(b["object"]["metadata"]["resourceVersion"]), int(st["resourceVersion"]))
        events, _ = await self.watch_lines(MR.format(ns=n), {"watch": "1", "timeoutSeconds": "1"})
        self.assertEqual(events, [])

    async def test_busy_watch_with_bookmarks_delivers_every_event(self):
        """Writes arriving while a bookmark is due must not stall the stream (they once did:
        the watch kept cancelling its own queue reads until its timeout). A server with a
        5 ms bookmark interval makes that moment frequent."""
        d = tempfile.mkdtemp(prefix="kas-busy-")
        proc, info = start_server(d, "--bookmark-interval", "0.005")
        try:
            self.url, self.token = info["url"], info["token"]   # this test only
            self.ssl = ssl.create_default_context(cafile=info["ca"])
            n = ns()
            cm = await self.ok("POST", CM.format(ns=n), {"metadata": {"name": "busy"}}, expect=201)
            writes = 240

            async def writer(k):
                for i in range(writes // 4):
                    await self.ok("PATCH", CM.format(ns=n) + "/busy", {"data": {f"w{k}": str(i)}},
                                  ctype="application/merge-patch+json")

            seen = {"MODIFIED": 0, "BOOKMARK": 0}

            async def watch():
                h = {"Authorization": f"Bearer {self.token}"}
                async with self.session.get(self.url + CM.format(ns=n), ssl=self.ssl, headers=h, params={
                        "watch": "1", "resourceVersion": cm["metadata"]["resourceVersion"],
                        "allowWatchBookmarks": "true", "timeoutSeconds": "60"}) as r:
                    async for line in r.content:
                        t = json.loads(line)["type"]
                        seen[t] = seen.get(t, 0) + 1
                        if seen["MODIFIED"] == writes:
                            return

            reader = asyncio.create_task(watch())
            await asyncio.gather(*(writer(k) for k in range(4)))
            # Generous: on a loaded machine 240 writes take longer than a few seconds, and a
            # stalled stream still ends short of `writes` when the watch times out.
            await asyncio.wait_for(reader, 70)
            self.assertEqual(seen["MODIFIED"], writes, seen)
            self.assertGreater(seen["BOOKMARK"], 0)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(10)
            proc.stdout.close()
            shutil.rmtree(d, ignore_errors=True)

    async def test_too_large_resource_version_waits_then_504(self):
        n = ns()
        rv = int((await self.ok("GET", CM.format(ns=n)))["metadata"]["resourceVersion"])
        t0 = time.monotonic()
        code, js, h = await self.req("GET", CM.format(ns=n),
                                     params={"watch": "1", "resourceVersion": str(rv + 1000)})
        self.assertEqual(code, 504)
        self.assertGreaterEqual(time.monotonic() - t0, 0.4)
        self.assertStatus(js, 504, "Timeout")
        self.assertEqual(js["message"], f"Too large resource version: {rv + 1000}, current: {rv}")
        self.assertEqual(js["details"]["causes"][0]["reason"], "ResourceVersionTooLarge")
        self.assertEqual(h.get("Retry-After"), "1")

        # Reached while waiting: the watch is served.
        async def create_soon():
            await asyncio.sleep(0.1)
            await self.ok("POST", CM.format(ns=n), {"metadata": {"name": "soon"}}, expect=201)
        t = asyncio.ensure_future(create_soon())
        events, err = await self.watch_lines(CM.format(ns=n), {"watch": "1", "resourceVersion": str(rv + 1),
                                                                "timeoutSeconds": "1"})
        await t
        self.assertIsNone(err)

    async def test_too_old_resource_version_after_compact(self):
        n = ns()
        r = await self.mr(n, "old")
        old_rv = int(r["metadata"]["resourceVersion"])
        await self.ok("PATCH", MR.format(ns=n) + "/old", {"spec": {"message": "m2"}},
                      ctype="application/merge-patch+json")
        c = await self.ok("POST", "/_test/compact")
        events, err = await self.watch_lines(MR.format(ns=n), {"watch": "1", "resourceVersion": str(old_rv),
                                                                "timeoutSeconds": "5"})
        self.assertIsNone(err)
        self.assertEqual(len(events), 1)
        e = events[0]
        self.assertEqual(e["type"], "ERROR")
        self.assertEqual(e["object"]["code"], 410)
        self.assertEqual(e["object"]["reason"], "Expired")
        self.assertEqual(e["object"]["kind"], "Status")
        self.assertEqual(e["object"]["message"], f"too old resource version: {old_rv} ({c['compactedTo']})")
        # the current resourceVersion still works
        events, _ = await self.watch_lines(MR.format(ns=n), {"watch": "1", "resourceVersion": c["resourceVersion"],
                                                              "timeoutSeconds": "0.5"})
        self.assertEqual(events, [])

# ---------------------------------------------------------------------------
class TestFaults(ApiTest):
    async def asyncTearDown(self):
        await self.ok("DELETE", "/_test/faults")
        await super().asyncTearDown()

    async def test_500_then_success_with_request_log(self):
        n = ns()
        path = CM.format(ns=n)
        await self.ok("POST", "/_test/faults", {"faults": [
            {"match": {"method": "GET", "path": "^" + path + "$"}, "status": 500, "times": 2}]})
        await self.ok("DELETE", "/_test/requests")
        codes = []
        for _ in range(3):
            code, js, _ = await self.req("GET", path)
            codes.append(code)
            if code == 500:
                self.assertStatus(js, 500, "InternalError")
        self.assertEqual(codes, [500, 500, 200])
        log = [e for e in (await self.ok("GET", "/_test/requests"))["requests"] if e["path"] == path]
        self.assertEqual([e["status"] for e in log], [500, 500, 200])
        self.assertEqual((await self.ok("GET", "/_test/faults"))["faults"], [])

    async def test_429_retry_after_and_delay(self):
        n = ns()
        await self.ok("POST", "/_test/faults", {"faults": [
            {"match": {"path": "/configmaps$", "method": "POST"}, "status": 429, "retryAfter": 2},
            {"match": {"path": "/secrets$"}, "delay": 0.3}]})
        code, js, h = await self.req("POST", CM.format(ns=n), {"metadata": {"name": "r"}})
        self.assertEqual(code, 429)
        self.assertEqual(h["Retry-After"], "2")
        self.assertStatus(js, 429, "TooManyRequests")
        self.assertEqual(js["details"]["retryAfterSeconds"], 2)
        await self.ok("POST", CM.format(ns=n), {"metadata": {"name": "r"}}, expect=201)
        t0 = time.monotonic()
        await self.ok("GET", SECRETS.format(ns=n))
        self.assertGreaterEqual(time.monotonic() - t0, 0.29)

    async def test_drop_watch_after_events_and_error_gone(self):
        n = ns()
        for i in range(4):
            await self.ok("POST", CM.format(ns=n), {"metadata": {"name": f"d{i}"}}, expect=201)
        await self.ok("POST", "/_test/faults", {"faults": [
            {"match": {"path": f"/namespaces/{n}/configmaps", "watch": True}, "dropWatchAfterEvents": 2}]})
        # a non-watch request does not consume the watch fault
        await self.ok("GET", CM.format(ns=n))
        events, err = await self.watch_lines(CM.format(ns=n), {"watch": "1", "timeoutSeconds": "5"})
        self.assertEqual(len(events), 2)
        self.assertIsInstance(err, aiohttp.ClientPayloadError)
        events, err = await self.watch_lines(CM.format(ns=n), {"watch": "1", "timeoutSeconds": "0.5"})
        self.assertEqual(len(events), 4)
        self.assertIsNone(err)
        await self.ok("POST", "/_test/faults", {"faults": [
            {"match": {"path": f"/namespaces/{n}/configmaps", "watch": True}, "watchErrorGone": True}]})
        events, err = await self.watch_lines(CM.format(ns=n), {"watch": "1", "resourceVersion": "1000"})
        self.assertEqual([(e["type"], e["object"]["code"]) for e in events], [("ERROR", 410)])
        await self.ok("POST", "/_test/faults", {"faults": [
            {"match": {"path": f"/namespaces/{n}/configmaps", "watch": True}, "dropWatchAfterSeconds": 0.3}]})
        t0 = time.monotonic()
        current = (await self.ok("GET", CM.format(ns=n)))["metadata"]["resourceVersion"]
        events, err = await self.watch_lines(CM.format(ns=n), {"watch": "1", "resourceVersion": current,
                                                                "timeoutSeconds": "5"})
        self.assertLess(time.monotonic() - t0, 2)
        self.assertIsInstance(err, aiohttp.ClientPayloadError)


    async def test_swallowed_watch_events_are_lost_without_ending_the_stream(self):
        n = ns()
        await self.ok("POST", "/_test/faults", {"faults": [
            {"match": {"path": f"/namespaces/{n}/configmaps", "watch": True},
             "swallowWatchEvents": 1}]})
        got = []

        async def watcher():
            ev, err = await self.watch_lines(CM.format(ns=n), {"watch": "1", "timeoutSeconds": "3"},
                                             max_events=2)
            got.extend(ev)
            self.assertIsNone(err)
        t = asyncio.ensure_future(watcher())
        await self.wait_for_watch(n)
        for i in range(3):
            await self.ok("POST", CM.format(ns=n), {"metadata": {"name": f"s{i}"}}, expect=201)
        await t
        self.assertEqual([e["object"]["metadata"]["name"] for e in got], ["s1", "s2"])

    async def wait_for_watch(self, namespace):
        for _ in range(100):
            st = await self.ok("GET", "/_test/state")
            if any(w["namespace"] == namespace for w in st["watches"]):
                return
            await asyncio.sleep(0.02)
        self.fail("watch did not start")


# ---------------------------------------------------------------------------
# ---------------------------------------------------------------------------
class TestExec(ApiTest):
    async def asyncSetUp(self):
        await super().asyncSetUp()
        self.ns = ns()
        await self.ok("POST", SECRETS.format(ns=self.ns), {"metadata": {"name": "db"},
                                                           "stringData": {"password": "s3cr3t!"}}, expect=201)
        await self.ok("POST", PODS.format(ns=self.ns), {
            "metadata": {"name": "app"},
            "spec": {"containers": [
                {"name": "app", "image": "example/app:1", "env": [
                    {"name": "PLAIN", "value": "plain-value"},
                    {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}]},
                {"name": "side", "image": "example/side:1"}]}}, expect=201)

    async def tearDownExecProtocols(self):
        await self.ok("POST", "/_test/exec-protocols", {"protocols": ["v5.channel.k8s.io", "v4.channel.k8s.io"]})

    async def run_exec(self, command, protocols=("v5.channel.k8s.io", "v4.channel.k8s.io"),
                       stdin=None, container="app", pod="app", close_stdin=True):
        params = [("command", c) for c in command] + [("stdout", "true"), ("stderr", "true")]
        if container:
            params.append(("container", container))
        if stdin is not None:
            params.append(("stdin", "true"))
        url = self.url + PODS.format(ns=self.ns) + f"/{pod}/exec"
        out, err, status, frames = bytearray(), bytearray(), None, []
        async with self.session.ws_connect(url, params=params, protocols=protocols, ssl=self.ssl,
                                           headers={"Authorization": f"Bearer {self.token}"},
                                           max_msg_size=0) as ws:
            proto = ws.protocol
            if stdin is not None:
                await ws.send_bytes(b"\x00" + stdin)
                if close_stdin and proto == "v5.channel.k8s.io":
                    await ws.send_bytes(bytes([255, 0]))
            async for msg in ws:
                self.assertEqual(msg.type, aiohttp.WSMsgType.BINARY)
                ch, data = msg.data[0], msg.data[1:]
                frames.append((ch, len(data)))
                self.assertLessEqual(len(data), 32 * 1024)
                if ch == 1:
                    out += data
                elif ch == 2:
                    err += data
                elif ch == 3 and data:
                    status = json.loads(data)
            close_code = ws.close_code
        return proto, bytes(out), bytes(err), status, frames, close_code

    async def failed_handshake(self, command, protocols=("v5.channel.k8s.io", "v4.channel.k8s.io"),
                               container="app", pod="app"):
        """A WebSocket upgrade request that is expected to be refused: (status, Status body)."""
        params = [("command", c) for c in command] + [("stdout", "true")]
        if container:
            params.append(("container", container))
        headers = {"Authorization": f"Bearer {self.token}", "Connection": "Upgrade",
                   "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
                   "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
                   "Sec-WebSocket-Protocol": ", ".join(protocols)}
        async with self.session.get(self.url + PODS.format(ns=self.ns) + f"/{pod}/exec", params=params,
                                    headers=headers, ssl=self.ssl) as r:
            self.assertNotEqual(r.status, 101)
            body = await r.read()
            return r.status, (json.loads(body) if body else None)

    async def test_exec_v5_streams_exit_codes_binary_env_stdin(self):
        script = "import sys; sys.stdout.write('out'); sys.stdout.flush(); sys.stderr.write('err'); sys.exit(3)"
        proto, out, err, status, frames, close_code = await self.run_exec([PY, "-c", script])
        self.assertEqual(proto, "v5.channel.k8s.io")
        self.assertEqual((out, err), (b"out", b"err"))
        self.assertEqual(frames[0], (1, 0))     # the empty "connection ready" frame
        self.assertEqual(close_code, 1000)
        self.assertEqual(status, {"metadata": {}, "status": "Failure",
                                  "message": f"command terminated with non-zero exit code: error "
                                             f"executing command [{PY} -c {script}], exit code 3",
                                  "reason": "NonZeroExitCode",
                                  "details": {"causes": [{"reason": "ExitCode", "message": "3"}]}})
        _, out, _, status, _, _ = await self.run_exec(
            [PY, "-c", "import sys; sys.stdout.buffer.write(bytes(range(256)) * 3)"])
        self.assertEqual(out, bytes(range(256)) * 3)
        self.assertEqual(status, {"metadata": {}, "status": "Success"})
        _, out, _, status, frames, _ = await self.run_exec(
            [PY, "-c", "import sys; sys.stdout.buffer.write(b'x' * (2 * 1024 * 1024))"])
        self.assertEqual(len(out), 2 * 1024 * 1024)
        self.assertEqual(status["status"], "Success")
        _, out, _, _, _, _ = await self.run_exec(
            [PY, "-c", "import os; print(os.environ['PLAIN'], os.environ['DB_PASSWORD'], os.getcwd())"])
        self.assertEqual(out.decode().split(), ["plain-value", "s3cr3t!", os.path.realpath(Fixture.tmp)])
        _, out, _, status, _, _ = await self.run_exec(
            [PY, "-c", "import sys; d = sys.stdin.buffer.read(); sys.stdout.buffer.write(d[::-1])"],
            stdin=b"hello\x00world")
        self.assertEqual(out, b"dlrow\x00olleh")
        self.assertEqual(status["status"], "Success")

    async def test_exec_v4_and_negotiation(self):
        await self.ok("POST", "/_test/exec-protocols", {"protocols": ["v4.channel.k8s.io"]})
        try:
            proto, out, err, status, _, _ = await self.run_exec(
                ["/bin/sh", "-c", "echo to-out; echo to-err >&2; exit 3"])
            self.assertEqual(proto, "v4.channel.k8s.io")
            self.assertEqual((out, err), (b"to-out\n", b"to-err\n"))
            self.assertEqual(status["details"]["causes"], [{"reason": "ExitCode", "message": "3"}])
            # v4 has no half-close: stdin is delivered, EOF only when the socket closes
            url = self.url + PODS.format(ns=self.ns) + "/app/exec"
            params = [("command", "/bin/sh"), ("command", "-c"), ("command", "head -c 5"),
                      ("stdin", "true"), ("stdout", "true"), ("container", "app")]
            async with self.session.ws_connect(url, params=params, protocols=("v4.channel.k8s.io",),
                                               ssl=self.ssl, headers={"Authorization": f"Bearer {self.token}"}) as ws:
                await ws.send_bytes(b"\x00abcde")
                got = b""
                async for msg in ws:
                    if msg.data[0] == 1:
                        got += msg.data[1:]
                    if msg.data[0] == 3 and len(msg.data) > 1:
                        self.assertEqual(json.loads(msg.data[1:])["status"], "Success")
                self.assertEqual(got, b"abcde")
            code, js = await self.failed_handshake(["true"], protocols=("v5.channel.k8s.io",))
            self.assertEqual(code, 403)
            self.assertIsNone(js)   # like x/net/websocket: a bare 403
        finally:
            await self.tearDownExecProtocols()

    async def test_exec_errors(self):
        _, _, _, status, _, _ = await self.run_exec(["definitely-not-a-command-xyz"])
        self.assertEqual(status["status"], "Failure")
        self.assertIn('exec: "definitely-not-a-command-xyz": executable file not found in $PATH', status["message"])
        self.assertEqual((status["reason"], status["code"]), ("InternalError", 500))
        self.assertNotIn("ExitCode", [c.get("reason") for c in status["details"]["causes"]])
        code, js = await self.failed_handshake(["true"], container="nope")
        self.assertEqual(code, 400)
        self.assertEqual(js["message"], "container nope is not valid for pod app")
        code, js = await self.failed_handshake(["true"], container=None)
        self.assertEqual(code, 400)
        self.assertEqual(js["message"], "a container name must be specified for pod app, choose one of: [app side]")
        code, js = await self.failed_handshake(["true"], pod="ghost")
        self.assertEqual(code, 404)
        self.assertEqual(js["message"], 'pods "ghost" not found')
        code, js = await self.failed_handshake([])
        self.assertEqual(code, 400)
        code, js, _ = await self.req("GET", PODS.format(ns=self.ns) + "/app/exec",
                                     params={"command": "true", "container": "app", "stdout": "true"})
        self.assertEqual(code, 400)
        self.assertEqual(js["message"], "Upgrade request required")
        # RBAC: get + create on pods/exec
        await self.ok("POST", "/_test/tokens", {"token": "exec-get-only", "user": "viewer", "rules": [
            {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["get"]}]})
        code, js, _ = await self.req("GET", PODS.format(ns=self.ns) + "/app/exec", token="exec-get-only",
                                     params={"command": "true", "container": "app", "stdout": "true"})
        self.assertEqual(code, 403)
        self.assertIn('cannot create resource "pods/exec"', js["message"])

    async def test_client_disconnect_kills_process(self):
        marker = os.path.join(Fixture.tmp, "killed-" + uuid.uuid4().hex)
        url = self.url + PODS.format(ns=self.ns) + "/app/exec"
        script = f"import time,sys; print('up', flush=True); time.sleep(5); open({marker!r},'w').write('x')"
        params = [("command", PY), ("command", "-c"), ("command", script), ("stdout", "true"),
                  ("container", "app")]
        async with self.session.ws_connect(url, params=params, protocols=("v5.channel.k8s.io",),
                                           ssl=self.ssl, headers={"Authorization": f"Bearer {self.token}"}) as ws:
            async for msg in ws:
                if msg.data[0] == 1 and msg.data[1:]:
                    break
        for _ in range(50):
            st = await self.ok("GET", "/_test/state")
            if st["execs"] == 0:
                break
            await asyncio.sleep(0.05)
        self.assertEqual(st["execs"], 0)
        self.assertFalse(os.path.exists(marker))


# ---------------------------------------------------------------------------
class TestMoreSemantics(ApiTest):
    async def test_all_namespaces_list_order_and_paging(self):
        base = ns()
        for n in (base, base + "-b"):
            for name in ("x", "y"):
                await self.ok("POST", CM.format(ns=n), {"metadata": {"name": name, "labels": {"run": base}}},
                              expect=201)
        js = await self.ok("GET", "/api/v1/configmaps", params={"labelSelector": f"run={base}"})
        order = [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in js["items"]]
        # etcd key order: "<ns>-b/..." sorts before "<ns>/..." because '-' < '/'
        self.assertEqual(order, [(base + "-b", "x"), (base + "-b", "y"), (base, "x"), (base, "y")])
        paged, tok = [], None
        while True:
            params = {"labelSelector": f"run={base}", "limit": "1"}
            if tok:
                params["continue"] = tok
            page = await self.ok("GET", "/api/v1/configmaps", params=params)
            paged += [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in page["items"]]
            tok = page["metadata"].get("continue")
            if not tok:
                break
        self.assertEqual(paged, order)

    async def test_finalizers_delay_deletion(self):
        n = ns()
        c = await self.ok("POST", CM.format(ns=n), {"metadata": {"name": "f", "finalizers": ["example.com/hold"]}},
                          expect=201)
        rv = c["metadata"]["resourceVersion"]
        code, js, _ = await self.req("DELETE", CM.format(ns=n) + "/f")
        self.assertEqual(code, 202)
        self.assertIn("deletionTimestamp", js["metadata"])
        await self.ok("GET", CM.format(ns=n) + "/f")
        code, js, _ = await self.req("PATCH", CM.format(ns=n) + "/f",
                                     {"metadata": {"finalizers": ["example.com/hold", "example.com/more"]}},
                                     ctype="application/merge-patch+json")
        self.assertEqual(code, 422)
        await self.ok("PATCH", CM.format(ns=n) + "/f", {"metadata": {"finalizers": None}},
                      ctype="application/merge-patch+json")
        code, _, _ = await self.req("GET", CM.format(ns=n) + "/f")
        self.assertEqual(code, 404)
        events, _ = await self.watch_lines(CM.format(ns=n), {"watch": "1", "resourceVersion": rv,
                                                              "timeoutSeconds": "0.5"})
        self.assertEqual([e["type"] for e in events], ["MODIFIED", "DELETED"])
        self.assertNotIn("finalizers", events[1]["object"]["metadata"])

    async def test_watch_single_object_by_name(self):
        n = ns()
        for name in ("one", "two"):
            await self.ok("POST", CM.format(ns=n), {"metadata": {"name": name}}, expect=201)
        events, _ = await self.watch_lines(CM.format(ns=n) + "/two", {"watch": "true", "timeoutSeconds": "0.5"})
        self.assertEqual([e["object"]["metadata"]["name"] for e in events], ["two"])
        events, _ = await self.watch_lines(f"/api/v1/watch/namespaces/{n}/configmaps", {"timeoutSeconds": "0.5"})
        self.assertEqual(len(events), 2)

    async def test_extra_client_certificate_user(self):
        res = await self.ok("POST", "/_test/client-certs", {"user": "cert-user", "rules": [
            {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}]}, expect=201)
        ctx = ssl.create_default_context(cafile=self.info["ca"])
        ctx.load_cert_chain(res["clientCert"], res["clientKey"])
        async with self.session.get(self.url + CM.format(ns="default"), ssl=ctx) as r:
            self.assertEqual(r.status, 200)
        async with self.session.get(self.url + SECRETS.format(ns="default"), ssl=ctx) as r:
            self.assertEqual(r.status, 403)
            self.assertIn('User "cert-user" cannot list resource "secrets"', (await r.json())["message"])


class TestProcessLifecycle(unittest.TestCase):
    def test_sigterm_with_open_watch_and_state_reuse(self):
        d = tempfile.mkdtemp(prefix="kas-life-")
        try:
            proc, info = start_server(d)

            async def open_watch_then_stop():
                ctx = ssl.create_default_context(cafile=info["ca"])
                async with aiohttp.ClientSession() as s:
                    async with s.get(info["url"] + CM.format(ns="default"), ssl=ctx,
                                     params={"watch": "1"},
                                     headers={"Authorization": "Bearer " + info["token"]}) as r:
                        self.assertEqual(r.status, 200)
                        t0 = time.monotonic()
                        proc.send_signal(signal.SIGTERM)
                        try:
                            await r.content.read()
                        except aiohttp.ClientError:
                            pass
                        elapsed = time.monotonic() - t0
                await asyncio.sleep(0.05)
                return elapsed
            elapsed = asyncio.run(open_watch_then_stop())
            self.assertEqual(proc.wait(10), 0)
            proc.stdout.close()
            self.assertLess(elapsed, 5)
            with open(info["ca"]) as f:
                ca1 = f.read()
            proc2, info2 = start_server(d)
            proc2.send_signal(signal.SIGINT)
            self.assertEqual(proc2.wait(10), 0)
            proc2.stdout.close()
            self.assertEqual(info2["token"], info["token"])
            with open(info2["ca"]) as f:
                self.assertEqual(f.read(), ca1)
        finally:
            shutil.rmtree(d, ignore_errors=True)

# ---------------------------------------------------------------------------
class TestMisc(ApiTest):
    async def test_events_leases_and_reset(self):
        n = ns()
        code, js, _ = await self.req("POST", f"/apis/events.k8s.io/v1/namespaces/{n}/events",
                                     {"metadata": {"name": "e1"}, "note": "hi", "type": "Normal"})
        self.assertEqual(code, 422)
        fields = {c["field"] for c in js["details"]["causes"]}
        self.assertIn("eventTime", fields)
        ev = {"metadata": {"generateName": "run-"}, "eventTime": "2024-01-01T00:00:00.000000Z",
              "reportingController": "alembic.sidecar.dev/controller", "reportingInstance": "pod-1",
              "action": "Generate", "reason": "RevisionGenerated", "note": "ok", "type": "Normal",
              "regarding": {"kind": "MigrationRun", "namespace": n, "name": "x"}}
        await self.ok("POST", f"/apis/events.k8s.io/v1/namespaces/{n}/events", ev, expect=201)
        lease = {"metadata": {"name": "leader"}, "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15}}
        l1 = await self.ok("POST", f"/apis/coordination.k8s.io/v1/namespaces/{n}/leases", lease, expect=201)
        l1["spec"]["holderIdentity"] = "b"
        await self.ok("PUT", f"/apis/coordination.k8s.io/v1/namespaces/{n}/leases/leader", l1)
        code, _, _ = await self.req("PUT", f"/apis/coordination.k8s.io/v1/namespaces/{n}/leases/leader", l1)
        self.assertEqual(code, 409)
        disc = await self.ok("GET", "/apis/alembic.sidecar.dev/v1alpha1")
        self.assertIn("migrationruns/status", [r["name"] for r in disc["resources"]])

    async def test_crd_created_through_the_api_is_served(self):
        n = ns()
        crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
               "metadata": {"name": "gadgets.example.test.dev"},
               "spec": {"group": "example.test.dev", "scope": "Namespaced",
                        "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
                        "versions": [{"name": "v1", "served": True, "storage": True,
                                      "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                                          "spec": {"type": "object", "properties": {
                                              "size": {"type": "integer", "maximum": 3}}},
                                          "status": {"type": "object",
                                                     "x-kubernetes-preserve-unknown-fields": True}}}}}]}}
        c = await self.ok("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd, expect=201)
        self.assertIn("Established", [x["type"] for x in c["status"]["conditions"]])
        path = f"/apis/example.test.dev/v1/namespaces/{n}/gadgets"
        g = await self.ok("POST", path, {"metadata": {"name": "g"}, "spec": {"size": 2}, "status": {"x": 1}},
                          expect=201)
        self.assertEqual(g["status"], {"x": 1})   # no status subresource: status is ordinary data
        # Served schemaless: the schema's maximum is the real apiserver's to enforce.
        await self.ok("POST", path, {"metadata": {"name": "h"}, "spec": {"size": 4}}, expect=201)
        code, _, _ = await self.req("GET", path + "/g/status")
        self.assertEqual(code, 404)

    async def test_reset_keeps_tokens(self):
        # runs last in this class (alphabetical); uses its own namespace anyway
        n = ns()
        await self.ok("POST", "/_test/tokens", {"token": "kept-token", "user": "k", "rules": [
            {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]})
        await self.ok("POST", CM.format(ns=n), {"metadata": {"name": "gone"}}, expect=201)
        await self.ok("POST", "/_test/reset")
        code, _, _ = await self.req("GET", CM.format(ns=n) + "/gone", token="kept-token")
        self.assertEqual(code, 404)
        # the CRD loaded from --crd is still served
        await self.ok("GET", WG.format(ns=n))



# ---------------------------------------------------------------------------
EV_V1 = "/apis/events.k8s.io/v1/namespaces/{ns}/events"
EV_CORE = "/api/v1/namespaces/{ns}/events"


def new_event(name, regarding, reason="Claimed"):
    """An events.k8s.io/v1 Event as the sidecar writes them."""
    return {"metadata": {"name": name}, "eventTime": "2024-01-01T00:00:00.000001Z",
            "reportingController": "alembic-sidecar", "reportingInstance": "backend-0",
            "action": "Claim", "reason": reason, "note": f"{reason} by backend-0",
            "type": "Normal", "regarding": regarding}


class TestEventsTwoViews(ApiTest):
    """core v1 and events.k8s.io/v1 Events are one stored object seen through two versions."""

    async def test_created_as_events_v1_read_as_core_and_found_by_describe(self):
        n = ns()
        run = await self.mr(n, "run")
        ref = {"apiVersion": "alembic.sidecar.dev/v1alpha1", "kind": "MigrationRun", "namespace": n,
               "name": "run", "uid": run["metadata"]["uid"]}
        created = await self.ok("POST", EV_V1.format(ns=n), new_event("run.1", ref), expect=201)
        self.assertEqual(created["deprecatedSource"], {})
        self.assertIsNone(created["deprecatedFirstTimestamp"])
        self.assertNotIn("deprecatedCount", created)
        await self.ok("POST", EV_V1.format(ns=n), new_event(
            "other.1", {**ref, "name": "other", "uid": "x"}, "Connected"), expect=201)
        core = await self.ok("GET", EV_CORE.format(ns=n) + "/run.1")
        self.assertEqual((core["kind"], core["apiVersion"]), ("Event", "v1"))
        self.assertEqual(core["involvedObject"], ref)
        self.assertEqual(core["message"], "Claimed by backend-0")
        self.assertEqual(core["reportingComponent"], "alembic-sidecar")
        self.assertEqual(core["reportingInstance"], "backend-0")
        self.assertEqual(core["source"], {})
        self.assertIsNone(core["firstTimestamp"])
        self.assertIsNone(core["lastTimestamp"])
        self.assertEqual(core["eventTime"], "2024-01-01T00:00:00.000001Z")
        self.assertEqual((core["action"], core["type"], core["reason"]), ("Claim", "Normal", "Claimed"))
        self.assertNotIn("note", core)
        self.assertEqual(core["metadata"]["resourceVersion"], created["metadata"]["resourceVersion"])
        self.assertEqual(core["metadata"]["uid"], created["metadata"]["uid"])
        # the request kubectl describe (1.35) makes for a custom resource
        sel = (f"involvedObject.name=run,involvedObject.namespace={n},"
               f"involvedObject.kind=MigrationRun,involvedObject.uid={run['metadata']['uid']}")
        found = await self.ok("GET", EV_CORE.format(ns=n), params={"fieldSelector": sel, "limit": "500"})
        self.assertEqual([e["metadata"]["name"] for e in found["items"]], ["run.1"])
        self.assertNotIn("kind", found["items"][0])   # typed list
        other_uid = sel.replace(run["metadata"]["uid"], "another-uid")
        found = await self.ok("GET", EV_CORE.format(ns=n), params={"fieldSelector": other_uid})
        self.assertEqual(found["items"], [])
        # "source" selects source.component, else the reporting controller
        found = await self.ok("GET", EV_CORE.format(ns=n), params={"fieldSelector": "source=alembic-sidecar"})
        self.assertEqual(len(found["items"]), 2)
        # events.k8s.io spells the labels its own way and refuses the core spelling
        found = await self.ok("GET", EV_V1.format(ns=n),
                              params={"fieldSelector": "regarding.name=run,reportingController=alembic-sidecar"})
        self.assertEqual([e["metadata"]["name"] for e in found["items"]], ["run.1"])
        code, js, _ = await self.req("GET", EV_V1.format(ns=n), params={"fieldSelector": "involvedObject.name=run"})
        self.assertEqual(code, 400)
        self.assertEqual(js["message"], "field label not supported: involvedObject.name")

    async def test_created_as_core_read_as_events_v1_watched_and_deleted_once(self):
        n = ns()
        rv = (await self.ok("GET", EV_V1.format(ns=n)))["metadata"]["resourceVersion"]
        body = {"metadata": {"name": "pod.1"}, "involvedObject": {"kind": "Pod", "name": "p", "namespace": n},
                "reason": "Pulled", "message": "image pulled", "type": "Normal", "count": 3,
                "source": {"component": "kubelet", "host": "node-1"},
                "firstTimestamp": "2024-01-01T00:00:00Z", "lastTimestamp": "2024-01-01T00:01:00Z",
                "unknownField": 1}
        created = await self.ok("POST", EV_CORE.format(ns=n), body, expect=201)
        self.assertNotIn("unknownField", created)
        self.assertEqual((created["reportingComponent"], created["reportingInstance"]), ("", ""))
        self.assertIsNone(created["eventTime"])
        v1 = await self.ok("GET", EV_V1.format(ns=n) + "/pod.1")
        self.assertEqual((v1["kind"], v1["apiVersion"]), ("Event", "events.k8s.io/v1"))
        self.assertEqual(v1["regarding"], body["involvedObject"])
        self.assertEqual(v1["note"], "image pulled")
        self.assertEqual(v1["deprecatedSource"], {"component": "kubelet", "host": "node-1"})
        self.assertEqual(v1["deprecatedCount"], 3)
        self.assertEqual(v1["deprecatedFirstTimestamp"], "2024-01-01T00:00:00Z")
        self.assertEqual(v1["deprecatedLastTimestamp"], "2024-01-01T00:01:00Z")
        self.assertIsNone(v1["eventTime"])
        for k in ("involvedObject", "message", "source", "count", "reportingComponent"):
            self.assertNotIn(k, v1)
        # one store: a merge patch through events.k8s.io shows in core
        await self.ok("PATCH", EV_V1.format(ns=n) + "/pod.1", {"note": "pulled again"},
                      ctype="application/merge-patch+json")
        self.assertEqual((await self.ok("GET", EV_CORE.format(ns=n) + "/pod.1"))["message"], "pulled again")
        found = await self.ok("GET", EV_CORE.format(ns=n), params={"fieldSelector": "source=kubelet"})
        self.assertEqual(len(found["items"]), 1)
        await self.ok("DELETE", EV_CORE.format(ns=n) + "/pod.1")
        code, _, _ = await self.req("GET", EV_V1.format(ns=n) + "/pod.1")
        self.assertEqual(code, 404)
        events, _ = await self.watch_lines(EV_V1.format(ns=n), {"watch": "1", "resourceVersion": rv,
                                                                "timeoutSeconds": "1"})
        self.assertEqual([e["type"] for e in events], ["ADDED", "MODIFIED", "DELETED"])
        self.assertEqual(events[0]["object"]["note"], "image pulled")
        self.assertEqual(events[1]["object"]["note"], "pulled again")
        self.assertEqual(events[0]["object"]["apiVersion"], "events.k8s.io/v1")


if __name__ == "__main__":
    unittest.main()
