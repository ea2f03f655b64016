"""Validation of ObjectMeta and of the built-in kinds (the parts clients trip over)."""
import base64
import binascii
import json
import re

from . import status as st

DNS1123_SUBDOMAIN = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1035_LABEL = r"[a-z]([-a-z0-9]*[a-z0-9])?"
QUALIFIED_NAME = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
LABEL_VALUE = r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?"
CONFIG_KEY = r"[-._a-zA-Z0-9]+"

SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
                 "'-' or '.', and must start and end with an alphanumeric character (e.g. "
                 "'example.com', regex used for validation is '" + DNS1123_SUBDOMAIN + "')")
LABEL1123_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
                 "and must start and end with an alphanumeric character (e.g. 'my-name',  or "
                 "'123-abc', regex used for validation is '" + DNS1123_LABEL + "')")
LABEL1035_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start "
                 "with an alphabetic character, and end with an alphanumeric character (e.g. "
                 "'my-name',  or 'abc-123', regex used for validation is '" + DNS1035_LABEL + "')")
QUALIFIED_MSG = ("name part must consist of alphanumeric characters, '-', '_' or '.', and must start "
                 "and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
                 "'123-abc', regex used for validation is '" + QUALIFIED_NAME + "')")
LABEL_VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, '-', "
                   "'_' or '.', and must start and end with an alphanumeric character (e.g. "
                   "'MyValue',  or 'my_value',  or '12345', regex used for validation is '"
                   + LABEL_VALUE + "')")
CONFIG_KEY_MSG = ("a valid config key must consist of alphanumeric characters, '-', '_' or '.' "
                  "(e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '"
                  + CONFIG_KEY + "')")

# resources whose names must be DNS-1035 / DNS-1123 labels instead of subdomains
NAME_RULES = {("", "services"): "1035", ("", "namespaces"): "1123label"}


def is_subdomain(s):
    msgs = []
    if len(s) > 253:
        msgs.append("must be no more than 253 characters")
    if not re.fullmatch(DNS1123_SUBDOMAIN, s):
        msgs.append(SUBDOMAIN_MSG)
    return msgs


def name_errors(res_key, name, field="metadata.name"):
    rule = NAME_RULES.get(res_key)
    msgs = []
    if rule == "1035":
        if len(name) > 63:
            msgs.append("must be no more than 63 characters")
        if not re.fullmatch(DNS1035_LABEL, name):
            msgs.append(LABEL1035_MSG)
    elif rule == "1123label":
        if len(name) > 63:
            msgs.append("must be no more than 63 characters")
        if not re.fullmatch(DNS1123_LABEL, name):
            msgs.append(LABEL1123_MSG)
    else:
        msgs = is_subdomain(name)
    return [st.invalid(field, name, m) for m in msgs]


