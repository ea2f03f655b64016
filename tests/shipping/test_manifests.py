"""manifests/: every file parses, kubectl decodes it offline, RBAC and the sample app are what
the sidecar needs.

Applying them to a server (kubectl's OpenAPI validation, the CRD's schema and CEL rule for the
sample runs, the rendered chart) is the cluster suite's job, on a real apiserver:
tests/cluster/manifests_test.cc.
"""
import re
import unittest

from _support import (DEPLOYMENT_SPEC_FIELDS, MANIFESTS, SIDECAR, check_pod_security,
                      load_docs, manifest_files, normalize_rules, require_tool, run)

DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


class ManifestFilesTest(unittest.TestCase):
    def test_every_manifest_parses_and_is_a_kubernetes_object(self):
        files = manifest_files()
        self.assertGreaterEqual(len(files), 7, files)
        for path in files:
            with self.subTest(path=str(path.relative_to(MANIFESTS))):
                docs = load_docs(path)
                self.assertTrue(docs, "empty file")
                for doc in docs:
                    self.assertIsInstance(doc, dict)
                    for key in ("apiVersion", "kind", "metadata"):
                        self.assertIn(key, doc)
                    name = doc["metadata"].get("name")
                    self.assertTrue(name and DNS1123_SUBDOMAIN.match(name) and len(name) <= 253,
                                    f"bad name {name!r}")
                    self.assertNotIn("namespace", doc["metadata"],
                                     "manifests are namespace-agnostic (kubectl apply -n NS)")
                    for k, v in doc["metadata"].get("labels", {}).items():
                        self.assertIsInstance(v, str, f"label {k} must be a string")
                        self.assertTrue(LABEL_VALUE.match(v) and len(v) <= 63, f"label {k}={v}")

    def test_kubectl_decodes_every_manifest_offline(self):
        kubectl = require_tool(self, "kubectl")
        for path in manifest_files():
            with self.subTest(path=str(path.relative_to(MANIFESTS))):
                res = run([kubectl, "label", "--local", "-f", str(path), "shipping-check=ok",
                           "--dry-run=client", "-o", "name"])
                self.assertEqual(res.returncode, 0, res.stderr)
                self.assertEqual(len(res.stdout.split()), len(load_docs(path)), res.stdout)


class RbacTest(unittest.TestCase):
    def setUp(self):
        self.docs = {(d["kind"], d["metadata"]["name"]): d
                     for d in load_docs(MANIFESTS / "rbac.yaml")}

    def role(self, name):
        return normalize_rules(self.docs[("Role", name)]["rules"])

    def test_objects(self):
        self.assertEqual(set(self.docs), {
            ("ServiceAccount", SIDECAR), ("Role", SIDECAR), ("RoleBinding", SIDECAR),
            ("Role", "alembic-sidecar-requester")})
        binding = self.docs[("RoleBinding", SIDECAR)]
        self.assertEqual(binding["roleRef"], {"apiGroup": "rbac.authorization.k8s.io",
                                              "kind": "Role", "name": SIDECAR})
        self.assertEqual(binding["subjects"], [{"kind": "ServiceAccount", "name": SIDECAR}])
        self.assertIs(self.docs[("ServiceAccount", SIDECAR)]["automountServiceAccountToken"],
                      False)

    def test_sidecar_role_is_exactly_what_the_sidecar_calls(self):
        expected = set()

        def allow(group, resource, *verbs):
            expected.update((group, resource, v) for v in verbs)

        allow("alembic.sidecar.dev", "migrationruns", "get", "list", "watch", "patch", "update")
        allow("alembic.sidecar.dev", "migrationruns/status", "get", "patch", "update")
        allow("alembic.sidecar.dev", "migrationruns/finalizers", "update")
        allow("", "pods", "get", "list")
        allow("", "pods/exec", "create", "get")
        allow("", "configmaps", "get", "create", "update", "patch", "delete")
        allow("events.k8s.io", "events", "create", "patch")
        allow("", "secrets", "get", "list")
        allow("", "services", "get", "list")
        allow("apps", "statefulsets", "get", "list")
        allow("postgresql.cnpg.io", "clusters", "get", "list")
        allow("postgres-operator.crunchydata.com", "postgresclusters", "get", "list")
        allow("acid.zalan.do", "postgresqls", "get", "list")
        self.assertEqual(self.role(SIDECAR), expected)

    def test_no_wildcards_and_no_cluster_scope(self):
        for path in manifest_files():
            for doc in load_docs(path):
                self.assertNotIn(doc["kind"], ("ClusterRole", "ClusterRoleBinding"), path)
                for rule in doc.get("rules", []):
                    for key in ("apiGroups", "resources", "verbs"):
                        self.assertNotIn("*", rule[key], f"{path}: wildcard in {key}")

    def test_every_rule_says_which_feature_uses_it(self):
        for name in ("rbac.yaml", "rbac-leader-election.yaml"):
            lines = (MANIFESTS / name).read_text().splitlines()
            rules = [i for i, line in enumerate(lines) if line.startswith("  - apiGroups:")]
            self.assertTrue(rules, name)
            for i in rules:
                self.assertTrue(lines[i - 1].strip().startswith("#"),
                                f"{name}:{i + 1}: rule without a comment")

    def test_requester_role(self):
        expected = {("alembic.sidecar.dev", "migrationruns", v)
                    for v in ("create", "get", "list", "watch", "delete")}
        expected |= {("", "configmaps", "get"), ("", "events", "list"),
                     ("events.k8s.io", "events", "list")}
        self.assertEqual(self.role("alembic-sidecar-requester"), expected)

    def test_leader_election_is_separate_and_only_leases(self):
        docs = {d["kind"]: d for d in load_docs(MANIFESTS / "rbac-leader-election.yaml")}
        self.assertEqual(normalize_rules(docs["Role"]["rules"]),
                         {("coordination.k8s.io", "leases", v)
                          for v in ("get", "create", "update", "patch")})
        self.assertEqual(docs["RoleBinding"]["subjects"],
                         [{"kind": "ServiceAccount", "name": SIDECAR}])
        self.assertNotIn("coordination.k8s.io", {g for g, _, _ in self.role(SIDECAR)})


