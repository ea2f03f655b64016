"""Structural schema handling for custom resources (apiextensions.k8s.io/v1).

Order as in the real apiserver: prune unknown fields -> drop non-nullable nulls and
apply defaults -> OpenAPI value validation -> x-kubernetes-validations (CEL subset).
Messages follow kube-openapi / field.Error wording.
"""
import copy
import json
import re

from . import cel
from . import status as st

OBJECT_META_FIELDS = {
    "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
    "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels",
    "annotations", "ownerReferences", "finalizers", "managedFields",
}


def child(path, key):
    return f"{path}.{key}" if path else key


def jtype(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "integer" if v.is_integer() else "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return type(v).__name__


def _num(v):
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


class CompiledSchema:
    """A CRD version's openAPIV3Schema plus compiled CEL rules."""

    def __init__(self, schema):
        self.schema = schema or {}
        self.rules = {}
        self._compile(self.schema, "")

    def _compile(self, s, path):
        if not isinstance(s, dict):
            return
        for r in s.get("x-kubernetes-validations") or []:
            rule = r.get("rule", "")
            try:
                self.rules[rule] = cel.compile_rule(rule)
            except cel.CelError as e:
                raise ValueError(f"{path or '<root>'}: x-kubernetes-validations rule {rule!r} "
                                 f"does not compile in the supported CEL subset: {e}")
        for k, v in (s.get("properties") or {}).items():
            self._compile(v, child(path, k))
        if isinstance(s.get("additionalProperties"), dict):
            self._compile(s["additionalProperties"], path + "[*]")
        if isinstance(s.get("items"), dict):
            self._compile(s["items"], path + "[*]")
        for key in ("allOf", "anyOf", "oneOf"):
            for sub in s.get(key) or []:
                self._compile(sub, path)

    # -- pruning ------------------------------------------------------------
    def prune(self, obj):
        """Remove unknown fields in place; returns the list of pruned paths."""
        pruned = []
        for k in list(obj.keys()):
            if k in ("apiVersion", "kind"):
                continue
            if k == "metadata":
                if isinstance(obj[k], dict):
                    for mk in list(obj[k].keys()):
                        if mk not in OBJECT_META_FIELDS:
                            del obj[k][mk]
                            pruned.append(f"metadata.{mk}")
                continue
            props = self.schema.get("properties") or {}
            if k in props:
                _prune(obj[k], props[k], k, pruned)
            elif not self.schema.get("x-kubernetes-preserve-unknown-fields"):
                del obj[k]
                pruned.append(k)
        return pruned

    # -- defaulting ----------------------------------------------------------
    def default(self, obj):
        props = self.schema.get("properties") or {}
        for k, ps in props.items():
            if k == "metadata":
                continue
            if k in obj and obj[k] is None and not ps.get("nullable"):
                del obj[k]
            if k not in obj and "default" in ps:
                obj[k] = copy.deepcopy(ps["default"])
            if k in obj:
                _default(obj[k], ps)

    # -- validation ----------------------------------------------------------
    def validate(self, obj, old=None):
        errs = []
        s = self.schema
        props = s.get("properties") or {}
        for r in s.get("required") or []:
            if r not in obj:
                errs.append(st.required(r))
        for k, v in obj.items():
            if k == "metadata":
                continue
            if k in props:
                _validate(v, props[k], k, errs)
        if errs:
            # CEL only runs on values that already passed the OpenAPI checks
            bad = {e.field.split(".")[0].split("[")[0] for e in errs}
        else:
            bad = set()
        self._cel(obj, old, s, "", errs, bad, top=True)
        return errs

    def _cel(self, value, old, s, path, errs, bad, top=False):
        if value is None or not isinstance(s, dict):
            return
        stype = s.get("type") or ("object" if isinstance(value, dict) else jtype(value))
        for r in s.get("x-kubernetes-validations") or []:
            rule = r.get("rule", "")
            ast = self.rules.get(rule)
            if ast is None:
                continue
            if cel.uses_old_self(ast) and old is None and not r.get("optionalOldSelf"):
                continue   # transition rule: only on update with an old value
            env = {"self": _cel_view(value, s, top), "oldSelf": _cel_view(old, s, top)}
            fpath = path
            if r.get("fieldPath"):
                fp = r["fieldPath"]
                fpath = (path + fp) if fp.startswith(".") or fp.startswith("[") else child(path, fp)
                if fpath.startswith("."):
                    fpath = fpath[1:]
            try:
                ok = cel.evaluate(ast, env)
            except cel.CelError as e:
                errs.append(st.invalid(path, stype, f"{e} evaluating rule: {rule}"))
                continue
            if ok is True:
                continue
            msg = r.get("message") or ""
            if r.get("messageExpression"):
                try:
                    m = cel.evaluate(cel.compile_rule(r["messageExpression"]), env)
                    if isinstance(m, str) and m.strip():
                        msg = m
                except cel.CelError:
                    pass
            if not msg:
                msg = f"failed rule: {rule}"
            reason = r.get("reason") or "FieldValueInvalid"
            if reason == "FieldValueForbidden":
                errs.append(st.forbidden_field(fpath, msg))
            elif reason == "FieldValueRequired":
                errs.append(st.required(fpath, msg))
            elif reason == "FieldValueDuplicate":
                errs.append(st.FieldError("FieldValueDuplicate", fpath, stype, msg))
            else:
                errs.append(st.invalid(fpath, stype, msg))
        if isinstance(value, dict):
            props = s.get("properties") or {}
            addl = s.get("additionalProperties")
            for k, v in value.items():
                if top and (k == "metadata" or k in bad):
                    continue
                o = old.get(k) if isinstance(old, dict) else None
                if k in props:
                    self._cel(v, o, props[k], child(path, k), errs, bad)
                elif isinstance(addl, dict):
                    self._cel(v, o, addl, f"{path}[{k}]", errs, bad)
        elif isinstance(value, list) and isinstance(s.get("items"), dict):
            keys = s.get("x-kubernetes-list-map-keys")
            for i, v in enumerate(value):
                o = None
                if keys and isinstance(old, list) and isinstance(v, dict):
                    for ov in old:
                        if isinstance(ov, dict) and all(ov.get(k) == v.get(k) for k in keys):
                            o = ov
                            break
                self._cel(v, o, s["items"], f"{path}[{i}]", errs, bad)


def _cel_view(value, s, top):
    if top and isinstance(value, dict):
        # self at the root sees apiVersion, kind, metadata.name / generateName and the rest
        v = dict(value)
        md = value.get("metadata") or {}
        v["metadata"] = {k: md[k] for k in ("name", "generateName") if k in md}
        return v
    return value


def _prune(value, s, path, pruned):
    if not isinstance(s, dict):
        return
    preserve = s.get("x-kubernetes-preserve-unknown-fields") is True
    if isinstance(value, dict):
        props = s.get("properties")
        addl = s.get("additionalProperties")
        embedded = s.get("x-kubernetes-embedded-resource")
        for k in list(value.keys()):
            if props and k in props:
                _prune(value[k], props[k], child(path, k), pruned)
            elif isinstance(addl, dict):
                _prune(value[k], addl, f"{path}[{k}]", pruned)
            elif addl is True or preserve:
                continue
            elif embedded and k in ("apiVersion", "kind", "metadata"):
                continue
            else:
                del value[k]
                pruned.append(child(path, k))
    elif isinstance(value, list) and isinstance(s.get("items"), dict):
        for i, v in enumerate(value):
            _prune(v, s["items"], f"{path}[{i}]", pruned)


def _default(value, s):
    if not isinstance(s, dict):
        return
    if isinstance(value, dict):
        props = s.get("properties") or {}
        for k, ps in props.items():
            if k in value and value[k] is None and not ps.get("nullable"):
                del value[k]
            if k not in value and "default" in ps:
                value[k] = copy.deepcopy(ps["default"])
            if k in value:
                _default(value[k], ps)
        addl = s.get("additionalProperties")
        if isinstance(addl, dict):
            for k in list(value.keys()):
                if k in props:
                    continue
                if value[k] is None and not addl.get("nullable"):
                    del value[k]
                    continue
                _default(value[k], addl)
    elif isinstance(value, list) and isinstance(s.get("items"), dict):
        for v in value:
            _default(v, s["items"])


def _type_ok(v, t, s):
    if s.get("x-kubernetes-int-or-string"):
        return isinstance(v, str) or (jtype(v) == "integer")
    if not t:
        return True
    jt = jtype(v)
    if t == "number":
        return jt in ("integer", "number")
    return jt == t


def _json_eq(a, b):
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _validate(value, s, path, errs):
    if not isinstance(s, dict):
        return
    t = s.get("type")
    if value is None:
        if s.get("nullable") or (not t and not s.get("x-kubernetes-int-or-string")):
            return
        errs.append(st.type_invalid(path, "null", f'{path} in body must be of type {t or "integer,string"}: "null"'))
        return
    if not _type_ok(value, t, s):
        jt = jtype(value)
        tt = "integer,string" if s.get("x-kubernetes-int-or-string") else t
        errs.append(st.type_invalid(path, jt, f'{path} in body must be of type {tt}: "{jt}"'))
        return
    if "enum" in s and s["enum"] is not None:
        if not any(_json_eq(value, e) for e in s["enum"]):
            errs.append(st.not_supported(path, value, [e if isinstance(e, str) else json.dumps(e) for e in s["enum"]]))
    if isinstance(value, str):
        n = len(value)
        if s.get("maxLength") is not None and n > s["maxLength"]:
            errs.append(st.too_long(path, s["maxLength"]))
        if s.get("minLength") is not None and n < s["minLength"]:
            errs.append(st.invalid(path, value, f"{path} in body should be at least {s['minLength']} chars long"))
        if s.get("pattern"):
            try:
                if not re.search(s["pattern"], value):
                    errs.append(st.invalid(path, value, f"{path} in body should match '{s['pattern']}'"))
            except re.error:
                pass
    if jtype(value) in ("integer", "number"):
        if s.get("maximum") is not None:
            mx = s["maximum"]
            if s.get("exclusiveMaximum") and value >= mx:
                errs.append(st.invalid(path, value, f"{path} in body should be less than {_num(mx)}"))
            elif value > mx:
                errs.append(st.invalid(path, value, f"{path} in body should be less than or equal to {_num(mx)}"))
        if s.get("minimum") is not None:
            mn = s["minimum"]
            if s.get("exclusiveMinimum") and value <= mn:
                errs.append(st.invalid(path, value, f"{path} in body should be greater than {_num(mn)}"))
            elif value < mn:
                errs.append(st.invalid(path, value, f"{path} in body should be greater than or equal to {_num(mn)}"))
        if s.get("multipleOf"):
            q = value / s["multipleOf"]
            if abs(q - round(q)) > 1e-9:
                errs.append(st.invalid(path, value, f"{path} in body should be a multiple of {_num(s['multipleOf'])}"))
    if isinstance(value, list):
        if s.get("maxItems") is not None and len(value) > s["maxItems"]:
            errs.append(st.too_many(path, len(value), s["maxItems"]))
        if s.get("minItems") is not None and len(value) < s["minItems"]:
            errs.append(st.invalid(path, len(value), f"{path} in body should have at least {s['minItems']} items"))
        if s.get("uniqueItems") or s.get("x-kubernetes-list-type") == "set":
            seen = set()
            for i, v in enumerate(value):
                key = json.dumps(v, sort_keys=True)
                if key in seen:
                    errs.append(st.duplicate(f"{path}[{i}]", v))
                seen.add(key)
        if s.get("x-kubernetes-list-type") == "map" and s.get("x-kubernetes-list-map-keys"):
            keys = s["x-kubernetes-list-map-keys"]
            seen = set()
            for i, v in enumerate(value):
                if isinstance(v, dict):
                    key = json.dumps([v.get(k) for k in keys])
                    if key in seen:
                        errs.append(st.duplicate(f"{path}[{i}]", {k: v.get(k) for k in keys}))
                    seen.add(key)
        if isinstance(s.get("items"), dict):
            for i, v in enumerate(value):
                _validate(v, s["items"], f"{path}[{i}]", errs)
    if isinstance(value, dict):
        if s.get("maxProperties") is not None and len(value) > s["maxProperties"]:
            errs.append(st.too_many(path, len(value), s["maxProperties"]))
        if s.get("minProperties") is not None and len(value) < s["minProperties"]:
            errs.append(st.invalid(path, len(value), f"{path} in body should have at least {s['minProperties']} properties"))
        for r in s.get("required") or []:
            if r not in value:
                errs.append(st.required(child(path, r)))
        props = s.get("properties") or {}
        addl = s.get("additionalProperties")
        for k, v in value.items():
            if k in props:
                _validate(v, props[k], child(path, k), errs)
            elif isinstance(addl, dict):
                _validate(v, addl, f"{path}[{k}]", errs)
    for sub in s.get("allOf") or []:
        _validate(value, sub, path, errs)
    if s.get("anyOf"):
        if all(_sub_errors(value, sub, path) for sub in s["anyOf"]):
            errs.append(st.invalid(path, jtype(value), f"{path} in body must validate at least one schema (anyOf)"))
    if s.get("oneOf"):
        n = sum(1 for sub in s["oneOf"] if not _sub_errors(value, sub, path))
        if n != 1:
            errs.append(st.invalid(path, jtype(value), f"{path} in body must validate one and only one schema (oneOf)"))
    if isinstance(s.get("not"), dict) and not _sub_errors(value, s["not"], path):
        errs.append(st.invalid(path, jtype(value), f"{path} in body must not validate the schema (not)"))


def _sub_errors(value, sub, path):
    e = []
    _validate(value, sub, path, e)
    return e
