"""devspace.yaml: a DevSpace v6 (v2beta1) config whose commands call alembic-sidecar the right
way.

DevSpace is not installed here, so its behaviour is reproduced: `${VAR}` references are
replaced the way DevSpace does (its own vars and the predefined DEVSPACE_NAMESPACE /
DEVSPACE_CONTEXT), then each command runs in bash with the `devspace run` arguments as
positional parameters (DevSpace runs commands in a POSIX shell interpreter, mvdan/sh), with
fake `alembic-sidecar` and `kubectl` on PATH that record their argv.
"""
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

import jsonschema
import yaml

from _support import (HERE, MANIFESTS, REPO, dockerfile_stages, helm_objects, load_docs)

DEVSPACE = REPO / "devspace.yaml"
VAR_REF = re.compile(r"\$\{([A-Za-z0-9_.\-]+)\}")
PREDEFINED = {"DEVSPACE_NAMESPACE": "team-ns", "DEVSPACE_CONTEXT": "kind-dev"}
FAKE = """#!/usr/bin/python3
import json, os, sys
with open(os.environ["FAKE_LOG"], "a") as f:
    f.write(json.dumps([os.path.basename(sys.argv[0])] + sys.argv[1:]) + "\\n")
sys.exit(int(os.environ.get("FAKE_EXIT", "0")))
"""


def config():
    return yaml.safe_load(DEVSPACE.read_text())


def var_defaults(cfg):
    out = dict(PREDEFINED)
    for name, var in cfg.get("vars", {}).items():
        out[name] = var.get("default", var.get("value")) if isinstance(var, dict) else var
    return out


def substitute(text, values):
    def repl(m):
        if m.group(1) not in values:
            raise AssertionError(f"undefined DevSpace variable ${{{m.group(1)}}}")
        return str(values[m.group(1)])
    return VAR_REF.sub(repl, text)


class DevspaceRunner:
    """Runs a command script like `devspace run NAME ARGS...` would, recording tool calls."""

    def __init__(self, test):
        self.tmp = Path(tempfile.mkdtemp(prefix="shipping-devspace-"))
        test.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.bin = self.tmp / "bin"
        self.bin.mkdir()
        for name in ("alembic-sidecar", "kubectl"):
            p = self.bin / name
            p.write_text(FAKE)
            p.chmod(0o755)
        self.log = self.tmp / "calls.jsonl"
        self.bash = shutil.which("bash")
        if not self.bash:
            test.skipTest("bash is not installed")

    def run(self, script, *args, exit_code=0):
        self.log.write_text("")
        env = dict(os.environ, PATH=f"{self.bin}:{os.environ['PATH']}", FAKE_LOG=str(self.log),
                   FAKE_EXIT=str(exit_code))
        res = subprocess.run([self.bash, "-c", script, "devspace-run", *args], env=env,
                             capture_output=True, text=True, timeout=30)
        calls = [json.loads(l) for l in self.log.read_text().splitlines() if l.strip()]
        return res, calls


