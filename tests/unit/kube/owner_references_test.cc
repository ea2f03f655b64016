#include "kube/owner_references.h"

#include <gtest/gtest.h>

#include "kube/resources.h"
#include "kube_fakes.h"

namespace alembic_sidecar::kube {
namespace {

nlohmann::json owner() {
  return {{"apiVersion", "alembic.sidecar.dev/v1alpha1"},
          {"kind", "MigrationRun"},
          {"metadata", {{"name", "add-email"}, {"namespace", "team"}, {"uid", "u-42"}}}};
}

TEST(OwnerReference, MakesTheOwnerTheBlockingController) {
  auto ref = ownerReferenceFor(owner());
  ASSERT_TRUE(ref) << ref.error().message;
  EXPECT_EQ(*ref, (nlohmann::json{{"apiVersion", "alembic.sidecar.dev/v1alpha1"},
                                  {"kind", "MigrationRun"},
                                  {"name", "add-email"},
                                  {"uid", "u-42"},
                                  {"controller", true},
                                  {"blockOwnerDeletion", true}}));
}

TEST(OwnerReference, OwnerWithoutUidIsRejected) {
  auto noUid = owner();
  noUid["metadata"].erase("uid");
  auto ref = ownerReferenceFor(noUid);
  ASSERT_FALSE(ref);
  EXPECT_NE(ref.error().message.find("no uid"), std::string::npos);
}

TEST(OwnedConfigMap, LivesInTheOwnersNamespaceWithItsData) {
  auto cm = buildOwnedConfigMap("add-email-revision", owner(), {{"revision.py", "# rev"}},
                                {{"app.kubernetes.io/managed-by", "alembic-sidecar"}});
  ASSERT_TRUE(cm);
  EXPECT_EQ((*cm)["metadata"]["namespace"], "team");
  EXPECT_EQ((*cm)["metadata"]["ownerReferences"][0]["uid"], "u-42");
  EXPECT_EQ((*cm)["data"]["revision.py"], "# rev");
  EXPECT_EQ((*cm)["metadata"]["labels"]["app.kubernetes.io/managed-by"], "alembic-sidecar");
}

TEST(OwnedConfigMap, ExistingOneIsReplacedConditionally) {
  testing::FakeKubeApi api;
  auto first = buildOwnedConfigMap("cm", owner(), {{"k", "old"}});
  ASSERT_TRUE(createOrReplaceConfigMap(api, *first));
  auto second = buildOwnedConfigMap("cm", owner(), {{"k", "new"}});
  api.failNext("replace", core::Error::retryable(kConflict, "modified"));
  auto written = createOrReplaceConfigMap(api, *second);
  ASSERT_TRUE(written) << written.error().message;
  EXPECT_EQ(api.stored(resources::configMaps("team").named("cm")).value()["data"]["k"], "new");
  const auto replaces = std::count_if(api.calls.begin(), api.calls.end(),
                                      [](const auto& c) { return c.rfind("replace", 0) == 0; });
  EXPECT_EQ(replaces, 2);
}

}  // namespace
}  // namespace alembic_sidecar::kube
