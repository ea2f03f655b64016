// What kubectl users see: the built binary runs `sidecar` against the project's test API
// server (with the real CRD), alembic runs through pods/exec in a copy of the example app, a
// real PostgreSQL; `alembic-sidecar request --wait` asks for the runs and the real kubectl
// (.tools/bin/kubectl) looks at them. The exact outputs go to
// ${CMAKE_BINARY_DIR}/kubectl-ux.md, the source of the README's "captured output" blocks.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <sstream>

#include "core/json_util.h"
#include "e2e/kube/kube_e2e.h"
#include "kube/resources.h"
#include "support/child_process.h"
#include "support/cli_runner.h"
#include "support/example_app.h"
#include "support/postgres_server.h"
#include "workspace/process.h"

namespace alembic_sidecar::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsSupersetOf;
using ::testing::StartsWith;
namespace res = kube::resources;

std::string sourceDir() { return ALEMBIC_SIDECAR_SOURCE_DIR; }
std::string kubectlPath() { return sourceDir() + "/.tools/bin/kubectl"; }
std::string capturePath() { return std::string(ALEMBIC_SIDECAR_BINARY_DIR) + "/kubectl-ux.md"; }

/** How a person would type `arg` in a shell ("key=value" keeps the key unquoted). */
std::string shellWord(const std::string& arg) {
  auto safe = [](const std::string& s) {
    return !s.empty() && s.find_first_not_of(
                             "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                             "0123456789_-./=:,@%+") == std::string::npos;
  };
  if (safe(arg)) {
    return arg;
  }
  auto eq = arg.find('=');
  if (eq != std::string::npos && eq > 0 && safe(arg.substr(0, eq + 1))) {
    return arg.substr(0, eq + 1) + "'" + arg.substr(eq + 1) + "'";
  }
  return "'" + arg + "'";
}

std::string commandLine(const std::vector<std::string>& words) {
  std::string line;
  for (const auto& w : words) {
    line += (line.empty() ? "" : " ") + shellWord(w);
  }
  return line;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    out.push_back(line);
  }
  return out;
}

std::vector<std::string> words(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  for (std::string w; in >> w;) {
    out.push_back(w);
  }
  return out;
}

/** The reasons of the Events table at the end of `kubectl describe`, in printed order. */
std::vector<std::string> describedEventReasons(const std::string& describe) {
  std::vector<std::string> reasons;
  auto pos = describe.find("\nEvents:\n");
  if (pos == std::string::npos) {
    return reasons;
  }
  auto rows = lines(describe.substr(pos + 1));
  for (size_t i = 3; i < rows.size(); ++i) {  // "Events:", the header, the dashes
    auto w = words(rows[i]);
    if (w.size() >= 2) {
      reasons.push_back(w[1]);
    }
  }
  return reasons;
}

struct Captured {
  std::string command;  // as typed in a shell
  int exitCode = -1;
  std::string output;  // what the terminal shows
};

class KubectlUxTest : public kube::e2e::ServerSuite {
 protected:
  static void SetUpTestSuite() {
    KubeTestServer::Options options;
    options.crdFiles = {sourceDir() + "/manifests/crd/migrationruns.yaml"};
    options.extraArgs = {"--verbose"};
    startServer(options);
  }

  void SetUp() override {
    if (::access(kubectlPath().c_str(), X_OK) != 0) {
      GTEST_SKIP() << "no kubectl at " << kubectlPath() << " (run ./scripts/install-deps.sh)";
    }
    ServerSuite::SetUp();
    api_ = server()->adminClient();
    db_ = createTestDatabase("kc");
    auto secret = api_->create(res::secrets(ns_), {{"apiVersion", "v1"},
                                                   {"kind", "Secret"},
                                                   {"metadata", {{"name", "app-db"}}},
                                                   {"stringData", {{"uri", db_.url()}}}});
    ASSERT_TRUE(secret.ok()) << secret.error().message;
  }

