// The chart on the real API server: helm install with the CRD, a second namespace with
// --skip-crds (the standalone Deployment on, so the real controller-manager makes a
// ReplicaSet and a Pod), and helm uninstall leaving nothing behind once the garbage collector
// has followed the ownerReferences.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cluster/cluster.h"
#include "core/json_util.h"
#include "support/postgres_server.h"

namespace alembic_sidecar::testing::cluster {
namespace {

using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

constexpr char kCrd[] = "crd/migrationruns.alembic.sidecar.dev";

std::string sourceDir() { return ALEMBIC_SIDECAR_SOURCE_DIR; }

class HelmTest : public ClusterTest {
 protected:
  void TearDown() override {
    if (!otherNs_.empty()) {
      (void)kubectlGlobal({"delete", "namespace", otherNs_, "--wait=false"});
    }
    ClusterTest::TearDown();
  }

  /** "kind/name" of every object of `kinds` in `ns` with the release's instance label. */
  std::vector<std::string> releaseObjects(const std::string& ns, const std::string& release) {
    auto listed = kubectlGlobal({"-n", ns, "get",
                                 "deployments,replicasets,pods,serviceaccounts,roles,rolebindings,"
                                 "configmaps,secrets",
                                 "-l", "app.kubernetes.io/instance=" + release, "-o", "name"});
    EXPECT_EQ(listed.exitCode, 0) << listed.err;
    std::vector<std::string> names;
    std::istringstream in(listed.out);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) {
        names.push_back(line);
      }
    }
    return names;
  }

  std::string otherNs_;
};

TEST_F(HelmTest, InstallsIntoTwoNamespaces_UninstallLeavesNoOrphan) {
  ASSERT_NO_FATAL_FAILURE(installChart("alembic-sidecar"));
  auto established = kubectlGlobal({"wait", "--for=condition=Established", kCrd, "--timeout=60s"});
  ASSERT_EQ(established.exitCode, 0) << established.err;

  // The served CRD is the chart's: same schema and printer columns.
  auto served = kubectlGlobal({"get", kCrd, "-o", "json"}).json();
  auto chart = kubectlGlobal({"create", "--dry-run=client", "-o", "json", "-f",
                              sourceDir() + "/helm/alembic-sidecar/crds/migrationruns.yaml"})
                   .json();
  ASSERT_TRUE(served.is_object() && chart.is_object());
  EXPECT_EQ(served["spec"]["versions"][0]["schema"], chart["spec"]["versions"][0]["schema"]);
  EXPECT_EQ(served["spec"]["versions"][0]["additionalPrinterColumns"],
            chart["spec"]["versions"][0]["additionalPrinterColumns"]);
  EXPECT_EQ(served["spec"]["names"]["shortNames"], chart["spec"]["names"]["shortNames"]);

  EXPECT_THAT(releaseObjects(ns_, "alembic-sidecar"),
              UnorderedElementsAre("serviceaccount/alembic-sidecar", "role.rbac.authorization.k8s.io/alembic-sidecar",
                                   "role.rbac.authorization.k8s.io/alembic-sidecar-requester",
                                   "rolebinding.rbac.authorization.k8s.io/alembic-sidecar"));

  // A second namespace: the CRD exists already. The standalone Deployment gives the
  // controller-manager something to own (ReplicaSet -> Pod); local-kubelet runs the pod.
  otherNs_ = "cl-" + randomName(6);
  TempDir podRoot("helm-standalone");
  auto second = helm({"install", "standalone", sourceDir() + "/helm/alembic-sidecar",
                      "--namespace", otherNs_, "--create-namespace", "--skip-crds",
                      "--set", "standalone.enabled=true",
                      "--set", "standalone.image.repository=alembic-sidecar-example-app",
                      "--set", "standalone.image.tag=0.1.0",
                      "--set-string", "standalone.podAnnotations.local-kubelet/root=" + podRoot.str(),
                      "--wait", "--timeout", "120s"});
  ASSERT_EQ(second.exitCode, 0) << second.out << second.err;
  auto objects = releaseObjects(otherNs_, "standalone");
  auto count = [&](const std::string& prefix) {
    return std::count_if(objects.begin(), objects.end(),
                         [&](const auto& o) { return o.rfind(prefix, 0) == 0; });
  };
  EXPECT_EQ(count("deployment.apps/"), 1) << ::testing::PrintToString(objects);
  EXPECT_EQ(count("replicaset.apps/"), 1) << ::testing::PrintToString(objects);
  EXPECT_EQ(count("pod/"), 1) << ::testing::PrintToString(objects);

  // Uninstall: helm deletes what it rendered, the garbage collector the rest.
  for (const auto& [release, ns] : {std::pair{std::string("standalone"), otherNs_},
                                    std::pair{std::string("alembic-sidecar"), ns_}}) {
    auto removed = helm({"uninstall", release, "--namespace", ns, "--wait", "--timeout", "120s"});
    ASSERT_EQ(removed.exitCode, 0) << removed.out << removed.err;
    const std::string where = ns;
    const std::string which = release;
    EXPECT_TRUE(waitUntil([&] { return releaseObjects(where, which).empty(); },
                          std::chrono::seconds(60)))
        << ::testing::PrintToString(releaseObjects(where, which));
    auto releases = kubectlGlobal({"-n", ns, "get", "secrets", "-l", "owner=helm", "-o", "name"});
    EXPECT_THAT(releases.out, IsEmpty()) << "helm's release records stay behind";
  }
  // The CRD stays (Helm never deletes crds/): runs outlive an uninstall.
  EXPECT_EQ(kubectlGlobal({"get", kCrd}).exitCode, 0);
}

}  // namespace
}  // namespace alembic_sidecar::testing::cluster
