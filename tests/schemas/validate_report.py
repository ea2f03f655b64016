#!/usr/bin/env python3
"""Validates an alembic-sidecar report file: `validate_report.py FORMAT FILE`.

  junit               xmllint against junit-10.xsd (the Jenkins xUnit plugin's JUnit schema)
  sarif               the SARIF 2.1.0 JSON schema (sarif-schema-2.1.0.json, python3-jsonschema)
  sarif-multitool     Microsoft's SARIF Multitool (`validate FILE -o OUT`) with its SARIF rules
                      and its GitHub code scanning rules (--rule-kind "Gh;Ghas;Sarif"): no
                      error-level result may remain (MULTITOOL: the binary, default
                      .tools/bin/sarif-multitool)
  gitlab-codequality  the fields GitLab's Code Quality report requires

Prints what is wrong and exits 1; exits 0 when the file is valid. Offline: every schema is here.
"""
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent


def junit(path):
    res = subprocess.run(["xmllint", "--noout", "--schema", str(HERE / "junit-10.xsd"), path],
                         capture_output=True, text=True)
    return [] if res.returncode == 0 else [res.stderr.strip()]


def sarif(path):
    import jsonschema
    schema = json.loads((HERE / "sarif-schema-2.1.0.json").read_text())
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    doc = json.loads(Path(path).read_text())
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(doc)]


def sarif_multitool(path):
    tool = os.environ.get("MULTITOOL", str(REPO / ".tools" / "bin" / "sarif-multitool"))
    if not os.access(tool, os.X_OK):
        return [f"the SARIF Multitool is not installed at {tool} (scripts/install-deps.sh)"]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "validation.sarif"
        env = dict(os.environ, DOTNET_SYSTEM_GLOBALIZATION_INVARIANT="1",
                   DOTNET_CLI_TELEMETRY_OPTOUT="1")
        res = subprocess.run([tool, "validate", "--rule-kind", "Gh;Ghas;Sarif", path, "-o",
                              str(out)], capture_output=True,
                             text=True, env=env, timeout=300)
        if not out.exists():
            return [f"the Multitool wrote no result (exit {res.returncode}): "
                    f"{res.stdout[-2000:]}{res.stderr[-2000:]}"]
        log = json.loads(out.read_text())
    problems = []
    for run in log.get("runs", []):
        for result in run.get("results", []):
            # SARIF's default level is "warning": only an explicit error fails.
            if result.get("level") == "error":
                message = result.get("message", {})
                problems.append(f"{result.get('ruleId')}: "
                                f"{message.get('text') or message.get('arguments')}")
        for inv in run.get("invocations", []):
            for note in inv.get("toolExecutionNotifications", []):
                if note.get("level") == "error":
                    problems.append(f"tool error: {note.get('message', {}).get('text')}")
    return problems


def gitlab_codequality(path):
    doc = json.loads(Path(path).read_text())
    if not isinstance(doc, list):
        return ["the report is not a JSON array"]
    problems = []
    fingerprints = set()
    for i, issue in enumerate(doc):
        where = f"[{i}]"
        for key in ("description", "check_name", "fingerprint", "severity"):
            if not isinstance(issue.get(key), str) or not issue[key]:
                problems.append(f"{where}: {key} missing or not a non-empty string")
        if issue.get("severity") not in ("info", "minor", "major", "critical", "blocker"):
            problems.append(f"{where}: severity {issue.get('severity')!r} is not one of GitLab's")
        loc = issue.get("location", {})
        if not isinstance(loc.get("path"), str) or not loc["path"]:
            problems.append(f"{where}: location.path missing")
        begin = loc.get("lines", {}).get("begin")
        if not isinstance(begin, int) or begin < 1:
            problems.append(f"{where}: location.lines.begin missing or < 1")
        if issue.get("fingerprint") in fingerprints:
            problems.append(f"{where}: fingerprint repeated")
        fingerprints.add(issue.get("fingerprint"))
    return problems


CHECKS = {"junit": junit, "sarif": sarif, "sarif-multitool": sarif_multitool,
          "gitlab-codequality": gitlab_codequality}


def main(argv):
    if len(argv) != 3 or argv[1] not in CHECKS:
        print(__doc__, file=sys.stderr)
        return 2
    problems = CHECKS[argv[1]](argv[2])
    for p in problems:
        print(f"{argv[2]}: {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