def qualified_name_msgs(key):
    msgs = []
    parts = key.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            msgs.append("prefix part must be non-empty")
        else:
            msgs += ["prefix part " + m for m in is_subdomain(prefix)]
    else:
        return ["a qualified name must consist of alphanumeric characters, '-', '_' or '.', and "
                "must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',"
                "  or '123-abc', regex used for validation is '" + QUALIFIED_NAME + "') with an "
                "optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    if not name:
        msgs.append("name part must be non-empty")
    elif len(name) > 63:
        msgs.append("name part must be no more than 63 characters")
    elif not re.fullmatch(QUALIFIED_NAME, name):
        msgs.append(QUALIFIED_MSG)
    return msgs


def validate_meta(res_key, md, name_required=True):
    errs = []
    name = md.get("name")
    if not name:
        if name_required:
            errs.append(st.required("metadata.name", "name or generateName is required"))
    else:
        errs += name_errors(res_key, name)
    labels = md.get("labels")
    if labels is not None:
        if not isinstance(labels, dict):
            errs.append(st.invalid("metadata.labels", labels, "must be a map of strings"))
        else:
            for k, v in labels.items():
                for m in qualified_name_msgs(k):
                    errs.append(st.invalid("metadata.labels", k, m))
                if not isinstance(v, str):
                    errs.append(st.invalid(f"metadata.labels", v, "label values must be strings"))
                    continue
                if len(v) > 63:
                    errs.append(st.invalid("metadata.labels", v, "must be no more than 63 characters"))
                if not re.fullmatch(LABEL_VALUE, v):
                    errs.append(st.invalid("metadata.labels", v, LABEL_VALUE_MSG))
    ann = md.get("annotations")
    if ann is not None:
        if not isinstance(ann, dict) or not all(isinstance(v, str) for v in ann.values()):
            errs.append(st.invalid("metadata.annotations", ann, "must be a map of strings"))
        else:
            total = 0
            for k, v in ann.items():
                for m in qualified_name_msgs(k.lower()):
                    errs.append(st.invalid("metadata.annotations", k, m))
                total += len(k) + len(v.encode())
            if total > 262144:
                errs.append(st.too_long_bytes("metadata.annotations", 262144))
    refs = md.get("ownerReferences")
    if refs is not None:
        if not isinstance(refs, list):
            errs.append(st.invalid("metadata.ownerReferences", refs, "must be a list"))
        else:
            controllers = 0
            for r in refs:
                if not isinstance(r, dict):
                    errs.append(st.invalid("metadata.ownerReferences", r, "must be an object"))
                    continue
                for fld, what in (("apiVersion", "version"), ("kind", "kind"),
                                  ("name", "name"), ("uid", "uid")):
                    if not r.get(fld):
                        errs.append(st.invalid(f"metadata.ownerReferences.{fld}", "",
                                               f"{what} must not be empty"))
                if r.get("controller"):
                    controllers += 1
            if controllers > 1:
                errs.append(st.invalid("metadata.ownerReferences", refs,
                                       "Only one reference can have Controller set to true"))
    fins = md.get("finalizers")
    if fins is not None:
        if not isinstance(fins, list) or not all(isinstance(f, str) for f in fins):
            errs.append(st.invalid("metadata.finalizers", fins, "must be a list of strings"))
        else:
            for i, f in enumerate(fins):
                for m in qualified_name_msgs(f):
                    errs.append(st.invalid(f"metadata.finalizers[{i}]", f, m))
    return errs


def _data_size(d):
    return sum(len(k) + len(v if isinstance(v, (bytes, str)) else str(v)) for k, v in (d or {}).items())


def normalize_secret(obj):
    """stringData is merged into data (base64), like the real API does on write."""
    errs = []
    data = obj.get("data")
    if data is not None and not isinstance(data, dict):
        errs.append(st.invalid("data", data, "must be a map"))
        return errs
    data = dict(data or {})
    sd = obj.pop("stringData", None)
    if isinstance(sd, dict):
        for k, v in sd.items():
            data[k] = base64.b64encode(str(v).encode()).decode()
    raw_total = 0
    for k, v in data.items():
        if not re.fullmatch(CONFIG_KEY, k):
            errs.append(st.invalid(f"data[{k}]", k, CONFIG_KEY_MSG))
        if not isinstance(v, str):
            errs.append(st.invalid(f"data[{k}]", v, "must be a base64 string"))
            continue
        try:
            raw_total += len(k) + len(base64.b64decode(v, validate=True))
        except (binascii.Error, ValueError):
            # the real API fails to decode the body: 400 with the Go decoder's message
            raise st.bad_request(f'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 0')
    if data or "data" in obj:
        obj["data"] = data
    obj.setdefault("type", "Opaque")
    if raw_total > 1048576:
        errs.append(st.too_long_bytes("data", 1048576))
    return errs


def validate_configmap(obj):
    errs = []
    for fld in ("data", "binaryData"):
        d = obj.get(fld)
        if d is None:
            continue
        if not isinstance(d, dict):
            errs.append(st.invalid(fld, d, "must be a map"))
            continue
        for k, v in d.items():
            if not re.fullmatch(CONFIG_KEY, k):
                errs.append(st.invalid(f"{fld}[{k}]", k, CONFIG_KEY_MSG))
            if fld == "data" and not isinstance(v, str):
                errs.append(st.invalid(f"{fld}[{k}]", v, "must be a string"))
    total = 0
    for k, v in (obj.get("data") or {}).items():
        total += len(k) + len(str(v).encode())
    for k, v in (obj.get("binaryData") or {}).items():
        try:
            total += len(k) + len(base64.b64decode(str(v)))
        except (binascii.Error, ValueError):
            total += len(k) + len(str(v))
    if total > 1048576:
        errs.append(st.too_long_bytes("[]", 1048576))
    return errs


def validate_pod(obj):
    errs = []
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [st.required("spec.containers")]
    containers = spec.get("containers")
    if not containers:
        errs.append(st.required("spec.containers"))
        return errs
    seen = set()
    for i, c in enumerate(containers):
        p = f"spec.containers[{i}]"
        if not isinstance(c, dict):
            errs.append(st.invalid(p, c, "must be an object"))
            continue
        name = c.get("name")
        if not name:
            errs.append(st.required(f"{p}.name"))
        else:
            if not re.fullmatch(DNS1123_LABEL, name) or len(name) > 63:
                errs.append(st.invalid(f"{p}.name", name, LABEL1123_MSG))
            if name in seen:
                errs.append(st.duplicate(f"{p}.name", name))
            seen.add(name)
        if not c.get("image"):
            errs.append(st.required(f"{p}.image"))
        for j, e in enumerate(c.get("env") or []):
            if not isinstance(e, dict) or not e.get("name"):
                errs.append(st.required(f"{p}.env[{j}].name"))
    return errs


def validate_service(obj):
    spec = obj.get("spec") or {}
    if spec.get("type") == "ExternalName" or spec.get("clusterIP") == "None":
        return []
    errs = []
    ports = spec.get("ports")
    if not ports:
        return [st.required("spec.ports")]
    for i, p in enumerate(ports):
        if not isinstance(p, dict) or not isinstance(p.get("port"), int):
            errs.append(st.required(f"spec.ports[{i}].port"))
    return errs


def validate_event(obj, ns, group):
    """ValidateEventCreate (pkg/apis/core/validation/events.go); field names are the
    internal ones (message, involvedObject) for both API versions, as in the real server."""
    errs = []
    new_api = group == "events.k8s.io"
    involved = obj.get("regarding" if new_api else "involvedObject") or {}
    event_time = obj.get("eventTime")
    inv_ns = involved.get("namespace", "")
    if not event_time:
        if not inv_ns:
            if ns not in ("", "default"):
                errs.append(st.invalid("involvedObject.namespace", inv_ns, "does not match event.namespace"))
        elif ns != inv_ns:
            errs.append(st.invalid("involvedObject.namespace", inv_ns, "does not match event.namespace"))
    else:
        if not inv_ns and ns not in ("default", "kube-system"):
            errs.append(st.invalid("involvedObject.namespace", inv_ns, "does not match event.namespace"))
        rc = obj.get("reportingController" if new_api else "reportingComponent") or ""
        if not rc:
            errs.append(st.required("reportingController"))
        else:
            for m in qualified_name_msgs(rc):
                errs.append(st.invalid("reportingController", rc, m))
        ri = obj.get("reportingInstance") or ""
        if not ri:
            errs.append(st.required("reportingInstance"))
        elif len(ri) > 128:
            errs.append(st.invalid("reportingInstance", "", "can have at most 128 characters"))
        action = obj.get("action") or ""
        if not action:
            errs.append(st.required("action"))
        elif len(action) > 128:
            errs.append(st.invalid("action", "", "can have at most 128 characters"))
        reason = obj.get("reason") or ""
        if not reason:
            errs.append(st.required("reason"))
        elif len(reason) > 128:
            errs.append(st.invalid("reason", "", "can have at most 128 characters"))
        note = obj.get("note" if new_api else "message") or ""
        if len(note) > 1024:
            errs.append(st.invalid("message", "", "can have at most 1024 characters"))
    if new_api:
        series = obj.get("series")
        if series is not None:
            if not isinstance(series, dict) or int(series.get("count") or 0) < 2:
                errs.append(st.invalid("series.count", "", "should be at least 2"))
            if not isinstance(series, dict) or not series.get("lastObservedTime"):
                errs.append(st.required("series.lastObservedTime"))
        if not event_time:
            errs.append(st.required("eventTime"))
        if obj.get("type") not in ("Normal", "Warning"):
            errs.append(st.invalid("type", "", f"has invalid value: {obj.get('type') or ''}"))
        for f, internal in (("deprecatedFirstTimestamp", "firstTimestamp"),
                            ("deprecatedLastTimestamp", "lastTimestamp")):
            if obj.get(f):
                errs.append(st.invalid(internal, "", "needs to be unset"))
        if obj.get("deprecatedCount"):
            errs.append(st.invalid("count", "", "needs to be unset"))
        src = obj.get("deprecatedSource") or {}
        if src.get("component") or src.get("host"):
            errs.append(st.invalid("source", "", "needs to be unset"))
    return errs


def validate_lease(obj):
    spec = obj.get("spec") or {}
    errs = []
    d = spec.get("leaseDurationSeconds")
    if d is not None and (not isinstance(d, int) or d <= 0):
        errs.append(st.invalid("spec.leaseDurationSeconds", d, "must be greater than 0"))
    t = spec.get("leaseTransitions")
    if t is not None and (not isinstance(t, int) or t < 0):
        errs.append(st.invalid("spec.leaseTransitions", t, "must be greater than or equal to 0"))
    return errs
