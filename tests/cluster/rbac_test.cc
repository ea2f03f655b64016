// The chart's RBAC on the real authorizer: the requester Role lets a person create and follow
// runs and nothing more; a user without rights is told so plainly; the sidecar's own
// ServiceAccount can do its job and no more.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cluster/cluster.h"

namespace alembic_sidecar::testing::cluster {
namespace {

using ::testing::HasSubstr;

using Rbac = SampleAppTest;

TEST_F(Rbac, RequesterCanCreateAndWatchRunsButNotReadSecretsOrExec) {
  startNativeSidecar();
  ToolOptions asDev;
  asDev.context = "dev";
  auto canI = [&](const std::vector<std::string>& what) {
    std::vector<std::string> args = {"auth", "can-i"};
    args.insert(args.end(), what.begin(), what.end());
    return kubectl(args, asDev).out;
  };
  EXPECT_EQ(canI({"create", "migrationruns.alembic.sidecar.dev"}), "yes\n");
  EXPECT_EQ(canI({"watch", "migrationruns.alembic.sidecar.dev"}), "yes\n");
  EXPECT_EQ(canI({"get", "secrets"}), "no\n");
  EXPECT_EQ(canI({"create", "pods", "--subresource=exec"}), "no\n");
  EXPECT_EQ(canI({"patch", "migrationruns.alembic.sidecar.dev", "--subresource=status"}), "no\n");

  // What the requester does for real: request --wait creates the run and watches it.
  auto result = requestAsDev({"--action", "check"});
  ASSERT_EQ(result.exitCode, 0) << result.err << result.out;
  auto watched = kubectl({"get", "mrun", "--watch-only", "--request-timeout=2s"}, asDev);
  EXPECT_THAT(watched.err, ::testing::Not(HasSubstr("orbidden")));
  auto describe = kubectl({"describe", "mrun", createdName(result.err)}, asDev);
  EXPECT_EQ(describe.exitCode, 0) << describe.err;
  EXPECT_THAT(describe.out, HasSubstr("InSync"));

  auto secret = kubectl({"get", "secret", "app-db"}, asDev);
  EXPECT_NE(secret.exitCode, 0);
  EXPECT_THAT(secret.err, HasSubstr("secrets \"app-db\" is forbidden: User \"dev\" cannot get "
                                    "resource \"secrets\""));
  auto exec = kubectl({"exec", nativePod_, "-c", "app", "--", "true"}, asDev);
  EXPECT_NE(exec.exitCode, 0);
  EXPECT_THAT(exec.err, HasSubstr("forbidden"));
}

TEST_F(Rbac, UserWithoutRights_GetsAClearMessageFromRequest) {
  // A ServiceAccount nothing is bound to: every request is Forbidden.
  auto created = kubectl({"create", "serviceaccount", "nobody"});
  ASSERT_EQ(created.exitCode, 0) << created.err;
  std::string kubeconfig = serviceAccountKubeconfig("nobody");
  auto result = request({"--action", "check"}, kubeconfig);
  // 4: no run was judged, the access must be fixed (1 would say the migration failed).
  EXPECT_EQ(result.exitCode, 4) << result.err;
  EXPECT_THAT(result.err, HasSubstr("could not talk to the Kubernetes API: cannot create the "
                                    "MigrationRun in namespace " +
                                    ns_));
  EXPECT_THAT(result.err, HasSubstr("Forbidden"));
  EXPECT_THAT(result.err,
              HasSubstr("User \"system:serviceaccount:" + ns_ +
                        ":nobody\" cannot create resource \"migrationruns\" in API group "
                        "\"alembic.sidecar.dev\" in the namespace \"" +
                        ns_ + "\""));
  auto listed = kubectl({"get", "mrun", "-o", "name"});
  EXPECT_EQ(listed.out, "") << "a refused request left a run behind";
}

TEST_F(Rbac, SidecarServiceAccountMayExecAndReadSecretsHereOnly) {
  ToolOptions asSidecar;
  asSidecar.kubeconfig = sidecarKubeconfig_;
  auto canI = [&](const std::vector<std::string>& what, const std::string& ns) {
    std::vector<std::string> args = {"-n", ns, "auth", "can-i"};
    args.insert(args.end(), what.begin(), what.end());
    return kubectlGlobal(args, asSidecar).out;
  };
  EXPECT_EQ(canI({"create", "pods", "--subresource=exec"}, ns_), "yes\n");
  EXPECT_EQ(canI({"list", "secrets"}, ns_), "yes\n");
  EXPECT_EQ(canI({"patch", "migrationruns.alembic.sidecar.dev", "--subresource=status"}, ns_),
            "yes\n");
  EXPECT_EQ(canI({"delete", "pods"}, ns_), "no\n");
  EXPECT_EQ(canI({"list", "secrets"}, "default"), "no\n");
  EXPECT_EQ(canI({"create", "pods", "--subresource=exec"}, "kube-system"), "no\n");
}

}  // namespace
}  // namespace alembic_sidecar::testing::cluster
