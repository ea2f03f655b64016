"""The MigrationRun CRD: structurally sound for a real kube-apiserver, named as DESIGN.md says,
and the sample runs valid against its own openAPIV3Schema (JSON Schema via python3-jsonschema).
Its CEL rule is evaluated where it runs, by the real apiserver: tests/cluster/crd_test.cc.
"""
import unittest

import jsonschema

from _support import CHART, CRD_FILE, HERE, crd, crd_schema, load_docs, sample_runs

TESTDATA = HERE / "testdata"

# What a structural schema node may carry (apiextensions.k8s.io/v1 JSONSchemaProps).
SCHEMA_KEYWORDS = {
    "type", "format", "description", "default", "enum", "nullable", "maximum", "minimum",
    "exclusiveMaximum", "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems",
    "minItems", "uniqueItems", "multipleOf", "maxProperties", "minProperties", "required",
    "items", "properties", "additionalProperties", "allOf", "anyOf", "oneOf", "not", "title",
    "example", "externalDocs", "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-embedded-resource", "x-kubernetes-int-or-string", "x-kubernetes-list-map-keys",
    "x-kubernetes-list-type", "x-kubernetes-map-type", "x-kubernetes-validations",
}
TYPES = {"object", "array", "string", "integer", "number", "boolean"}
PRINTER_TYPES = {"integer", "number", "string", "boolean", "date"}


def walk(node, path="", parent_junctor=False):
    """Yields (path, node) for every schema node below node, depth first."""
    yield path, node
    for name, sub in node.get("properties", {}).items():
        yield from walk(sub, f"{path}.{name}")
    if isinstance(node.get("additionalProperties"), dict):
        yield from walk(node["additionalProperties"], f"{path}[*]")
    if "items" in node:
        yield from walk(node["items"], f"{path}[]")


def to_json_schema(node):
    """A structural schema node as JSON Schema (draft 7). Objects with properties and without
    x-kubernetes-preserve-unknown-fields get additionalProperties: false, so a misspelt field in
    a sample fails here instead of being pruned silently by the API server."""
    out = {}
    for key, value in node.items():
        if key == "properties":
            out[key] = {k: to_json_schema(v) for k, v in value.items()}
        elif key == "items":
            out[key] = to_json_schema(value)
        elif key == "additionalProperties":
            out[key] = to_json_schema(value) if isinstance(value, dict) else value
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [to_json_schema(v) for v in value]
        elif key == "not":
            out[key] = to_json_schema(value)
        elif key.startswith("x-kubernetes-") or key in ("nullable", "example", "externalDocs"):
            continue
        else:
            out[key] = value
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if (node.get("type") == "object" and "properties" in node
            and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")):
        out["additionalProperties"] = False
    return out


def validator():
    schema = to_json_schema(crd_schema())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())


def cel_rules(node, path=""):
    """(path, rule, message) for every x-kubernetes-validations rule in the schema."""
    for p, n in walk(node, path):
        for v in n.get("x-kubernetes-validations", []):
            yield p, v["rule"], v.get("message", f"failed rule: {v['rule']}")


class CrdShapeTest(unittest.TestCase):
    def test_names_as_design_says(self):
        doc = crd()
        self.assertEqual((doc["apiVersion"], doc["kind"]),
                         ("apiextensions.k8s.io/v1", "CustomResourceDefinition"))
        self.assertEqual(doc["metadata"]["name"], "migrationruns.alembic.sidecar.dev")
        spec = doc["spec"]
        self.assertEqual(spec["group"], "alembic.sidecar.dev")
        self.assertEqual(spec["scope"], "Namespaced")
        self.assertEqual(spec["names"], {
            "plural": "migrationruns", "singular": "migrationrun", "kind": "MigrationRun",
            "listKind": "MigrationRunList", "shortNames": ["mrun"], "categories": ["alembic"]})
        (version,) = spec["versions"]
        self.assertEqual(version["name"], "v1alpha1")
        self.assertTrue(version["served"] and version["storage"])
        self.assertEqual(version["subresources"], {"status": {}})

    def test_printer_columns_exist_in_the_schema(self):
        (version,) = crd()["spec"]["versions"]
        columns = version["additionalPrinterColumns"]
        self.assertEqual([c["name"] for c in columns],
                         ["Action", "Phase", "Revision", "Reason", "Age"])
        paths = {p for p, _ in walk(crd_schema())}
        for col in columns:
            with self.subTest(column=col["name"]):
                self.assertIn(col["type"], PRINTER_TYPES)
                jp = col["jsonPath"]
                self.assertTrue(jp.startswith("."), jp)
                if jp.startswith(".metadata."):
                    self.assertIn(jp, (".metadata.creationTimestamp", ".metadata.name"))
                else:
                    self.assertIn(jp, paths, f"{jp} is not in the schema")
        age = next(c for c in columns if c["name"] == "Age")
        self.assertEqual((age["type"], age["jsonPath"]), ("date", ".metadata.creationTimestamp"))

    def test_helm_chart_carries_the_same_crd(self):
        self.assertEqual((CHART / "crds" / "migrationruns.yaml").read_bytes(),
                         CRD_FILE.read_bytes())


