#include "database/drift.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace alembic_sidecar::database {
namespace {

TEST(Drift, ViewsPointAtAlembicUtilsAndColumnsAtTheModels) {
  auto history = SchemaFingerprint::fromCatalog({{"table", "public.team", "relkind r"}});
  auto live = SchemaFingerprint::fromCatalog({{"table", "public.team", "relkind r"},
                                              {"view", "public.team_names", "SELECT name"},
                                              {"column", "public.team.legacy", "text NULL"}});
  auto findings = driftFindings(live, history);
  ASSERT_EQ(findings.size(), 2u);
  EXPECT_EQ(findings[0].code, "DatabaseDrift");
  EXPECT_EQ(findings[0].severity, "escalation");
  EXPECT_THAT(findings[0].message, ::testing::HasSubstr("column public.team.legacy"));
  EXPECT_THAT(findings[0].recommendation, ::testing::HasSubstr("models"));
  EXPECT_THAT(findings[1].recommendation, ::testing::HasSubstr("alembic-utils"));
}

TEST(Drift, CapsTheListAndSummarisesTheRest) {
  std::vector<CatalogObject> objects;
  for (int i = 0; i < 25; ++i) {
    objects.push_back({"table", "public.t" + std::to_string(i), "relkind r"});
  }
  auto findings = driftFindings(SchemaFingerprint::fromCatalog(objects), SchemaFingerprint{}, 20);
  ASSERT_EQ(findings.size(), 21u);
  EXPECT_THAT(findings.back().message, ::testing::HasSubstr("5 more"));
}

TEST(Drift, NoneWhenEqual) {
  auto fp = SchemaFingerprint::fromCatalog({{"table", "public.team", "relkind r"}});
  EXPECT_TRUE(driftFindings(fp, fp).empty());
}

}  // namespace
}  // namespace alembic_sidecar::database
