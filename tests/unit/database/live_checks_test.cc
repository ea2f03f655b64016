#include "database/live_checks.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace alembic_sidecar::database {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using Kind = LiveCheck::Kind;

alembic::ParsedRevision parse(const std::string& upgrade) {
  auto parsed = alembic::parseRevisionFile(
      "revision = 'r2'\ndown_revision = 'r1'\n\n"
      "def upgrade():\n" +
      upgrade + "\ndef downgrade():\n    pass\n");
  EXPECT_TRUE(parsed.ok());
  return *parsed;
}

/** The example app's live tables, as the catalog query reports them. */
std::map<TableRef, LiveTable> exampleTables() {
  LiveTable team{"public",
                 "team",
                 10,
                 {"id"},
                 {{"id", "integer"},
                  {"name", "character varying(100)"},
                  {"headquarters", "character varying"}}};
  LiveTable user{"public",
                 "user",
                 10,
                 {"id"},
                 {{"id", "integer"},
                  {"name", "character varying(100)"},
                  {"email", "character varying(255)"},
                  {"team_id", "integer"}}};
  LiveTable item{"public",
                 "item",
                 10,
                 {"id"},
                 {{"id", "integer"},
                  {"title", "character varying(200)"},
                  {"price_cents", "integer"},
                  {"owner_id", "integer"},
                  {"team_id", "integer"}}};
  LiveTable tags{
      "shop", "item_tag", -1, {"item_id", "tag"}, {{"item_id", "integer"}, {"tag", "text"}}};
  return {{{"", "team"}, team},
          {{"", "user"}, user},
          {{"", "item"}, item},
          {{"shop", "item_tag"}, tags}};
}

LiveCheckPlan plan(const std::string& upgrade) {
  return planLiveChecks(parse(upgrade), exampleTables(), LiveCheckLimits{}, "v.py");
}

struct PlanCase {
  const char* name;
  const char* upgrade;
  std::vector<Kind> kinds;
  std::vector<const char*> sqlParts;  // every one must be in the first check's SQL
  size_t skipped;
  size_t unverified = 0;  // escalations: data-dependent operations that cannot be checked
};

class Plan : public ::testing::TestWithParam<PlanCase> {};

