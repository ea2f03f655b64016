// `request --wait` against the real API server with a kubeconfig as cloud clusters write them:
// the user authenticates through an exec credential plugin (a small script printing an
// ExecCredential with the token of the stack's user `dev`), which alembic-sidecar runs from
// argv, re-runs after a 401 and once its token expires; a missing or failing plugin ends the
// request with exit 4 and its installHint. The run's reports are the same as a local run's
// (built from the MigrationRun status and its ConfigMap) and validate the same way.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "cluster/cluster.h"
#include "workspace/process.h"

namespace alembic_sidecar::testing::cluster {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

void writeFile(const fs::path& path, const std::string& text, fs::perms perms) {
  std::ofstream(path) << text;
  fs::permissions(path, perms);
}

std::string readFile(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

/** Runs tests/schemas/validate_report.py FORMAT FILE; empty when valid. */
std::string validate(const std::string& format, const fs::path& file) {
  workspace::ProcessSpec spec;
  spec.argv = {"/usr/bin/python3",
               std::string(ALEMBIC_SIDECAR_SOURCE_DIR) + "/tests/schemas/validate_report.py",
               format, file.string()};
  spec.timeout = std::chrono::minutes(5);
  auto result = workspace::runProcess(spec);
  return !result                 ? result.error().message
         : result->exitCode == 0 ? std::string()
                                 : result->out + result->err;
}

/**
 * The plugin: counts its runs in $STATE; the first answer is a token the API server does not
 * know (so the first request gets a 401), later ones the real token, valid for 1 second.
 */
constexpr char kPlugin[] = R"(#!/bin/sh
set -e
n=$(( $(cat "$STATE" 2>/dev/null || echo 0) + 1 ))
echo "$n" > "$STATE"
case "$KUBERNETES_EXEC_INFO" in *'"apiVersion":"client.authentication.k8s.io/v1"'*) ;; *) exit 7 ;; esac
token=$(cat "$TOKEN_FILE")
if [ "$n" = 1 ]; then token=stale-token-the-server-refuses-0123456789; fi
expires=$(date -u -d '+1 second' +%Y-%m-%dT%H:%M:%SZ)
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s","expirationTimestamp":"%s"}}\n' "$token" "$expires"
)";

class ExecPlugin : public SampleAppTest {
 protected:
  /** Two kubeconfig files, merged through KUBECONFIG: the cluster in one, the user in the other. */
  std::string kubeconfigs(const std::string& command, const std::string& installHint) {
    const fs::path dir = scratch_.path();
    writeFile(dir / "cluster.yaml",
              "apiVersion: v1\nkind: Config\n"
              "clusters:\n- name: envtest\n  cluster:\n    server: " +
                  env_->server() + "\n    certificate-authority: " + env_->caFile() +
                  "\ncontexts:\n- name: other\n  context: {cluster: envtest, user: nobody}\n"
                  "current-context: other\n",
              fs::perms::owner_read | fs::perms::owner_write);
    writeFile(dir / "token", env_->devToken(), fs::perms::owner_read | fs::perms::owner_write);
    writeFile(dir / "user.yaml",
              "apiVersion: v1\nkind: Config\n"
              "users:\n- name: ci\n  user:\n    exec:\n"
              "      apiVersion: client.authentication.k8s.io/v1\n"
              "      command: " +
                  command +
                  "\n"
                  "      args: [--cluster, envtest]\n"
                  "      env:\n"
                  "      - {name: STATE, value: " +
                  (dir / "plugin-runs").string() +
                  "}\n"
                  "      - {name: TOKEN_FILE, value: " +
                  (dir / "token").string() +
                  "}\n"
                  "      interactiveMode: Never\n"
                  "      installHint: '" +
                  installHint +
                  "'\n"
                  "contexts:\n- name: ci\n  context: {cluster: envtest, user: ci, namespace: " +
                  ns_ + "}\n",
              fs::perms::owner_read | fs::perms::owner_write);
    return (dir / "cluster.yaml").string() + ":" + (dir / "user.yaml").string();
  }

  CliResult requestWith(const std::string& kubeconfigList, std::vector<std::string> args) {
    std::vector<std::string> argv = {"request", "--context", "ci", "--wait", "--timeout", "300"};
    argv.insert(argv.end(), args.begin(), args.end());
    // Debug logs: even there the plugin's token must not show.
    return runCli(argv, {{"HOME", scratch_.str()},
                         {"KUBECONFIG", kubeconfigList},
                         {"ALEMBIC_SIDECAR_LOG_LEVEL", "debug"}});
  }