class DevspaceStructureTest(unittest.TestCase):
    def setUp(self):
        self.cfg = config()

    def test_v2beta1_structure(self):
        schema = json.loads((HERE / "devspace-v2beta1.schema.json").read_text())
        jsonschema.Draft7Validator.check_schema(schema)
        errors = [f"{'/'.join(map(str, e.path))}: {e.message}"
                  for e in jsonschema.Draft7Validator(schema).iter_errors(self.cfg)]
        self.assertEqual(errors, [])
        self.assertEqual(self.cfg["version"], "v2beta1")

    def test_every_variable_reference_is_defined(self):
        values = var_defaults(self.cfg)
        for m in VAR_REF.finditer(DEVSPACE.read_text()):
            self.assertIn(m.group(1), values, f"${{{m.group(1)}}} is not defined")

    def test_the_four_commands_exist(self):
        for name in ("alembic-revision", "alembic-upgrade", "alembic-check", "alembic-runs"):
            self.assertIn(name, self.cfg["commands"])
            self.assertTrue(self.cfg["commands"][name].get("description"), name)
            self.assertFalse(self.cfg["commands"][name].get("appendArgs", False),
                             f"{name}: arguments are used explicitly")

    def test_deployments_point_at_files_that_exist(self):
        deps = self.cfg["deployments"]
        chart = REPO / deps["alembic-sidecar"]["helm"]["chart"]["name"]
        self.assertTrue((chart / "Chart.yaml").exists(), chart)
        for manifest in deps["backend"]["kubectl"]["manifests"]:
            self.assertTrue((REPO / manifest).exists(), manifest)

    def test_images_are_dockerfile_stages(self):
        _, stages = dockerfile_stages(REPO / "Dockerfile")
        names = {s["name"] for s in stages}
        images_in_manifest = {c["image"].split(":")[0]
                              for d in load_docs(MANIFESTS / "sample-app.yaml")
                              for c in d["spec"]["template"]["spec"]["containers"]
                              + d["spec"]["template"]["spec"]["initContainers"]}
        for name, image in self.cfg["images"].items():
            with self.subTest(image=name):
                self.assertTrue((REPO / image["dockerfile"]).exists())
                self.assertIn(image["target"], names)
                # DevSpace rewrites the tag of manifest images with the same name.
                self.assertIn(image["image"], images_in_manifest)
        self.assertEqual(stages[-1]["name"], self.cfg["images"]["sidecar"]["target"])

    def test_helm_release_creates_the_service_account_the_sample_app_uses(self):
        values = self.cfg["deployments"]["alembic-sidecar"]["helm"]["values"]
        objs = helm_objects(self, values=values,
                            release=self.cfg["deployments"]["alembic-sidecar"]["helm"]["releaseName"])
        sa_names = {o["metadata"]["name"] for o in objs if o["kind"] == "ServiceAccount"}
        for d in load_docs(MANIFESTS / "sample-app.yaml"):
            self.assertIn(d["spec"]["template"]["spec"]["serviceAccountName"], sa_names)

    def test_dev_syncs_the_revisions_of_the_pod_it_selects(self):
        values = var_defaults(self.cfg)
        (dev,) = self.cfg["dev"].values()
        pods = [d["spec"]["template"] for d in load_docs(MANIFESTS / "sample-app.yaml")]
        matching = [p for p in pods
                    if dev["labelSelector"].items() <= p["metadata"]["labels"].items()]
        self.assertEqual(len(matching), 1, "the dev labelSelector must pick one Deployment")
        pod = matching[0]["spec"]
        (app,) = [c for c in pod["containers"] if c["name"] == dev["container"]]
        mounts = {m["mountPath"] for m in app["volumeMounts"]}
        synced = []
        for sync in dev["sync"]:
            local, _, remote = substitute(sync["path"], values).partition(":")
            self.assertTrue((REPO / local).is_dir(), local)
            self.assertIn(remote, mounts, f"{remote} is not a writable mount of the app container")
            self.assertFalse(sync.get("disableDownload"), "generated files must come down")
            synced.append((local, remote))
        self.assertTrue(any(l.rstrip("/").endswith("migrations/versions")
                            and r == "/app/migrations/versions" for l, r in synced), synced)


    def test_commands_and_dev_select_the_same_single_deployment(self):
        # The runs must land in the pod whose migrations/versions the dev sync brings back.
        selector = dict(kv.split("=", 1)
                        for kv in var_defaults(self.cfg)["TARGET_SELECTOR"].split(","))
        (dev,) = self.cfg["dev"].values()
        self.assertEqual(selector, dev["labelSelector"])
        pods = [d["spec"]["template"] for d in load_docs(MANIFESTS / "sample-app.yaml")]
        matching = [p for p in pods if selector.items() <= p["metadata"]["labels"].items()]
        self.assertEqual(len(matching), 1, "TARGET_SELECTOR must pick one Deployment")


