"""helm/alembic-sidecar: lint, template, schema, RBAC equal to manifests/, labels, and the named
templates an app chart includes (rendered through a throwaway parent chart)."""
import json
import re
import shutil
import tempfile
import unittest
from pathlib import Path

import jsonschema
import yaml

from _support import (CHART, CRD_FILE, MANIFESTS, SIDECAR, check_pod_security, helm_objects,
                      helm_template, load_docs, load_docs_text, normalize_rules, require_tool,
                      run)

STANDARD_LABELS = ("app.kubernetes.io/name", "app.kubernetes.io/instance",
                   "app.kubernetes.io/version", "app.kubernetes.io/managed-by",
                   "app.kubernetes.io/part-of")
STANDALONE = {"standalone": {"enabled": True, "replicas": 2, "leaderElect": True,
                             "image": {"repository": "registry.example.com/backend-migrations",
                                       "tag": "1.2.3"},
                             "env": [{"name": "DATABASE_URL", "valueFrom": {
                                 "secretKeyRef": {"name": "app-db", "key": "uri"}}}]}}


def by_kind(objs):
    return {(o["kind"], o["metadata"]["name"]): o for o in objs}


def manifest_role(name, file="rbac.yaml"):
    for d in load_docs(MANIFESTS / file):
        if d["kind"] == "Role" and d["metadata"]["name"] == name:
            return normalize_rules(d["rules"])
    raise KeyError(name)


class ChartMetadataTest(unittest.TestCase):
    def test_chart_yaml(self):
        chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
        self.assertEqual(chart["apiVersion"], "v2")
        self.assertEqual(chart["name"], "alembic-sidecar")
        self.assertEqual(chart["type"], "application")
        helper = (CHART / "templates" / "_helpers.tpl").read_text()
        m = re.search(r'define "alembic-sidecar.appVersion" -}}\s*(\S+)\s*{{-', helper)
        self.assertEqual(m.group(1), chart["appVersion"], "appVersion helper out of date")
        cmake = (CHART.parents[1] / "CMakeLists.txt").read_text()
        self.assertIn(f"VERSION {chart['appVersion']}", cmake, "appVersion != project version")

    def test_crds_dir_is_the_manifest_crd(self):
        self.assertEqual(sorted(p.name for p in (CHART / "crds").iterdir()), ["migrationruns.yaml"])
        self.assertEqual((CHART / "crds" / "migrationruns.yaml").read_bytes(),
                         CRD_FILE.read_bytes())

    def test_values_schema_is_valid_and_accepts_values_yaml(self):
        schema = json.loads((CHART / "values.schema.json").read_text())
        jsonschema.Draft7Validator.check_schema(schema)
        values = yaml.safe_load((CHART / "values.yaml").read_text())
        jsonschema.validate(values, schema)
        merged = json.loads(json.dumps(values))
        merged["standalone"].update(STANDALONE["standalone"])
        jsonschema.validate(merged, schema)
        bad = json.loads(json.dumps(values))
        bad["standalone"]["enabled"] = True
        with self.assertRaises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)


