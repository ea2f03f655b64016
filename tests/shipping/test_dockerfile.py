"""Dockerfile and .dockerignore, checked without a Docker engine (none runs here).

What `docker build` would prove is checked piece by piece: the stages and their instructions,
the build commands against CMakeLists.txt and scripts/, the Debian package names against the
apt lists of this (bookworm) machine, and the runtime libraries against what the binary built
here actually links (ldd + dpkg -S + apt-cache depends).
"""
import fnmatch
import os
import re
import shlex
import shutil
import unittest
from pathlib import Path

from _support import REPO, apt_installed, dockerfile_stages, run

DOCKERFILE = REPO / "Dockerfile"
BUILD_ONLY = re.compile(r"(-dev$|^g\+\+|^gcc|^clang|^cmake$|^ninja-build$|^make$|^build-essential$"
                        r"|^pkg-config$|^nodejs$|^npm$|^git$)")


def stages():
    return dockerfile_stages(DOCKERFILE)


def stage(name):
    for s in stages()[1]:
        if s["name"] == name:
            return s
    raise KeyError(name)


def instructions(s, kind):
    return [args for instr, args in s["instructions"] if instr == kind]


def runtime_packages():
    global_args, st = stages()
    final = st[-1]
    pkgs = []
    for args in instructions(final, "RUN"):
        for p in apt_installed(args):
            if p.startswith("${") or p.startswith("$"):
                name = p.strip("${}")
                pkgs += global_args[name].split()
            else:
                pkgs.append(p)
    return pkgs