  void TearDown() override {
    if (HasFailure() && server()) {
      std::string log = server()->log();
      std::cerr << "--- test API server log (tail) ---\n"
                << (log.size() > 6000 ? log.substr(log.size() - 6000) : log) << "\n";
      if (sidecar_) {
        std::string own = sidecar_->log();
        std::cerr << "--- sidecar log (tail) ---\n"
                  << (own.size() > 6000 ? own.substr(own.size() - 6000) : own) << "\n";
      }
    }
    sidecar_.reset();
  }

  /** The app pod `backend-0` of the sidecar tests: container `app` in the app's copy. */
  void createPod() {
    nlohmann::json env = {
        {{"name", "DATABASE_URL"},
         {"valueFrom", {{"secretKeyRef", {{"name", "app-db"}, {"key", "uri"}}}}}}};
    auto pod = api_->create(
        res::pods(ns_),
        {{"apiVersion", "v1"},
         {"kind", "Pod"},
         {"metadata",
          {{"name", "backend-0"},
           {"labels", {{"app", "backend"}}},
           {"annotations", {{"kube-api-server.test/workdir", app_.dir()}}}}},
         {"spec",
          {{"containers",
            {{{"name", "app"}, {"image", "python:3.11"}, {"workingDir", app_.dir()}, {"env", env}},
             {{"name", "alembic-sidecar"}, {"image", "alembic-sidecar:test"}}}}}}});
    ASSERT_TRUE(pod.ok()) << pod.error().message;
    auto running = api_->mergePatch(res::pods(ns_).named("backend-0").withSubresource("status"),
                                    {{"status", {{"phase", "Running"}}}});
    ASSERT_TRUE(running.ok()) << running.error().message;
  }

  void startSidecar() {
    std::vector<std::string> argv = {
        ALEMBIC_SIDECAR_EXE, "sidecar", "--kubeconfig", server()->kubeconfig(),
        "--namespace",       ns_,       "--port",       "0"};
    sidecar_ = std::make_unique<ChildProcess>(
        argv,
        std::map<std::string, std::string>{
            {"POD_NAME", "backend-0"},
            {"POD_NAMESPACE", ns_},
            {"ALEMBIC_SIDECAR_SQUAWK", sourceDir() + "/.tools/bin/squawk"},
            {"DATABASE_URL", ""}},
        server()->scratchDir() + "/sidecar-kubectl.log");
  }

  /** `alembic-sidecar request ... --wait` as a person runs it (text report, not --json). */
  Captured request(const std::vector<std::string>& args) {
    std::vector<std::string> shown = {"alembic-sidecar", "request", "--namespace", ns_};
    shown.insert(shown.end(), args.begin(), args.end());
    shown.push_back("--wait");
    std::vector<std::string> argv(shown.begin() + 1, shown.end());
    argv.insert(argv.end(), {"--kubeconfig", server()->kubeconfig()});
    auto result = runCli(argv);
    return record({commandLine(shown), result.exitCode, result.err + result.out});
  }

  /** `kubectl -n <ns> args...` with the server's kubeconfig and a private discovery cache. */
  Captured kubectl(const std::vector<std::string>& args) {
    workspace::ProcessSpec spec;
    spec.argv = {kubectlPath(),
                 "--kubeconfig",
                 server()->kubeconfig(),
                 "--cache-dir",
                 server()->scratchDir() + "/kubectl-cache",
                 "-n",
                 ns_};
    spec.argv.insert(spec.argv.end(), args.begin(), args.end());
    spec.env = {{"HOME", server()->scratchDir()}};  // no ~/.kube/kuberc, no cache of ours
    spec.timeout = std::chrono::seconds(60);
    std::vector<std::string> shown = {"kubectl", "-n", ns_};
    shown.insert(shown.end(), args.begin(), args.end());
    auto result = workspace::runProcess(spec);
    if (!result) {
      ADD_FAILURE() << "kubectl did not start: " << result.error().message;
      return {commandLine(shown), -1, ""};
    }
    EXPECT_TRUE(result->err.empty()) << commandLine(shown) << ": " << result->err;
    return record({commandLine(shown), result->exitCode, result->out + result->err});
  }

