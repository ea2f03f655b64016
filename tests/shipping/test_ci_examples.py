"""docs/ci: the GitHub Actions and GitLab CI examples parse, call alembic-sidecar the right way,
and fail the pipeline on exit codes 1 and 3 (their scripts run here with a fake
alembic-sidecar that exits with a chosen code)."""
import os
import shlex
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

import yaml

from _support import REPO

CI = REPO / "docs" / "ci"
FAKE = """#!/bin/sh
echo "$0 $*" >> "$FAKE_LOG"
echo '{"phase": "fake"}'
exit "${FAKE_EXIT:-0}"
"""


def github():
    doc = yaml.safe_load((CI / "github-actions.yml").read_text())
    # PyYAML reads the key `on` as the boolean True (YAML 1.1).
    if True in doc:
        doc["on"] = doc.pop(True)
    return doc


def gitlab():
    return yaml.safe_load((CI / "gitlab-ci.yml").read_text())


def script_words(script):
    """argv lists of the alembic-sidecar invocations in a shell script (continuations joined)."""
    joined = script.replace("\\\n", " ")
    calls = []
    for line in joined.splitlines():
        line = line.strip()
        if line.startswith("alembic-sidecar "):
            words = shlex.split(line)
            if ">" in words:
                words = words[:words.index(">")]
            calls.append(words)
    return calls


