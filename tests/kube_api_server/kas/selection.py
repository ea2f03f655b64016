"""Label selectors (equality- and set-based) and field selectors."""
import re

from .events import EVENTS_V1_FIELD_LABELS, core_field_value
from .status import bad_request

_KEY = r"[A-Za-z0-9][-A-Za-z0-9_./]*"


def _split_top(s):
    """Split on commas that are not inside parentheses."""
    parts, depth, cur = [], 0, []
    for c in s:
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        if c == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


class LabelSelector:
    def __init__(self, text):
        self.text = text or ""
        self.reqs = []
        for part in _split_top(self.text):
            self.reqs.append(self._parse(part))

    @staticmethod
    def _parse(part):
        m = re.fullmatch(rf"\s*({_KEY})\s+(in|notin)\s*\(([^)]*)\)\s*", part)
        if m:
            vals = {v.strip() for v in m.group(3).split(",") if v.strip()}
            return (m.group(2), m.group(1), vals)
        m = re.fullmatch(rf"\s*({_KEY})\s*(==|!=|=)\s*([-A-Za-z0-9_.]*)\s*", part)
        if m:
            op = {"=": "eq", "==": "eq", "!=": "ne"}[m.group(2)]
            return (op, m.group(1), m.group(3))
        m = re.fullmatch(rf"\s*({_KEY})\s*(<|>)\s*(-?\d+)\s*", part)
        if m:
            return ("gt" if m.group(2) == ">" else "lt", m.group(1), int(m.group(3)))
        m = re.fullmatch(rf"\s*!\s*({_KEY})\s*", part)
        if m:
            return ("notexists", m.group(1), None)
        m = re.fullmatch(rf"\s*({_KEY})\s*", part)
        if m:
            return ("exists", m.group(1), None)
        raise bad_request(f"unable to parse requirement: found '{part}', expected: in, notin, =, ==, !=, gt, lt")

    def matches(self, labels):
        labels = labels or {}
        for op, key, val in self.reqs:
            has = key in labels
            v = labels.get(key)
            if op == "eq" and not (has and v == val):
                return False
            if op == "ne" and has and v == val:
                return False
            if op == "in" and not (has and v in val):
                return False
            if op == "notin" and has and v in val:
                return False
            if op == "exists" and not has:
                return False
            if op == "notexists" and has:
                return False
            if op in ("gt", "lt"):
                try:
                    n = int(v)
                except (TypeError, ValueError):
                    return False
                if (op == "gt" and not n > val) or (op == "lt" and not n < val):
                    return False
        return True

    def __bool__(self):
        return bool(self.reqs)


# Field selectors: metadata.name / metadata.namespace everywhere, plus the fields the
# real apiserver registers for some kinds.
EXTRA_FIELDS = {
    ("", "pods"): {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
                   "spec.serviceAccountName", "spec.hostNetwork", "status.phase",
                   "status.podIP", "status.nominatedNodeName"},
    ("", "secrets"): {"type"},
    ("", "events"): {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
                     "involvedObject.uid", "involvedObject.apiVersion",
                     "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason",
                     "reportingComponent", "source", "type"},
    ("apps", "statefulsets"): {"status.successful"},
}


def _get_path(obj, dotted):
    cur = obj
    for p in dotted.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(p)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


# Labels a resource accepts that stand for another label of the stored object (the field
# label conversion of a version whose storage is another kind's).
LABEL_CONVERSIONS = {("events.k8s.io", "events"): EVENTS_V1_FIELD_LABELS}


class FieldSelector:
    """Parsed with the labels of the requested resource, matched against stored objects."""

    def __init__(self, text, res_key):
        self.text = text or ""
        self.reqs = []
        conv = LABEL_CONVERSIONS.get(res_key)
        allowed = set(conv) if conv else (
            {"metadata.name", "metadata.namespace"} | EXTRA_FIELDS.get(res_key, set()))
        self.events = res_key[1] == "events" and res_key[0] in ("", "events.k8s.io")
        for part in _split_top(self.text):
            m = re.fullmatch(r"\s*([A-Za-z0-9_.]+)\s*(==|!=|=)\s*(.*?)\s*", part)
            if not m:
                raise bad_request(f"invalid selector: '{self.text}'; can't understand '{part}'")
            key = m.group(1)
            if key not in allowed:
                raise bad_request(f'field label not supported: {key}')
            self.reqs.append((conv[key] if conv else key, m.group(2) != "!=", m.group(3)))

    def matches(self, obj):
        for key, eq, val in self.reqs:
            actual = core_field_value(obj, key) if self.events else None
            if actual is None:
                actual = _get_path(obj, key)
            if (actual == val) != eq:
                return False
        return True

    def single_name(self):
        for key, eq, val in self.reqs:
            if key == "metadata.name" and eq:
                return val
        return None

    def __bool__(self):
        return bool(self.reqs)
