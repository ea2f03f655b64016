"""Shared helpers for the shipping tests (manifests, chart, DevSpace, Dockerfile, CI, docs).

Run with Debian's interpreter: /usr/bin/python3 -m unittest discover -s tests/shipping -v
(python3-yaml and python3-jsonschema; the pyenv python3 on PATH has neither).
"""
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

try:
    import yaml
except ImportError as exc:  # pragma: no cover - wrong interpreter
    raise ImportError(
        "tests/shipping needs python3-yaml: run them with /usr/bin/python3") from exc

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
MANIFESTS = REPO / "manifests"
CRD_FILE = MANIFESTS / "crd" / "migrationruns.yaml"
CHART = REPO / "helm" / "alembic-sidecar"
SIDECAR = "alembic-sidecar"


def tool(name):
    """Path of a tool: ./.tools/bin first (what scripts/install-deps.sh installs), then PATH."""
    local = REPO / ".tools" / "bin" / name
    if local.exists() and os.access(local, os.X_OK):
        return str(local)
    return shutil.which(name)


def require_tool(test, name):
    path = tool(name)
    if not path:
        test.skipTest(f"{name} is not installed (./scripts/install-deps.sh puts it in .tools/bin)")
    return path


def run(argv, **kwargs):
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    kwargs.setdefault("timeout", 120)
    return subprocess.run(argv, **kwargs)


