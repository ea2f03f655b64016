"""Fault injection rules (POST /_test/faults)."""
import re

WATCH_ONLY = ("dropWatchAfterEvents", "dropWatchAfterSeconds", "watchErrorGone",
              "swallowWatchEvents")
ACTIONS = ("status", "delay") + WATCH_ONLY


class Faults:
    def __init__(self):
        self.rules = []

    def add(self, rules):
        out = []
        for r in rules:
            if not isinstance(r, dict):
                raise ValueError("each fault must be an object")
            m = r.get("match") or {}
            if not isinstance(m, dict):
                raise ValueError("match must be an object")
            for k in ("path", "query"):
                if m.get(k):
                    try:
                        re.compile(m[k])
                    except re.error as e:
                        raise ValueError(f"match.{k}: invalid regular expression: {e}")
            if not any(a in r for a in ACTIONS):
                raise ValueError(f"a fault needs one of {', '.join(ACTIONS)}")
            if "status" in r and int(r["status"]) < 400:
                raise ValueError("status must be an error code")
            rule = dict(r)
            rule["match"] = m
            rule["times"] = int(r.get("times", 1))
            rule["hits"] = 0
            out.append(rule)
        self.rules.extend(out)

    def clear(self):
        self.rules.clear()

    def match(self, method, path, query_string, is_watch):
        for rule in self.rules:
            m = rule["match"]
            if m.get("method") and m["method"].upper() != method.upper():
                continue
            if m.get("path") and not re.search(m["path"], path):
                continue
            if m.get("query") and not re.search(m["query"], query_string or ""):
                continue
            if "watch" in m and m["watch"] is not None and bool(m["watch"]) != is_watch:
                continue
            if any(a in rule for a in WATCH_ONLY) and not is_watch:
                continue
            rule["hits"] += 1
            if rule["times"] > 0:
                rule["times"] -= 1
                if rule["times"] == 0:
                    self.rules.remove(rule)
            return rule
        return None

    def describe(self):
        return [{k: v for k, v in r.items()} for r in self.rules]
