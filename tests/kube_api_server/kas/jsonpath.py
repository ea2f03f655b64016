"""The part of Kubernetes JSONPath that CRD printer columns use.

Supported: `.field`, `['field']` / `["field"]`, `[N]` (negative counts from the end), `[*]`,
`.*`, and filters `[?(@.a.b == "x")]` / `!=` with a string, number or boolean literal.
`compile_path` raises ValueError for anything else, so a CRD using more is refused when it
is loaded (as the CEL subset is) instead of printing wrong columns.
"""
import json
import re

_NAME = re.compile(r"[A-Za-z0-9_$-][A-Za-z0-9_$/-]*")


def compile_path(text):
    """Parses a printer column's jsonPath (".spec.x" or "{.spec.x}"); returns the steps."""
    s = text.strip()
    if s.startswith("{") and s.endswith("}"):
        s = s[1:-1].strip()
    if not s:
        raise ValueError(f"unrecognized column definition {text!r}")
    steps = []
    i = 0
    if s[0] not in ".[":
        s = "." + s
    while i < len(s):
        c = s[i]
        if c == ".":
            if s.startswith(".*", i):
                steps.append(("all",))
                i += 2
                continue
            m = _NAME.match(s, i + 1)
            if not m:
                if i + 1 == len(s) and not steps:   # "." alone: the object itself
                    i += 1
                    continue
                raise ValueError(f"unrecognized column definition {text!r}")
            steps.append(("field", m.group(0)))
            i = m.end()
        elif c == "[":
            end = _closing(s, i, text)
            inner = s[i + 1:end].strip()
            i = end + 1
            if inner == "*":
                steps.append(("all",))
            elif re.fullmatch(r"-?\d+", inner):
                steps.append(("index", int(inner)))
            elif len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"":
                steps.append(("field", inner[1:-1]))
            elif inner.startswith("?(") and inner.endswith(")"):
                steps.append(_filter(inner[2:-1].strip(), text))
            else:
                raise ValueError(f"unrecognized column definition {text!r}")
        else:
            raise ValueError(f"unrecognized column definition {text!r}")
    return steps


def _closing(s, start, text):
    quote = None
    for j in range(start + 1, len(s)):
        ch = s[j]
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "]":
            return j
    raise ValueError(f"unrecognized column definition {text!r}")


def _filter(expr, text):
    m = re.fullmatch(r"@((?:\.[A-Za-z0-9_$-]+)+)\s*(==|!=)\s*(.+)", expr)
    if not m:
        raise ValueError(f"unrecognized column definition {text!r}")
    lit = m.group(3).strip()
    if len(lit) >= 2 and lit[0] == lit[-1] and lit[0] in "'\"":
        value = lit[1:-1]
    else:
        try:
            value = json.loads(lit)
        except ValueError:
            raise ValueError(f"unrecognized column definition {text!r}")
    return ("filter", m.group(1)[1:].split("."), m.group(2) == "==", value)


def find_results(steps, data):
    """Every value the path reaches in data (missing keys give nothing, as AllowMissingKeys)."""
    cur = [data]
    for step in steps:
        nxt = []
        for v in cur:
            if step[0] == "field":
                if isinstance(v, dict) and step[1] in v:
                    nxt.append(v[step[1]])
            elif step[0] == "index":
                if isinstance(v, list) and -len(v) <= step[1] < len(v):
                    nxt.append(v[step[1]])
            elif step[0] == "all":
                if isinstance(v, list):
                    nxt.extend(v)
                elif isinstance(v, dict):
                    nxt.extend(v[k] for k in sorted(v))
            else:
                _, path, eq, want = step
                items = v if isinstance(v, list) else (list(v.values()) if isinstance(v, dict) else [])
                for item in items:
                    got = item
                    for p in path:
                        got = got.get(p) if isinstance(got, dict) else None
                    if got is not None and (got == want) == eq:
                        nxt.append(item)
        cur = nxt
    return cur
