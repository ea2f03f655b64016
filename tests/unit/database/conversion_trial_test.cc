#include "database/conversion_trial.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace alembic_sidecar::database {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;

// What `alembic upgrade r1:r2 --sql` prints for a type change with postgresql_using.
constexpr char kRendered[] = R"(BEGIN;

-- Running upgrade r1 -> r2

ALTER TABLE team ALTER COLUMN headquarters TYPE INTEGER USING headquarters::integer;

ALTER TABLE "user" ALTER COLUMN name TYPE VARCHAR(20);

ALTER TABLE inventory."Stock" ALTER COLUMN "Tags" TYPE INTEGER[] USING "Tags"::integer[];

ALTER TABLE item ALTER COLUMN price_cents SET NOT NULL;

UPDATE alembic_version SET version_num='r2' WHERE alembic_version.version_num = 'r1';

COMMIT;
)";

TEST(AlterTypeStatements, ReadsTableColumnTypeAndUsingAsPostgresDoes) {
  auto alters = alterTypeStatements(kRendered);
  ASSERT_THAT(alters, SizeIs(3));
  EXPECT_EQ(alters[0].table, "team");
  EXPECT_EQ(alters[0].column, "headquarters");
  EXPECT_EQ(alters[0].type, "INTEGER");
  EXPECT_EQ(alters[0].usingSql, "headquarters::integer");
  EXPECT_EQ(alters[1].table, "user");
  EXPECT_EQ(alters[1].type, "VARCHAR(20)");
  EXPECT_EQ(alters[1].usingSql, "");
  EXPECT_EQ(alters[2].schema, "inventory");
  EXPECT_EQ(alters[2].table, "Stock");
  EXPECT_EQ(alters[2].column, "Tags");
  EXPECT_EQ(alters[2].type, "INTEGER[]");
  EXPECT_EQ(alters[2].usingSql, "\"Tags\"::integer[]");
}

TEST(AlterTypeStatements, SemicolonsInsideStringsDoNotSplit) {
  auto alters = alterTypeStatements(
      "ALTER TABLE t ALTER COLUMN c TYPE TEXT USING replace(c, ';', ',');\nSELECT 1;");
  ASSERT_THAT(alters, SizeIs(1));
  EXPECT_EQ(alters[0].usingSql, "replace(c, ';', ',')");
}

ConversionTrialSpec spec() {
  ConversionTrialSpec s;
  s.qualifiedTable = "\"public\".\"team\"";
  s.alias = "team";
  s.keyColumns = {"id"};
  s.showKey = true;
  s.column = "headquarters";
  s.newType = "INTEGER";
  return s;
}

TEST(ConversionTrial, AssignsEveryRowInKeyOrderAndLocatesTheFirstFailure) {
  auto sql = conversionTrialSql(spec());
  EXPECT_EQ(sql.rfind("DO $alembic_sidecar$\n#variable_conflict use_column\n", 0), 0u);
  EXPECT_THAT(
      sql, AllOf(HasSubstr("asc_new INTEGER;"),
                 HasSubstr("SELECT (\"team\".\"headquarters\") AS x FROM (SELECT * FROM "
                           "\"public\".\"team\" AS s ORDER BY s.\"id\" OFFSET 0) AS "
                           "\"team\""),
                 HasSubstr("asc_new := asc_row.x;"),
                 HasSubstr("EXCEPTION WHEN data_exception OR integrity_constraint_violation"),
                 HasSubstr("SELECT s.\"id\"::text INTO asc_key"), HasSubstr("OFFSET asc_n LIMIT 1"),
                 Not(HasSubstr("asc_back"))));
  EXPECT_EQ(sql.substr(sql.size() - 17), "$alembic_sidecar$");
}

TEST(ConversionTrial, HiddenKeysAreNotRead) {
  auto s = spec();
  s.showKey = false;
  s.keyColumns = {};
  s.usingSql = "headquarters::integer";
  s.backType = "text";
  auto sql = conversionTrialSql(s);
  EXPECT_THAT(sql, AllOf(HasSubstr("ORDER BY s.ctid"), Not(HasSubstr("INTO asc_key")),
                         HasSubstr("SELECT (headquarters::integer) AS x"),
                         HasSubstr("asc_back := asc_new;")));
}

TEST(ConversionFailure, ParsesTheMarkerAndMasksValues) {
  auto f = parseConversionFailure(
      "ERROR:  alembic-sidecar conversion failed {\"stage\" : \"assign\", \"row\" : 1000, "
      "\"key\" : \"1000\", \"state\" : \"22001\", \"error\" : \"value too long for type "
      "character varying(3)\"}\nCONTEXT:  PL/pgSQL function inline_code_block line 30 at RAISE");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->stage, "assign");
  EXPECT_EQ(f->row, 1000);
  EXPECT_EQ(f->key, "1000");
  EXPECT_EQ(f->sqlstate, "22001");
  EXPECT_EQ(f->error, "value too long for type character varying(3)");
  EXPECT_FALSE(parseConversionFailure("ERROR:  canceling statement due to lock timeout"));
}

TEST(WithoutValues, MasksValuesKeepsNames) {
  EXPECT_EQ(withoutValues("invalid input syntax for type integer: \"Berlin\""),
            "invalid input syntax for type integer: \"...\"");
  EXPECT_EQ(withoutValues("value \"99999999999\" is out of range for type integer"),
            "value \"...\" is out of range for type integer");
  EXPECT_EQ(withoutValues("invalid input syntax for type integer: \"a\"b\" c\""),
            "invalid input syntax for type integer: \"...\"");
  EXPECT_EQ(withoutValues("value for domain email violates check constraint \"email_check\""),
            "value for domain email violates check constraint \"email_check\"");
  EXPECT_EQ(withoutValues("no quotes here"), "no quotes here");
}

}  // namespace
}  // namespace alembic_sidecar::database
