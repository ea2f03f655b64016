"""Server-side printing: `Accept: application/json;as=Table;v=v1;g=meta.k8s.io` (what
`kubectl get` asks for) and the metadata-only forms (`as=PartialObjectMetadata[List]`).

Follows k8s.io/apiserver/pkg/endpoints/handlers/response.go (asTable, includeObject),
apiextensions' tableconvertor (CRD additionalPrinterColumns) and, for built-in kinds,
pkg/printers/internalversion/printers.go (the kinds this server serves that people list:
pods, configmaps, secrets, events, namespaces, services, serviceaccounts, leases); every
other built-in kind gets the apiserver's default convertor (Name, Created At).
"""
import datetime
import json

from . import status as st
from .jsonpath import compile_path, find_results

META_GROUP = "meta.k8s.io"
TARGET_KINDS = ("Table", "PartialObjectMetadata", "PartialObjectMetadataList")
ACCEPTED = "application/json, application/yaml, application/vnd.kubernetes.protobuf"

NAME_DESC = ("Name must be unique within a namespace. Is required when creating resources, although "
             "some resources may allow a client to request the generation of an appropriate name "
             "automatically. Name is primarily intended for creation idempotence and configuration "
             "definition. Cannot be updated. More info: "
             "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names")
CREATED_DESC = ("CreationTimestamp is a timestamp representing the server time when this object was "
                "created. It is not guaranteed to be set in happens-before order across separate "
                "operations. Clients may not set this value. It is represented in RFC3339 form and "
                "is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: "
                "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata")


class Target:
    """What the client asked the response to be converted to."""

    def __init__(self, kind, version):
        self.kind = kind
        self.version = version

    @property
    def api_version(self):
        return f"{META_GROUP}/{self.version}"


def negotiate(accept):
    """The conversion the Accept header asks for, None for the plain object.

    Entries are taken in order (by q, stable); an entry with `as=` that this server cannot
    produce is skipped; a plain media type (JSON, or anything else: this server always
    answers JSON) ends the search. Nothing acceptable -> 406.
    """
    if not accept:
        return None
    entries = []
    for pos, part in enumerate(accept.split(",")):
        fields = [f.strip() for f in part.split(";")]
        mtype = fields[0].lower()
        params = {}
        for f in fields[1:]:
            if "=" in f:
                k, v = f.split("=", 1)
                params[k.strip().lower()] = v.strip().strip('"')
        try:
            q = float(params.pop("q", "1"))
        except ValueError:
            q = 1.0
        if mtype:
            entries.append((-q, pos, mtype, params))
    entries.sort()
    for _, _, mtype, params in entries:
        if "as" not in params:
            return None
        if (mtype in ("application/json", "application/*", "*/*")
                and params["as"] in TARGET_KINDS and params.get("g") == META_GROUP
                and params.get("v") in ("v1", "v1beta1")):
            return Target(params["as"], params["v"])
    raise st.ApiError(406, "NotAcceptable", f"only the following media types are accepted: {ACCEPTED}")


# ------------------------------------------------------------------ time
def parse_time(text):
    if not isinstance(text, str) or not text:
        return None
    try:
        t = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=datetime.timezone.utc)
    return t


def _since(text):
    t = parse_time(text)
    if t is None:
        return None
    return (datetime.datetime.now(datetime.timezone.utc) - t).total_seconds()


