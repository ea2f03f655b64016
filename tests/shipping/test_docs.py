"""README.md: the sections a newcomer needs, captured output filled in (never an empty
placeholder), and every repository path and command it shows pointing at something that
exists."""
import re
import textwrap
import unittest

import yaml

from _support import CHART, REPO, load_docs_text

DOC = REPO / "README.md"
SECTIONS = ["Two commands", "Quick start on a laptop", "In a cluster", "DevSpace", "Helm",
            "kubectl", "CI pipelines", "Configuration reference", "Findings",
            "Troubleshooting: reason codes", "Security notes", "Docker image", "Dependencies",
            "Tests", "Benchmarks", "Layout"]
CAPTURED = "Output captured from the cluster suite"


class ReadmeTest(unittest.TestCase):
    def setUp(self):
        self.text = DOC.read_text()

    def test_sections(self):
        headings = re.findall(r"^## (.+)$", self.text, re.M)
        self.assertEqual(headings, SECTIONS)

    def test_captured_output_is_filled_in(self):
        starts = [m.end() for m in re.finditer(re.escape(CAPTURED), self.text)]
        self.assertGreaterEqual(len(starts), 4)
        for pos in starts:
            block = re.search(r"```\n(.*?)```", self.text[pos:], re.S)
            self.assertIsNotNone(block, self.text[pos:pos + 60])
            self.assertTrue(block.group(1).strip(), "empty captured-output block")
        for marker in ("TODO", "TBD", "REQUEST_OUTPUT"):
            self.assertNotIn(marker, self.text)

    def test_repository_paths_exist(self):
        paths = set(re.findall(
            r"(?<![\w/.-])((?:manifests|helm|docs|tests|scripts)/[\w./-]*[\w])", self.text))
        paths |= {p for p in ("Dockerfile", "devspace.yaml") if p in self.text}
        self.assertGreater(len(paths), 10)
        for p in sorted(paths):
            with self.subTest(path=p):
                self.assertTrue((REPO / p).exists(), p)

    def test_configmap_keys_and_kubectl_commands(self):
        for needle in ("kubectl -n backend get mrun",
                       "kubectl -n backend wait --for=condition=Ready mrun/add-user-phone",
                       "kubectl -n backend describe mrun add-user-phone",
                       "get cm add-user-phone-revision -o jsonpath='{.data.revision\\.py}'",
                       "jsonpath='{.data.report\\.json}'",
                       "alembic-sidecar request --namespace backend --action revision"):
            self.assertIn(needle, self.text)
        # The sample run the kubectl section talks about exists under that name.
        (run,) = load_docs_text((REPO / "manifests/samples/revision.yaml").read_text())
        self.assertEqual(run["metadata"]["name"], "add-user-phone")

    def test_printer_columns_match_the_crd(self):
        (crd,) = load_docs_text((REPO / "manifests/crd/migrationruns.yaml").read_text())
        cols = [c["name"].upper() for c in crd["spec"]["versions"][0]["additionalPrinterColumns"]]
        self.assertIn("NAME, " + ", ".join(cols), self.text)

    def test_helm_values_named_in_the_doc_exist(self):
        values = yaml.safe_load((CHART / "values.yaml").read_text())
        for dotted in re.findall(r"`((?:image|serviceAccount|rbac|sidecar|standalone)"
                                 r"(?:\.\w+)+)`", self.text):
            with self.subTest(value=dotted):
                cur = values
                for part in dotted.split("."):
                    self.assertIn(part, cur, dotted)
                    cur = cur[part]

    def test_yaml_examples_parse(self):
        for block in re.findall(r"```yaml\n(.*?)```", self.text, re.S):
            if "{{" in block:
                continue  # Helm template excerpts
            docs = [d for d in yaml.safe_load_all(textwrap.dedent(block)) if d is not None]
            self.assertTrue(docs)


if __name__ == "__main__":
    unittest.main()


class CiEntryTest(unittest.TestCase):
    """.ci/run is the README's test command with the cluster suite and the image build made
    mandatory: dropping either variable would let CI skip a suite without a word."""

    def test_runs_the_readme_test_command_with_both_suites_required(self):
        script = (REPO / ".ci" / "run").read_text()
        lines = [l.strip() for l in script.splitlines() if l.strip() and not l.lstrip().startswith("#")]
        self.assertIn("export ALEMBIC_SIDECAR_REQUIRE_CLUSTER=1", lines)
        self.assertIn("export ALEMBIC_SIDECAR_REQUIRE_IMAGE=1", lines)
        self.assertEqual(lines[-1], "exec ./scripts/test.sh")
        readme = DOC.read_text()
        self.assertIn("./scripts/test.sh", readme)
        self.assertIn("CI runs exactly this (.ci/run)", readme)
