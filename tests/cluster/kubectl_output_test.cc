// What kubectl users see, on the real server: the sidecar next to the sample app in namespace
// `backend`, `alembic-sidecar request --wait` as the requester, and the real kubectl's `get`,
// `wait` and `describe`. The exact outputs go to ${CMAKE_BINARY_DIR}/kubectl-output.md, the
// source of docs/kubectl-output.md and of the README's captured blocks.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ctime>
#include <sstream>

#include "cluster/cluster.h"
#include "support/kube_test_server.h"
#include "workspace/process.h"

namespace alembic_sidecar::testing::cluster {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsSupersetOf;
using ::testing::StartsWith;

std::string capturePath() { return std::string(ALEMBIC_SIDECAR_BINARY_DIR) + "/kubectl-output.md"; }

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
  std::string command;
  int exitCode = -1;
  std::string output;
};

class KubectlOutput : public SampleAppTest {
 protected:
  KubectlOutput() { namespaceName_ = "backend"; }  // as in the README

  /** `alembic-sidecar request ... --wait` as a person runs it (text report), as user dev. */
  Captured request(const std::vector<std::string>& args) {
    std::vector<std::string> shown = {"alembic-sidecar", "request", "--namespace", ns_};
    shown.insert(shown.end(), args.begin(), args.end());
    shown.push_back("--wait");
    std::vector<std::string> argv(shown.begin() + 1, shown.end());
    argv.insert(argv.end(), {"--kubeconfig", env_->kubeconfig(), "--context", "dev"});
    auto result = runCli(argv, {{"HOME", scratch_.str()}, {"KUBECONFIG", ""}});
    return record({commandLine(shown), result.exitCode, result.err + result.out});
  }

  Captured kubectlAsDev(const std::vector<std::string>& args) {
    ToolOptions asDev;
    asDev.context = "dev";
    auto result = kubectl(args, asDev);
    EXPECT_EQ(result.err, "") << result.command;
    std::vector<std::string> shown = {"kubectl", "-n", ns_};
    shown.insert(shown.end(), args.begin(), args.end());
    return record({commandLine(shown), result.exitCode, result.out + result.err});
  }

  Captured record(Captured c) {
    transcript_.push_back(c);
    return c;
  }

