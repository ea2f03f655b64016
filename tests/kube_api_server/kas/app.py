"""The HTTP side: routing, authentication/authorization, CRUD, list, watch, control API."""
import asyncio
import base64
import collections
import copy
import datetime
import json
import logging
import random
import sys
import time
import traceback
import uuid

import yaml
from aiohttp import web
from multidict import CIMultiDict

from . import patch as jpatch
from . import status as st
from . import validation as val
from .auth import Auth
from .faults import Faults
from .resources import Registry
from .selection import FieldSelector, LabelSelector
from .store import Store, Watcher, storage_key

log = logging.getLogger("kube-api-server")

MAX_BODY = 3 * 1024 * 1024
OPEN_PATHS = {"/healthz", "/readyz", "/livez", "/version", "/healthz/", "/readyz/", "/livez/"}
GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
META_ORDER = ["name", "generateName", "namespace", "selfLink", "uid", "resourceVersion",
              "generation", "creationTimestamp", "deletionTimestamp",
              "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences",
              "finalizers", "managedFields"]
CONTINUE_EXPIRED = (
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter, or use the continue token in this response "
    "to retrieve the remainder of the results. Continuing with the provided token results in an "
    "inconsistent list - objects that were created, modified, or deleted between the time the "
    "first chunk was returned and now may show up in the list.")
PATCH_TYPES = ["application/json-patch+json", "application/merge-patch+json",
               "application/apply-patch+yaml"]


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def dumps(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False) + "\n"


def json_response(obj, status=200, headers=None):
    return web.Response(body=dumps(obj).encode(), status=status, headers=headers,
                        content_type="application/json")


def error_response(err):
    if err.empty_body:
        return web.Response(body=b"", status=err.code, headers=err.headers or None)
    return web.Response(body=dumps(err.status()).encode(), status=err.code,
                        headers=err.headers or None, content_type="application/json")


def order_meta(md):
    out = {k: md[k] for k in META_ORDER if k in md}
    for k, v in md.items():
        if k not in out:
            out[k] = v
    return out


def truthy(v):
    return v is not None and v.lower() in ("1", "true", "yes")


def _ordered_obj(res, version, obj):
    out = {"kind": res.kind, "apiVersion": res.api_version(version)}
    for k, v in obj.items():
        if k not in ("kind", "apiVersion"):
            out[k] = v
    return out


def crd_status(crd, t):
    return {"acceptedNames": (crd.get("spec") or {}).get("names") or {},
            "storedVersions": t.versions[:1],
            "conditions": [
                {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
                 "message": "no conflicts found", "lastTransitionTime": now_rfc3339()},
                {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
                 "message": "the initial names have been accepted",
                 "lastTransitionTime": now_rfc3339()}]}


def _drop_nulls(v):
    if isinstance(v, dict):
        for k in [k for k, x in v.items() if x is None]:
            del v[k]
        for x in v.values():
            _drop_nulls(x)
    elif isinstance(v, list):
        for x in v:
            _drop_nulls(x)


class Ctx:
    """Everything a resource handler needs about one request."""

    def __init__(self, res, version, ns, name, sub, user, verb):
        self.res = res
        self.version = version
        self.ns = ns
        self.name = name
        self.sub = sub
        self.user = user
        self.verb = verb