class FakeRun:
    def __init__(self, test):
        self.tmp = Path(tempfile.mkdtemp(prefix="shipping-ci-"))
        test.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        (self.tmp / "bin").mkdir()
        fake = self.tmp / "bin" / "alembic-sidecar"
        fake.write_text(FAKE)
        fake.chmod(0o755)
        self.bash = shutil.which("bash")
        if not self.bash:
            test.skipTest("bash is not installed")

    def run(self, script, exit_code, env=None):
        log = self.tmp / "calls.log"
        log.write_text("")
        full_env = dict(os.environ, PATH=f"{self.tmp / 'bin'}:{os.environ['PATH']}",
                        FAKE_LOG=str(log), FAKE_EXIT=str(exit_code), **(env or {}))
        # GitHub's `shell: bash` is `bash --noprofile --norc -eo pipefail {0}`; GitLab's bash
        # runs scripts with -e and pipefail too.
        res = subprocess.run([self.bash, "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                             cwd=self.tmp, env=full_env, capture_output=True, text=True, timeout=30)
        return res, log.read_text().splitlines()


class GithubActionsTest(unittest.TestCase):
    def setUp(self):
        self.wf = github()
        self.jobs = self.wf["jobs"]

    def steps_with(self, job, text):
        return [s for s in self.jobs[job]["steps"] if text in s.get("run", "")]

    def test_structure(self):
        self.assertIn("pull_request", self.wf["on"])
        self.assertEqual(self.wf["permissions"], {"contents": "read"})
        self.assertEqual(set(self.jobs), {"check", "check-cluster"})
        for name, job in self.jobs.items():
            with self.subTest(job=name):
                self.assertEqual(job["runs-on"], "ubuntu-latest")
                self.assertIn("image", job["container"])
                self.assertEqual(job["defaults"]["run"]["shell"], "bash")
                for step in job["steps"]:
                    self.assertTrue("run" in step or "uses" in step, step)
                    if "uses" in step:
                        self.assertRegex(step["uses"], r"^actions/[\w-]+@v\d+$")

    def test_scripts_are_valid_bash(self):
        for name, job in self.jobs.items():
            for step in job["steps"]:
                if "run" in step:
                    res = subprocess.run(["bash", "-n", "-c", step["run"]], capture_output=True,
                                         text=True)
                    self.assertEqual(res.returncode, 0, f"{name}: {res.stderr}")

    def test_no_cluster_job_uses_a_postgres_15_service(self):
        job = self.jobs["check"]
        self.assertEqual(job["services"]["postgres"]["image"], "postgres:15")
        self.assertIn("pg_isready", job["services"]["postgres"]["options"])
        (step,) = self.steps_with("check", "alembic-sidecar check")
        (call,) = script_words(step["run"])
        self.assertEqual(call[:2], ["alembic-sidecar", "check"])
        self.assertEqual(call[call.index("--database-url") + 1], "$CHECK_DATABASE_URL")
        url = job["env"]["CHECK_DATABASE_URL"]
        self.assertTrue(url.startswith("postgresql+asyncpg://") and "@postgres:5432/" in url, url)

    def test_cluster_job_requests_a_check_and_waits(self):
        job = self.jobs["check-cluster"]
        (step,) = self.steps_with("check-cluster", "alembic-sidecar request")
        (call,) = script_words(step["run"])
        self.assertEqual(call[:4], ["alembic-sidecar", "request", "--action", "check"])
        self.assertIn("--wait", call)
        self.assertEqual(call[call.index("--namespace") + 1], "$NAMESPACE")
        (kube,) = self.steps_with("check-cluster", "KUBECONFIG")
        self.assertEqual(kube["env"]["KUBECONFIG_DATA"], "${{ secrets.KUBECONFIG_DATA }}")
        self.assertIn("umask 077", kube["run"])
        self.assertIn('>> "$GITHUB_ENV"', kube["run"])

    def test_exit_codes_fail_the_pipeline(self):
        fake = FakeRun(self)
        for job, text, env in (("check", "alembic-sidecar check",
                                {"CHECK_DATABASE_URL": "postgresql+asyncpg://a:b@postgres:5432/app"}),
                               ("check-cluster", "alembic-sidecar request", {"NAMESPACE": "ns"})):
            (step,) = self.steps_with(job, text)
            for code, expected in ((0, 0), (1, 1), (3, 3), (2, 2), (4, 4)):
                with self.subTest(job=job, exit_code=code):
                    res, calls = fake.run(step["run"], code, env)
                    self.assertEqual(res.returncode, expected, res.stdout + res.stderr)
                    self.assertEqual(len(calls), 1)
                    if code in (1, 3):
                        self.assertIn("::error", res.stdout)
                    if code == 4 and job == "check-cluster":
                        # not "MigrationRun Failed": no run was judged
                        self.assertIn("could not talk to the Kubernetes API", res.stdout)
                        self.assertNotIn("MigrationRun Failed", res.stdout)

    def test_reports_are_kept_even_on_failure(self):
        for name, job in self.jobs.items():
            uploads = [s for s in job["steps"] if s.get("uses", "").startswith(
                "actions/upload-artifact@")]
            self.assertEqual(len(uploads), 1, name)
            self.assertEqual(uploads[0]["if"], "always()")


class GitlabCiTest(unittest.TestCase):
    def setUp(self):
        self.doc = gitlab()

    def script(self, job):
        return "\n".join(self.doc[job]["script"])

    def test_structure(self):
        self.assertEqual(self.doc["stages"], ["migrations"])
        for job in ("migrations:check", "migrations:check-cluster"):
            with self.subTest(job=job):
                j = self.doc[job]
                self.assertEqual(j["stage"], "migrations")
                self.assertEqual(j["image"]["name"], "$ALEMBIC_SIDECAR_IMAGE")
                self.assertEqual(j["image"]["entrypoint"], [""])
                self.assertEqual(j["artifacts"]["when"], "always")
                res = subprocess.run(["bash", "-n", "-c", self.script(job)],
                                     capture_output=True, text=True)
                self.assertEqual(res.returncode, 0, res.stderr)

    def test_no_cluster_job(self):
        j = self.doc["migrations:check"]
        self.assertEqual(j["services"], [{"name": "postgres:15", "alias": "postgres"}])
        (call,) = script_words(self.script("migrations:check"))
        self.assertEqual(call[:2], ["alembic-sidecar", "check"])
        self.assertEqual(call[call.index("--database-url") + 1], "$CHECK_DATABASE_URL")
        self.assertIn("@postgres:5432/", j["variables"]["CHECK_DATABASE_URL"])

    def test_cluster_job(self):
        j = self.doc["migrations:check-cluster"]
        self.assertEqual(j["rules"], [{"if": "$KUBECONFIG"}])
        (call,) = script_words(self.script("migrations:check-cluster"))
        self.assertEqual(call[:4], ["alembic-sidecar", "request", "--action", "check"])
        self.assertIn("--wait", call)

    def test_exit_codes_fail_the_pipeline(self):
        fake = FakeRun(self)
        for job in ("migrations:check", "migrations:check-cluster"):
            for code in (0, 1, 2, 3, 4):
                with self.subTest(job=job, exit_code=code):
                    res, calls = fake.run(self.script(job), code, {
                        "CHECK_DATABASE_URL": "postgresql+asyncpg://a:b@postgres:5432/app",
                        "MIGRATIONS_NAMESPACE": "ns"})
                    self.assertEqual(res.returncode, code, res.stdout + res.stderr)
                    self.assertEqual(len(calls), 1)
                    if code == 4 and job == "migrations:check-cluster":
                        self.assertIn("could not talk to the Kubernetes API", res.stdout)
                        self.assertNotIn("FAILED", res.stdout)


if __name__ == "__main__":
    unittest.main()
