#include "alembic/revision_analysis.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace alembic_sidecar::alembic {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

ParsedRevision parse(const std::string& upgrade, const std::string& downgrade = "    pass\n") {
  auto parsed = parseRevisionFile("revision = 'r2'\ndown_revision = 'r1'\n\ndef upgrade():\n" +
                                  upgrade + "\ndef downgrade():\n" + downgrade);
  EXPECT_TRUE(parsed.ok());
  return *parsed;
}

std::vector<std::string> codes(const std::vector<core::Finding>& findings,
                               const std::string& severity = "escalation") {
  std::vector<std::string> out;
  for (const auto& f : findings) {
    if (f.severity == severity) {
      out.push_back(f.code);
    }
  }
  return out;
}

AnalysisContext baseline() {
  AnalysisContext ctx;
  ctx.file = "migrations/versions/x.py";
  ctx.existingTables = {"user", "team", "item"};
  ctx.existingEnums = {{"userrole", {"admin", "member"}}};
  return ctx;
}

struct Case {
  const char* name;
  const char* upgrade;
  const char* downgrade;
  std::vector<std::string> escalations;
};

class Analysis : public ::testing::TestWithParam<Case> {};

TEST_P(Analysis, FindsExactlyTheExpectedEscalations) {
  const auto& c = GetParam();
  auto findings = analyzeRevision(parse(c.upgrade, c.downgrade), baseline());
  EXPECT_EQ(codes(findings), c.escalations);
}

