#include "database/drift.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

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

std::vector<CatalogObject> teamSchema() {
  return {{"table", "public.team", "relkind r persistence p"},
          {"column", "public.team.name", "character varying NOT NULL"},
          {"index", "public.team.ix_team_name",
           "CREATE UNIQUE INDEX ix_team_name ON public.team USING btree (name)"},
          {"constraint", "public.team.team_pkey", "p PRIMARY KEY (id)"},
          {"view", "public.team_names", "SELECT name FROM team"}};
}

TEST(Drift, NoneWhenEqual) {
  // The live database and the migration history read separately, in another row order.
  auto live = SchemaFingerprint::fromCatalog(teamSchema());
  auto rows = teamSchema();
  std::reverse(rows.begin(), rows.end());
  auto history = SchemaFingerprint::fromCatalog(rows);
  EXPECT_TRUE(driftFindings(live, history).empty());
}

TEST(Drift, OneFindingPerObjectThatDiffers) {
  auto live = SchemaFingerprint::fromCatalog(teamSchema());
  for (size_t i = 0; i < teamSchema().size(); ++i) {
    auto rows = teamSchema();
    SCOPED_TRACE(rows[i].kind + " " + rows[i].key);
    rows[i].definition += " WHERE active";
    auto changed = driftFindings(live, SchemaFingerprint::fromCatalog(rows));
    ASSERT_EQ(changed.size(), 1u);
    EXPECT_THAT(changed[0].message, ::testing::HasSubstr(rows[i].kind + " " + rows[i].key));
    EXPECT_THAT(changed[0].message, ::testing::HasSubstr("differs"));

    rows = teamSchema();
    rows.erase(rows.begin() + static_cast<long>(i));
    auto missing = driftFindings(live, SchemaFingerprint::fromCatalog(rows));
    ASSERT_EQ(missing.size(), 1u);
    EXPECT_THAT(missing[0].message,
                ::testing::HasSubstr("exists in the live database but not in the migration "
                                     "history"));
  }
}

}  // namespace
}  // namespace alembic_sidecar::database