class DevspaceCommandsTest(unittest.TestCase):
    def setUp(self):
        self.cfg = config()
        self.values = var_defaults(self.cfg)
        self.runner = DevspaceRunner(self)

    def command(self, name):
        return substitute(self.cfg["commands"][name]["command"], self.values)

    def request(self, action, *more, namespace="team-ns", context="kind-dev"):
        return ["alembic-sidecar", "request", "--action", action, *more,
                "--target-selector", "app=backend,sidecar-form=native", "--namespace", namespace,
                "--context", context, "--wait"]

    def test_alembic_revision_passes_the_message_as_one_argument(self):
        for args in (["add user email column"], ["add", "user", "email", "column"]):
            with self.subTest(args=args):
                res, calls = self.runner.run(self.command("alembic-revision"), *args)
                self.assertEqual(res.returncode, 0, res.stderr)
                self.assertEqual(calls, [self.request("revision", "-m", "add user email column")])

    def test_namespace_and_context_flags_after_the_command_name_are_devspaces(self):
        # `devspace run alembic-revision "msg" -n X` hands `-n X` to the command: it must
        # become the namespace, not part of the message.
        for args in (["add user email column", "-n", "other"],
                     ["-n", "other", "add", "user", "email", "column"],
                     ["--namespace=other", "add user email column"],
                     ["add user email column", "--namespace", "other"]):
            with self.subTest(args=args):
                res, calls = self.runner.run(self.command("alembic-revision"), *args)
                self.assertEqual(res.returncode, 0, res.stderr)
                self.assertEqual(calls, [self.request("revision", "-m", "add user email column",
                                                      namespace="other")])
        res, calls = self.runner.run(self.command("alembic-check"), "--kube-context", "prod",
                                     "-n", "other")
        self.assertEqual(calls, [self.request("check", namespace="other", context="prod")])
        res, calls = self.runner.run(self.command("alembic-runs"), "-n", "other", "-w")
        self.assertEqual(calls, [["kubectl", "--context", "kind-dev", "-n", "other", "get",
                                  "mrun", "-w"]])
        res, calls = self.runner.run(self.command("alembic-file"), "run-1",
                                     "--kube-context=prod")
        self.assertEqual(calls[0][:5], ["kubectl", "--context", "prod", "-n", "team-ns"])

    def test_alembic_revision_message_is_never_shell_evaluated(self):
        msg = 'x"; touch /tmp/pwned-$$; echo `id` $(id) #'
        res, calls = self.runner.run(self.command("alembic-revision"), msg)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(calls, [self.request("revision", "-m", msg)])

    def test_alembic_revision_without_message_is_a_usage_error(self):
        res, calls = self.runner.run(self.command("alembic-revision"))
        self.assertEqual(res.returncode, 2)
        self.assertEqual(calls, [])
        self.assertIn("usage: devspace run alembic-revision", res.stderr)

    def test_exit_codes_propagate(self):
        for code in (1, 3):
            with self.subTest(exit_code=code):
                res, _ = self.runner.run(self.command("alembic-check"), exit_code=code)
                self.assertEqual(res.returncode, code)

    def test_upgrade_check_roundtrip(self):
        for name, action in (("alembic-upgrade", "upgrade"), ("alembic-check", "check"),
                             ("alembic-roundtrip", "roundtrip")):
            with self.subTest(command=name):
                res, calls = self.runner.run(self.command(name))
                self.assertEqual(res.returncode, 0, res.stderr)
                self.assertEqual(calls, [self.request(action)])

    def test_alembic_runs_lists_migrationruns(self):
        res, calls = self.runner.run(self.command("alembic-runs"), "-w")
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(calls, [["kubectl", "--context", "kind-dev", "-n", "team-ns", "get",
                                  "mrun", "-w"]])

    def test_alembic_file_prints_the_configmap_key(self):
        res, calls = self.runner.run(self.command("alembic-file"), "add-user-phone")
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(calls, [["kubectl", "--context", "kind-dev", "-n", "team-ns", "get",
                                  "configmap", "add-user-phone-revision", "-o",
                                  "jsonpath={.data.revision\\.py}"]])

    def test_after_deploy_hook_waits_for_the_sidecar(self):
        hooks = [h for h in self.cfg["hooks"] if "after:deploy" in h["events"]]
        self.assertEqual(len(hooks), 1)
        res, calls = self.runner.run(substitute(hooks[0]["command"], self.values))
        self.assertEqual(res.returncode, 0, res.stderr)
        base = ["kubectl", "--context", "kind-dev", "-n", "team-ns"]
        self.assertEqual(calls, [
            base + ["rollout", "status", "deployment/backend", "--timeout=300s"],
            base + ["rollout", "status", "deployment/backend-classic", "--timeout=300s"],
            base + ["wait", "--for=condition=Ready", "pod", "-l", "app=backend",
                    "--timeout=120s"],
        ])
        # Every Deployment the hook waits for exists in the deployed manifests.
        names = {d["metadata"]["name"] for d in load_docs(MANIFESTS / "sample-app.yaml")}
        for call in calls:
            for arg in call:
                if arg.startswith("deployment/"):
                    self.assertIn(arg.split("/", 1)[1], names)

    def test_hook_fails_when_kubectl_fails(self):
        hooks = [h for h in self.cfg["hooks"] if "after:deploy" in h["events"]]
        res, calls = self.runner.run(substitute(hooks[0]["command"], self.values), exit_code=1)
        self.assertNotEqual(res.returncode, 0)
        self.assertEqual(len(calls), 1, "the hook stops at the first failure")


if __name__ == "__main__":
    unittest.main()
