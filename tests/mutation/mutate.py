#!/usr/bin/env python3
"""Reads the mutation list and applies one mutation to a tree (helper of run.sh).

The list (mutations.txt) holds blocks separated by blank lines; '#' starts a comment line:

    name: claim-without-resource-version
    file: operator/controller/reconciler.cc
    find: {{"resourceVersion", core::stringField(...), "resourceVersion")}}},
    replace: nlohmann::json::object()},
    why: the claim patch is sent without metadata.resourceVersion

`find` is matched verbatim (surrounding whitespace ignored) and must occur exactly once in the
file; otherwise the mutation is stale: the code changed and the list needs updating.

    mutate.py names LIST              the names, in order, one per line
    mutate.py describe LIST NAME      "file<TAB>why"
    mutate.py apply LIST NAME ROOT    mutates ROOT/file in place; exit 0 applied, 3 stale
"""
import sys

FIELDS = ("name", "file", "find", "replace", "why")


def load(path):
    mutations, current = [], {}
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    for number, line in enumerate(lines + [""], start=1):
        if line.startswith("#"):
            continue
        if not line.strip():
            if current:
                missing = [k for k in FIELDS if k not in current and k != "why"]
                if missing:
                    sys.exit(f"{path}: mutation ending at line {number} lacks {', '.join(missing)}")
                mutations.append(current)
                current = {}
            continue
        key, sep, value = line.partition(":")
        if not sep or key not in FIELDS:
            sys.exit(f"{path}:{number}: expected one of {', '.join(FIELDS)} followed by ':'")
        current[key] = value.strip()
    names = [m["name"] for m in mutations]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        sys.exit(f"{path}: duplicate names: {', '.join(sorted(duplicates))}")
    return mutations


def find(mutations, name):
    for m in mutations:
        if m["name"] == name:
            return m
    sys.exit(f"no mutation named {name}")


def main(argv):
    if len(argv) >= 3 and argv[1] == "names":
        for m in load(argv[2]):
            print(m["name"])
        return 0
    if len(argv) == 4 and argv[1] == "describe":
        m = find(load(argv[2]), argv[3])
        print(f"{m['file']}\t{m.get('why', '')}")
        return 0
    if len(argv) == 5 and argv[1] == "apply":
        m = find(load(argv[2]), argv[3])
        path = f"{argv[4]}/{m['file']}"
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except FileNotFoundError:
            print(f"{m['file']} no longer exists")
            return 3
        count = text.count(m["find"])
        if count != 1:
            print(f"the original text occurs {count} times in {m['file']}")
            return 3
        with open(path, "w", encoding="utf-8") as f:
            f.write(text.replace(m["find"], m["replace"], 1))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