class DockerfileStructureTest(unittest.TestCase):
    def test_multi_stage_on_debian_bookworm(self):
        global_args, st = stages()
        self.assertGreaterEqual(len(st), 2)
        self.assertEqual(global_args["DEBIAN_RELEASE"], "bookworm")
        self.assertEqual(st[0]["base"], "debian:bookworm")
        self.assertEqual(st[-1]["base"], "debian:bookworm-slim")
        self.assertEqual([s["name"] for s in st], ["build", "example-app", "runtime"])

    def test_final_stage_runs_as_numeric_non_root(self):
        final = stages()[1][-1]
        users = instructions(final, "USER")
        self.assertTrue(users, "no USER in the final stage")
        uid, _, gid = users[-1].partition(":")
        self.assertTrue(uid.isdigit() and gid.isdigit(), users[-1])
        self.assertEqual((int(uid), int(gid)), (65532, 65532))
        last = [i for i, _ in final["instructions"]]
        self.assertNotIn("RUN", last[last.index("USER"):], "RUN after USER would run as non-root")

    def test_no_healthcheck_anywhere(self):
        for s in stages()[1]:
            self.assertEqual(instructions(s, "HEALTHCHECK"), [], s["name"])

    def test_final_stage_has_no_build_tools(self):
        pkgs = runtime_packages()
        self.assertTrue(pkgs)
        self.assertEqual([p for p in pkgs if BUILD_ONLY.search(p)], [])
        for req in ("python3", "python3-pyflakes", "ca-certificates", "libcpprest2.10",
                    "libpqxx-6.4", "libyaml-cpp0.7", "libspdlog1.10", "libssl3", "libfmt9"):
            self.assertIn(req, pkgs)
        final = stages()[1][-1]
        copies = instructions(final, "COPY")
        self.assertTrue(copies)
        for c in copies:
            self.assertIn("--from=build", c, "the final stage copies only build outputs")

    def test_builds_offline_and_ships_no_build_time_environment(self):
        text = DOCKERFILE.read_text()
        # A `# syntax=` directive makes BuildKit pull a frontend image: no offline builds.
        self.assertNotRegex(text, r"(?m)^#\s*syntax=")
        for s in stages()[1]:
            for args in instructions(s, "ENV"):
                self.assertNotIn("DEBIAN_FRONTEND", args, f"{s['name']}: use ARG, not ENV")
        # The build stage installs only what compiling needs (no PostgreSQL, test libraries,
        # helm/kubectl): install-deps.sh's `build` profile.
        runs = " ".join(instructions(stage("build"), "RUN"))
        self.assertRegex(runs, r"\./scripts/install-deps\.sh build\b")

    def test_example_app_handles_sigterm_as_pid_1(self):
        (cmd,) = instructions(stage("example-app"), "CMD")
        self.assertIn("signal.SIGTERM", cmd)

    def test_apt_hygiene(self):
        for s in stages()[1]:
            for args in instructions(s, "RUN"):
                if "apt-get install" in args:
                    self.assertIn("--no-install-recommends", args, s["name"])
                    self.assertIn("rm -rf /var/lib/apt/lists/*", args, s["name"])

    def test_build_stage_runs_the_readme_scripts(self):
        build = stage("build")
        runs = " ".join(instructions(build, "RUN"))
        self.assertIn("./scripts/install-deps.sh", runs)
        # The README's build script, as a Release build (extra CMake options may precede it).
        self.assertRegex(runs, r"BUILD_TYPE=Release\s+(\w+=\"[^\"]*\"\s+)*\./scripts/build\.sh")
        for script in ("install-deps.sh", "build.sh"):
            self.assertTrue((REPO / "scripts" / script).exists())
        cmake = (REPO / "CMakeLists.txt").read_text()
        for opt in re.findall(r"-D(ALEMBIC_SIDECAR_\w+)=", runs):
            self.assertRegex(cmake, rf"option\({opt}\b", f"{opt} is not a CMake option")
        self.assertIn("-DALEMBIC_SIDECAR_TESTS=OFF", runs)
        # The options reach cmake through build.sh's CMAKE_ARGS, in the directory the binary
        # is then copied from.
        build_sh = (REPO / "scripts" / "build.sh").read_text()
        self.assertIn('BUILD_DIR="${BUILD_DIR:-build}"', build_sh)
        self.assertIn("${CMAKE_ARGS:-}", build_sh)
        self.assertIn("build/alembic-sidecar", runs)

    def test_every_copy_source_exists_and_is_in_the_context(self):
        ignore = [l.strip() for l in (REPO / ".dockerignore").read_text().splitlines()
                  if l.strip() and not l.startswith("#")]
        self.assertFalse(any(p.startswith("!") for p in ignore), "negations not handled here")
        for s in stages()[1]:
            for args in instructions(s, "COPY"):
                words = [w for w in shlex.split(args) if not w.startswith("--")]
                if "--from=" in args:
                    continue
                for src in words[:-1]:
                    with self.subTest(stage=s["name"], src=src):
                        path = src.rstrip("/")
                        self.assertTrue((REPO / path).exists(), src)
                        parts = path.split("/")
                        for i in range(1, len(parts) + 1):
                            prefix = "/".join(parts[:i])
                            for pat in ignore:
                                self.assertFalse(fnmatch.fnmatch(prefix, pat),
                                                 f"{src} is excluded by .dockerignore ({pat})")

    def test_dockerignore_keeps_host_artifacts_out(self):
        ignore = (REPO / ".dockerignore").read_text().split()
        for pat in (".git", ".tools", "build", "build-*", "node_modules"):
            self.assertIn(pat, ignore)

    def test_runtime_interface(self):
        final = stages()[1][-1]
        self.assertEqual(instructions(final, "ENTRYPOINT"), ['["/usr/local/bin/alembic-sidecar"]'])
        self.assertEqual(instructions(final, "CMD"), ['["sidecar", "--port", "8080"]'])
        self.assertEqual(instructions(final, "EXPOSE"), ["8080"])
        labels = " ".join(instructions(final, "LABEL"))
        for key in ("org.opencontainers.image.title", "org.opencontainers.image.description",
                    "org.opencontainers.image.version", "org.opencontainers.image.revision"):
            self.assertIn(key, labels)
        runs = " ".join(instructions(final, "RUN"))
        self.assertIn("ldd /usr/local/bin/alembic-sidecar", runs, "missing-library guard")
        copies = " ".join(instructions(stage("build"), "RUN"))
        self.assertIn("/out/usr/local/bin/squawk", copies)

    def test_example_app_stage(self):
        app = stage("example-app")
        self.assertEqual(instructions(app, "COPY"), ["tests/fixtures/example_app/ /app/"])
        self.assertEqual(instructions(app, "WORKDIR"), ["/app"])
        uid, _, _ = instructions(app, "USER")[-1].partition(":")
        self.assertEqual(int(uid), 10001, "the uid manifests/sample-app.yaml runs the app as")
        self.assertTrue((REPO / "tests/fixtures/example_app/alembic.ini").exists())