INSTANTIATE_TEST_SUITE_P(
    Table, Analysis,
    ::testing::Values(
        Case{"NullableColumnIsSafe",
             "    op.add_column('user', sa.Column('phone', sa.String(), nullable=True))\n",
             "    op.drop_column('user', 'phone')\n", {}},
        Case{"NewTableIsSafe",
             "    op.create_table('tag', sa.Column('id', sa.Integer(), nullable=False))\n",
             "    op.drop_table('tag')\n", {}},
        Case{"RenameIsAddPlusDrop",
             "    op.add_column('team', sa.Column('hq', sa.String(), nullable=True))\n"
             "    op.drop_column('team', 'headquarters')\n",
             "    op.add_column('team', sa.Column('headquarters', sa.VARCHAR(), nullable=True))\n"
             "    op.drop_column('team', 'hq')\n",
             {"ProbableRename"}},
        Case{"AddPlusDropOfIncompatibleTypesIsJustDestructive",
             "    op.add_column('team', sa.Column('size', sa.Integer(), nullable=True))\n"
             "    op.drop_column('team', 'headquarters')\n",
             "    op.add_column('team', sa.Column('headquarters', sa.VARCHAR(), nullable=True))\n"
             "    op.drop_column('team', 'size')\n",
             {"DestructiveChange"}},
        Case{"TableRename",
             "    op.create_table('squad', sa.Column('id', sa.Integer()), sa.Column('name', sa.String()))\n"
             "    op.drop_table('team')\n",
             "    op.create_table('team', sa.Column('id', sa.INTEGER()), sa.Column('name', sa.VARCHAR()))\n"
             "    op.drop_table('squad')\n",
             {"ProbableRename"}},
        Case{"DropTable", "    op.drop_table('item')\n", "    pass\n", {"DestructiveChange"}},
        Case{"EnumCreatedWithTableNotDropped",
             "    op.create_table('ticket', sa.Column('s', sa.Enum('a', 'b', name='severity')))\n",
             "    op.drop_table('ticket')\n", {"EnumTypeNotDropped"}},
        Case{"EnumCreatedAndDropped",
             "    op.create_table('ticket', sa.Column('s', sa.Enum('a', 'b', name='severity')))\n",
             "    op.drop_table('ticket')\n    sa.Enum(name='severity').drop(op.get_bind())\n", {}},
        Case{"EnumDroppedWithRawSql",
             "    op.create_table('ticket', sa.Column('s', sa.Enum('a', name='severity')))\n",
             "    op.drop_table('ticket')\n    op.execute('DROP TYPE severity')\n",
             {"RawSQLNotApproved"}},
        Case{"ExistingEnumReusedIsFine",
             "    op.create_table('audit', sa.Column('r', sa.Enum('admin', 'member', name='userrole')))\n",
             "    op.drop_table('audit')\n", {}},
        Case{"EnumColumnOnExistingTableWithoutType",
             "    op.add_column('item', sa.Column('p', sa.Enum('low', 'high', name='priority'), nullable=True))\n",
             "    op.drop_column('item', 'p')\n", {"EnumTypeMissing"}},
        Case{"EnumCreatedExplicitlyAfterTheColumnIsNotMissing",
             "    op.add_column('item', sa.Column('p', sa.Enum('low', 'high', name='priority'), nullable=True))\n"
             "    sa.Enum('low', 'high', name='priority').create(op.get_bind())\n",
             "    op.drop_column('item', 'p')\n    sa.Enum(name='priority').drop(op.get_bind())\n",
             {}},
        Case{"EnumColumnWithExplicitCreate",
             "    sa.Enum('low', 'high', name='priority').create(op.get_bind())\n"
             "    op.add_column('item', sa.Column('p', sa.Enum('low', 'high', name='priority'), nullable=True))\n",
             "    op.drop_column('item', 'p')\n    sa.Enum(name='priority').drop(op.get_bind())\n", {}},
        Case{"StringToIntegerNeedsUsing",
             "    op.alter_column('team', 'hq', existing_type=sa.VARCHAR(), type_=sa.Integer(), existing_nullable=True)\n",
             "    op.alter_column('team', 'hq', existing_type=sa.Integer(), type_=sa.VARCHAR(), existing_nullable=True)\n",
             {"TypeChangeWithoutUsing"}},
        Case{"UsingGivenIsFine",
             "    op.alter_column('team', 'hq', existing_type=sa.VARCHAR(), type_=sa.Integer(), postgresql_using='hq::integer')\n",
             "    op.alter_column('team', 'hq', existing_type=sa.Integer(), type_=sa.VARCHAR())\n", {}},
        Case{"WideningIsFine",
             "    op.alter_column('item', 'n', existing_type=sa.INTEGER(), type_=sa.BigInteger())\n",
             "    op.alter_column('item', 'n', existing_type=sa.BigInteger(), type_=sa.INTEGER())\n", {}},
        Case{"UnnamedForeignKey",
             "    op.create_foreign_key(None, 'item', 'team', ['team_id'], ['id'])\n",
             "    op.drop_constraint(None, 'item', type_='foreignkey')\n",
             {"UnnamedConstraint", "UnnamedConstraint"}},
        Case{"NamedForeignKeyIsFine",
             "    op.create_foreign_key(op.f('fk_item_team_id_team'), 'item', 'team', ['team_id'], ['id'])\n",
             "    op.drop_constraint(op.f('fk_item_team_id_team'), 'item', type_='foreignkey')\n", {}},
        Case{"RawSqlInUpgrade", "    op.execute(\"UPDATE item SET n = 0\")\n", "    pass\n",
             {"RawSQLNotApproved"}}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(AnalysisApprovals, TurnEscalationsIntoInformation) {
  auto ctx = baseline();
  ctx.approveRawSQL = true;
  ctx.approveDestructive = true;
  auto findings = analyzeRevision(
      parse("    op.execute('UPDATE x SET y = 1')\n    op.drop_table('item')\n"), ctx);
  EXPECT_THAT(codes(findings), IsEmpty());
  EXPECT_THAT(codes(findings, "info"), ElementsAre("RawSQLNotApproved", "DestructiveChange"));
}

TEST(AnalysisLiveData, RequiredColumnOnlyWhenTheLiveTableHasRows) {
  auto revision = parse("    op.add_column('team', sa.Column('code', sa.String(), nullable=False))\n");
  auto ctx = baseline();
  EXPECT_THAT(codes(analyzeRevision(revision, ctx)), IsEmpty());
  ctx.liveRowCounts["team"] = 0;
  EXPECT_THAT(codes(analyzeRevision(revision, ctx)), IsEmpty());
  ctx.liveRowCounts["team"] = 3;
  EXPECT_THAT(codes(analyzeRevision(revision, ctx)), ElementsAre("RequiredColumnOnPopulatedTable"));
  auto withDefault = parse(
      "    op.add_column('team', sa.Column('code', sa.String(), server_default='x', nullable=False))\n");
  EXPECT_THAT(codes(analyzeRevision(withDefault, ctx)), IsEmpty());
}

TEST(AnalysisIdiom, AdviceInTheModelsOwnIdiom) {
  auto rename = parse(
      "    op.add_column('team', sa.Column('head_office', sa.String(), nullable=True))\n"
      "    op.drop_column('team', 'headquarters')\n",
      "    op.add_column('team', sa.Column('headquarters', sa.VARCHAR(), nullable=True))\n"
      "    op.drop_column('team', 'head_office')\n");
  auto required =
      parse("    op.add_column('team', sa.Column('code', sa.String(), nullable=False))\n");
  auto recommendation = [](const std::vector<core::Finding>& findings, const std::string& code) {
    for (const auto& f : findings) {
      if (f.code == code) {
        return f.recommendation;
      }
    }
    return std::string("missing");
  };
  auto ctx = baseline();
  ctx.liveRowCounts["team"] = 3;
  // Plain SQLAlchemy models: Column(...), never SQLModel's Field(...).
  auto plain = analyzeRevision(rename, ctx);
  EXPECT_THAT(recommendation(plain, "ProbableRename"),
              ::testing::HasSubstr("head_office = Column('headquarters', ...)"));
  EXPECT_THAT(recommendation(plain, "ProbableRename"),
              ::testing::Not(::testing::HasSubstr("Field(")));
  EXPECT_THAT(recommendation(analyzeRevision(required, ctx), "RequiredColumnOnPopulatedTable"),
              ::testing::HasSubstr("Column(..., nullable=False, server_default=...)"));
  // SQLModel classes: Field(...).
  ctx.sqlmodelTables = {"team"};
  EXPECT_THAT(recommendation(analyzeRevision(rename, ctx), "ProbableRename"),
              ::testing::HasSubstr("Field(sa_column=sa.Column('headquarters', ...))"));
  EXPECT_THAT(recommendation(analyzeRevision(required, ctx), "RequiredColumnOnPopulatedTable"),
              ::testing::HasSubstr("Field(sa_column_kwargs={'server_default'"));
}

TEST(AnalysisLiveData, RequiredColumnSaysWhereTheRoundTripRan) {
  auto revision =
      parse("    op.add_column('team', sa.Column('code', sa.String(), nullable=False))\n");
  auto ctx = baseline();
  ctx.liveRowCounts["team"] = 3;
  auto message = [&] {
    for (const auto& f : analyzeRevision(revision, ctx)) {
      if (f.code == "RequiredColumnOnPopulatedTable") {
        return f.message;
      }
    }
    return std::string("missing");
  };
  EXPECT_THAT(message(), ::testing::HasSubstr("the scratch database, which has no rows"));
  ctx.roundTripDatabase = "";  // in place: no scratch database to speak of
  EXPECT_THAT(message(), ::testing::Not(::testing::HasSubstr("scratch")));
  EXPECT_THAT(message(), ::testing::HasSubstr("the upgrade will fail there"));
}

TEST(AnalysisLiveData, NonConcurrentIndexOnlyOnLargeTables) {
  auto revision = parse("    op.create_index(op.f('ix_item_t'), 'item', ['t'], unique=False)\n");
  auto ctx = baseline();
  ctx.largeTableRows = 1000;
  ctx.liveRowCounts["item"] = 999;
  EXPECT_THAT(codes(analyzeRevision(revision, ctx)), IsEmpty());
  ctx.liveRowCounts["item"] = 1000;
  EXPECT_THAT(codes(analyzeRevision(revision, ctx)), ElementsAre("NonConcurrentIndex"));
  auto concurrent = parse(
      "    op.create_index('ix_item_t', 'item', ['t'], postgresql_concurrently=True)\n");
  EXPECT_THAT(codes(analyzeRevision(concurrent, ctx)), IsEmpty());
}

TEST(AnalysisEnums, LabelsAutogenerateCannotSee) {
  auto ctx = baseline();
  ctx.modelEnums = {{"userrole", {"admin", "member", "guest"}}};
  auto empty = parse("    pass\n");
  auto findings = analyzeRevision(empty, ctx);
  ASSERT_THAT(codes(findings), ElementsAre("EnumValuesChanged"));
  EXPECT_THAT(findings[0].message, ::testing::HasSubstr("added guest"));

  ctx.modelEnums = {{"userrole", {"admin"}}};
  EXPECT_THAT(codes(analyzeRevision(empty, ctx)),
              ElementsAre("EnumValuesChanged", "DestructiveChange"));

  ctx.modelEnums = {{"userrole", {"admin", "member"}}};
  EXPECT_THAT(codes(analyzeRevision(empty, ctx)), IsEmpty());
}

TEST(AnalysisNames, UndefinedNamesAndLint) {
  auto ctx = baseline();
  ctx.undefinedNames = {{22, "sqlmodel"}};
  ctx.lint = {{"require-concurrent-index-creation", "m", "h", 5, "CREATE INDEX ..."}};
  auto findings = analyzeRevision(parse("    pass\n"), ctx);
  ASSERT_EQ(findings.size(), 2u);
  EXPECT_EQ(findings[0].code, "UndefinedName");
  EXPECT_EQ(findings[0].line, 22);
  EXPECT_THAT(findings[0].recommendation, ::testing::HasSubstr("import sqlmodel.sql.sqltypes"));
  EXPECT_EQ(findings[1].code, "LintRequireConcurrentIndexCreation");
  EXPECT_EQ(findings[1].severity, "warning");
}

TEST(AnalysisLint, LockRulesFollowTheLiveRowCount) {
  auto ctx = baseline();
  ctx.largeTableRows = 1000;
  ctx.lint = {{"require-concurrent-index-creation", "m", "h", 4,
               "CREATE INDEX ix_item_title ON item (title);"},
              {"changing-column-type", "m", "h", 6,
               "ALTER TABLE \"user\" ALTER COLUMN name TYPE VARCHAR(20);"},
              {"ban-drop-column", "m", "h", 8, "ALTER TABLE item DROP COLUMN x;"}};
  auto revision = parse("    op.create_index('ix_item_title', 'item', ['title'])\n");
  auto severities = [&] {
    std::vector<std::string> out;
    for (const auto& f : analyzeRevision(revision, ctx)) {
      if (f.code.rfind("Lint", 0) == 0) {
        out.push_back(f.code + " " + f.severity);
      }
    }
    return out;
  };
  // Rows unknown (no live database): every rule stays a warning.
  EXPECT_THAT(severities(), ElementsAre("LintRequireConcurrentIndexCreation warning",
                                        "LintChangingColumnType warning",
                                        "LintBanDropColumn warning"));
  ctx.liveRowCounts = {{"item", 10}, {"user", 5000}};
  EXPECT_THAT(severities(), ElementsAre("LintRequireConcurrentIndexCreation info",
                                        "LintChangingColumnType warning",
                                        "LintBanDropColumn warning"));
  auto findings = analyzeRevision(revision, ctx);
  EXPECT_THAT(findings[0].message, ::testing::HasSubstr("item has 10 row(s)"));
  EXPECT_THAT(findings[1].message, ::testing::HasSubstr("user has 5000 row(s)"));
}

TEST(AnalysisLint, LockRulesOnATableTheRevisionCreatesAreInfo) {
  auto ctx = baseline();
  ctx.lint = {{"adding-foreign-key-constraint", "m", "h", 4,
               "ALTER TABLE tag ADD FOREIGN KEY(item_id) REFERENCES item (id);"}};
  auto findings = analyzeRevision(
      parse("    op.create_table('tag', sa.Column('id', sa.Integer(), nullable=False))\n",
            "    op.drop_table('tag')\n"),
      ctx);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].severity, "info");
}