  Captured record(Captured c) {
    transcript_.push_back(c);
    return c;
  }

  /** The run name `request` printed ("migrationrun.alembic.sidecar.dev/NAME created ..."). */
  static std::string createdName(const Captured& c) {
    const std::string prefix = "migrationrun.alembic.sidecar.dev/";
    auto pos = c.output.find(prefix);
    if (pos == std::string::npos) {
      return {};
    }
    pos += prefix.size();
    return c.output.substr(pos, c.output.find(' ', pos) - pos);
  }

  nlohmann::json run(const std::string& name) {
    auto got = api_->get(res::migrationRuns(ns_).named(name));
    return got.ok() ? *got : nlohmann::json();
  }

  void writeCapture(const std::string& testName) {
    workspace::ProcessSpec versionSpec;
    versionSpec.argv = {kubectlPath(), "version", "--client"};
    auto version = workspace::runProcess(versionSpec);
    std::string kubectlVersion = version.ok() ? lines(version->out).front() : "kubectl";
    std::time_t now = std::time(nullptr);
    char date[32];
    std::strftime(date, sizeof(date), "%Y-%m-%d", std::gmtime(&now));
    std::ostringstream md;
    md << "# What kubectl users see\n\n"
       << "Captured by `tests/e2e/kubectl/kubectl_ux_test.cc` (" << testName << ") on " << date
       << ": the real `alembic-sidecar sidecar` watching namespace `" << ns_
       << "` and running alembic in the example app (`tests/fixtures/changes/user_add_phone`, "
          "then a dropped column), `alembic-sidecar request --wait`, and the real kubectl ("
       << kubectlVersion
       << ") against the project's test API server serving `manifests/crd/migrationruns.yaml`, "
          "with PostgreSQL 15 and alembic. Outputs are verbatim.\n";
    for (const auto& c : transcript_) {
      md << "\n```\n$ " << c.command << "\n" << c.output;
      if (!c.output.empty() && c.output.back() != '\n') {
        md << "\n";
      }
      if (c.exitCode != 0) {
        md << "$ echo $?\n" << c.exitCode << "\n";
      }
      md << "```\n";
    }
    writeTextFile(capturePath(), md.str());
  }

  // One namespace, named as in the README; the server is reset before each test.
  std::string ns_ = "backend";
  database::ConnectionInfo db_;
  std::shared_ptr<kube::KubeClient> api_;
  ExampleApp app_;
  std::unique_ptr<ChildProcess> sidecar_;
  std::vector<Captured> transcript_;
};