def short_human_duration(seconds):
    """duration.ShortHumanDuration (CRD `date` columns)."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 60:
        return f"{s}s"
    m = int(seconds // 60)
    if m < 60:
        return f"{m}m"
    h = int(seconds // 3600)
    if h < 24:
        return f"{h}h"
    if h < 24 * 365:
        return f"{h // 24}d"
    return f"{int(h / 24 / 365)}y"


def human_duration(seconds):
    """duration.HumanDuration (the Age of built-in printers)."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    m = int(seconds // 60)
    if m < 10:
        rest = s % 60
        return f"{m}m" if rest == 0 else f"{m}m{rest}s"
    if m < 180:
        return f"{m}m"
    h = int(seconds // 3600)
    if h < 8:
        rest = m % 60
        return f"{h}h" if rest == 0 else f"{h}h{rest}m"
    if h < 48:
        return f"{h}h"
    if h < 24 * 8:
        rest = h % 24
        return f"{h // 24}d" if rest == 0 else f"{h // 24}d{rest}h"
    if h < 24 * 365 * 2:
        return f"{h // 24}d"
    if h < 24 * 365 * 8:
        dy = (h // 24) % 365
        return f"{h // 24 // 365}y" if dy == 0 else f"{h // 24 // 365}y{dy}d"
    return f"{h // 24 // 365}y"


def age(text):
    """translateTimestampSince: "<unknown>" for a zero time."""
    d = _since(text)
    return "<unknown>" if d is None else human_duration(d)


# ---------------------------------------------------------------- columns
def col(name, ctype="string", desc="", fmt="", priority=0):
    return {"name": name, "type": ctype, "format": fmt, "description": desc, "priority": priority}


NAME_COL = col("Name", fmt="name", desc=NAME_DESC)
AGE_COL = col("Age", desc=CREATED_DESC)


def _md(obj):
    return obj.get("metadata") or {}


def _name(obj):
    return _md(obj).get("name", "")


def _created(obj):
    return age(_md(obj).get("creationTimestamp"))


def _labels(m):
    if not m:
        return "<none>"
    return ",".join(f"{k}={v}" for k, v in sorted(m.items()))


def _pod_row(p):
    spec = p.get("spec") or {}
    status = p.get("status") or {}
    total = len(spec.get("containers") or [])
    init_specs = {c.get("name"): c for c in spec.get("initContainers") or []}
    total += sum(1 for c in init_specs.values() if c.get("restartPolicy") == "Always")
    ready = 0
    restarts = 0
    reason = status.get("reason") or status.get("phase") or ""
    initializing = False
    n_init = len(spec.get("initContainers") or [])
    for i, c in enumerate(status.get("initContainerStatuses") or []):
        restarts += int(c.get("restartCount") or 0)
        state = c.get("state") or {}
        term, wait = state.get("terminated"), state.get("waiting")
        sidecar = (init_specs.get(c.get("name")) or {}).get("restartPolicy") == "Always"
        if term is not None and int(term.get("exitCode") or 0) == 0:
            continue
        if sidecar and c.get("started"):
            ready += 1 if c.get("ready") else 0
            continue
        if term is not None:
            reason = "Init:" + (term.get("reason") or (f"Signal:{term['signal']}" if term.get("signal")
                                                      else f"ExitCode:{term.get('exitCode', 0)}"))
        elif wait is not None and wait.get("reason") and wait["reason"] != "PodInitializing":
            reason = "Init:" + wait["reason"]
        else:
            reason = f"Init:{i}/{n_init}"
        initializing = True
        break
    initialized = any(c.get("type") == "Initialized" and c.get("status") == "True"
                      for c in status.get("conditions") or [])
    if not initializing or initialized:
        restarts = 0
        has_running = False
        for c in reversed(status.get("containerStatuses") or []):
            restarts += int(c.get("restartCount") or 0)
            state = c.get("state") or {}
            term, wait = state.get("terminated"), state.get("waiting")
            if wait and wait.get("reason"):
                reason = wait["reason"]
            elif term and term.get("reason"):
                reason = term["reason"]
            elif term is not None:
                reason = f"Signal:{term['signal']}" if term.get("signal") else f"ExitCode:{term.get('exitCode', 0)}"
            elif c.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            pod_ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                            for c in status.get("conditions") or [])
            reason = "Running" if pod_ready else "NotReady"
    if _md(p).get("deletionTimestamp"):
        if status.get("reason") == "NodeLost":
            reason = "Unknown"
        elif status.get("phase") not in ("Succeeded", "Failed"):
            reason = "Terminating"
    ips = status.get("podIPs") or []
    ip = (ips[0].get("ip") if ips else None) or status.get("podIP") or "<none>"
    gates = spec.get("readinessGates") or []
    if gates:
        conds = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
        gate_text = f"{sum(1 for g in gates if conds.get(g.get('conditionType')) == 'True')}/{len(gates)}"
    else:
        gate_text = "<none>"
    return [_name(p), f"{ready}/{total}", reason, str(restarts), _created(p), ip,
            spec.get("nodeName") or "<none>", status.get("nominatedNodeName") or "<none>", gate_text]


def _event_row(e):
    """printEvent on the stored (core) Event."""
    first = age(e.get("firstTimestamp")) if e.get("firstTimestamp") else age(e.get("eventTime"))
    last = age(e.get("lastTimestamp")) if e.get("lastTimestamp") else first
    count = e.get("count") or 0
    series = e.get("series")
    if series:
        last = age(series.get("lastObservedTime"))
        count = series.get("count") or 0
    elif count == 0:
        count = 1
    inv = e.get("involvedObject") or {}
    kind = (inv.get("kind") or "").lower()
    target = f"{kind}/{inv['name']}" if inv.get("name") else kind
    src = e.get("source") or {}
    component = src.get("component") or e.get("reportingComponent") or ""
    host = src.get("host") or e.get("reportingInstance") or ""
    source = f"{component}, {host}" if host else component
    return [last, e.get("type", ""), e.get("reason", ""), target, inv.get("fieldPath", ""), source,
            (e.get("message") or "").strip(), first, int(count), _name(e)]


def _service_row(s):
    spec = s.get("spec") or {}
    stype = spec.get("type") or "ClusterIP"
    ext = spec.get("externalIPs") or []
    if stype == "ExternalName":
        external = spec.get("externalName", "")
    elif stype == "LoadBalancer":
        lb = sorted({i.get("ip") or i.get("hostname") for i in
                     ((s.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []} - {None})
        external = ",".join(lb + ext) if (lb or ext) else "<pending>"
    else:
        external = ",".join(ext) if ext else "<none>"
    ports = []
    for p in spec.get("ports") or []:
        text = f"{p.get('port')}/{p.get('protocol') or 'TCP'}"
        if p.get("nodePort"):
            text = f"{p.get('port')}:{p['nodePort']}/{p.get('protocol') or 'TCP'}"
        ports.append(text)
    return [_name(s), stype, spec.get("clusterIP") or "<none>", external,
            ",".join(ports) if ports else "<none>", _created(s), _labels(spec.get("selector"))]


BUILTIN_PRINTERS = {
    ("", "pods"): ([NAME_COL,
                    col("Ready", desc="The aggregate readiness state of this pod for accepting traffic."),
                    col("Status", desc="The aggregate status of the containers in this pod."),
                    col("Restarts", desc="The number of times the containers in this pod have been "
                                         "restarted and when the last container in this pod has restarted."),
                    AGE_COL,
                    col("IP", priority=1, desc="podIP address allocated to the pod."),
                    col("Node", priority=1, desc="NodeName indicates in which node this pod is scheduled."),
                    col("Nominated Node", priority=1, desc="nominatedNodeName is set only when this pod "
                                                           "preempts other pods on the node."),
                    col("Readiness Gates", priority=1, desc="If specified, all readiness gates will be "
                                                            "evaluated for pod readiness.")],
                   _pod_row),
    ("", "configmaps"): ([NAME_COL, col("Data", "integer", "Data contains the configuration data."),
                          AGE_COL],
                         lambda o: [_name(o), len(o.get("data") or {}) + len(o.get("binaryData") or {}),
                                    _created(o)]),
    ("", "secrets"): ([NAME_COL, col("Type", desc="Used to facilitate programmatic handling of secret data."),
                       col("Data", desc="Data contains the secret data."), AGE_COL],
                      lambda o: [_name(o), o.get("type") or "Opaque", len(o.get("data") or {}),
                                 _created(o)]),
    ("", "events"): ([col("Last Seen", desc="The time at which the most recent occurrence of this event "
                                            "was recorded."),
                      col("Type", desc="Type of this event (Normal, Warning), new types could be added "
                                       "in the future"),
                      col("Reason", desc="This should be a short, machine understandable string that "
                                         "gives the reason for the transition into the object's current status."),
                      col("Object", desc="The object that this event is about."),
                      col("Subobject", priority=1, desc="If referring to a piece of an object instead "
                                                        "of an entire object, this string should contain "
                                                        "a valid JSON/Go field access statement."),
                      col("Source", priority=1, desc="The component reporting this event."),
                      col("Message", desc="A human-readable description of the status of this operation."),
                      col("First Seen", priority=1, desc="The time at which the event was first recorded."),
                      col("Count", priority=1, desc="The number of times this event has occurred."),
                      col("Name", priority=1, fmt="name", desc=NAME_DESC)],
                     _event_row),
    ("", "namespaces"): ([NAME_COL, col("Status", desc="The status of the namespace"), AGE_COL],
                         lambda o: [_name(o), (o.get("status") or {}).get("phase", ""), _created(o)]),
    ("", "services"): ([NAME_COL, col("Type"), col("Cluster-IP"), col("External-IP"), col("Port(s)"),
                        AGE_COL, col("Selector", priority=1)], _service_row),
    ("", "serviceaccounts"): ([NAME_COL, col("Secrets", desc="Secrets is a list of the secrets in the "
                                                             "same namespace that pods running using "
                                                             "this ServiceAccount are allowed to use."),
                               AGE_COL],
                              lambda o: [_name(o), len(o.get("secrets") or []), _created(o)]),
    ("coordination.k8s.io", "leases"): ([NAME_COL, col("Holder", desc="Name of the holder of the lease"),
                                         AGE_COL],
                                        lambda o: [_name(o), (o.get("spec") or {}).get("holderIdentity") or "",
                                                   _created(o)]),
}

DEFAULT_COLUMNS = [NAME_COL, col("Created At", "date", CREATED_DESC)]


def _default_row(o):
    return [_name(o), _md(o).get("creationTimestamp")]


class CrdColumns:
    """apiextensions' tableconvertor for one served version of a CRD."""

    def __init__(self, columns):
        if not columns:   # what the apiserver defaults for a CRD without printer columns
            columns = [{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp",
                        "description": CREATED_DESC}]
        self.defs = [NAME_COL]
        self.paths = []
        for c in columns:
            jp = c.get("jsonPath") or c.get("JSONPath") or ""
            self.paths.append(compile_path(jp))
            self.defs.append(col(c.get("name", ""), c.get("type", "string"),
                                 c.get("description") or
                                 f"Custom resource definition column (in JSONPath format): {jp}",
                                 c.get("format", ""), int(c.get("priority") or 0)))

    def row(self, obj):
        cells = [_name(obj)]
        for d, steps in zip(self.defs[1:], self.paths):
            found = find_results(steps, obj)
            cells.append(_cell(d["type"], found[0]) if found else None)
        return cells


def _text(v):
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (dict, list)):
        return json.dumps(v, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e21:
        return str(int(v))
    return str(v)


def _cell(ctype, v):
    """cellForJSONValue (string columns print any value, the others only their own type)."""
    if v is None:
        return None
    if ctype == "string":
        return _text(v)
    if ctype == "integer":
        return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None
    if ctype == "number":
        return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None
    if ctype == "boolean":
        return v if isinstance(v, bool) else None
    if ctype == "date":
        if not isinstance(v, str):
            return None
        d = _since(v)
        return "<invalid>" if d is None else short_human_duration(d)
    return None


def crd_columns_for(res, version):
    """CrdColumns for a custom resource (cached per version), None for built-ins."""
    if res.builtin:
        return None
    cache = res.__dict__.setdefault("_table_columns", {})
    if version not in cache:
        cols = []
        for v in ((res.crd or {}).get("spec") or {}).get("versions") or []:
            if v.get("name") == version:
                cols = v.get("additionalPrinterColumns") or []
        cache[version] = CrdColumns(cols)
    return cache[version]


def validate_crd_columns(crd):
    """Raises ValueError when a printer column's jsonPath is outside the supported subset."""
    for v in (crd.get("spec") or {}).get("versions") or []:
        CrdColumns(v.get("additionalPrinterColumns") or [])


def include_object_option(query):
    inc = query.get("includeObject")
    if inc in (None, "", "Metadata", "Object", "None"):
        return inc or "Metadata"
    raise st.bad_request(f'Unable to convert to Table as requested: includeObject: Unsupported value: '
                         f'"{inc}": supported values: "Metadata", "None", "Object"')


def partial(obj, target_version):
    return {"kind": "PartialObjectMetadata", "apiVersion": f"{META_GROUP}/{target_version}",
            "metadata": obj.get("metadata") or {}}


def table(res, version, target, items, meta, include, no_headers=False):
    """A Table of `items`: [(stored object, served view with kind/apiVersion)]."""
    crd = crd_columns_for(res, version)
    if crd is not None:
        defs, row_fn, use_view = crd.defs, crd.row, True
    else:
        defs, row_fn = BUILTIN_PRINTERS.get(res.skey, (DEFAULT_COLUMNS, _default_row))
        use_view = False
    rows = []
    for stored, view in items:
        cells = row_fn(view if use_view else stored)
        if include == "Object":
            o = view
        elif include == "None":
            o = None
        else:
            o = partial(view, target.version)
        rows.append({"cells": cells, "object": o})
    return {"kind": "Table", "apiVersion": target.api_version, "metadata": meta,
            "columnDefinitions": None if no_headers else defs, "rows": rows}