  int pluginRuns() {
    std::string text = readFile(scratch_.path() / "plugin-runs");
    return text.empty() ? 0 : std::stoi(text);
  }
};

TEST_F(ExecPlugin, RequestAuthenticatesRefreshesAfterA401AndAfterExpiryAndReports) {
  const fs::path plugin = scratch_.path() / "get-token";
  writeFile(plugin, kPlugin, fs::perms::owner_all);
  nativeApp_.applyChange("user_add_phone");
  startNativeSidecar();
  const fs::path out = scratch_.path();

  auto result = requestWith(
      kubeconfigs(plugin.string(), "not used"),
      {"--action", "revision", "-m", "add phone", "--target-selector",
       "app=backend,sidecar-form=native", "--report", "junit=" + (out / "r.xml").string(),
       "--report", "sarif=" + (out / "r.sarif").string(), "--report",
       "markdown=" + (out / "r.md").string(), "--report",
       "gitlab-codequality=" + (out / "cq.json").string(), "--report", "github"});
  ASSERT_EQ(result.exitCode, 0) << result.err << result.out;
  EXPECT_THAT(result.out, HasSubstr("alembic-sidecar revision: Succeeded (RevisionCreated)"));
  // Run 1 gave a refused token (401: run 2); the run takes longer than the token's second, so
  // a later request found it expired and ran the plugin again.
  EXPECT_GE(pluginRuns(), 3);
  for (const auto& text : {result.out, result.err}) {
    EXPECT_THAT(text, Not(HasSubstr(env_->devToken())));
  }
  // The reports of a cluster run: from the MigrationRun status and its ConfigMap.
  EXPECT_EQ(validate("junit", out / "r.xml"), "");
  EXPECT_EQ(validate("sarif", out / "r.sarif"), "");
  EXPECT_EQ(validate("sarif-multitool", out / "r.sarif"), "");
  EXPECT_EQ(validate("gitlab-codequality", out / "cq.json"), "");
  std::string md = readFile(out / "r.md");
  EXPECT_THAT(md, HasSubstr("<!-- alembic-sidecar:report revision -->"));
  EXPECT_THAT(md, HasSubstr("| 1 | `add_column` | `user` | `phone` |"));
  EXPECT_THAT(md, HasSubstr("op.add_column('user'"));  // the revision, from the ConfigMap
  expectNoCanaryAnywhere({result.out + result.err, md, readFile(out / "r.sarif")});
}

TEST_F(ExecPlugin, AMissingPluginEndsTheRequestWithExit4AndItsInstallHint) {
  auto result = requestWith(kubeconfigs((scratch_.path() / "no-such-plugin").string(),
                                        "Install it: https://example.invalid/get-token"),
                            {"--action", "check"});
  EXPECT_EQ(result.exitCode, 4) << result.err << result.out;
  EXPECT_THAT(result.err, HasSubstr("ExecPluginFailed"));
  EXPECT_THAT(result.err, HasSubstr("no-such-plugin"));
  EXPECT_THAT(result.err, HasSubstr("Install it: https://example.invalid/get-token"));
  // Nothing was created: the plugin is asked before any request.
  EXPECT_EQ(kubectl({"get", "migrationruns", "-o", "name"}).out, "");
}

TEST_F(ExecPlugin, AFailingPluginEndsTheRequestWithExit4AndWhatItSaid) {
  const fs::path plugin = scratch_.path() / "broken";
  writeFile(plugin, "#!/bin/sh\necho 'error: the SSO session has expired' >&2\nexit 1\n",
            fs::perms::owner_all);
  auto result =
      requestWith(kubeconfigs(plugin.string(), "Run aws sso login first"), {"--action", "check"});
  EXPECT_EQ(result.exitCode, 4) << result.err << result.out;
  EXPECT_THAT(result.err, HasSubstr("exit code 1"));
  EXPECT_THAT(result.err, HasSubstr("the SSO session has expired"));
  EXPECT_THAT(result.err, HasSubstr("Run aws sso login first"));
}

}  // namespace
}  // namespace alembic_sidecar::testing::cluster
