// The MigrationRun CRD as the real apiserver serves it: its own validation messages for bad
// specs (OpenAPI schema and the CEL rule), pruning and defaults, the short name, category and
// printer columns.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cluster/cluster.h"
#include "kube/resources.h"

namespace alembic_sidecar::testing::cluster {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
namespace res = kube::resources;

std::string testdata(const std::string& name) {
  return std::string(ALEMBIC_SIDECAR_SOURCE_DIR) + "/tests/shipping/testdata/" + name;
}

class Crd : public ClusterTest {
 protected:
  void SetUp() override {
    ClusterTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) {
      return;
    }
    applyMigrationRunCrd();
  }

  /** `kubectl create -f` of a file that must be refused; returns what kubectl printed. */
  std::string refused(const std::string& file) {
    auto created = kubectl({"create", "-f", testdata(file)});
    EXPECT_NE(created.exitCode, 0) << file << " was accepted";
    return created.err;
  }

  core::Result<nlohmann::json> createThroughApi(const nlohmann::json& spec) {
    return admin_->create(res::migrationRuns(ns_), {{"apiVersion", "alembic.sidecar.dev/v1alpha1"},
                                                    {"kind", "MigrationRun"},
                                                    {"metadata", {{"generateName", "bad-"}}},
                                                    {"spec", spec}});
  }
};

TEST_F(Crd, BadSpecsAreRefusedWithTheServersOwnMessages) {
  EXPECT_THAT(refused("bad-revision-without-message.yaml"),
              HasSubstr("spec: Invalid value: spec.message is required when spec.action is "
                        "revision"));
  EXPECT_THAT(refused("bad-unknown-action.yaml"),
              HasSubstr("spec.action: Unsupported value: \"downgrade\": supported values: "
                        "\"revision\", \"check\", \"upgrade\", \"roundtrip\""));
  EXPECT_THAT(refused("bad-message-too-long.yaml"),
              HasSubstr("spec.message: Too long: may not be more than 200 bytes"));
  EXPECT_THAT(refused("bad-timeout-too-short.yaml"),
              HasSubstr("spec.timeoutSeconds in body should be greater than or equal to 30"));
  EXPECT_THAT(refused("bad-isolation.yaml"),
              HasSubstr("spec.database.isolation: Unsupported value: \"sandbox\""));

  // Through the API (what the sidecar's client and `request` see): reason Invalid.
  auto noMessage = createThroughApi({{"action", "revision"}});
  ASSERT_FALSE(noMessage.ok());
  EXPECT_EQ(noMessage.error().reason, "Invalid");
  EXPECT_THAT(noMessage.error().message, HasSubstr("spec.message is required"));

  // `request` refuses what the CRD would refuse, before it calls the API (exit code 2).
  auto cli = request({"--action", "revision", "-m", std::string(201, 'x')}, env_->kubeconfig());
  EXPECT_EQ(cli.exitCode, 2) << cli.err;
}

TEST_F(Crd, UnknownFieldsArePrunedAndDefaultsApplied) {
  auto created = createThroughApi({{"action", "check"}, {"surprise", true}});
  ASSERT_TRUE(created.ok()) << created.error().message;
  EXPECT_FALSE((*created)["spec"].contains("surprise"));
  EXPECT_EQ((*created)["spec"]["timeoutSeconds"], 900);
  EXPECT_EQ((*created)["spec"]["backoffLimit"], 3);
  // kubectl validates strictly by default: the same field is an error there.
  auto strict = kubectl({"create", "-f", "-"},
                        ToolOptions{"", "", "apiVersion: alembic.sidecar.dev/v1alpha1\n"
                                            "kind: MigrationRun\nmetadata: {name: strict}\n"
                                            "spec: {action: check, surprise: true}\n"});
  EXPECT_NE(strict.exitCode, 0);
  EXPECT_THAT(strict.err, HasSubstr("unknown field \"spec.surprise\""));
}

TEST_F(Crd, ShortNameCategoryAndPrinterColumns) {
  auto created = createThroughApi({{"action", "check"}});
  ASSERT_TRUE(created.ok()) << created.error().message;
  auto byShortName = kubectl({"get", "mrun"});
  ASSERT_EQ(byShortName.exitCode, 0) << byShortName.err;
  EXPECT_THAT(byShortName.out, StartsWith("NAME"));
  for (const char* column : {"ACTION", "PHASE", "REVISION", "REASON", "AGE"}) {
    EXPECT_THAT(byShortName.out, HasSubstr(column));
  }
  EXPECT_THAT(byShortName.out, HasSubstr("check"));
  auto byCategory = kubectl({"get", "alembic", "-o", "name"});
  ASSERT_EQ(byCategory.exitCode, 0) << byCategory.err;
  EXPECT_THAT(byCategory.out, HasSubstr("migrationrun.alembic.sidecar.dev/"));
}

}  // namespace
}  // namespace alembic_sidecar::testing::cluster