class ApiServer:
    def __init__(self, args, admin_token, state_dir):
        self.args = args
        self.state_dir = state_dir
        self.registry = Registry()
        self.store = Store(args.compaction_window)
        self.auth = Auth(admin_token)
        self.faults = Faults()
        self.requests = collections.deque(maxlen=20000)
        self.exec_protocols = ["v5.channel.k8s.io", "v4.channel.k8s.io"]
        self.exec_root = args.exec_root
        self.bookmark_interval = args.bookmark_interval
        self.future_rv_wait = getattr(args, "future_rv_wait", 3.0)
        self.processes = set()
        self.port = None
        self.host = args.host
        self.stopping = False
        from .execws import ExecHandler
        self.exec_handler = ExecHandler(self)

    # ------------------------------------------------------------------ app
    def make_app(self):
        app = web.Application(client_max_size=MAX_BODY, middlewares=[self.middleware])
        app.router.add_route("*", "/{tail:.*}", self.dispatch)
        return app

    def add_crd(self, crd, store_object=True):
        t = self.registry.register_crd(crd)
        if store_object:
            name = crd.get("metadata", {}).get("name") or f"{t.plural}.{t.group}"
            key = ("apiextensions.k8s.io", "customresourcedefinitions")
            obj = {k: copy.deepcopy(v) for k, v in crd.items() if k not in ("kind", "apiVersion")}
            obj.setdefault("metadata", {})["name"] = name
            old = self.store.get(key, "", name)
            md = obj["metadata"]
            md["uid"] = old["metadata"]["uid"] if old else str(uuid.uuid4())
            md["creationTimestamp"] = old["metadata"]["creationTimestamp"] if old else now_rfc3339()
            md["generation"] = (old["metadata"].get("generation", 1) + 1) if old else 1
            md["resourceVersion"] = str(self.store.next_rv())
            obj["metadata"] = order_meta(md)
            obj["status"] = crd_status(crd, t)
            self.store.put(key, obj, "MODIFIED" if old else "ADDED", old)
        return t

    # ----------------------------------------------------------- middleware
    @web.middleware
    async def middleware(self, request, handler):
        path = request.path
        control = path.startswith("/_test/") or path == "/_test"
        entry = None
        if not control and path not in OPEN_PATHS:
            entry = {"method": request.method, "path": path,
                     "query": {k: request.query.getall(k) for k in request.query.keys()},
                     "contentType": request.headers.get("Content-Type"),
                     "user": None, "status": None, "time": time.time()}
            self.requests.append(entry)
        request["entry"] = entry
        try:
            user = None
            if path not in OPEN_PATHS:
                user = self.authenticate(request)
                if entry is not None:
                    entry["user"] = user.name
            request["user"] = user
            if control:
                if not user.is_admin:
                    raise st.ApiError(403, "Forbidden",
                                      f'User "{user.name}" cannot use the test control API')
                return await handler(request)
            request["fault"] = None
            if entry is not None:
                is_watch = truthy(request.query.get("watch")) or "/watch/" in path
                rule = self.faults.match(request.method, path, request.query_string, is_watch)
                if rule is not None:
                    if rule.get("delay"):
                        await asyncio.sleep(float(rule["delay"]))
                    if rule.get("status"):
                        raise self.fault_error(rule)
                    request["fault"] = rule
            resp = await handler(request)
            if entry is not None and entry["status"] is None:
                entry["status"] = resp.status
            return resp
        except st.ApiError as e:
            if entry is not None:
                entry["status"] = e.code
            return error_response(e)
        except web.HTTPRequestEntityTooLarge:
            e = st.too_large(MAX_BODY)
            if entry is not None:
                entry["status"] = e.code
            return error_response(e)
        except (asyncio.CancelledError, ConnectionResetError):
            raise
        except Exception as e:   # noqa: BLE001 - every failure becomes a Status
            traceback.print_exc(file=sys.stderr)
            err = st.internal(f"{type(e).__name__}: {e}")
            if entry is not None:
                entry["status"] = 500
            return error_response(err)

    def authenticate(self, request):
        peer = None
        ssl_obj = request.transport.get_extra_info("ssl_object") if request.transport else None
        if ssl_obj is not None:
            try:
                peer = ssl_obj.getpeercert()
            except ValueError:
                peer = None
        user = self.auth.from_cert(peer)
        if user is not None:
            return user
        user, had_header = self.auth.from_bearer(request.headers.get("Authorization"))
        if user is None:
            raise st.unauthorized()
        return user

    @staticmethod
    def fault_error(rule):
        code = int(rule["status"])
        reason = rule.get("reason") or {
            400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
            409: "Conflict", 410: "Expired", 422: "Invalid", 429: "TooManyRequests",
            500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout"}.get(code, "")
        message = rule.get("message") or {
            410: "too old resource version: injected fault",
            429: "Too many requests, please try again later.",
            500: "Internal error occurred: injected fault",
            503: "the server is currently unable to handle the request",
            504: "the server was unable to return a response in the time allotted"}.get(
                code, f"injected fault ({code})")
        details = None
        headers = {}
        if rule.get("retryAfter") is not None:
            ra = rule["retryAfter"]
            headers["Retry-After"] = str(int(ra) if float(ra).is_integer() else ra)
            details = {"retryAfterSeconds": int(float(ra))}
        return st.ApiError(code, reason, message, details, headers)

    # ------------------------------------------------------------- dispatch
    async def dispatch(self, request):
        path = request.path
        if path.rstrip("/") in ("/healthz", "/readyz", "/livez"):
            return web.Response(text="ok", content_type="text/plain")
        if path.rstrip("/") == "/version":
            return json_response({"major": "1", "minor": "30", "gitVersion": "v1.30.0-kube-api-server-test",
                                  "gitCommit": "0000000000000000000000000000000000000000",
                                  "gitTreeState": "clean", "buildDate": "2024-01-01T00:00:00Z",
                                  "goVersion": "go1.22.0", "compiler": "gc",
                                  "platform": "linux/amd64"})
        if path.startswith("/_test/"):
            return await self.control(request)
        parts = [p for p in path.split("/") if p]
        if not parts or parts[0] not in ("api", "apis"):
            raise st.not_found_path()
        if parts[0] == "api":
            group = ""
            if len(parts) == 1:
                return self.discovery_versions()
            version = parts[1]
            rest = parts[2:]
        else:
            if len(parts) == 1:
                return self.discovery_groups()
            group = parts[1]
            if len(parts) == 2:
                return self.discovery_group(group)
            version = parts[2]
            rest = parts[3:]
        if not rest:
            return self.discovery_resources(group, version)
        if group == "authorization.k8s.io" and version == "v1" and \
                rest == ["selfsubjectaccessreviews"]:
            return await self.self_subject_access_review(request)
        watch_prefix = False
        if rest[0] == "watch":
            watch_prefix = True
            rest = rest[1:]
        ns = None
        if len(rest) >= 3 and rest[0] == "namespaces" and not (
                group == "" and len(rest) == 3 and rest[2] in ("status", "finalize")):
            ns = rest[1]
            rest = rest[2:]
        if not rest or len(rest) > 3:
            raise st.not_found_path()
        plural = rest[0]
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        res = self.registry.lookup(group, version, plural)
        if res is None:
            raise st.not_found_path()
        if ns is not None and not res.namespaced:
            raise st.not_found_path()
        if ns is None and res.namespaced and name is not None:
            raise st.not_found_path()
        if sub is not None:
            if sub == "status" and res.status_sub:
                pass
            elif sub == "exec" and res.key == ("", "pods"):
                pass
            else:
                raise st.not_found_path()
        return await self.resource(request, res, version, ns, name, sub, watch_prefix)

    # ------------------------------------------------------------ discovery
    def discovery_versions(self):
        return json_response({"kind": "APIVersions", "versions": ["v1"],
                              "serverAddressByClientCIDRs": [
                                  {"clientCIDR": "0.0.0.0/0",
                                   "serverAddress": f"{self.host}:{self.port}"}]})

    def _group_entry(self, group, versions):
        return {"name": group,
                "versions": [{"groupVersion": f"{group}/{v}", "version": v} for v in versions],
                "preferredVersion": {"groupVersion": f"{group}/{versions[0]}", "version": versions[0]}}

    def discovery_groups(self):
        groups = [self._group_entry(g, vs) for g, vs in sorted(self.registry.groups().items()) if g]
        return json_response({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})

    def discovery_group(self, group):
        vs = self.registry.groups().get(group)
        if not vs or not group:
            raise st.not_found_path()
        e = self._group_entry(group, vs)
        return json_response({"kind": "APIGroup", "apiVersion": "v1", **e})

    def discovery_resources(self, group, version):
        resources = []
        for t in self.registry.types.values():
            if t.group != group or version not in t.versions:
                continue
            verbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
            r = {"name": t.plural, "singularName": t.singular, "namespaced": t.namespaced,
                 "kind": t.kind, "verbs": verbs}
            if t.short_names:
                r["shortNames"] = t.short_names
            if t.categories:
                r["categories"] = t.categories
            resources.append(r)
            if t.status_sub:
                resources.append({"name": f"{t.plural}/status", "singularName": "",
                                  "namespaced": t.namespaced, "kind": t.kind,
                                  "verbs": ["get", "patch", "update"]})
            if t.key == ("", "pods"):
                resources.append({"name": "pods/exec", "singularName": "", "namespaced": True,
                                  "kind": "PodExecOptions", "verbs": ["create", "get"]})
        if not resources:
            raise st.not_found_path()
        gv = f"{group}/{version}" if group else version
        return json_response({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
                              "resources": resources})

    # -------------------------------------------------------- access reviews
    async def self_subject_access_review(self, request):
        """POST selfsubjectaccessreviews: what the caller's own rules allow (any user may ask)."""
        if request.method != "POST":
            raise st.method_not_allowed(request.method)
        try:
            body = json.loads(await request.read() or b"{}")
        except ValueError:
            raise st.bad_request("the body is not JSON")
        spec = body.get("spec") if isinstance(body, dict) else None
        attrs = (spec or {}).get("resourceAttributes")
        if not isinstance(attrs, dict) or not attrs.get("verb"):
            raise st.ApiError(422, "Invalid",
                              'SelfSubjectAccessReview.authorization.k8s.io "" is invalid: '
                              'spec.resourceAttributes: Required value: exactly one of '
                              'nonResourceAttributes or resourceAttributes must be specified')
        user = request["user"]
        allowed = Auth.allowed(user, attrs.get("verb", ""), attrs.get("group", ""),
                               attrs.get("resource", ""), attrs.get("subresource") or None,
                               attrs.get("namespace", ""), attrs.get("name") or None)
        status = {"allowed": allowed}
        if allowed:
            status["reason"] = ("allowed by the test server's rules for user "
                                f'"{user.name}"')
        return json_response({"kind": "SelfSubjectAccessReview",
                              "apiVersion": "authorization.k8s.io/v1",
                              "metadata": {"creationTimestamp": None},
                              "spec": spec, "status": status}, 201)

    # ------------------------------------------------------------ resources
    def authorize(self, user, verb, res, sub, ns, name):
        if not Auth.allowed(user, verb, res.group, res.plural, sub, ns or "", name):
            raise st.forbidden(res.plural, res.group, name, user.name, verb, sub, ns)

    async def resource(self, request, res, version, ns, name, sub, watch_prefix):
        m = request.method
        q = request.query
        user = request["user"]
        is_watch = watch_prefix or truthy(q.get("watch"))
        if sub == "exec":
            if m == "GET":
                # a WebSocket upgrade is a GET; newer apiservers also require "create"
                self.authorize(user, "get", res, sub, ns, name)
                self.authorize(user, "create", res, sub, ns, name)
            elif m == "POST":
                self.authorize(user, "create", res, sub, ns, name)
            else:
                raise st.method_not_allowed(m)
            return await self.exec_handler.handle(request, ns, name)
        if m == "GET":
            verb = "watch" if is_watch else ("get" if name else "list")
        elif m == "POST":
            if name:
                raise st.method_not_allowed(m)
            verb = "create"
        elif m == "PUT":
            verb = "update"
        elif m == "PATCH":
            verb = "patch"
        elif m == "DELETE":
            verb = "delete" if name else "deletecollection"
        else:
            raise st.method_not_allowed(m)
        if verb in ("update", "patch") and not name:
            raise st.method_not_allowed(m)
        if sub == "status" and verb not in ("get", "update", "patch"):
            raise st.method_not_allowed(m)
        if verb == "create" and ns is None and res.namespaced:
            raise st.method_not_allowed(m)
        if verb == "deletecollection" and ns is None and res.namespaced:
            raise st.method_not_allowed(m)
        self.authorize(user, verb, res, sub, ns, name)
        ctx = Ctx(res, version, ns, name, sub, user, verb)
        if verb == "watch":
            return await self.watch(request, ctx)
        if verb == "get":
            return self.get(ctx)
        if verb == "list":
            return self.list(request, ctx)
        if verb == "create":
            return await self.create(request, ctx)
        if verb == "update":
            return await self.update(request, ctx)
        if verb == "patch":
            return await self.patch(request, ctx)
        if verb == "delete":
            return await self.delete(request, ctx)
        return await self.delete_collection(request, ctx)

    def out(self, res, version, obj):
        """A stored object as the requested version shows it, with kind and apiVersion."""
        return _ordered_obj(res, version, res.convert_out(obj))

    def transformed(self, ctx, obj):
        """One object as the client's version shows it (JSON only: no Table, no metadata-only
        forms; kubectl's server-side printing is the cluster suite's business)."""
        return self.out(ctx.res, ctx.version, obj)

    async def read_body(self, request):
        raw = await request.read()
        ctype = (request.headers.get("Content-Type") or "application/json").split(";")[0].strip().lower()
        return raw, ctype

    def decode(self, raw, ctype, res=None):
        if ctype in ("application/json", "", "*/*"):
            try:
                body = json.loads(raw.decode("utf-8") if raw else "null")
            except (ValueError, UnicodeDecodeError) as e:
                raise st.bad_request(f"couldn't get version/kind; json parse error: {e}")
        elif ctype in ("application/yaml", "application/x-yaml", "text/yaml"):
            try:
                body = yaml.safe_load(raw.decode("utf-8"))
            except (yaml.YAMLError, UnicodeDecodeError) as e:
                raise st.bad_request(f"error converting YAML to JSON: {e}")
        else:
            raise st.unsupported_media_type(ctype, ["application/json", "application/yaml",
                                                    "application/vnd.kubernetes.protobuf"])
        if not isinstance(body, dict):
            raise st.bad_request("Object 'Kind' is missing in '" + (raw.decode("utf-8", "replace")[:200]) + "'")
        return body

    def check_type_meta(self, ctx, body):
        res = ctx.res
        kind = body.get("kind")
        av = body.get("apiVersion")
        expected = res.api_version(ctx.version)
        if av and av != expected:
            same_group = res.group and av.split("/")[0] == res.group and av.split("/")[-1] in res.versions
            if not same_group:
                raise st.bad_request(f"the API version in the data ({av}) does not match the expected "
                                     f"API version ({expected})")
        if kind and kind != res.kind:
            raise st.bad_request(f'{kind} in version "{ctx.version}" cannot be handled as a {res.kind}: '
                                 f'the kind in the data ({kind}) does not match the expected kind ({res.kind})')

    # -- GET
    def get_or_404(self, ctx):
        obj = self.store.get(ctx.res.skey, ctx.ns, ctx.name)
        if obj is None:
            raise st.not_found(ctx.res, ctx.name)
        return obj

    def get(self, ctx):
        return json_response(self.transformed(ctx, self.get_or_404(ctx)))

    # -- LIST
    def list(self, request, ctx):
        q = request.query
        res = ctx.res
        lsel = LabelSelector(q.get("labelSelector"))
        fsel = FieldSelector(q.get("fieldSelector"), res.key)
        limit = q.get("limit")
        try:
            limit = int(limit) if limit else 0
        except ValueError:
            raise st.bad_request(f"limit: Invalid value: {limit!r}")
        cont = q.get("continue")
        start_key = None
        if cont:
            try:
                tok = json.loads(base64.urlsafe_b64decode(cont + "=" * (-len(cont) % 4)))
                at_rv = int(tok["rv"])
                start_key = tok["start"]
            except (ValueError, KeyError, TypeError):
                raise st.bad_request("continue key is not valid: incorrect encoded start "
                                     "resourceVersion (version meta.k8s.io/v1)")
            if at_rv < self.store.floor:
                raise st.gone_expired(CONTINUE_EXPIRED)
            items = self.store.snapshot(res.skey, at_rv, ctx.ns)
        else:
            at_rv = self.store.rv
            items = self.store.items(res.skey, ctx.ns)
        selected = []
        for o in items:
            md = o["metadata"]
            if start_key is not None and storage_key(o) <= start_key:
                continue
            if lsel and not lsel.matches(md.get("labels")):
                continue
            if fsel and not fsel.matches(o):
                continue
            selected.append(o)
        meta = {"resourceVersion": str(at_rv)}
        if limit and len(selected) > limit:
            page = selected[:limit]
            token = {"v": "meta.k8s.io/v1", "rv": at_rv, "start": storage_key(page[-1])}
            meta["continue"] = base64.urlsafe_b64encode(json.dumps(token).encode()).decode().rstrip("=")
            meta["remainingItemCount"] = len(selected) - limit
            selected = page
        if res.builtin:
            out_items = [res.convert_out(o) for o in selected]   # typed lists: no kind/apiVersion
        else:
            out_items = [self.out(res, ctx.version, o) for o in selected]
        return json_response({"kind": res.list_kind, "apiVersion": res.api_version(ctx.version),
                              "metadata": meta, "items": out_items})

    # -- shared write helpers
    def validate_and_normalize(self, ctx, obj, old, query, name):
        """Kind-specific normalization + validation; returns warnings. Raises 422/400."""
        res = ctx.res
        errs = []
        warnings = []
        md = obj.setdefault("metadata", {})
        if not isinstance(md, dict):
            raise st.bad_request("metadata must be an object")
        if res.builtin:
            _drop_nulls(obj)   # typed Go structs: a JSON null is the zero value, omitted
        errs += val.validate_meta(res.key, md)
        key = res.key
        if key == ("", "secrets"):
            errs += val.normalize_secret(obj)
        elif key == ("", "configmaps"):
            errs += val.validate_configmap(obj)
        elif key == ("", "pods"):
            errs += val.validate_pod(obj)
        elif key == ("", "services"):
            errs += val.validate_service(obj)
        elif key[1] == "events" and key[0] in ("", "events.k8s.io"):
            if old is None:
                errs += val.validate_event(obj, ctx.ns or "", key[0])
        elif key == ("coordination.k8s.io", "leases"):
            errs += val.validate_lease(obj)
        if errs:
            raise st.invalid_error(res.kind_qualified, res.group, res.kind, name or "", errs)
        return warnings

    @staticmethod
    def warning_headers(warnings):
        if not warnings:
            return None
        h = CIMultiDict()
        for w in warnings:
            h.add("Warning", '299 - ' + json.dumps(w))
        return h

    def gen_view(self, res, obj):
        skip = {"metadata", "kind", "apiVersion"}
        if res.status_sub:
            skip.add("status")
        return {k: v for k, v in obj.items() if k not in skip}

    # -- CREATE
    async def create(self, request, ctx):
        res = ctx.res
        raw, ctype = await self.read_body(request)
        body = self.decode(raw, ctype, res)
        self.check_type_meta(ctx, body)
        obj = {k: copy.deepcopy(v) for k, v in body.items() if k not in ("kind", "apiVersion")}
        md = obj.get("metadata")
        if md is None:
            md = obj["metadata"] = {}
        if not isinstance(md, dict):
            raise st.bad_request("metadata must be an object")
        if res.namespaced:
            if md.get("namespace") and md["namespace"] != ctx.ns:
                raise st.bad_request("the namespace of the provided object does not match the "
                                     "namespace sent on the request")
            md["namespace"] = ctx.ns
        else:
            md.pop("namespace", None)
        if md.get("resourceVersion"):
            raise st.internal("resourceVersion should not be set on objects to be created")
        if not md.get("name") and md.get("generateName"):
            md["name"] = md["generateName"][:58] + "".join(random.choice(GENERATE_ALPHABET) for _ in range(5))
        for k in ("uid", "creationTimestamp", "generation", "deletionTimestamp",
                  "deletionGracePeriodSeconds", "selfLink", "managedFields"):
            md.pop(k, None)
        if res.status_sub:
            obj.pop("status", None)
            if res.key == ("", "pods"):
                obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
            if res.key == ("", "namespaces"):
                obj["status"] = {"phase": "Active"}
        name = md.get("name") or ""
        warnings = self.validate_and_normalize(ctx, obj, None, request.query, name)
        obj = res.convert_in(obj)
        if self.store.get(res.skey, ctx.ns, name) is not None:
            raise st.already_exists(res, name)
        md = obj["metadata"]
        md["uid"] = str(uuid.uuid4())
        md["creationTimestamp"] = now_rfc3339()
        if res.generation:
            md["generation"] = 1
        if res.key == ("apiextensions.k8s.io", "customresourcedefinitions"):
            try:
                t = self.registry.register_crd({"kind": "CustomResourceDefinition", **obj})
            except ValueError as e:
                raise st.invalid_error(res.kind_qualified, res.group, res.kind, name,
                                       [st.invalid("spec", "object", str(e))])
            obj["status"] = crd_status(obj, t)
        if request.query.get("dryRun"):
            obj["metadata"] = order_meta(md)
            return json_response(self.out(res, ctx.version, obj), 201, self.warning_headers(warnings))
        md["resourceVersion"] = str(self.store.next_rv())
        obj["metadata"] = order_meta(md)
        self.store.put(res.skey, obj, "ADDED", None)
        return json_response(self.out(res, ctx.version, obj), 201, self.warning_headers(warnings))

    # -- UPDATE / PATCH
    async def update(self, request, ctx):
        raw, ctype = await self.read_body(request)
        body = self.decode(raw, ctype, ctx.res)
        self.check_type_meta(ctx, body)
        return self.apply_update(request, ctx, body)

    async def patch(self, request, ctx):
        res = ctx.res
        raw, _ = await self.read_body(request)
        ctype = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        old = self.get_or_404(ctx)
        current = self.out(res, ctx.version, copy.deepcopy(old))
        try:
            body = json.loads(raw.decode("utf-8")) if ctype != "application/apply-patch+yaml" else None
        except (ValueError, UnicodeDecodeError) as e:
            if ctype in PATCH_TYPES or ctype == "application/strategic-merge-patch+json":
                raise st.bad_request(f"error decoding patch: {e}")
            body = None
        if ctype == "application/merge-patch+json":
            if not isinstance(body, dict):
                raise st.bad_request("error decoding patch: a merge patch must be a JSON object")
            result = jpatch.merge_patch(current, body)
        elif ctype == "application/json-patch+json":
            result = jpatch.json_patch(current, body)
        elif ctype == "application/strategic-merge-patch+json" and res.builtin:
            if not isinstance(body, dict):
                raise st.bad_request("error decoding patch: a strategic merge patch must be a JSON object")
            body = {k: v for k, v in body.items() if not k.startswith("$")}
            result = jpatch.merge_patch(current, body)
        else:
            accepted = PATCH_TYPES[:]
            if res.builtin:
                accepted.insert(2, "application/strategic-merge-patch+json")
            raise st.unsupported_media_type(ctype, accepted)
        if not isinstance(result, dict):
            raise st.bad_request("the patch did not produce an object")
        return self.apply_update(request, ctx, result, patched_from=old)

    def apply_update(self, request, ctx, body, patched_from=None):
        res = ctx.res
        name = ctx.name
        old = self.get_or_404(ctx)
        if patched_from is not None and old is not patched_from:
            raise st.conflict(res, name)
        old_md = old["metadata"]
        bmd = body.get("metadata") or {}
        if not isinstance(bmd, dict):
            raise st.bad_request("metadata must be an object")
        if bmd.get("name") and bmd["name"] != name:
            raise st.bad_request(f"the name of the object ({bmd['name']}) does not match the name "
                                 f"on the URL ({name})")
        if res.namespaced and bmd.get("namespace") and bmd["namespace"] != ctx.ns:
            raise st.bad_request("the namespace of the provided object does not match the namespace "
                                 "sent on the request")
        rv = bmd.get("resourceVersion")
        if rv and str(rv) != old_md["resourceVersion"]:
            raise st.conflict(res, name)
        if bmd.get("uid") and bmd["uid"] != old_md["uid"]:
            raise st.conflict(res, name, f"Precondition failed: UID in precondition: {bmd['uid']}, "
                                         f"UID in object meta: {old_md['uid']}")
        if ctx.sub == "status":
            new = copy.deepcopy(old)
            if "status" in body:
                new["status"] = copy.deepcopy(body["status"])
            else:
                new.pop("status", None)
        else:
            new = {k: copy.deepcopy(v) for k, v in body.items() if k not in ("kind", "apiVersion")}
            if res.status_sub:
                if "status" in old:
                    new["status"] = copy.deepcopy(old["status"])
                else:
                    new.pop("status", None)
            md = copy.deepcopy(bmd)
            for k in ("name", "namespace", "uid", "creationTimestamp", "generation",
                      "deletionTimestamp", "deletionGracePeriodSeconds", "generateName", "selfLink"):
                if k in old_md:
                    md[k] = old_md[k]
                else:
                    md.pop(k, None)
            md.pop("managedFields", None)
            for k in ("labels", "annotations", "ownerReferences", "finalizers"):
                if k in md and md[k] is None:
                    del md[k]
            new["metadata"] = md
            if old_md.get("deletionTimestamp"):
                added = set(md.get("finalizers") or []) - set(old_md.get("finalizers") or [])
                if added:
                    raise st.invalid_error(res.kind_qualified, res.group, res.kind, name, [
                        st.forbidden_field("metadata.finalizers",
                                           "no new finalizers can be added if the object is being deleted")])
        new["metadata"]["resourceVersion"] = old_md["resourceVersion"]
        warnings = self.validate_and_normalize(ctx, new, old, request.query, name)
        if ctx.sub != "status":
            new = res.convert_in(new)
        md = new["metadata"]
        if res.generation:
            gen = old_md.get("generation", 1)
            if self.gen_view(res, new) != self.gen_view(res, old):
                gen += 1
            md["generation"] = gen
        new["metadata"] = order_meta(md)
        if res.key == ("apiextensions.k8s.io", "customresourcedefinitions") and ctx.sub != "status":
            try:
                self.registry.register_crd({"kind": "CustomResourceDefinition", **new})
            except ValueError as e:
                raise st.invalid_error(res.kind_qualified, res.group, res.kind, name,
                                       [st.invalid("spec", "object", str(e))])
        headers = self.warning_headers(warnings)
        if request.query.get("dryRun"):
            return json_response(self.out(res, ctx.version, new), 200, headers)
        if new == old:
            # no-op writes do not bump resourceVersion and emit no event (like etcd3 storage)
            return json_response(self.out(res, ctx.version, old), 200, headers)
        new["metadata"]["resourceVersion"] = str(self.store.next_rv())
        if md.get("deletionTimestamp") and not md.get("finalizers"):
            # the last finalizer is gone: the update deletes the object (one DELETED event)
            self.finalize_delete(res, old, last=new)
            return json_response(self.out(res, ctx.version, new), 200, headers)
        self.store.put(res.skey, new, "MODIFIED", old)
        return json_response(self.out(res, ctx.version, new), 200, headers)

    # -- DELETE
    async def delete_options(self, request):
        raw = await request.read()
        opts = {}
        if raw.strip():
            try:
                opts = json.loads(raw)
            except ValueError:
                raise st.bad_request("invalid DeleteOptions body")
            if not isinstance(opts, dict):
                raise st.bad_request("invalid DeleteOptions body")
        q = request.query
        if q.get("propagationPolicy"):
            opts["propagationPolicy"] = q["propagationPolicy"]
        if q.get("orphanDependents"):
            opts["orphanDependents"] = truthy(q["orphanDependents"])
        if q.get("dryRun"):
            opts["dryRun"] = [q["dryRun"]]
        pol = opts.get("propagationPolicy")
        if pol is not None and pol not in ("Orphan", "Background", "Foreground"):
            raise st.invalid_error("DeleteOptions", "", "DeleteOptions", "", [
                st.not_supported("propagationPolicy", pol, ["Foreground", "Background", "Orphan"])])
        return opts

    def check_preconditions(self, res, obj, opts):
        pre = opts.get("preconditions") or {}
        md = obj["metadata"]
        if pre.get("uid") and pre["uid"] != md.get("uid"):
            raise st.conflict(res, md["name"], f"Precondition failed: UID in precondition: "
                                               f"{pre['uid']}, UID in object meta: {md.get('uid')}")
        if pre.get("resourceVersion") and pre["resourceVersion"] != md.get("resourceVersion"):
            raise st.conflict(res, md["name"], f"Precondition failed: ResourceVersion in precondition: "
                                               f"{pre['resourceVersion']}, ResourceVersion in object "
                                               f"meta: {md.get('resourceVersion')}")

    async def delete(self, request, ctx):
        res = ctx.res
        opts = await self.delete_options(request)
        obj = self.get_or_404(ctx)
        self.check_preconditions(res, obj, opts)
        if opts.get("dryRun"):
            return json_response(st.success_status({"name": ctx.name, "kind": res.plural}))
        code, result = self.do_delete(res, obj, opts)
        if result is None:
            details = {"name": obj["metadata"]["name"]}
            if res.group:
                details["group"] = res.group
            details["kind"] = res.plural
            details["uid"] = obj["metadata"]["uid"]
            return json_response(st.success_status(details), code)
        return json_response(self.out(res, ctx.version, result), code)

    def do_delete(self, res, obj, opts):
        """Returns (http code, object to return or None for a Success Status)."""
        md = obj["metadata"]
        if md.get("finalizers"):
            if md.get("deletionTimestamp"):
                return 202, obj
            new = copy.deepcopy(obj)
            new["metadata"]["deletionTimestamp"] = now_rfc3339()
            new["metadata"]["deletionGracePeriodSeconds"] = 0
            new["metadata"]["resourceVersion"] = str(self.store.next_rv())
            new["metadata"] = order_meta(new["metadata"])
            self.store.put(res.skey, new, "MODIFIED", obj)
            return 202, new
        last = self.finalize_delete(res, obj)
        if res.key in (("", "pods"), ("", "services"), ("", "namespaces")):
            return 200, last
        return 200, None

    def finalize_delete(self, res, obj, last=None):
        if last is None:
            last = copy.deepcopy(obj)
            last["metadata"]["resourceVersion"] = str(self.store.next_rv())
        self.store.remove(res.skey, obj, last)
        if res.key == ("", "namespaces"):
            ns = obj["metadata"]["name"]
            for key, o in list(self.store.all_objects()):
                if o["metadata"].get("namespace") == ns:
                    t = self.registry.types.get(key)
                    if t is not None and self.store.get(key, ns, o["metadata"]["name"]) is o:
                        self.finalize_delete(t, o)
        return last

    async def delete_collection(self, request, ctx):
        res = ctx.res
        opts = await self.delete_options(request)
        lsel = LabelSelector(request.query.get("labelSelector"))
        fsel = FieldSelector(request.query.get("fieldSelector"), res.key)
        deleted = []
        for o in self.store.items(res.skey, ctx.ns):
            md = o["metadata"]
            if lsel and not lsel.matches(md.get("labels")):
                continue
            if fsel and not fsel.matches(o):
                continue
            if opts.get("dryRun"):
                deleted.append(o)
                continue
            _, r = self.do_delete(res, o, opts)
            deleted.append(r or o)
        items = ([res.convert_out(o) for o in deleted] if res.builtin
                 else [self.out(res, ctx.version, o) for o in deleted])
        return json_response({"kind": res.list_kind, "apiVersion": res.api_version(ctx.version),
                              "metadata": {"resourceVersion": str(self.store.rv)}, "items": items})

    # -- WATCH
    async def watch(self, request, ctx):
        res = ctx.res
        q = request.query
        lsel = LabelSelector(q.get("labelSelector"))
        fsel = FieldSelector(q.get("fieldSelector"), res.key)
        if ctx.name:
            fsel.reqs.append(("metadata.name", True, ctx.name))
        rv_param = q.get("resourceVersion")
        allow_bm = truthy(q.get("allowWatchBookmarks"))
        send_initial = truthy(q.get("sendInitialEvents"))
        try:
            timeout = float(q.get("timeoutSeconds")) if q.get("timeoutSeconds") else 0.0
        except ValueError:
            raise st.bad_request("timeoutSeconds must be a number")
        if timeout <= 0:
            timeout = 1800.0   # the apiserver's --min-request-timeout
        fault = request.get("fault") or {}
        info = {"resource": res.qualified, "namespace": ctx.ns, "user": ctx.user.name,
                "labelSelector": q.get("labelSelector"), "fieldSelector": q.get("fieldSelector"),
                "resourceVersion": rv_param, "since": time.time(), "sent": 0,
                "lastSentResourceVersion": None}
        watcher = Watcher(res.skey, ctx.ns, lsel, fsel, info)
        initial = []
        expired = None
        if rv_param not in (None, "", "0"):
            try:
                start_rv = int(rv_param)
            except ValueError:
                raise st.bad_request(f'resourceVersion: Invalid value: "{rv_param}": must be a '
                                     f'non-negative integer')
        else:
            start_rv = None
        if start_rv is not None and not send_initial and not fault and start_rv > self.store.rv:
            # As the watch cache: wait a little for a resourceVersion not reached yet, then 504
            # (a client resuming after the server lost its history must relist). An injected
            # watch fault takes precedence.
            deadline = time.monotonic() + self.future_rv_wait
            while self.store.rv < start_rv and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            if self.store.rv < start_rv:
                raise st.ApiError(
                    504, "Timeout",
                    f"Too large resource version: {start_rv}, current: {self.store.rv}",
                    {"causes": [{"reason": "ResourceVersionTooLarge",
                                 "message": "Too large resource version"}],
                     "retryAfterSeconds": 1},
                    headers={"Retry-After": "1"})
        if start_rv is None or send_initial:
            for o in self.store.items(res.skey, ctx.ns):
                if watcher.matches(o):
                    initial.append(("ADDED", o))
        else:
            if start_rv < self.store.floor:
                expired = start_rv
            else:
                for ev in self.store.history_since(res.skey, start_rv):
                    t = watcher.translate(ev)
                    if t is not None:
                        initial.append(t)
        self.store.add_watcher(watcher)
        resp = web.StreamResponse(status=200, headers={"Cache-Control": "no-cache, private"})
        resp.content_type = "application/json"
        resp.enable_chunked_encoding()
        try:
            await resp.prepare(request)
            if request.get("entry") is not None:
                request["entry"]["status"] = 200

            async def send(etype, obj):
                await resp.write(dumps({"type": etype, "object": obj}).encode())

            async def send_obj(etype, obj):
                await send(etype, self.transformed(ctx, obj))
                info["sent"] += 1
                info["lastSentResourceVersion"] = obj["metadata"].get("resourceVersion")

            async def send_bookmark(md):
                bm = {"kind": res.kind, "apiVersion": res.api_version(ctx.version), "metadata": md}
                await send("BOOKMARK", bm)

            if expired is not None:
                await send("ERROR", st.status_body(410, "Expired",
                                                   f"too old resource version: {expired} ({self.store.floor})"))
                await resp.write_eof()
                return resp
            if fault.get("watchErrorGone"):
                await send("ERROR", st.status_body(410, "Expired",
                                                   f"too old resource version: {rv_param or 0} "
                                                   f"({self.store.rv})"))
                await resp.write_eof()
                return resp
            swallow = int(fault.get("swallowWatchEvents") or 0)
            drop_after = fault.get("dropWatchAfterEvents")
            drop_at = (time.monotonic() + float(fault["dropWatchAfterSeconds"])
                       if fault.get("dropWatchAfterSeconds") is not None else None)
            sent = 0
            if drop_after is not None and int(drop_after) <= 0:
                return self.abort_stream(request, resp)
            for etype, obj in initial:
                await send_obj(etype, obj)
                sent += 1
                if drop_after is not None and sent >= int(drop_after):
                    return self.abort_stream(request, resp)
            if send_initial and allow_bm:
                await send_bookmark({"resourceVersion": str(self.store.rv),
                                     "annotations": {"k8s.io/initial-events-end": "true"}})
            end_at = time.monotonic() + timeout
            next_bm = time.monotonic() + self.bookmark_interval if allow_bm else None
            while not self.stopping:
                # Queued events go out first and only an empty queue is waited on:
                # wait_for(queue.get(), 0) cancels the get before it runs, so waiting with a
                # bookmark due and events queued would spin without ever sending them.
                now = time.monotonic()
                if drop_at is not None and now >= drop_at:
                    return self.abort_stream(request, resp)
                if now >= end_at:
                    break
                if watcher.queue.empty():
                    if next_bm is not None and now >= next_bm:
                        await send_bookmark({"resourceVersion": str(self.store.rv)})
                        next_bm = now + self.bookmark_interval
                        continue
                    deadlines = [end_at]
                    if next_bm is not None:
                        deadlines.append(next_bm)
                    if drop_at is not None:
                        deadlines.append(drop_at)
                    try:
                        item = await asyncio.wait_for(watcher.queue.get(),
                                                      max(0.001, min(deadlines) - now))
                    except asyncio.TimeoutError:
                        continue   # a cancelled get leaves its item in the queue
                else:
                    item = watcher.queue.get_nowait()
                if item is None:
                    break
                etype, obj = item
                if swallow > 0:
                    swallow -= 1   # lost on the way: the stream goes on as if it never happened
                    continue
                await send_obj(etype, obj)
                sent += 1
                if drop_after is not None and sent >= int(drop_after):
                    return self.abort_stream(request, resp)
            await resp.write_eof()
            return resp
        except ConnectionResetError:
            return resp   # the client went away (kubectl get -w ended): nothing to tell it
        finally:
            self.store.remove_watcher(watcher)

    @staticmethod
    def abort_stream(request, resp):
        """End a chunked response without its terminating chunk (an abrupt drop)."""
        resp.force_close()
        tr = request.transport
        if tr is not None:
            tr.close()
        # CancelledError makes aiohttp drop the connection quietly without writing the
        # final chunk; the client sees the body end prematurely.
        raise asyncio.CancelledError()

    # -------------------------------------------------------------- control
    async def control(self, request):
        path = request.path.rstrip("/")
        m = request.method

        async def body():
            raw = await request.read()
            if not raw.strip():
                return {}
            try:
                b = json.loads(raw)
            except ValueError as e:
                raise st.bad_request(f"invalid JSON: {e}")
            if not isinstance(b, dict):
                raise st.bad_request("body must be a JSON object")
            return b

        if path == "/_test/tokens" and m == "POST":
            b = await body()
            if not b.get("token") or not b.get("user"):
                raise st.bad_request("token and user are required")
            self.auth.add_token(b["token"], b["user"], b.get("groups") or [], b.get("rules") or [])
            return json_response({"user": b["user"], "rules": b.get("rules") or []}, 201)
        if path.startswith("/_test/tokens/") and m == "DELETE":
            tok = path[len("/_test/tokens/"):]
            if not self.auth.revoke(tok):
                raise st.ApiError(404, "NotFound", "no such token")
            return json_response({"revoked": True})
        if path == "/_test/client-certs" and m == "POST":
            b = await body()
            if not b.get("user"):
                raise st.bad_request("user is required")
            from .certs import make_client_cert
            cp, kp = make_client_cert(self.state_dir, b["user"], b.get("groups") or [])
            self.auth.cert_rules[b["user"]] = b.get("rules") or []
            return json_response({"clientCert": cp, "clientKey": kp}, 201)
        if path == "/_test/faults":
            if m == "POST":
                b = await body()
                try:
                    self.faults.add(b.get("faults") or [])
                except (ValueError, TypeError) as e:
                    raise st.bad_request(str(e))
                return json_response({"faults": self.faults.describe()}, 201)
            if m == "DELETE":
                self.faults.clear()
                return json_response({"faults": []})
            if m == "GET":
                return json_response({"faults": self.faults.describe()})
        if path == "/_test/compact" and m == "POST":
            self.store.compact()
            return json_response({"resourceVersion": str(self.store.rv), "compactedTo": str(self.store.floor)})
        if path == "/_test/requests":
            if m == "GET":
                items = list(self.requests)
                since = request.query.get("since")
                if since:
                    items = [e for e in items if e["time"] >= float(since)]
                return json_response({"requests": items})
            if m == "DELETE":
                self.requests.clear()
                return json_response({"requests": []})
        if path == "/_test/reset" and m == "POST":
            self.store.reset()
            self.faults.clear()
            # the CRDs loaded at start stay served; re-create their objects
            for t in list(self.registry.types.values()):
                if t.crd is not None and getattr(t, "from_file", False):
                    self.add_crd(t.crd)
            return json_response({"resourceVersion": str(self.store.rv)})
        if path == "/_test/exec-protocols":
            if m == "POST":
                b = await body()
                protos = b.get("protocols")
                if not isinstance(protos, list) or not all(isinstance(p, str) for p in protos):
                    raise st.bad_request("protocols must be a list of strings")
                known = {"v5.channel.k8s.io", "v4.channel.k8s.io", "channel.k8s.io", ""}
                bad = [p for p in protos if p not in known]
                if bad:
                    raise st.bad_request(f"unsupported protocols {bad}; known: {sorted(known)}")
                self.exec_protocols = protos
            return json_response({"protocols": self.exec_protocols})
        if path == "/_test/tasks" and m == "GET":
            out = []
            for t in asyncio.all_tasks():
                lines = [repr(t)[:200]]
                c = t.get_coro()
                while c is not None:
                    f = getattr(c, "cr_frame", None) or getattr(c, "gi_frame", None)
                    if f is not None:
                        lines.append(f"  {f.f_code.co_filename}:{f.f_lineno} {f.f_code.co_name}")
                    nxt = getattr(c, "cr_await", None) or getattr(c, "gi_yieldfrom", None)
                    if nxt is None:
                        lines.append(f"  awaiting {c!r}"[:300])
                    c = nxt
                out.append("\n".join(lines))
            return web.Response(text="\n".join(out), content_type="text/plain")
        if path == "/_test/state" and m == "GET":
            return json_response({
                "resourceVersion": str(self.store.rv), "compactedTo": str(self.store.floor),
                "historySize": len(self.store.history),
                "watches": [{**w.info, "queued": w.queue.qsize()} for w in self.store.watchers],
                "execs": len(self.processes)})
        raise st.not_found_path()
