#include "database/live_schema.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

namespace alembic_sidecar::database {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<std::optional<std::string>> row(std::vector<std::optional<std::string>> cells) {
  cells.resize(8);
  return cells;
}

std::vector<std::string> sqlOf(const SchemaScript& script) {
  std::vector<std::string> out;
  for (const auto& s : script.statements) {
    out.push_back(s.sql);
  }
  return out;
}

size_t indexOf(const SchemaScript& script, const std::string& prefix) {
  for (size_t i = 0; i < script.statements.size(); ++i) {
    if (script.statements[i].sql.rfind(prefix, 0) == 0) {
      return i;
    }
  }
  ADD_FAILURE() << "no statement starts with " << prefix;
  return script.statements.size();
}

// Rows as liveSchemaQuery() returns them, in the server's (arbitrary) order.
QueryRows trackerRows() {
  return {
      row({"foreign-key", "30", "public", "projects", "projects_owner_id_fkey",
           "FOREIGN KEY (owner_id) REFERENCES users(id)"}),
      row({"column", "2", "public", "users", "name character varying(100) NOT NULL", "local"}),
      row({"column", "1", "public", "users",
           "id integer DEFAULT nextval('users_id_seq'::regclass) NOT NULL", "local"}),
      row({"table", "10", "public", "users", "r", "p", std::nullopt, std::nullopt}),
      row({"table", "11", "public", "projects", "r", "u", std::nullopt, std::nullopt}),
      row({"column", "1", "public", "projects", "id integer NOT NULL", "local"}),
      row({"column", "2", "public", "projects", "owner_id integer NOT NULL", "local"}),
      row({"sequence", "9", "public", "users_id_seq",
           "AS integer INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1 NO CYCLE",
           "public.users.id"}),
      row({"constraint", "20", "public", "users", "users_pkey", "PRIMARY KEY (id)"}),
      row({"index", "25", "public", "ix_projects_owner_id",
           "CREATE INDEX ix_projects_owner_id ON public.projects USING btree (owner_id)", "r"}),
      row({"enum", "5", "public", "role", "'admin', 'it''s'"}),
      row({"schema", "3", "billing", "billing"}),
      row({"extension", "4", "public", "citext", "1.6"}),
      row({"view", "40", "public", "active_users", " SELECT users.id FROM users;"}),
      row({"comment", "100", "public", "users", "COMMENT ON TABLE public.users IS 'people'"}),
      row({"function", "6", "public", "total(integer)", std::nullopt, "a"}),
  };
}

TEST(LiveSchema, RebuildsInDependencyOrder) {
  auto script = buildSchemaScript(trackerRows(), "alembic_version", {"46f2de0421e0"});
  ASSERT_TRUE(script.ok()) << script.error().message;
  const auto& s = *script;
  // Schemas and extensions, then types and sequences, then tables, then what hangs off them.
  EXPECT_LT(indexOf(s, "CREATE SCHEMA"), indexOf(s, "CREATE EXTENSION"));
  EXPECT_LT(indexOf(s, "CREATE EXTENSION"), indexOf(s, "CREATE TYPE"));
  EXPECT_LT(indexOf(s, "CREATE SEQUENCE"), indexOf(s, "CREATE TABLE \"public\".\"users\""));
  EXPECT_LT(indexOf(s, "CREATE TABLE \"public\".\"users\""),
            indexOf(s, "CREATE UNLOGGED TABLE \"public\".\"projects\""));
  EXPECT_LT(indexOf(s, "CREATE UNLOGGED TABLE"), indexOf(s, "ALTER SEQUENCE"));
  EXPECT_LT(indexOf(s, "ALTER TABLE \"public\".\"users\" ADD CONSTRAINT \"users_pkey\""),
            indexOf(s, "CREATE INDEX"));
  EXPECT_LT(indexOf(s, "CREATE INDEX"),
            indexOf(s, "ALTER TABLE \"public\".\"projects\" ADD CONSTRAINT"));
  EXPECT_LT(indexOf(s, "ALTER TABLE \"public\".\"projects\" ADD CONSTRAINT"),
            indexOf(s, "CREATE VIEW"));
  EXPECT_LT(indexOf(s, "CREATE VIEW"), indexOf(s, "COMMENT ON"));
  EXPECT_EQ(s.statements.back().sql,
            "INSERT INTO \"alembic_version\" (version_num) VALUES ('46f2de0421e0')");
}

TEST(LiveSchema, ColumnsInTheirOrderAndNamesQuoted) {
  auto script = buildSchemaScript(trackerRows(), "alembic_version", {});
  ASSERT_TRUE(script.ok());
  auto sql = sqlOf(*script);
  EXPECT_THAT(sql, ::testing::Contains(
                       "CREATE TABLE \"public\".\"users\" (id integer DEFAULT "
                       "nextval('users_id_seq'::regclass) NOT NULL, name character varying(100) "
                       "NOT NULL)"));
  EXPECT_THAT(sql,
              ::testing::Contains("CREATE TYPE \"public\".\"role\" AS ENUM ('admin', 'it''s')"));
  EXPECT_THAT(sql, ::testing::Contains(
                       "ALTER SEQUENCE \"public\".\"users_id_seq\" OWNED BY public.users.id"));
  EXPECT_THAT(sql, ::testing::Contains(
                       "CREATE EXTENSION IF NOT EXISTS \"citext\" WITH SCHEMA \"public\" VERSION "
                       "'1.6'"));
}

TEST(LiveSchema, SaysWhatItLeavesOutAndCountsWhatItMakes) {
  auto rows = trackerRows();
  rows.push_back(row({"table", "12", "public", "remote_orders", "f", "p"}));
  auto script = buildSchemaScript(rows, "alembic_version", {});
  ASSERT_TRUE(script.ok());
  EXPECT_THAT(script->skipped,
              ElementsAre("aggregate public.total(integer)", "foreign table public.remote_orders"));
  EXPECT_THAT(script->summary, HasSubstr("2 tables"));
  EXPECT_THAT(script->summary, HasSubstr("1 view,"));
  EXPECT_THAT(script->summary, ::testing::Not(HasSubstr("trigger")));  // none: not listed
  for (const auto& s : script->statements) {
    EXPECT_THAT(s.sql, ::testing::Not(HasSubstr("remote_orders")));
  }
}

TEST(LiveSchema, PartitionsTakeTheirColumnsFromTheParent) {
  QueryRows rows = {
      row({"table", "1", "public", "events", "p", "p", "RANGE (at)", std::nullopt}),
      row({"column", "1", "public", "events", "at timestamp without time zone NOT NULL", "local"}),
      row({"table", "2", "public", "events_2026", "r", "p", std::nullopt,
           "PARTITION OF public.events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')"}),
      row({"column", "1", "public", "events_2026", "at timestamp without time zone NOT NULL",
           "inherited"}),
  };
  auto script = buildSchemaScript(rows, "alembic_version", {});
  ASSERT_TRUE(script.ok());
  EXPECT_THAT(sqlOf(*script),
              ElementsAre("CREATE TABLE \"public\".\"events\" (at timestamp without time zone NOT "
                          "NULL) PARTITION BY RANGE (at)",
                          "CREATE TABLE \"public\".\"events_2026\" PARTITION OF public.events FOR "
                          "VALUES FROM ('2026-01-01') TO ('2027-01-01')"));
}

TEST(LiveSchema, VersionTableInItsSchema) {
  auto script = buildSchemaScript({}, "acme.acme_version", {"a1", "b2"});
  ASSERT_TRUE(script.ok());
  EXPECT_THAT(sqlOf(*script),
              ElementsAre("INSERT INTO \"acme\".\"acme_version\" (version_num) VALUES ('a1')",
                          "INSERT INTO \"acme\".\"acme_version\" (version_num) VALUES ('b2')"));
  EXPECT_EQ(versionRowsQuery("acme.acme_version").sql,
            "SELECT version_num::text FROM \"acme\".\"acme_version\" ORDER BY 1");
}

TEST(LiveSchema, MalformedRowIsAnError) {
  auto script = buildSchemaScript({row({"table", "not a number", "public", "t", "r", "p"})},
                                  "alembic_version", {});
  ASSERT_FALSE(script.ok());
  EXPECT_EQ(script.error().reason, "InternalError");
}

TEST(LiveSchema, QuotesIdentifiers) {
  EXPECT_EQ(quoteQualified("my schema", "we\"ird"), "\"my schema\".\"we\"\"ird\"");
  EXPECT_EQ(quoteTableName("alembic_version"), "\"alembic_version\"");
}

TEST(LiveSchema, QueriesReadOnlyTheCatalog) {
  // One statement, no row of a user table: only pg_catalog relations.
  const std::string sql = liveSchemaQuery().sql;
  EXPECT_THAT(sql, ::testing::Not(HasSubstr(";")));
  EXPECT_THAT(sql, HasSubstr("pg_get_indexdef"));
  EXPECT_THAT(sql, ::testing::Not(::testing::ContainsRegex("FROM (public|\")")));
}

}  // namespace
}  // namespace alembic_sidecar::database