  void writeCapture(const std::string& testName) {
    workspace::ProcessSpec versionSpec;
    versionSpec.argv = {kubectlPath(), "version", "--client"};
    auto version = workspace::runProcess(versionSpec);
    auto server = kubectlGlobal({"version"});
    std::string serverVersion;
    for (const auto& line : lines(server.out)) {
      if (line.rfind("Server Version:", 0) == 0) {
        serverVersion = line.substr(std::string("Server Version: ").size());
      }
    }
    std::time_t now = std::time(nullptr);
    char date[32];
    std::strftime(date, sizeof(date), "%Y-%m-%d", std::gmtime(&now));
    std::ostringstream md;
    md << "# What kubectl users see\n\n"
       << "Captured by `tests/cluster/kubectl_output_test.cc` (" << testName << ") on " << date
       << " against a real cluster (envtest: kube-apiserver " << serverVersion
       << ", kube-controller-manager, local-kubelet): the chart installed in namespace `" << ns_
       << "`, `manifests/sample-app.yaml` applied, the real `alembic-sidecar sidecar` running "
          "with the chart's ServiceAccount token next to the app pod and alembic running in the "
          "app container through pods/exec (`tests/fixtures/changes/user_add_phone`, then a "
          "dropped column), PostgreSQL 15; `alembic-sidecar request --wait` and the real kubectl ("
       << (version.ok() ? lines(version->out).front() : std::string("kubectl"))
       << ") as a user bound to the requester Role. Outputs are verbatim.\n";
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

  std::vector<Captured> transcript_;
};

TEST_F(KubectlOutput, RevisionAndEscalation_AsKubectlShowsThem) {
  nativeApp_.applyChange("user_add_phone");
  startNativeSidecar();
  const std::vector<std::string> target = {"--target-selector", "app=backend,sidecar-form=native"};

  // A revision that succeeds.
  std::vector<std::string> args = {"--action", "revision", "-m", "add user phone"};
  args.insert(args.end(), target.begin(), target.end());
  auto revision = request(args);
  ASSERT_EQ(revision.exitCode, 0) << revision.output;
  const std::string name = createdName(revision.output);
  ASSERT_FALSE(name.empty()) << revision.output;
  const auto status = run(name)["status"];
  const std::string revisionId = status["revision"]["id"];
  const std::string file = status["revision"]["file"];

  // A revision that needs a human: the column is dropped (data loss).
  nativeApp_.replace("fastapi_template/models/team.py", "    headquarters: Optional[str] = None\n",
                     "");
  args = {"--action", "revision", "-m", "drop team headquarters"};
  args.insert(args.end(), target.begin(), target.end());
  auto escalation = request(args);
  ASSERT_EQ(escalation.exitCode, 3) << escalation.output;
  const std::string escalated = createdName(escalation.output);
  ASSERT_FALSE(escalated.empty());

  // kubectl get mrun: the CRD's printer columns, filled in by the server.
  auto table = kubectlAsDev({"get", "mrun"});
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
  EXPECT_EQ(byName[escalated][2], "Escalated");
  EXPECT_THAT(byName[escalated], ::testing::Contains("DestructiveChange"));

  // kubectl wait: Ready is True once the run succeeded.
  auto wait = kubectlAsDev({"wait", "--for=condition=Ready", "mrun/" + name, "--timeout=60s"});
  EXPECT_EQ(wait.exitCode, 0) << wait.output;
  EXPECT_EQ(wait.output, "migrationrun.alembic.sidecar.dev/" + name + " condition met\n");

  // kubectl describe: the status, then one Event per step.
  auto describe = kubectlAsDev({"describe", "mrun", name});
  ASSERT_EQ(describe.exitCode, 0) << describe.output;
  EXPECT_THAT(describe.output, StartsWith("Name:         " + name + "\nNamespace:    " + ns_ + "\n"));
  EXPECT_THAT(describe.output, HasSubstr("Kind:         MigrationRun\n"));
  auto reasons = describedEventReasons(describe.output);
  ASSERT_FALSE(reasons.empty()) << describe.output;
  EXPECT_EQ(reasons.front(), "Claimed") << describe.output;
  EXPECT_EQ(reasons.back(), "RevisionCreated") << describe.output;
  EXPECT_THAT(reasons, IsSupersetOf({"Claimed", "Connected", "AllModelsRegistered", "Generated",
                                     "NoEscalations", "SchemaRestored", "RevisionCreated"}));

  auto describeEscalated = kubectlAsDev({"describe", "mrun", escalated});
  ASSERT_EQ(describeEscalated.exitCode, 0) << describeEscalated.output;
  EXPECT_THAT(describeEscalated.output, HasSubstr("DestructiveChange"));

  // The generated file, from the ConfigMap the run owns.
  auto cm = kubectlAsDev({"get", "cm", name + "-revision", "-o", "jsonpath={.data.revision\\.py}"});
  ASSERT_EQ(cm.exitCode, 0) << cm.output;
  EXPECT_EQ(cm.output, nativeApp_.read(file));
  EXPECT_THAT(cm.output, HasSubstr("op.add_column('user'"));

  std::vector<std::string> outputs;
  for (const auto& c : transcript_) {
    outputs.push_back(c.output);
  }
  expectNoCanaryAnywhere(outputs);
  writeCapture("KubectlOutput.RevisionAndEscalation_AsKubectlShowsThem");
  std::cerr << "kubectl output written to " << capturePath() << "\n";
}

}  // namespace
}  // namespace alembic_sidecar::testing::cluster