class HelmLintTemplateTest(unittest.TestCase):
    def test_lint_strict(self):
        helm = require_tool(self, "helm")
        for values in (None, STANDALONE):
            with self.subTest(values="standalone" if values else "default"):
                argv = [helm, "lint", "--strict", str(CHART)]
                if values:
                    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
                        yaml.safe_dump(values, f)
                        f.flush()
                        res = run(argv + ["--values", f.name])
                else:
                    res = run(argv)
                self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
                self.assertIn("0 chart(s) failed", res.stdout)

    def test_template_renders_labels_and_namespace_everywhere(self):
        for values in ({}, STANDALONE, {"rbac": {"leaderElection": True, "requester": {
                "subjects": [{"kind": "Group", "name": "developers",
                              "apiGroup": "rbac.authorization.k8s.io"}]}}}):
            objs = helm_objects(self, values=values, extra=("--include-crds",))
            for o in objs:
                with self.subTest(obj=f"{o['kind']}/{o['metadata']['name']}"):
                    labels = o["metadata"].get("labels", {})
                    if o["kind"] == "CustomResourceDefinition":
                        # crds/ is installed verbatim (Helm never templates it): only the
                        # static labels can be there.
                        self.assertEqual(labels["app.kubernetes.io/name"], "alembic-sidecar")
                        self.assertEqual(labels["app.kubernetes.io/part-of"], "alembic-sidecar")
                    else:
                        for key in STANDARD_LABELS:
                            self.assertIn(key, labels)
                        self.assertEqual(o["metadata"]["namespace"], "shipping")
                        self.assertEqual(labels["app.kubernetes.io/managed-by"], "Helm")

    def test_default_render(self):
        objs = by_kind(helm_objects(self))
        name = "shipping-alembic-sidecar"
        self.assertEqual(set(objs), {("ServiceAccount", name), ("Role", name),
                                     ("RoleBinding", name), ("Role", f"{name}-requester")})
        self.assertEqual(objs[("RoleBinding", name)]["subjects"],
                         [{"kind": "ServiceAccount", "name": name, "namespace": "shipping"}])
        self.assertIs(objs[("ServiceAccount", name)]["automountServiceAccountToken"], False)

    def test_include_crds(self):
        objs = helm_objects(self, extra=("--include-crds",))
        crds = [o for o in objs if o["kind"] == "CustomResourceDefinition"]
        self.assertEqual(crds, load_docs(CRD_FILE))

    def test_rendered_rbac_equals_the_manifests(self):
        name = "shipping-alembic-sidecar"
        objs = by_kind(helm_objects(self, values={"rbac": {"leaderElection": True}}))
        self.assertEqual(normalize_rules(objs[("Role", name)]["rules"]), manifest_role(SIDECAR))
        self.assertEqual(normalize_rules(objs[("Role", f"{name}-requester")]["rules"]),
                         manifest_role("alembic-sidecar-requester"))
        self.assertEqual(normalize_rules(objs[("Role", f"{name}-leader-election")]["rules"]),
                         manifest_role("alembic-sidecar-leader-election",
                                       "rbac-leader-election.yaml"))

    def test_leader_election_rbac_follows_the_flags(self):
        for values, present in (({}, False), ({"sidecar": {"leaderElect": True}}, True),
                                (STANDALONE, True), ({"rbac": {"leaderElection": True}}, True)):
            with self.subTest(values=values):
                objs = by_kind(helm_objects(self, values=values))
                self.assertEqual(("Role", "shipping-alembic-sidecar-leader-election") in objs,
                                 present)

    def test_requester_binding_only_with_subjects(self):
        subjects = [{"kind": "ServiceAccount", "name": "ci-migrations"}]
        objs = by_kind(helm_objects(self, values={"rbac": {"requester": {"subjects": subjects}}}))
        binding = objs[("RoleBinding", "shipping-alembic-sidecar-requester")]
        self.assertEqual(binding["subjects"], subjects)
        self.assertEqual(binding["roleRef"]["name"], "shipping-alembic-sidecar-requester")
        self.assertNotIn(("RoleBinding", "shipping-alembic-sidecar-requester"),
                         by_kind(helm_objects(self)))

    def test_schema_rejects_bad_values(self):
        cases = {
            "unknown key": {"sidecar": {"logLevl": "debug"}},
            "bad log level": {"sidecar": {"logLevel": "loud"}},
            "standalone without image": {"standalone": {"enabled": True}},
            "bad selector": {"sidecar": {"selector": "no equals sign"}},
            "bad port": {"sidecar": {"port": 70000}},
        }
        for what, values in cases.items():
            with self.subTest(case=what):
                res = helm_template(self, values=values)
                self.assertNotEqual(res.returncode, 0, res.stdout)
                self.assertIn("schema", res.stderr)

    def test_standalone_deployment(self):
        objs = by_kind(helm_objects(self, values=STANDALONE))
        dep = objs[("Deployment", "shipping-alembic-sidecar")]
        self.assertEqual(dep["spec"]["replicas"], 2)
        pod = dep["spec"]["template"]["spec"]
        self.assertEqual(pod["serviceAccountName"], "shipping-alembic-sidecar")
        side = check_pod_security(self, pod, "standalone", sidecar_form="classic")
        self.assertEqual(side["args"], ["sidecar", "--port", "8080", "--workspace-dir", "/app",
                                        "--leader-elect"])
        self.assertEqual(side["image"], "registry.example.com/backend-migrations:1.2.3")
        mounts = {m["mountPath"] for m in side["volumeMounts"]}
        self.assertIn("/app/migrations/versions", mounts)
        sel = dep["spec"]["selector"]["matchLabels"]
        self.assertLessEqual(sel.items(), dep["spec"]["template"]["metadata"]["labels"].items())
        self.assertEqual(pod["initContainers"][0]["name"], "seed-workspace")

    def test_notes_render(self):
        helm = require_tool(self, "helm")
        res = run([helm, "install", "shipping", str(CHART), "--namespace", "shipping",
                   "--dry-run=client"])
        self.assertEqual(res.returncode, 0, res.stderr)
        notes = res.stdout.split("NOTES:", 1)[1]
        self.assertIn('include "alembic-sidecar.initContainer"', notes)
        self.assertIn("alembic-sidecar request", notes)