class SampleAppTest(unittest.TestCase):
    def setUp(self):
        self.deployments = {d["metadata"]["name"]: d
                            for d in load_docs(MANIFESTS / "sample-app.yaml")}

    def test_two_deployments_one_per_sidecar_form(self):
        self.assertEqual(set(self.deployments), {"backend", "backend-classic"})
        for name, form in (("backend", "native"), ("backend-classic", "classic")):
            with self.subTest(deployment=name):
                d = self.deployments[name]
                self.assertEqual((d["apiVersion"], d["kind"]), ("apps/v1", "Deployment"))
                self.assertLessEqual(set(d["spec"]), DEPLOYMENT_SPEC_FIELDS)
                check_pod_security(self, d["spec"]["template"]["spec"], name, sidecar_form=form)

    def test_selectors_match_their_own_pods_only(self):
        selectors = {}
        for name, d in self.deployments.items():
            sel = d["spec"]["selector"]["matchLabels"]
            labels = d["spec"]["template"]["metadata"]["labels"]
            self.assertEqual(labels.get("app"), "backend", name)
            self.assertLessEqual(sel.items(), labels.items(), f"{name}: selector vs labels")
            selectors[name] = sel
        a, b = selectors["backend"], selectors["backend-classic"]
        self.assertTrue(any(k in b and a[k] != b[k] for k in a),
                        "the two Deployments' selectors overlap")

    def test_app_container_is_where_alembic_runs(self):
        for name, d in self.deployments.items():
            with self.subTest(deployment=name):
                pod = d["spec"]["template"]["spec"]
                (app,) = [c for c in pod["containers"] if c["name"] == "app"]
                self.assertEqual(app["workingDir"], "/app")
                mounts = {m["mountPath"]: m["name"] for m in app["volumeMounts"]}
                # alembic writes the revision here although the root filesystem is read-only
                volumes = {v["name"]: v for v in pod["volumes"]}
                self.assertIn("emptyDir", volumes[mounts["/app/migrations/versions"]])
                seed = next(c for c in pod["initContainers"] if c["name"] == "seed-versions")
                self.assertEqual(seed["image"], app["image"])
                env = {e["name"]: e for e in app["env"]}
                self.assertEqual(env["DATABASE_URL"]["valueFrom"]["secretKeyRef"],
                                 {"name": "app-db", "key": "uri"})

    def test_native_form_orders_seed_before_sidecar(self):
        init = self.deployments["backend"]["spec"]["template"]["spec"]["initContainers"]
        self.assertEqual([c["name"] for c in init], ["seed-versions", SIDECAR])


if __name__ == "__main__":
    unittest.main()
