"""RFC 7386 JSON merge patch and RFC 6902 JSON patch."""
import copy

from .status import ApiError


def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    else:
        target = dict(target)
    for k, v in patch.items():
        if v is None:
            target.pop(k, None)
        else:
            target[k] = merge_patch(target.get(k), v)
    return target


def _pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise _err(f'add operation does not apply: doc is missing path: "{path}"')
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _err(msg):
    # the real apiserver answers a failing JSON patch with 422 Invalid (or 500 on bad docs)
    return ApiError(422, "Invalid", msg)


def _walk(doc, parts, path):
    cur = doc
    for p in parts:
        if isinstance(cur, dict):
            if p not in cur:
                raise _err(f'doc is missing path: "{path}": missing value')
            cur = cur[p]
        elif isinstance(cur, list):
            try:
                cur = cur[int(p)]
            except (ValueError, IndexError):
                raise _err(f'doc is missing path: "{path}": missing value')
        else:
            raise _err(f'doc is missing path: "{path}": missing value')
    return cur


def _index(container, p, path, allow_end):
    if p == "-" and allow_end:
        return len(container)
    try:
        i = int(p)
    except ValueError:
        raise _err(f'unable to parse index "{p}" in "{path}"')
    if i < 0 or i > len(container) or (i == len(container) and not allow_end):
        raise _err(f'Unable to access invalid index: {i}: invalid index referenced')
    return i


def _remove(doc, parts, path):
    if not parts:
        raise _err("cannot remove the whole document")
    parent = _walk(doc, parts[:-1], path)
    last = parts[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise _err(f'remove operation does not apply: doc is missing path: "{path}"')
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_index(parent, last, path, False))
    raise _err(f'remove operation does not apply: doc is missing path: "{path}"')


def _add(doc, parts, value, path, replace=False):
    if not parts:
        return value
    parent = _walk(doc, parts[:-1], path)
    last = parts[-1]
    if isinstance(parent, dict):
        if replace and last not in parent:
            raise _err(f'replace operation does not apply: doc is missing key: {path}: missing value')
        parent[last] = value
    elif isinstance(parent, list):
        if replace:
            parent[_index(parent, last, path, False)] = value
        else:
            parent.insert(_index(parent, last, path, True), value)
    else:
        raise _err(f'add operation does not apply: doc is missing path: "{path}": missing value')
    return doc


def json_patch(doc, ops):
    if not isinstance(ops, list):
        raise ApiError(400, "BadRequest", "json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    doc = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op:
            raise _err("Unexpected kind: <nil>")
        kind = op["op"]
        path = op.get("path", "")
        parts = _pointer(path)
        if kind == "add":
            doc = _add(doc, parts, copy.deepcopy(op.get("value")), path)
        elif kind == "remove":
            _remove(doc, parts, path)
        elif kind == "replace":
            doc = _add(doc, parts, copy.deepcopy(op.get("value")), path, replace=True)
        elif kind in ("move", "copy"):
            src = op.get("from", "")
            sparts = _pointer(src)
            val = _remove(doc, sparts, src) if kind == "move" else copy.deepcopy(_walk(doc, sparts, src))
            doc = _add(doc, parts, val, path)
        elif kind == "test":
            if _walk(doc, parts, path) != op.get("value"):
                raise _err(f'testing value {path} failed: test failed')
        else:
            raise _err(f"Unexpected kind: {kind}")
    return doc