class AppChartIncludeTest(unittest.TestCase):
    """An app chart with alembic-sidecar as a dependency includes the named templates."""

    DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: backend
spec:
  selector:
    matchLabels: {app: backend}
  template:
    metadata:
      labels: {app: backend}
    spec:
      serviceAccountName: {{ include "alembic-sidecar.serviceAccountNameFor" CTX }}
      automountServiceAccountToken: false
      securityContext:
        runAsNonRoot: true
        seccompProfile: {type: RuntimeDefault}
      {{- if .Values.native }}
      initContainers:
        {{- include "alembic-sidecar.initContainer" CTX | nindent 8 }}
      {{- end }}
      containers:
        - name: app
          image: backend:1.0.0
          workingDir: /app
          resources:
            requests: {cpu: 100m, memory: 128Mi}
            limits: {cpu: "1", memory: 512Mi}
          securityContext:
            runAsUser: 10001
            readOnlyRootFilesystem: true
            allowPrivilegeEscalation: false
            capabilities: {drop: [ALL]}
          volumeMounts:
            - {name: alembic-sidecar-tmp, mountPath: /tmp}
        {{- if not .Values.native }}
        {{- include "alembic-sidecar.container" CTX | nindent 8 }}
        {{- end }}
      volumes:
        {{- include "alembic-sidecar.volumes" CTX | nindent 8 }}
"""

    def render(self, values, alias=None, ctx="."):
        helm = require_tool(self, "helm")
        tmp = Path(tempfile.mkdtemp(prefix="shipping-app-chart-"))
        self.addCleanup(shutil.rmtree, tmp, ignore_errors=True)
        dep = {"name": "alembic-sidecar", "version": "0.1.0"}
        if alias:
            dep["alias"] = alias
        (tmp / "Chart.yaml").write_text(yaml.safe_dump(
            {"apiVersion": "v2", "name": "backend", "version": "1.0.0", "dependencies": [dep]}))
        (tmp / "values.yaml").write_text(yaml.safe_dump(values))
        (tmp / "templates").mkdir()
        (tmp / "templates" / "deployment.yaml").write_text(self.DEPLOYMENT.replace("CTX", ctx))
        shutil.copytree(CHART, tmp / "charts" / "alembic-sidecar")
        res = run([helm, "template", "app", str(tmp), "--namespace", "shipping"])
        self.assertEqual(res.returncode, 0, res.stderr)
        return by_kind(load_docs_text(res.stdout))

    def test_native_sidecar_from_an_app_chart(self):
        objs = self.render({"native": True, "alembic-sidecar": {"sidecar": {"logLevel": "debug"}}})
        pod = objs[("Deployment", "backend")]["spec"]["template"]["spec"]
        side = check_pod_security(self, pod, "app chart (native)", sidecar_form="native")
        self.assertEqual(pod["serviceAccountName"], "app-alembic-sidecar")
        self.assertIn(("ServiceAccount", "app-alembic-sidecar"), objs)
        env = {e["name"]: e.get("value") for e in side["env"]}
        self.assertEqual(env["ALEMBIC_SIDECAR_LOG_LEVEL"], "debug")
        self.assertEqual(side["image"], "alembic-sidecar:0.1.0")

    def test_classic_sidecar_from_an_app_chart(self):
        objs = self.render({"native": False, "alembic-sidecar": {"sidecar": {
            "targetContainer": "web", "workdir": "/srv", "selector": "team=backend"}}})
        pod = objs[("Deployment", "backend")]["spec"]["template"]["spec"]
        side = check_pod_security(self, pod, "app chart (classic)", sidecar_form="classic")
        self.assertEqual(side["args"], ["sidecar", "--port", "8080", "--target-container", "web",
                                        "--workdir", "/srv", "--selector", "team=backend"])

    def test_aliased_dependency_with_explicit_values(self):
        objs = self.render({"native": True, "migrations": {"image": {"tag": "9.9.9"}}},
                           alias="migrations",
                           ctx='(dict "root" $ "values" .Values.migrations)')
        pod = objs[("Deployment", "backend")]["spec"]["template"]["spec"]
        side = check_pod_security(self, pod, "app chart (alias)", sidecar_form="native")
        self.assertEqual(side["image"], "alembic-sidecar:9.9.9")
        self.assertEqual(pod["serviceAccountName"], "app-alembic-sidecar")


if __name__ == "__main__":
    unittest.main()
