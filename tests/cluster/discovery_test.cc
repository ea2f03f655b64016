// Step 1 on the real server, through the sidecar: the async example app (asyncpg) finds its
// database from the app container's DATABASE_URL (secretKeyRef, resolved by the sidecar from
// the pod spec), and from a servicebinding.io/postgresql Secret, which comes first; a sync app
// (psycopg2) found through a service binding whose URI names no driver gets its own driver.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "cluster/cluster.h"
#include "core/json_util.h"
#include "kube/resources.h"

namespace alembic_sidecar::testing::cluster {
namespace {

using ::testing::HasSubstr;
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
  auto binding =
      admin_->create(res::secrets(ns_), {{"apiVersion", "v1"},
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

TEST_F(Discovery, SyncApp_ServiceBindingWithoutDriverGetsTheAppsSyncDriver) {
  // A sync (psycopg2) app whose pod carries no DATABASE_URL, its sidecar next to it; the
  // database is found through a service binding whose URI names no driver.
  ExampleApp syncApp("sync_app");
  syncApp.applyChange("sync_product_add_sku");
  CanaryDatabase inventoryDb("sy");
  auto pod = admin_->create(
      res::pods(ns_),
      {{"apiVersion", "v1"},
       {"kind", "Pod"},
       {"metadata",
        {{"name", "inventory-0"},
         {"labels", {{"app", "inventory"}}},
         {"annotations",
          {{"local-kubelet/root", std::filesystem::path(syncApp.dir()).parent_path().string()}}}}},
       {"spec",
        {{"serviceAccountName", "alembic-sidecar"},
         {"containers",
          {{{"name", "app"}, {"image", "python:3.11"}, {"workingDir", "/app"}},
           {{"name", "alembic-sidecar"}, {"image", "alembic-sidecar:0.1.0"}}}}}}});
  ASSERT_TRUE(pod.ok()) << pod.error().message;
  auto ready = kubectl({"wait", "--for=condition=Ready", "pod/inventory-0", "--timeout=60s"});
  ASSERT_EQ(ready.exitCode, 0) << ready.out << ready.err;
  auto binding = admin_->create(
      res::secrets(ns_),
      {{"apiVersion", "v1"},
       {"kind", "Secret"},
       {"metadata", {{"name", "inventory-db"}}},
       {"type", "servicebinding.io/postgresql"},
       {"stringData",
        {{"type", "postgresql"}, {"uri", inventoryDb.connection.withScheme("postgresql").url()}}}});
  ASSERT_TRUE(binding.ok()) << binding.error().message;
  startSidecar("inventory-0", sidecarKubeconfig_);

  auto result = requestAsDev({"--action", "revision", "-m", "add sku"});
  ASSERT_EQ(result.exitCode, 0) << result.err << result.out;
  auto report = result.json();
  EXPECT_EQ(report["reason"], "RevisionCreated");
  EXPECT_EQ(report["database"]["source"], "servicebinding/inventory-db");
  std::string databaseReady;
  for (const auto& c : report["conditions"]) {
    if (c["type"] == "DatabaseReady") {
      databaseReady = c["message"];
    }
  }
  EXPECT_THAT(databaseReady, HasSubstr("postgresql+psycopg2 from sync env.py"));
  EXPECT_THAT(syncApp.read(report["revision"]["file"]),
              HasSubstr("op.add_column('product', sa.Column('sku'"));
  EXPECT_EQ(result.out.find(inventoryDb.connection.password), std::string::npos);
  EXPECT_EQ(sidecars_.back()->log().find(inventoryDb.connection.password), std::string::npos);
  sidecars_.clear();  // before `inventoryDb` drops its role
}

}  // namespace
}  // namespace alembic_sidecar::testing::cluster