def load_docs(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def load_docs_text(text):
    return [d for d in yaml.safe_load_all(text) if d is not None]


def manifest_files():
    return sorted(MANIFESTS.rglob("*.yaml"))


def sample_runs():
    return sorted((MANIFESTS / "samples").glob("*.yaml"))


def crd():
    (doc,) = load_docs(CRD_FILE)
    return doc


def crd_schema():
    return crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


# --- RBAC -------------------------------------------------------------------------------------

def normalize_rules(rules):
    """Rules as a set of (apiGroup, resource, verb) triples: order and grouping do not matter."""
    out = set()
    for rule in rules or []:
        for group in rule.get("apiGroups", []):
            for res in rule.get("resources", []):
                for verb in rule.get("verbs", []):
                    out.add((group, res, verb))
    return out


# --- Helm -------------------------------------------------------------------------------------

def helm_template(test, chart=CHART, release="shipping", namespace="shipping", values=None,
                  extra=()):
    helm = require_tool(test, "helm")
    argv = [helm, "template", release, str(chart), "--namespace", namespace, *extra]
    tmp = None
    if values is not None:
        tmp = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
        yaml.safe_dump(values, tmp)
        tmp.close()
        argv += ["--values", tmp.name]
    try:
        return run(argv)
    finally:
        if tmp is not None:
            os.unlink(tmp.name)


def helm_objects(test, **kwargs):
    res = helm_template(test, **kwargs)
    test.assertEqual(res.returncode, 0, f"helm template failed:\n{res.stderr}")
    return load_docs_text(res.stdout)


# --- Kubernetes object checks -------------------------------------------------------------------

# Field names of the Kubernetes API types the manifests use (core/v1 as of 1.31), so a typo
# such as `readinessprobe` fails here instead of being silently dropped by a client.
POD_SPEC_FIELDS = {
    "activeDeadlineSeconds", "affinity", "automountServiceAccountToken", "containers",
    "dnsConfig", "dnsPolicy", "enableServiceLinks", "ephemeralContainers", "hostAliases",
    "hostIPC", "hostNetwork", "hostPID", "hostUsers", "hostname", "imagePullSecrets",
    "initContainers", "nodeName", "nodeSelector", "os", "overhead", "preemptionPolicy",
    "priority", "priorityClassName", "readinessGates", "resourceClaims", "restartPolicy",
    "runtimeClassName", "schedulerName", "schedulingGates", "securityContext",
    "serviceAccount", "serviceAccountName", "setHostnameAsFQDN", "shareProcessNamespace",
    "subdomain", "terminationGracePeriodSeconds", "tolerations", "topologySpreadConstraints",
    "volumes",
}
CONTAINER_FIELDS = {
    "args", "command", "env", "envFrom", "image", "imagePullPolicy", "lifecycle",
    "livenessProbe", "name", "ports", "readinessProbe", "resizePolicy", "resources",
    "restartPolicy", "securityContext", "startupProbe", "stdin", "stdinOnce",
    "terminationMessagePath", "terminationMessagePolicy", "tty", "volumeDevices",
    "volumeMounts", "workingDir",
}
SECURITY_CONTEXT_FIELDS = {
    "allowPrivilegeEscalation", "appArmorProfile", "capabilities", "privileged", "procMount",
    "readOnlyRootFilesystem", "runAsGroup", "runAsNonRoot", "runAsUser", "seLinuxOptions",
    "seccompProfile", "windowsOptions",
}
POD_SECURITY_CONTEXT_FIELDS = {
    "appArmorProfile", "fsGroup", "fsGroupChangePolicy", "runAsGroup", "runAsNonRoot",
    "runAsUser", "seLinuxOptions", "seccompProfile", "supplementalGroups", "sysctls",
    "windowsOptions",
}
PROBE_FIELDS = {
    "exec", "failureThreshold", "grpc", "httpGet", "initialDelaySeconds", "periodSeconds",
    "successThreshold", "tcpSocket", "terminationGracePeriodSeconds", "timeoutSeconds",
}
VOLUME_MOUNT_FIELDS = {
    "mountPath", "mountPropagation", "name", "readOnly", "recursiveReadOnly", "subPath",
    "subPathExpr",
}
DEPLOYMENT_SPEC_FIELDS = {
    "minReadySeconds", "paused", "progressDeadlineSeconds", "replicas",
    "revisionHistoryLimit", "selector", "strategy", "template",
}


def all_containers(pod_spec):
    return list(pod_spec.get("initContainers", [])) + list(pod_spec.get("containers", []))


def probe_port(container, probe):
    port = probe["httpGet"]["port"]
    if isinstance(port, int):
        return port
    for p in container.get("ports", []):
        if p.get("name") == port:
            return p["containerPort"]
    raise AssertionError(f"probe port {port!r} is not a named port of {container['name']}")


def env_field_ref(container, name):
    for e in container.get("env", []):
        if e.get("name") == name:
            return e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
    return None


def check_pod_security(test, pod_spec, where, sidecar_form=None):
    """Every security setting the brief lists, for every container of one pod spec.

    sidecar_form: "native" (initContainer with restartPolicy Always), "classic" (a regular
    container), "standalone" (the only container) or None (no sidecar expected).
    """
    test.assertLessEqual(set(pod_spec), POD_SPEC_FIELDS, f"{where}: unknown PodSpec fields")
    pod_sc = pod_spec.get("securityContext", {})
    test.assertLessEqual(set(pod_sc), POD_SECURITY_CONTEXT_FIELDS, f"{where}: pod securityContext")
    volumes = {v["name"]: v for v in pod_spec.get("volumes", [])}
    names = [c["name"] for c in all_containers(pod_spec)]
    test.assertEqual(len(names), len(set(names)), f"{where}: duplicate container names")

    for c in all_containers(pod_spec):
        cw = f"{where}: container {c['name']}"
        test.assertLessEqual(set(c), CONTAINER_FIELDS, f"{cw}: unknown Container fields")
        sc = c.get("securityContext", {})
        test.assertLessEqual(set(sc), SECURITY_CONTEXT_FIELDS, f"{cw}: securityContext fields")
        test.assertIs(sc.get("allowPrivilegeEscalation"), False, f"{cw}: allowPrivilegeEscalation")
        test.assertIs(sc.get("readOnlyRootFilesystem"), True, f"{cw}: readOnlyRootFilesystem")
        test.assertIn("ALL", sc.get("capabilities", {}).get("drop", []), f"{cw}: drop ALL")
        test.assertFalse(sc.get("capabilities", {}).get("add"), f"{cw}: adds capabilities")
        test.assertNotEqual(sc.get("privileged"), True, f"{cw}: privileged")
        non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
        test.assertIs(non_root, True, f"{cw}: runAsNonRoot")
        uid = sc.get("runAsUser", pod_sc.get("runAsUser"))
        if uid is not None:
            test.assertNotEqual(uid, 0, f"{cw}: runAsUser 0")
        seccomp = sc.get("seccompProfile", pod_sc.get("seccompProfile", {})).get("type")
        test.assertEqual(seccomp, "RuntimeDefault", f"{cw}: seccompProfile")
        res = c.get("resources", {})
        for kind in ("requests", "limits"):
            for r in ("cpu", "memory"):
                test.assertIn(r, res.get(kind, {}), f"{cw}: resources.{kind}.{r}")
        mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
        for m in c.get("volumeMounts", []):
            test.assertLessEqual(set(m), VOLUME_MOUNT_FIELDS, f"{cw}: volumeMount fields")
            test.assertIn(m["name"], volumes, f"{cw}: mounts unknown volume {m['name']}")
        test.assertIn("/tmp", mounts, f"{cw}: no /tmp mount")
        test.assertIn("emptyDir", volumes[mounts["/tmp"]["name"]], f"{cw}: /tmp is not an emptyDir")
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            if probe in c:
                test.assertLessEqual(set(c[probe]), PROBE_FIELDS, f"{cw}: {probe} fields")

    if sidecar_form is None:
        return None
    init = {c["name"]: c for c in pod_spec.get("initContainers", [])}
    regular = {c["name"]: c for c in pod_spec.get("containers", [])}
    if sidecar_form == "native":
        test.assertIn(SIDECAR, init, f"{where}: native sidecar not in initContainers")
        test.assertNotIn(SIDECAR, regular, f"{where}: sidecar in both lists")
        side = init[SIDECAR]
        test.assertEqual(side.get("restartPolicy"), "Always", f"{where}: restartPolicy")
    else:
        test.assertIn(SIDECAR, regular, f"{where}: sidecar not in containers")
        test.assertNotIn(SIDECAR, init, f"{where}: sidecar in both lists")
        side = regular[SIDECAR]
        test.assertNotIn("restartPolicy", side, f"{where}: restartPolicy on a regular container")
    for name, c in init.items():
        if name != SIDECAR:
            test.assertNotIn("restartPolicy", c, f"{where}: {name} is not meant to be a sidecar")

    sw = f"{where}: sidecar"
    test.assertEqual(side["args"][:3], ["sidecar", "--port", "8080"], f"{sw}: args")
    test.assertEqual(env_field_ref(side, "POD_NAME"), "metadata.name", f"{sw}: POD_NAME")
    test.assertEqual(env_field_ref(side, "POD_NAMESPACE"), "metadata.namespace",
                     f"{sw}: POD_NAMESPACE")
    test.assertEqual(side["livenessProbe"]["httpGet"]["path"], "/healthz", f"{sw}: liveness")
    test.assertEqual(side["readinessProbe"]["httpGet"]["path"], "/readyz", f"{sw}: readiness")
    test.assertEqual(probe_port(side, side["livenessProbe"]), 8080, f"{sw}: liveness port")
    test.assertEqual(probe_port(side, side["readinessProbe"]), 8080, f"{sw}: readiness port")
    test.assertEqual(side["securityContext"].get("runAsUser"), 65532, f"{sw}: uid 65532")
    test.assertTrue(pod_spec.get("serviceAccountName"), f"{where}: serviceAccountName")
    # The API token reaches the sidecar only.
    if pod_spec.get("automountServiceAccountToken") is False:
        token_path = "/var/run/secrets/kubernetes.io/serviceaccount"
        for c in all_containers(pod_spec):
            mounted = any(m["mountPath"] == token_path for m in c.get("volumeMounts", []))
            test.assertEqual(mounted, c["name"] == SIDECAR,
                             f"{where}: token mounted in {c['name']}")
        token_mount = next(m for m in side["volumeMounts"] if m["mountPath"] == token_path)
        sources = volumes[token_mount["name"]]["projected"]["sources"]
        kinds = {next(iter(s)) for s in sources}
        test.assertEqual(kinds, {"serviceAccountToken", "configMap", "downwardAPI"},
                         f"{where}: projected token, ca.crt and namespace")
    return side


# --- Dockerfile --------------------------------------------------------------------------------

def dockerfile_instructions(path):
    """(instruction, arguments) pairs with line continuations joined and comments dropped."""
    out = []
    buf = ""
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.rstrip("\n")
            if not buf and (not line.strip() or line.lstrip().startswith("#")):
                continue
            if buf and line.lstrip().startswith("#"):
                continue
            if line.endswith("\\"):
                buf += line[:-1] + " "
                continue
            buf += line
            instr, _, args = buf.strip().partition(" ")
            out.append((instr.upper(), args.strip()))
            buf = ""
    return out


def dockerfile_stages(path):
    """Global ARG defaults and a list of stages {name, base, instructions}."""
    global_args = {}
    stages = []
    for instr, args in dockerfile_instructions(path):
        if instr == "FROM":
            m = re.match(r"(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$", args, re.I)
            base = re.sub(r"\$\{(\w+)\}", lambda mm: global_args.get(mm.group(1), ""), m.group(1))
            stages.append({"name": m.group(2), "base": base, "instructions": []})
        elif not stages and instr == "ARG":
            name, _, default = args.partition("=")
            global_args[name] = default.strip('"')
        else:
            stages[-1]["instructions"].append((instr, args))
    return global_args, stages


def apt_installed(run_args):
    """Package names an `apt-get install` in one RUN line installs (variables left as is)."""
    pkgs = []
    for cmd in re.split(r"&&|;", run_args):
        words = cmd.split()
        if "apt-get" in words and "install" in words:
            for w in words[words.index("install") + 1:]:
                if not w.startswith("-"):
                    pkgs.append(w)
    return pkgs