class StructuralSchemaTest(unittest.TestCase):
    """The rules kube-apiserver enforces on apiextensions.k8s.io/v1 schemas."""

    def test_root(self):
        root = crd_schema()
        self.assertEqual(root["type"], "object")
        self.assertIn("spec", root["required"])
        # metadata may only restrict name/generateName; here it is left alone.
        self.assertEqual(root["properties"]["metadata"], {"type": "object"})
        for key in ("apiVersion", "kind"):
            self.assertEqual(root["properties"][key], {"type": "string"})

    def test_every_node_has_a_type_and_only_known_keywords(self):
        for path, node in walk(crd_schema()):
            with self.subTest(path=path or "<root>"):
                self.assertLessEqual(set(node), SCHEMA_KEYWORDS)
                if not (node.get("x-kubernetes-int-or-string")
                        or node.get("x-kubernetes-preserve-unknown-fields")):
                    self.assertIn(node.get("type"), TYPES)
                if node.get("type") == "array":
                    self.assertIn("items", node, "arrays need items")
                self.assertFalse("properties" in node and isinstance(
                    node.get("additionalProperties"), dict),
                    "properties and additionalProperties are mutually exclusive")
                for junctor in ("allOf", "anyOf", "oneOf", "not"):
                    self.assertNotIn(junctor, node, "no logical junctors in this schema")
                for req in node.get("required", []):
                    self.assertIn(req, node.get("properties", {}), f"required {req} undefined")

    def test_list_map_keys_are_required_scalars(self):
        found = 0
        for path, node in walk(crd_schema()):
            if "x-kubernetes-list-map-keys" in node or node.get("x-kubernetes-list-type") == "map":
                found += 1
                with self.subTest(path=path):
                    self.assertEqual(node["type"], "array")
                    self.assertEqual(node["x-kubernetes-list-type"], "map")
                    items = node["items"]
                    self.assertEqual(items["type"], "object")
                    for key in node["x-kubernetes-list-map-keys"]:
                        self.assertIn(key, items["properties"])
                        self.assertIn(items["properties"][key]["type"],
                                      {"string", "integer", "boolean", "number"})
                        self.assertTrue(key in items.get("required", [])
                                        or "default" in items["properties"][key],
                                        f"list-map key {key} must be required or defaulted")
        self.assertGreaterEqual(found, 1, "status.conditions should be a list-map")

    def test_defaults_satisfy_their_own_schema(self):
        for path, node in walk(crd_schema()):
            if "default" in node:
                with self.subTest(path=path):
                    sub = to_json_schema({k: v for k, v in node.items() if k != "default"})
                    jsonschema.validate(node["default"], sub)

    def test_the_cel_rule_is_on_spec(self):
        rules = list(cel_rules(crd_schema()))
        self.assertEqual({(p.lstrip("."), r) for p, r, _ in rules},
                         {("spec", "self.action != 'revision' || has(self.message)")})

    def test_conditions_follow_the_kubernetes_convention(self):
        cond = crd_schema()["properties"]["status"]["properties"]["conditions"]["items"]
        self.assertEqual(set(cond["required"]), {"type", "status"})
        self.assertEqual(cond["properties"]["status"]["enum"], ["True", "False", "Unknown"])
        for field in ("reason", "message", "observedGeneration", "lastTransitionTime"):
            self.assertIn(field, cond["properties"])


class SampleRunsTest(unittest.TestCase):
    def test_samples_cover_every_action(self):
        actions = {load_docs(p)[0]["spec"]["action"] for p in sample_runs()}
        self.assertEqual(actions, {"revision", "check", "upgrade", "roundtrip"})

    def test_samples_validate_against_the_schema(self):
        v = validator()
        for path in sample_runs():
            for doc in load_docs(path):
                with self.subTest(sample=path.name):
                    self.assertEqual(doc["apiVersion"], "alembic.sidecar.dev/v1alpha1")
                    self.assertEqual(doc["kind"], "MigrationRun")
                    errors = [e.message for e in v.iter_errors(doc)]
                    self.assertEqual(errors, [])
                    self.assertNotIn("status", doc)

    def test_bad_samples_are_rejected(self):
        v = validator()
        expected = {
            "bad-revision-without-message.yaml": ("cel", "spec.message is required when spec.action is revision"),
            "bad-unknown-action.yaml": ("schema", "'downgrade' is not one of"),
            "bad-message-too-long.yaml": ("schema", "is too long"),
            "bad-timeout-too-short.yaml": ("schema", "less than the minimum of 30"),
            "bad-isolation.yaml": ("schema", "'sandbox' is not one of"),
        }
        self.assertEqual({p.name for p in TESTDATA.glob("bad-*.yaml")}, set(expected))
        for name, (kind, text) in expected.items():
            with self.subTest(sample=name):
                (doc,) = load_docs(TESTDATA / name)
                schema_errors = [e.message for e in v.iter_errors(doc)]
                if kind == "schema":
                    self.assertTrue(any(text in e for e in schema_errors), schema_errors)
                else:
                    # Only the CEL rule rejects it (the cluster suite proves the server does).
                    self.assertEqual(schema_errors, [])
                    self.assertEqual(doc["spec"]["action"], "revision")
                    self.assertNotIn("message", doc["spec"])

    def test_misspelt_field_is_caught(self):
        doc = {"apiVersion": "alembic.sidecar.dev/v1alpha1", "kind": "MigrationRun",
               "metadata": {"name": "x"}, "spec": {"action": "check", "timeoutSecond": 60}}
        self.assertTrue(any("timeoutSecond" in e.message for e in validator().iter_errors(doc)))


if __name__ == "__main__":
    unittest.main()