TEST(AnalysisLint, DropIndexFindsItsTableThroughTheOp) {
  auto ctx = baseline();
  ctx.liveRowCounts = {{"team", 3}};
  ctx.lint = {{"require-concurrent-index-deletion", "m", "h", 4, "DROP INDEX ix_team_name;"}};
  auto findings = analyzeRevision(
      parse("    op.drop_index('ix_team_name', table_name='team')\n",
            "    op.create_index('ix_team_name', 'team', ['name'])\n"),
      ctx);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].severity, "info");
}

TEST(AnalysisLint, EstimatedCountsSaySo) {
  auto ctx = baseline();
  ctx.liveRowCounts = {{"item", 2000000}};
  ctx.liveRowEstimates = {"item"};
  auto findings =
      analyzeRevision(parse("    op.create_index('ix_item_t', 'item', ['t'])\n"), ctx);
  ASSERT_THAT(codes(findings), ElementsAre("NonConcurrentIndex"));
  EXPECT_THAT(findings[0].message,
              ::testing::HasSubstr("about 2000000 row(s) (estimated from pg_class.reltuples)"));
}

TEST(StatementTable, ReadsTheTableOfTheStatement) {
  EXPECT_EQ(statementTable("ALTER TABLE \"user\" ALTER COLUMN name TYPE VARCHAR(20);"), "user");
  EXPECT_EQ(statementTable("ALTER TABLE ONLY public.item ADD CONSTRAINT x UNIQUE (a);"), "item");
  EXPECT_EQ(statementTable("ALTER TABLE shop.\"Item Tag\" ADD COLUMN x int;"), "shop.Item Tag");
  EXPECT_EQ(statementTable("CREATE UNIQUE INDEX ix_team_name ON team (name);"), "team");
  EXPECT_EQ(statementTable("CREATE INDEX CONCURRENTLY IF NOT EXISTS ix ON ONLY \"a\"\"b\" (x);"),
            "a\"b");
  EXPECT_EQ(statementTable("CREATE TABLE tag (id SERIAL NOT NULL);"), "tag");
  EXPECT_EQ(statementTable("DROP INDEX ix_team_name;"), "");
  EXPECT_EQ(statementTable("UPDATE alembic_version SET version_num='x'"), "");
}

TEST(LockRules, AreTheOnesAboutLocksAndRewrites) {
  EXPECT_TRUE(isLockRule("require-concurrent-index-creation"));
  EXPECT_TRUE(isLockRule("changing-column-type"));
  EXPECT_TRUE(isLockRule("constraint-missing-not-valid"));
  EXPECT_FALSE(isLockRule("ban-drop-column"));
  EXPECT_FALSE(isLockRule("prefer-timestamp-tz"));
}

}  // namespace
}  // namespace alembic_sidecar::alembic