TEST_F(KubectlUxTest, RevisionAndEscalation_AsKubectlShowsThem) {
  app_.applyChange("user_add_phone");
  createPod();
  startSidecar();

  // A revision that succeeds.
  auto revision = request({"--action", "revision", "-m", "add user phone"});
  ASSERT_EQ(revision.exitCode, 0) << revision.output << sidecar_->log();
  std::string name = createdName(revision);
  ASSERT_FALSE(name.empty()) << revision.output;
  const auto status = run(name)["status"];
  const std::string revisionId = status["revision"]["id"];
  const std::string file = status["revision"]["file"];

  // A revision that needs a human: the column is dropped (data loss).
  app_.replace("fastapi_template/models/team.py", "    headquarters: Optional[str] = None\n", "");
  auto escalation = request({"--action", "revision", "-m", "drop team headquarters"});
  ASSERT_EQ(escalation.exitCode, 3) << escalation.output << sidecar_->log();
  std::string escalated = createdName(escalation);
  ASSERT_FALSE(escalated.empty());

  // kubectl get mrun: the CRD's printer columns, filled by the server.
  auto table = kubectl({"get", "mrun"});
  ASSERT_EQ(table.exitCode, 0) << table.output;
  auto rows = lines(table.output);
  ASSERT_EQ(rows.size(), 3u) << table.output;
  EXPECT_THAT(words(rows[0]), ElementsAre("NAME", "ACTION", "PHASE", "REVISION", "REASON", "AGE"));
  std::map<std::string, std::vector<std::string>> byName;
  for (size_t i = 1; i < rows.size(); ++i) {
    auto w = words(rows[i]);
    byName[w.front()] = w;
  }
  ASSERT_EQ(byName[name].size(), 6u) << table.output;
  EXPECT_THAT(std::vector<std::string>(byName[name].begin() + 1, byName[name].end() - 1),
              ElementsAre("revision", "Succeeded", revisionId, "RevisionCreated"));
  EXPECT_THAT(byName[name].back(), ::testing::MatchesRegex("[0-9]+[smh]"));
  ASSERT_GE(byName[escalated].size(), 5u) << table.output;
  EXPECT_EQ(byName[escalated][1], "revision");
  EXPECT_EQ(byName[escalated][2], "Escalated");
  EXPECT_THAT(byName[escalated], ::testing::Contains("DestructiveChange"));

  // kubectl wait: Ready is True once the run succeeded.
  auto wait = kubectl({"wait", "--for=condition=Ready", "mrun/" + name, "--timeout=60s"});
  EXPECT_EQ(wait.exitCode, 0) << wait.output;
  EXPECT_EQ(wait.output, "migrationrun.alembic.sidecar.dev/" + name + " condition met\n");

  // kubectl describe: the status, then one Event per step.
  auto describe = kubectl({"describe", "mrun", name});
  ASSERT_EQ(describe.exitCode, 0) << describe.output;
  EXPECT_THAT(describe.output,
              StartsWith("Name:         " + name + "\nNamespace:    " + ns_ + "\n"));
  EXPECT_THAT(describe.output, HasSubstr("Kind:         MigrationRun\n"));
  EXPECT_THAT(describe.output, HasSubstr("  Phase:  "));
  EXPECT_EQ(describe.output.find(db_.password), std::string::npos);
  auto reasons = describedEventReasons(describe.output);
  ASSERT_FALSE(reasons.empty()) << describe.output;
  EXPECT_EQ(reasons.front(), "Claimed") << describe.output;
  EXPECT_EQ(reasons.back(), "RevisionCreated") << describe.output;
  EXPECT_THAT(reasons, IsSupersetOf({"Claimed", "Connected", "AllModelsRegistered", "Generated",
                                     "NoEscalations", "SchemaRestored", "RevisionCreated"}));
  EXPECT_THAT(describe.output, HasSubstr("Normal  Claimed"));
  EXPECT_THAT(describe.output, HasSubstr("alembic-sidecar"));

  auto describeEscalated = kubectl({"describe", "mrun", escalated});
  ASSERT_EQ(describeEscalated.exitCode, 0) << describeEscalated.output;
  EXPECT_THAT(describeEscalated.output, HasSubstr("DestructiveChange"));
  EXPECT_THAT(describedEventReasons(describeEscalated.output), ::testing::Contains("Claimed"));

  // The generated file, from the ConfigMap the run owns.
  auto cm = kubectl({"get", "cm", name + "-revision", "-o", "jsonpath={.data.revision\\.py}"});
  ASSERT_EQ(cm.exitCode, 0) << cm.output;
  EXPECT_EQ(cm.output, app_.read(file));
  EXPECT_THAT(cm.output, HasSubstr("op.add_column('user'"));

  writeCapture("KubectlUxTest.RevisionAndEscalation_AsKubectlShowsThem");
  std::cerr << "kubectl output written to " << capturePath() << "\n";
}

}  // namespace
}  // namespace alembic_sidecar::testing