TEST_P(Plan, TurnsOperationsIntoReadOnlyQueries) {
  const auto& c = GetParam();
  auto p = plan(c.upgrade);
  std::vector<Kind> kinds;
  for (const auto& check : p.checks) {
    kinds.push_back(check.kind);
    if (check.kind == Kind::kConversion) {
      EXPECT_EQ(check.query.sql.rfind("DO $alembic_sidecar$", 0), 0u) << check.query.sql;
      continue;
    }
    EXPECT_EQ(check.query.sql.rfind("SELECT ", 0), 0u) << check.query.sql;
    EXPECT_THAT(check.query.sql, HasSubstr("LIMIT 1001"));
  }
  EXPECT_EQ(kinds, c.kinds);
  for (const char* part : c.sqlParts) {
    ASSERT_FALSE(p.checks.empty());
    EXPECT_THAT(p.checks.front().query.sql, HasSubstr(part));
  }
  EXPECT_EQ(p.skipped.size(), c.skipped);
  for (const auto& f : p.skipped) {
    EXPECT_EQ(f.code, "LiveChecksSkipped");
    EXPECT_EQ(f.severity, "info");
  }
  EXPECT_EQ(p.unverified.size(), c.unverified);
  for (const auto& f : p.unverified) {
    EXPECT_EQ(f.code, "LiveCheckIncomplete");
    EXPECT_EQ(f.severity, "escalation");
    EXPECT_THAT(f.recommendation, AllOf(HasSubstr("--live-check-timeout"), HasSubstr("--live-role"),
                                        HasSubstr("SELECT ")));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, Plan,
    ::testing::Values(
        PlanCase{"UniqueIndex",
                 "    op.create_index(op.f('ix_team_name'), 'team', ['name'], unique=True)\n",
                 {Kind::kDuplicates},
                 {"FROM \"public\".\"team\" WHERE \"name\" IS NOT NULL GROUP BY \"name\" "
                  "HAVING count(*) > 1",
                  "min(\"id\"::text)"},
                 0},
        PlanCase{"NonUniqueIndexNeedsNoCheck",
                 "    op.create_index('ix_team_name', 'team', ['name'], unique=False)\n",
                 {},
                 {},
                 0},
        PlanCase{"CompositeUniqueConstraint",
                 "    op.create_unique_constraint('uq', 'item', ['owner_id', 'title'])\n",
                 {Kind::kDuplicates},
                 {"GROUP BY \"owner_id\", \"title\""},
                 0},
        PlanCase{"PartialUniqueIndex",
                 "    op.create_index('ix', 'item', ['title'], unique=True, "
                 "postgresql_where=sa.text('price_cents > 0'))\n",
                 {Kind::kDuplicates},
                 {"AND (price_cents > 0)"},
                 0},
        PlanCase{"PartialIndexWithUnsafePredicateIsUnverified",
                 "    op.create_index('ix', 'item', ['title'], unique=True, "
                 "postgresql_where=sa.text('pg_sleep(100) IS NULL'))\n",
                 {},
                 {},
                 0,
                 1},
        PlanCase{"ExpressionIndexIsUnverified",
                 "    op.create_index('ix', 'user', [sa.text('lower(email)')], unique=True)\n",
                 {},
                 {},
                 0,
                 1},
        PlanCase{"SetNotNull",
                 "    op.alter_column('team', 'headquarters', existing_type=sa.VARCHAR(), "
                 "nullable=False)\n",
                 {Kind::kNulls},
                 {"WHERE \"headquarters\" IS NULL LIMIT 1001"},
                 0},
        PlanCase{"DropNotNullNeedsNoCheck",
                 "    op.alter_column('team', 'headquarters', existing_type=sa.VARCHAR(), "
                 "nullable=True)\n",
                 {},
                 {},
                 0},
        PlanCase{"NarrowerVarchar",
                 "    op.alter_column('user', 'name', existing_type=sa.VARCHAR(length=100), "
                 "type_=sqlmodel.sql.sqltypes.AutoString(length=20), existing_nullable=False)\n",
                 {Kind::kDoesNotFit},
                 {"\"name\" IS NOT NULL AND (char_length(rtrim(\"name\"::text)) > 20)"},
                 0},
        PlanCase{"WiderVarcharNeedsNoCheck",
                 "    op.alter_column('team', 'name', existing_type=sa.VARCHAR(length=100), "
                 "type_=sa.String(length=200))\n",
                 {},
                 {},
                 0},
        PlanCase{"TextToIntegerCast",
                 "    op.alter_column('team', 'headquarters', existing_type=sa.VARCHAR(), "
                 "type_=sa.Integer())\n",
                 {Kind::kDoesNotFit},
                 {"~ '^\\s*[+-]?[0-9]+\\s*$'"},
                 0},
        PlanCase{"TypeChangeWithUsingIsTriedForReal",
                 "    op.alter_column('team', 'headquarters', type_=sa.Integer(), "
                 "postgresql_using='headquarters::integer')\n",
                 {Kind::kConversion},
                 {"asc_new integer;",
                  "SELECT (headquarters::integer) AS x FROM (SELECT * FROM "
                  "\"public\".\"team\" AS s ORDER BY s.\"id\" OFFSET 0) AS \"team\""},
                 0},
        PlanCase{"TypeChangeWithHostileUsingIsUnverified",
                 "    op.alter_column('team', 'headquarters', type_=sa.Integer(), "
                 "postgresql_using='\"pg_sleep\"(100)::integer')\n",
                 {},
                 {},
                 0,
                 1},
        PlanCase{"TextToTimestampIsTriedForReal",
                 "    op.alter_column('team', 'headquarters', type_=sa.DateTime())\n",
                 {Kind::kConversion},
                 {"asc_new timestamp;"},
                 0},
        PlanCase{"UnknownTypeWithoutRenderedSqlIsUnverified",
                 "    op.alter_column('team', 'headquarters', type_=EmailAddress())\n",
                 {},
                 {},
                 0,
                 1},
        PlanCase{"ForeignKey",
                 "    op.create_foreign_key('fk', 'item', 'team', ['team_id'], ['id'])\n",
                 {Kind::kOrphans},
                 {"FROM \"public\".\"item\" AS src WHERE src.\"team_id\" IS NOT NULL AND NOT "
                  "EXISTS (SELECT 1 FROM \"public\".\"team\" AS ref WHERE ref.\"id\" = "
                  "src.\"team_id\")",
                  "SELECT src.\"id\"::text AS k"},
                 0},
        PlanCase{"ForeignKeyOnANewNullableColumnCannotHaveOrphans",
                 "    op.add_column('user', sa.Column('boss_id', sa.Integer(), nullable=True))\n"
                 "    op.create_foreign_key('fk', 'user', 'user', ['boss_id'], ['id'])\n",
                 {},
                 {},
                 0},
        PlanCase{"ForeignKeyToATableThisRevisionCreates",
                 "    op.create_table('org', sa.Column('id', sa.Integer(), nullable=False))\n"
                 "    op.create_foreign_key('fk', 'item', 'org', ['team_id'], ['id'])\n",
                 {Kind::kOrphans},
                 {"WHERE src.\"team_id\" IS NOT NULL LIMIT"},
                 0},
        PlanCase{"CheckConstraint",
                 "    op.create_check_constraint('ck', 'item', 'price_cents >= 0')\n",
                 {Kind::kViolations},
                 {"WHERE NOT (price_cents >= 0) LIMIT 1001"},
                 0},
        PlanCase{"CheckConstraintThatEscapesIsRefused",
                 "    op.create_check_constraint('ck', 'item', 'true) OR (1=1')\n",
                 {},
                 {},
                 0,
                 1},
        PlanCase{"CheckConstraintExpressionIsNotSql",
                 "    op.create_check_constraint('ck', 'item', sa.column('x') > 1)\n",
                 {},
                 {},
                 0,
                 1},
        PlanCase{"NaturalCompositeKeyInASchemaIsNotShown",
                 "    op.create_unique_constraint('uq', 'item_tag', ['tag'], schema='shop')\n",
                 {Kind::kDuplicates},
                 {"FROM \"shop\".\"item_tag\"", "NULL::text FROM (SELECT count(*) AS n"},
                 0},
        PlanCase{"MissingLiveTableIsSaidSo",
                 "    op.alter_column('invoice', 'total', nullable=False)\n",
                 {},
                 {},
                 1},
        PlanCase{"MissingLiveColumnIsUnverified",
                 "    op.alter_column('team', 'budget', nullable=False)\n",
                 {},
                 {},
                 0,
                 1},
        PlanCase{"NewTableNeedsNoCheck",
                 "    op.create_table('tag', sa.Column('id', sa.Integer(), nullable=False))\n"
                 "    op.create_index('ix_tag', 'tag', ['id'], unique=True)\n",
                 {},
                 {},
                 0},
        PlanCase{"PrimaryKeyIsUniqueAndNotNull",
                 "    op.create_primary_key('pk', 'item_tag', ['item_id', 'tag'], schema='shop')\n",
                 {Kind::kDuplicates, Kind::kNulls, Kind::kNulls},
                 {},
                 0}),
    [](const ::testing::TestParamInfo<PlanCase>& info) { return info.param.name; });

TEST(Plan, HostileNamesStayQuoted) {
  auto p = plan("    op.alter_column('team', 'x\"; DROP TABLE team; --', nullable=False)\n");
  // The column does not exist, so nothing runs; and were it to, the name is one identifier.
  EXPECT_THAT(p.checks, IsEmpty());
  LiveTable weird{"public", "t\"x", 1, {"id"}, {{"a\"b", "text"}, {"id", "integer"}}};
  auto q = planLiveChecks(parse("    op.alter_column('t\"x', 'a\"b', nullable=False)\n"),
                          {{{"", "t\"x"}, weird}}, LiveCheckLimits{}, "v.py");
  ASSERT_EQ(q.checks.size(), 1u);
  EXPECT_THAT(q.checks[0].query.sql,
              HasSubstr("FROM \"public\".\"t\"\"x\" WHERE \"a\"\"b\" IS NULL"));
}

TEST(TablesToInspect, SkipsCreatedTablesAndAddsReferents) {
  auto refs = tablesToInspect(
      parse("    op.create_table('org', sa.Column('id', sa.Integer()))\n"
            "    op.add_column('user', sa.Column('org_id', sa.Integer(), nullable=True))\n"
            "    op.create_foreign_key('fk', 'user', 'org', ['org_id'], ['id'])\n"
            "    op.create_foreign_key('fk2', 'item', 'team', ['team_id'], ['id'])\n"
            "    op.create_index('ix', 'item_tag', ['tag'], schema='shop')\n"));
  EXPECT_THAT(refs, ElementsAre(TableRef{"", "user"}, TableRef{"", "item"}, TableRef{"", "team"},
                                TableRef{"shop", "item_tag"}));
}

TEST(Catalog, ParamsCarryTheNamesAndRowsComeBackByPosition) {
  std::vector<TableRef> refs = {{"", "user"}, {"shop", "nope"}, {"shop", "item_tag"}};
  auto q = catalogQuery(refs);
  EXPECT_EQ(q.params,
            std::vector<std::string>{R"([["","user"],["shop","nope"],["shop","item_tag"]])"});
  EXPECT_THAT(q.sql, HasSubstr("to_regclass"));
  QueryRows rows = {
      {"0", "public", "user", "12", R"(["id"])", R"({"id":"integer","name":"text"})"},
      {"1", std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt},
      {"2", "shop", "item_tag", "-1", R"(["item_id","tag"])", R"({"item_id":"integer"})"}};
  auto tables = readCatalog(refs, rows);
  ASSERT_EQ(tables.size(), 2u);
  EXPECT_EQ(tables.at(refs[0]).reltuples, 12);
  EXPECT_EQ(tables.at(refs[0]).columnTypes.at("name"), "text");
  EXPECT_THAT(tables.at(refs[2]).primaryKey, ElementsAre("item_id", "tag"));
  EXPECT_EQ(tables.count(refs[1]), 0u);
  EXPECT_EQ(rowCountQuery(tables.at(refs[0]), 100).sql,
            "SELECT count(*) FROM (SELECT 1 FROM \"public\".\"user\" LIMIT 101) AS s");
}

TEST(Plan, EveryCheckCarriesItsFindingCode) {
  auto code = [](const std::string& upgrade) {
    auto p = plan(upgrade);
    EXPECT_FALSE(p.checks.empty());
    return p.checks.empty() ? std::string{} : p.checks[0].code;
  };
  EXPECT_EQ(code("    op.alter_column('team', 'headquarters', nullable=False)\n"),
            "NullRowsUnderNotNull");
  EXPECT_EQ(code("    op.create_index('ix', 'team', ['name'], unique=True)\n"),
            "DuplicateRowsUnderUnique");
  EXPECT_EQ(code("    op.alter_column('user', 'name', type_=sa.String(length=5))\n"),
            "ValuesDoNotFitType");
  EXPECT_EQ(code("    op.create_foreign_key('fk', 'item', 'team', ['team_id'], ['id'])\n"),
            "OrphanRowsUnderForeignKey");
  EXPECT_EQ(code("    op.create_check_constraint('ck', 'item', 'price_cents >= 0')\n"),
            "RowsViolateCheck");
  auto rounding = plan("    op.alter_column('item', 'price_cents', type_=sa.Integer())\n");
  EXPECT_THAT(rounding.checks, IsEmpty());  // integer to integer: nothing to lose
  auto keys = plan("    op.alter_column('team', 'headquarters', nullable=False)\n");
  EXPECT_EQ(keys.checks.at(0).keyLabel, "primary key id");
  EXPECT_TRUE(keys.checks.at(0).showKeys);
  EXPECT_EQ(keys.checks.at(0).line, 5);
}

TEST(Plan, NaturalKeysAreCountedNeverShown) {
  LiveTable people{
      "public", "person", 10, {"email"}, {{"email", "character varying(255)"}, {"nick", "text"}}};
  auto p = planLiveChecks(parse("    op.alter_column('person', 'nick', nullable=False)\n"),
                          {{{"", "person"}, people}}, LiveCheckLimits{}, "v.py");
  ASSERT_EQ(p.checks.size(), 1u);
  EXPECT_FALSE(p.checks[0].showKeys);
  EXPECT_THAT(p.checks[0].keyLabel, HasSubstr("not a surrogate key"));
  EXPECT_THAT(p.checks[0].query.sql, AllOf(HasSubstr("NULL::text"), Not(HasSubstr("email"))));
  LiveTable heap{"public", "log", 10, {}, {{"msg", "text"}}};
  auto q = planLiveChecks(parse("    op.alter_column('log', 'msg', nullable=False)\n"),
                          {{{"", "log"}, heap}}, LiveCheckLimits{}, "v.py");
  ASSERT_EQ(q.checks.size(), 1u);
  EXPECT_THAT(q.checks[0].query.sql, Not(HasSubstr("ctid")));
  EXPECT_THAT(q.checks[0].keyLabel, HasSubstr("no primary key"));
}

TEST(Plan, NullsNotDistinctCountsNullGroups) {
  auto p = plan(
      "    op.create_unique_constraint('uq', 'team', ['headquarters'], "
      "postgresql_nulls_not_distinct=True)\n");
  ASSERT_EQ(p.checks.size(), 1u);
  EXPECT_THAT(p.checks[0].query.sql, Not(HasSubstr("IS NOT NULL")));
  auto q = plan("    op.create_unique_constraint('uq', 'team', ['headquarters'])\n");
  EXPECT_THAT(q.checks.at(0).query.sql, HasSubstr("\"headquarters\" IS NOT NULL"));
}

TEST(Plan, RequiredColumnIsVerifiedByTheRowCount) {
  auto p = plan("    op.add_column('team', sa.Column('budget', sa.Integer(), nullable=False))\n");
  EXPECT_THAT(p.checks, IsEmpty());
  ASSERT_EQ(p.counted.size(), 1u);
  EXPECT_EQ(p.counted[0].table, (TableRef{"", "team"}));
  auto filled = plan(
      "    op.add_column('team', sa.Column('budget', sa.Integer(), "
      "server_default='0', nullable=False))\n");
  EXPECT_THAT(filled.counted, IsEmpty());
  EXPECT_THAT(filled.ops, IsEmpty());
}

TEST(Plan, RenderedSqlGivesTheExactTypeAndUsing) {
  auto alters = alterTypeStatements(
      "BEGIN;\n\nALTER TABLE team ALTER COLUMN headquarters TYPE INTEGER USING "
      "nullif(trim(headquarters), '')::integer;\n\nUPDATE alembic_version SET version_num='r2' "
      "WHERE alembic_version.version_num = 'r1';\n\nCOMMIT;\n");
  auto p = planLiveChecks(parse("    op.alter_column('team', 'headquarters', "
                                "type_=sa.Integer(), postgresql_using=USING)\n"),
                          exampleTables(), LiveCheckLimits{}, "v.py", alters);
  ASSERT_EQ(p.checks.size(), 1u);
  EXPECT_THAT(p.checks[0].query.sql,
              AllOf(HasSubstr("asc_new INTEGER;"), HasSubstr("(nullif(trim(headquarters), "
                                                             "'')::integer) AS x")));
}

TEST(Plan, DowngradeConversionIsTriedOnTheUpgradedValues) {
  auto parsed = alembic::parseRevisionFile(
      "revision = 'r2'\ndown_revision = 'r1'\n\n"
      "def upgrade():\n"
      "    op.alter_column('user', 'name', existing_type=sa.VARCHAR(length=100), "
      "type_=sa.Text())\n"
      "    op.alter_column('team', 'headquarters', existing_type=sa.VARCHAR(), "
      "type_=sa.Integer(), postgresql_using='headquarters::integer')\n"
      "\ndef downgrade():\n"
      "    op.alter_column('team', 'headquarters', existing_type=sa.Integer(), "
      "type_=sa.VARCHAR())\n");
  ASSERT_TRUE(parsed.ok());
  auto p = planLiveChecks(*parsed, exampleTables(), LiveCheckLimits{}, "v.py");
  ASSERT_EQ(p.checks.size(), 1u);  // varchar(100) -> text is lossless: nothing to try
  EXPECT_THAT(p.checks[0].query.sql,
              AllOf(HasSubstr("asc_back character varying;"), HasSubstr("asc_back := asc_new;")));
}

}  // namespace
}  // namespace alembic_sidecar::database
