"""Objects, the global resourceVersion, the event history and watchers.

Every write bumps ONE global integer (like etcd's revision). The history keeps the last
`window` events (or everything since the last compaction); it serves watches that start
from a resourceVersion and list continuations (snapshots at an older revision).
"""
import asyncio
from collections import deque

START_RV = 100


def storage_key(obj):
    """Objects are ordered like etcd keys (/registry/<resource>/<namespace>/<name>)."""
    md = obj["metadata"]
    ns = md.get("namespace", "")
    return f'{ns}/{md["name"]}' if ns else md["name"]


class Event:
    __slots__ = ("rv", "key", "type", "obj", "prev")

    def __init__(self, rv, key, etype, obj, prev):
        self.rv = rv
        self.key = key
        self.type = etype
        self.obj = obj
        self.prev = prev


class Watcher:
    def __init__(self, key, namespace, lsel, fsel, info):
        self.key = key
        self.namespace = namespace
        self.lsel = lsel
        self.fsel = fsel
        self.info = info
        self.queue = asyncio.Queue()

    def matches(self, obj):
        md = obj.get("metadata") or {}
        if self.namespace is not None and md.get("namespace") != self.namespace:
            return False
        if self.lsel and not self.lsel.matches(md.get("labels")):
            return False
        if self.fsel and not self.fsel.matches(obj):
            return False
        return True

    def translate(self, ev):
        new_m = self.matches(ev.obj)
        if ev.type == "ADDED":
            return ("ADDED", ev.obj) if new_m else None
        if ev.type == "DELETED":
            return ("DELETED", ev.obj) if new_m else None
        old_m = ev.prev is not None and self.matches(ev.prev)
        if new_m and old_m:
            return ("MODIFIED", ev.obj)
        if new_m:
            return ("ADDED", ev.obj)
        if old_m:
            return ("DELETED", ev.obj)
        return None

    def offer(self, ev):
        t = self.translate(ev)
        if t is not None:
            self.queue.put_nowait(t)

    def close(self):
        self.queue.put_nowait(None)


class Store:
    def __init__(self, window=1000):
        self.rv = START_RV
        self.window = max(1, int(window))
        self.objs = {}              # key -> {(ns, name): obj}; objects are never mutated in place
        self.history = deque()
        self.floor = START_RV       # all events with rv > floor are retained
        self.watchers = set()

    # -- reading -------------------------------------------------------------
    def get(self, key, ns, name):
        return self.objs.get(key, {}).get((ns or "", name))

    def items(self, key, ns=None):
        d = self.objs.get(key, {})
        out = [o for (n, _), o in d.items() if ns is None or n == ns]
        out.sort(key=storage_key)
        return out

    def all_objects(self):
        for key, d in self.objs.items():
            for o in list(d.values()):
                yield key, o

    def find_uid(self, uid):
        for key, o in self.all_objects():
            if o["metadata"].get("uid") == uid:
                return key, o
        return None

    def snapshot(self, key, at_rv, ns=None):
        """The objects of one resource as they were at revision at_rv."""
        state = dict(self.objs.get(key, {}))
        for ev in reversed(self.history):
            if ev.rv <= at_rv:
                break
            if ev.key != key:
                continue
            k = (ev.obj["metadata"].get("namespace", ""), ev.obj["metadata"]["name"])
            if ev.type == "ADDED":
                state.pop(k, None)
            else:
                state[k] = ev.prev
        out = [o for (n, _), o in state.items() if ns is None or n == ns]
        out.sort(key=storage_key)
        return out

    def history_since(self, key, rv):
        return [ev for ev in self.history if ev.rv > rv and ev.key == key]

    # -- writing -------------------------------------------------------------
    def next_rv(self):
        self.rv += 1
        return self.rv

    def _record(self, ev):
        self.history.append(ev)
        while len(self.history) > self.window:
            old = self.history.popleft()
            self.floor = old.rv
        for w in list(self.watchers):
            if w.key == ev.key:
                w.offer(ev)

    def put(self, key, obj, etype, prev):
        """Store obj (whose metadata.resourceVersion is already the new rv)."""
        md = obj["metadata"]
        self.objs.setdefault(key, {})[(md.get("namespace", ""), md["name"])] = obj
        self._record(Event(int(md["resourceVersion"]), key, etype, obj, prev))

    def remove(self, key, obj, last_state):
        md = obj["metadata"]
        self.objs.get(key, {}).pop((md.get("namespace", ""), md["name"]), None)
        self._record(Event(int(last_state["metadata"]["resourceVersion"]), key, "DELETED",
                           last_state, obj))

    def compact(self):
        self.history.clear()
        self.floor = self.rv

    def reset(self):
        self.objs.clear()
        self.compact()
        for w in list(self.watchers):
            w.close()

    # -- watchers ------------------------------------------------------------
    def add_watcher(self, w):
        self.watchers.add(w)

    def remove_watcher(self, w):
        self.watchers.discard(w)
