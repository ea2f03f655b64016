"""docs/ci: the GitHub Actions and GitLab CI examples parse, call alembic-sidecar the right way,
and fail the pipeline on exit codes 1 and 3 (their scripts run here with a fake
alembic-sidecar that exits with a chosen code and writes the --report files it is asked for).
The reports reach their readers: GitHub's SARIF upload and pull-request comment step read the
files the check wrote (the comment's script runs in node against a fake GitHub API), GitLab's
artifacts:reports name them."""
import json
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
prev=
for arg in "$@"; do
  if [ "$prev" = --report ]; then
    case "$arg" in *=*) echo "fake ${arg%%=*} report" > "${arg#*=}" ;; esac
  fi
  prev=$arg
done
echo '{"phase": "fake"}'
exit "${FAKE_EXIT:-0}"
"""

# Runs an actions/github-script `script:` as the action does (an async function with github,
# context, core and require), against a fake REST API; prints the calls it made as JSON.
GITHUB_SCRIPT_HARNESS = """
const fs = require('fs');
const script = fs.readFileSync(process.argv[2], 'utf8');
const comments = JSON.parse(fs.readFileSync(process.argv[3], 'utf8'));
const calls = [];
const github = {
  paginate: async (fn, params) => { calls.push(['list', params]); return comments; },
  rest: { issues: {
    listComments: () => {},
    createComment: async (p) => { calls.push(['create', p]); },
    updateComment: async (p) => { calls.push(['update', p]); },
  } },
};
const context = { repo: { owner: 'acme', repo: 'backend' }, issue: { number: 42 } };
const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;
new AsyncFunction('require', 'github', 'context', 'core', script)(require, github, context, {})
  .then(() => console.log(JSON.stringify(calls)))
  .catch((e) => { console.error(e); process.exit(1); });
"""


def report_paths(call):
    """{format: path} of the --report FORMAT=PATH options of one invocation."""
    out = {}
    for i, word in enumerate(call[:-1]):
        if word == "--report" and "=" in call[i + 1]:
            fmt, path = call[i + 1].split("=", 1)
            out[fmt] = path
    return out


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
                        self.assertRegex(step["uses"],
                                         r"^(actions/[\w-]+|github/codeql-action/upload-sarif)"
                                         r"@v\d+$")

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

    def report_step(self, job):
        (step,) = [s for s in self.jobs[job]["steps"] if "alembic-sidecar check" in s.get("run", "")
                   or "alembic-sidecar request" in s.get("run", "")]
        (call,) = script_words(step["run"])
        return step, call

    def test_reports_reach_code_scanning_annotations_and_the_comment(self):
        for job in ("check", "check-cluster"):
            with self.subTest(job=job):
                _, call = self.report_step(job)
                paths = report_paths(call)
                self.assertIn("--report", call)
                self.assertIn("github", call)  # annotations + job summary
                self.assertEqual(set(paths), {"json", "sarif", "markdown"} | (
                    {"junit"} if job == "check" else set()))
                perms = self.jobs[job]["permissions"]
                self.assertEqual(perms["security-events"], "write")
                self.assertEqual(perms["pull-requests"], "write")
                (upload,) = [s for s in self.jobs[job]["steps"]
                             if s.get("uses", "").startswith("github/codeql-action/upload-sarif")]
                self.assertEqual(upload["with"]["sarif_file"], paths["sarif"])
                self.assertIn("always()", upload["if"])
                (comment,) = [s for s in self.jobs[job]["steps"]
                              if s.get("uses", "").startswith("actions/github-script@")]
                self.assertEqual(comment["env"]["REPORT"], paths["markdown"])
                self.assertIn("github.event_name == 'pull_request'", comment["if"])
                (keep,) = [s for s in self.jobs[job]["steps"]
                           if s.get("uses", "").startswith("actions/upload-artifact@")]
                kept = keep["with"]["path"].split()
                for fmt, path in paths.items():
                    self.assertIn(path, kept, fmt)

    def test_the_check_writes_the_files_the_later_steps_read(self):
        fake = FakeRun(self)
        for job, env in (("check", {"CHECK_DATABASE_URL": "postgresql+asyncpg://a:b@postgres/app"}),
                         ("check-cluster", {"NAMESPACE": "ns"})):
            step, call = self.report_step(job)
            for code in (0, 3):
                with self.subTest(job=job, exit_code=code):
                    for path in report_paths(call).values():
                        (fake.tmp / path).unlink(missing_ok=True)
                    fake.run(step["run"], code, env)
                    for fmt, path in report_paths(call).items():
                        self.assertTrue((fake.tmp / path).exists(), f"{fmt}: {path}")

    def test_the_comment_is_created_once_then_updated_in_place(self):
        node = shutil.which("node")
        if not node:
            self.skipTest("node is not installed")
        fake = FakeRun(self)
        harness = fake.tmp / "harness.js"
        harness.write_text(GITHUB_SCRIPT_HARNESS)
        for job in ("check", "check-cluster"):
            (comment,) = [s for s in self.jobs[job]["steps"]
                          if s.get("uses", "").startswith("actions/github-script@")]
            script = fake.tmp / "script.js"
            script.write_text(comment["with"]["script"])
            report = fake.tmp / comment["env"]["REPORT"]
            report.write_text("<!-- alembic-sidecar:report check -->\n### verdict\n")
            env = dict(os.environ, GITHUB_JOB=job, REPORT=str(report))

            def run(existing):
                state = fake.tmp / "comments.json"
                state.write_text(json.dumps(existing))
                res = subprocess.run([node, str(harness), str(script), str(state)],
                                     env=env, capture_output=True, text=True, timeout=60)
                self.assertEqual(res.returncode, 0, res.stderr)
                return json.loads(res.stdout)

            with self.subTest(job=job):
                other = {"id": 1, "body": "<!-- alembic-sidecar:job other-job -->\nold"}
                calls = run([other])
                self.assertEqual([c[0] for c in calls], ["list", "create"])
                body = calls[1][1]["body"]
                self.assertTrue(body.startswith(f"<!-- alembic-sidecar:job {job} -->\n"))
                self.assertIn("### verdict", body)
                self.assertEqual(calls[1][1]["issue_number"], 42)
                # The next push: the job's own comment is updated, the other job's left alone.
                calls = run([other, {"id": 7, "body": body.replace("verdict", "older")}])
                self.assertEqual(calls[1], ["update", {"owner": "acme", "repo": "backend",
                                                       "comment_id": 7, "body": body}])
                # Nothing changed: no write at all.
                self.assertEqual([c[0] for c in run([other, {"id": 7, "body": body}])], ["list"])

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

    def test_reports_feed_the_merge_request_widgets(self):
        fake = FakeRun(self)
        for job, env in (("migrations:check",
                          {"CHECK_DATABASE_URL": "postgresql+asyncpg://a:b@postgres:5432/app"}),
                         ("migrations:check-cluster", {"MIGRATIONS_NAMESPACE": "ns"})):
            with self.subTest(job=job):
                (call,) = script_words(self.script(job))
                paths = report_paths(call)
                reports = self.doc[job]["artifacts"]["reports"]
                self.assertEqual(reports["junit"], paths["junit"])
                self.assertEqual(reports["codequality"], paths["gitlab-codequality"])
                self.assertIn(paths["json"], self.doc[job]["artifacts"]["paths"])
                for code in (0, 1, 3):
                    for path in paths.values():
                        (fake.tmp / path).unlink(missing_ok=True)
                    fake.run(self.script(job), code, env)
                    for fmt, path in paths.items():
                        self.assertTrue((fake.tmp / path).exists(), f"{fmt} {code}")

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