class DebianPackagesTest(unittest.TestCase):
    """Package names against this machine's bookworm apt lists (no download)."""

    def setUp(self):
        if not shutil.which("apt-cache"):
            self.skipTest("apt-cache is not installed")
        if run(["apt-cache", "show", "libc6"]).returncode != 0:
            self.skipTest("no apt lists on this machine (apt-get update)")

    def test_every_installed_package_exists_in_bookworm(self):
        global_args, st = stages()
        for s in st[1:]:
            for args in instructions(s, "RUN"):
                for p in apt_installed(args):
                    names = global_args[p.strip("${}")].split() if p.startswith("$") else [p]
                    for name in names:
                        with self.subTest(stage=s["name"], package=name):
                            res = run(["apt-cache", "show", "--no-all-versions", name])
                            self.assertEqual(res.returncode, 0, res.stderr)
                            self.assertIn(f"Package: {name}", res.stdout)

    def depends_closure(self, pkgs):
        res = run(["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests",
                   "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances",
                   "--no-pre-depends", *pkgs], timeout=300)
        self.assertEqual(res.returncode, 0, res.stderr)
        out = set(pkgs)
        for line in res.stdout.splitlines():
            line = line.strip()
            if line and not line.startswith("|") and ":" not in line:
                out.add(line)
            elif line.startswith(("Depends:", "|Depends:")):
                out.add(line.split(":", 1)[1].strip().strip("<>"))
        return {p.split(":")[0] for p in out}

    def test_runtime_stage_provides_every_library_the_binary_links(self):
        candidates = [REPO / "build" / "alembic-sidecar",
                      *sorted(REPO.glob("build-*/alembic-sidecar"))]
        if os.environ.get("ALEMBIC_SIDECAR_EXE"):  # set by ctest: the binary of that build
            candidates.insert(0, Path(os.environ["ALEMBIC_SIDECAR_EXE"]))
        binary = next((p for p in candidates if p.exists()), None)
        if binary is None or not shutil.which("ldd") or not shutil.which("dpkg"):
            self.skipTest("no built alembic-sidecar (./scripts/build.sh) or no ldd/dpkg")
        ldd = run(["ldd", str(binary)])
        self.assertEqual(ldd.returncode, 0, ldd.stderr)
        libs = re.findall(r"=> (/\S+)", ldd.stdout)
        needed = set()
        for lib in libs:
            res = run(["dpkg", "-S", lib])
            if res.returncode != 0:  # /lib vs /usr/lib (merged /usr)
                res = run(["dpkg", "-S", lib.replace("/lib/", "/usr/lib/", 1)])
            self.assertEqual(res.returncode, 0, f"no package owns {lib}")
            needed.add(res.stdout.split(":", 1)[0])
        # What bookworm-slim already has: the Essential/required set (apt and its closure).
        base = self.depends_closure(["apt", "libc6", "libgcc-s1", "libstdc++6", "base-files"])
        provided = self.depends_closure(runtime_packages()) | base
        self.assertEqual(sorted(needed - provided), [],
                         "add these packages to RUNTIME_LIBRARIES in the Dockerfile")


if __name__ == "__main__":
    unittest.main()
