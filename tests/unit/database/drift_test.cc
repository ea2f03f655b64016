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

TEST(Drift, TellsAGapInTheHistoryFromAnObjectMadeByHand) {
  // create_all() made users (in the models); someone made legacy_codes by hand (in no model).
  auto history = SchemaFingerprint::fromCatalog({{"table", "public.audit_log", "relkind r"}});
  auto live =
      SchemaFingerprint::fromCatalog({{"table", "public.audit_log", "relkind r"},
                                      {"table", "public.users", "relkind r"},
                                      {"column", "public.users.id", "integer NOT NULL"},
                                      {"column", "public.users.email", "text NOT NULL"},
                                      {"index", "public.users.ix_users_email", "CREATE INDEX ..."},
                                      {"table", "public.legacy_codes", "relkind r"},
                                      {"column", "public.legacy_codes.code", "text NULL"},
                                      {"column", "public.audit_log.note", "text NULL"}});
  ModelObjects models;
  models.tables = {"table public.audit_log", "table public.users"};
  models.objects = {"column public.audit_log.note"};
  auto findings = driftFindings(live, history, 20, models);
  // One finding per table: its columns and indexes are told with it.
  ASSERT_EQ(findings.size(), 3u);
  EXPECT_THAT(findings[0].message, ::testing::HasSubstr("column public.audit_log.note"));
  EXPECT_THAT(findings[0].message, ::testing::HasSubstr("a gap in the history"));
  EXPECT_THAT(findings[0].recommendation, ::testing::HasSubstr("--baseline live-schema"));
  EXPECT_THAT(findings[1].message, ::testing::HasSubstr("table public.legacy_codes"));
  EXPECT_THAT(findings[1].message, ::testing::HasSubstr("no model has it"));
  EXPECT_THAT(findings[1].recommendation, ::testing::HasSubstr("it may hold data"));
  EXPECT_THAT(findings[1].recommendation, ::testing::HasSubstr("include_object"));
  EXPECT_THAT(findings[2].message, ::testing::HasSubstr("table public.users"));
  EXPECT_THAT(findings[2].message, ::testing::HasSubstr("the models have it"));
  EXPECT_THAT(findings[2].recommendation, ::testing::HasSubstr("baseline revision"));
}

TEST(Drift, NeverAdvisesDroppingDataWithoutSayingSo) {
  auto live = SchemaFingerprint::fromCatalog({{"table", "public.t", "relkind r"},
                                              {"table", "public.legacy", "relkind r"},
                                              {"column", "public.t.legacy", "text NULL"},
                                              {"index", "public.t.ix_legacy", "CREATE INDEX"},
                                              {"view", "public.v", "SELECT 1"}});
  auto history = SchemaFingerprint::fromCatalog({{"table", "public.t", "relkind r"}});
  for (const auto& f : driftFindings(live, history)) {
    const std::string text = f.message + " " + f.recommendation;
    if (text.find("drop") != std::string::npos || text.find("Drop") != std::string::npos) {
      EXPECT_THAT(text, ::testing::AnyOf(::testing::HasSubstr("deletes that data"),
                                         ::testing::HasSubstr("deletes no row")))
          << text;
    }
  }
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
