// Step 1 on the real server, through the sidecar: the async example app (asyncpg) finds its
// database from the app container's DATABASE_URL (secretKeyRef, resolved by the sidecar from
// the pod spec), and from a servicebinding.io/postgresql Secret, which comes first.
//
// The same for a sync (psycopg2) app needs the driver detection of the alembic driver work;
// see the cluster suite's README section in the top-level README.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cluster/cluster.h"
#include "core/json_util.h"
#include "kube/resources.h"

namespace alembic_sidecar::testing::cluster {
namespace {

namespace res = kube::resources;

using Discovery = SampleAppTest;

TEST_F(Discovery, AsyncApp_AppContainerDatabaseUrlThenServiceBindingSecret) {
  startNativeSidecar();
  const std::string selector = "app=backend,sidecar-form=native";

  auto fromEnv = requestAsDev({"--action", "check", "--target-selector", selector});
  ASSERT_EQ(fromEnv.exitCode, 0) << fromEnv.err << fromEnv.out;
  auto report = fromEnv.json();
  EXPECT_EQ(report["database"]["source"], "env/" + nativePod_ + "/app");
  EXPECT_EQ(report["database"]["name"], db_->connection.database);

  // A service binding (what the Service Binding spec's controllers project) takes precedence.
  CanaryDatabase bound("sb");
  auto binding = admin_->create(
      res::secrets(ns_), {{"apiVersion", "v1"},
                          {"kind", "Secret"},
                          {"metadata", {{"name", "backend-db-binding"}}},
                          {"type", "servicebinding.io/postgresql"},
                          {"stringData",
                           {{"type", "postgresql"},
                            {"provider", "test"},
                            {"host", bound.connection.host},
                            {"port", std::to_string(bound.connection.port)},
                            {"database", bound.connection.database},
                            {"username", bound.connection.user},
                            {"password", bound.connection.password}}}});
  ASSERT_TRUE(binding.ok()) << binding.error().message;
  auto fromBinding = requestAsDev({"--action", "check", "--target-selector", selector});
  ASSERT_EQ(fromBinding.exitCode, 0) << fromBinding.err << fromBinding.out;
  report = fromBinding.json();
  EXPECT_EQ(report["database"]["source"], "servicebinding/backend-db-binding");
  EXPECT_EQ(report["database"]["name"], bound.connection.database);
  EXPECT_EQ(fromBinding.out.find(bound.connection.password), std::string::npos);
  for (size_t i = 0; i < sidecars_.size(); ++i) {
    EXPECT_EQ(sidecars_[i]->log().find(bound.connection.password), std::string::npos);
  }
  expectNoCanaryAnywhere({fromEnv.out + fromEnv.err, fromBinding.out + fromBinding.err});
  // The sidecars stop before `bound` drops its role (TearDown would be too late).
  sidecars_.clear();
}

}  // namespace
}  // namespace alembic_sidecar::testing::cluster
