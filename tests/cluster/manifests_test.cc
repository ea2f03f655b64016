// manifests/ and the rendered chart, applied to the real apiserver as users apply them: its
// OpenAPI validation (kubectl validates against /openapi/v3), the CRD's schema and CEL rule for
// the sample runs, and admission for the RBAC objects.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "cluster/cluster.h"

namespace alembic_sidecar::testing::cluster {
namespace {

using ::testing::HasSubstr;

namespace fs = std::filesystem;

std::string manifests() { return std::string(ALEMBIC_SIDECAR_SOURCE_DIR) + "/manifests"; }

using Manifests = ClusterTest;

TEST_F(Manifests, EveryManifestAndTheRenderedChartApplyForReal) {
  auto crd = kubectlGlobal({"apply", "--server-side", "--force-conflicts", "-f",
                            manifests() + "/crd/migrationruns.yaml"});
  ASSERT_EQ(crd.exitCode, 0) << crd.err;
  ASSERT_EQ(kubectlGlobal({"wait", "--for=condition=Established",
                           "crd/migrationruns.alembic.sidecar.dev", "--timeout=60s"})
                .exitCode,
            0);
  std::vector<std::string> files = {manifests() + "/rbac.yaml",
                                    manifests() + "/rbac-leader-election.yaml",
                                    manifests() + "/sample-app.yaml"};
  for (const auto& entry : fs::directory_iterator(manifests() + "/samples")) {
    files.push_back(entry.path().string());
  }
  for (const auto& file : files) {
    auto applied = kubectl({"apply", "-f", file});
    EXPECT_EQ(applied.exitCode, 0) << file << "\n" << applied.err;
    EXPECT_EQ(applied.err, "") << file;  // no warnings (unknown fields, deprecations)
  }
  auto runs = kubectl({"get", "mrun", "-o", "name"});
  EXPECT_EQ(std::count(runs.out.begin(), runs.out.end(), '\n'), 4) << runs.out;

  // The chart with every optional part on, rendered and checked by the server.
  auto rendered = helm({"template", "alembic-sidecar",
                        std::string(ALEMBIC_SIDECAR_SOURCE_DIR) + "/helm/alembic-sidecar",
                        "--namespace", ns_, "--set", "standalone.enabled=true",
                        "--set", "standalone.image.repository=example/app",
                        "--set-string", "standalone.image.tag=1",
                        "--set", "rbac.leaderElection=true",
                        "--set", "rbac.requester.subjects[0].kind=Group",
                        "--set", "rbac.requester.subjects[0].name=devs",
                        "--set", "rbac.requester.subjects[0].apiGroup=rbac.authorization.k8s.io"});
  ASSERT_EQ(rendered.exitCode, 0) << rendered.err;
  ToolOptions input;
  input.stdinData = rendered.out;
  auto dryRun = kubectl({"apply", "--dry-run=server", "-f", "-"}, input);
  EXPECT_EQ(dryRun.exitCode, 0) << dryRun.err;
  EXPECT_THAT(dryRun.out, HasSubstr("deployment.apps/alembic-sidecar created (server dry run)"));
}

}  // namespace
}  // namespace alembic_sidecar::testing::cluster
