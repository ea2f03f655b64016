// What the tool sends to a live database, on the real PostgreSQL (issue 21): every session
// PgDatabase opens carries lock_timeout, statement_timeout, idle_in_transaction_session_timeout
// and default_transaction_read_only from its first statement, so schema reads and fingerprints
// give up on a locked table instead of queueing; conversions are tried for real (a domain,
// array elements, json to a composite, timestamp to date); an unreachable live database leaves
// every data-dependent operation of a revision made by real autogenerate escalated, and no
// other; every hostile guard expression is refused before a query is sent.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "alembic/revision_file.h"
#include "core/redactor.h"
#include "database/conversion_trial.h"
#include "database/live_data.h"
#include "database/pg_database.h"
#include "support/example_app.h"
#include "support/free_port.h"
#include "support/hostile_expressions.h"
#include "support/postgres_server.h"

namespace alembic_sidecar::database {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

class LiveStatementsTest : public ::testing::Test {
 protected:
  void SetUp() override { conn_ = testing::createTestDatabase("stmt"); }

  std::unique_ptr<PgDatabase> db() {
    return std::make_unique<PgDatabase>(conn_, std::make_shared<core::Redactor>());
  }

  void sql(const std::string& statement) { testing::execSql(conn_.database, statement); }

  /** One read-only query; its rows or its error. */
  core::Result<QueryRows> query(const std::string& text, ReadOnlyLimits limits = {}) {
    auto results = db()->queryReadOnly(conn_.database, {{text, {}}}, limits);
    if (!results) {
      return results.error();
    }
    return (*results)[0];
  }

  ConnectionInfo conn_;
};

TEST_F(LiveStatementsTest, EverySessionStartsReadOnlyWithItsTimeouts) {
  auto rows = query(
      "SELECT current_setting('default_transaction_read_only'), "
      "current_setting('idle_in_transaction_session_timeout'), current_setting('lock_timeout'), "
      "current_setting('statement_timeout'), split_part(current_setting('search_path'), ',', 1)");
  ASSERT_TRUE(rows.ok()) << rows.error().message;
  EXPECT_EQ((*rows)[0][0], "on");
  EXPECT_EQ((*rows)[0][1], "30s");
  EXPECT_EQ((*rows)[0][2], "1s");
  EXPECT_EQ((*rows)[0][3], "10s");  // the check's own limit, set for its transaction
  EXPECT_EQ((*rows)[0][4], "pg_catalog");
}

TEST_F(LiveStatementsTest, SchemaReadsGiveUpOnALockedTableInsteadOfQueueing) {
  sql("CREATE TABLE t (id int PRIMARY KEY, v text CHECK (v <> 'x') DEFAULT 'a')");
  sql("CREATE INDEX t_v ON t (lower(v)) WHERE v IS NOT NULL");
  sql("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)");
  auto unlocked = db()->fingerprint(conn_.database);
  ASSERT_TRUE(unlocked.ok()) << unlocked.error().message;

  pqxx::connection holder{conn_.libpqConninfo()};
  pqxx::work lock{holder};
  lock.exec("LOCK TABLE t, alembic_version IN ACCESS EXCLUSIVE MODE");
  // pg_get_indexdef / pg_get_constraintdef / pg_get_expr take the table's lock: without a
  // lock_timeout these reads would wait as long as the lock lasts.
  auto fingerprint = db()->fingerprint(conn_.database);
  ASSERT_FALSE(fingerprint.ok());
  EXPECT_THAT(fingerprint.error().message, HasSubstr("lock timeout"));
  auto versions = db()->appliedRevisions(conn_.database, "alembic_version");
  ASSERT_FALSE(versions.ok());
  EXPECT_THAT(versions.error().message, HasSubstr("lock timeout"));
  auto count = query("SELECT count(*) FROM t");
  ASSERT_FALSE(count.ok());
  EXPECT_EQ(count.error().reason, "Timeout");
  // The identity and the probe touch no table: they still answer.
  EXPECT_TRUE(db()->identity(conn_.database).ok());
  EXPECT_TRUE(db()->probe(ProbePolicy{}).ok());
  lock.abort();
  EXPECT_TRUE(db()->fingerprint(conn_.database).ok());
}

/** A conversion trial of column `column` of table `t` (primary key id) to `type`. */
std::string trial(const std::string& column, const std::string& type,
                  const std::string& usingSql = "", const std::string& back = "") {
  ConversionTrialSpec s;
  s.qualifiedTable = "\"public\".\"t\"";
  s.alias = "t";
  s.keyColumns = {"id"};
  s.showKey = true;
  s.column = column;
  s.newType = type;
  s.usingSql = usingSql;
  s.backType = back;
  return conversionTrialSql(s);
}

TEST_F(LiveStatementsTest, ConversionsAreTriedForRealOverTheLiveRows) {
  sql("CREATE DOMAIN email_address AS text CHECK (VALUE LIKE '%@%')");
  sql("CREATE TYPE pair AS (a int, b text)");
  sql("CREATE TABLE t (id int PRIMARY KEY, mail text, tags text[], doc json, at timestamp, "
      "label varchar(10))");
  sql("INSERT INTO t SELECT g, 'u' || g || '@x', ARRAY[g::text], json_build_object('a', g, "
      "'b', 'x'), '2024-01-01'::timestamp + g * interval '1 hour', 'l' || g "
      "FROM generate_series(1, 5000) g");
  struct Case {
    const char* name;
    std::string sql;
  };
  // Each converts every row: verified.
  for (const auto& c :
       {Case{"TextToDomain", trial("mail", "email_address")},
        Case{"ArrayElements", trial("tags", "integer[]", "tags::integer[]", "text[]")},
        Case{"JsonToComposite", trial("doc", "pair", "json_populate_record(NULL::pair, doc)")},
        Case{"TimestampToDate", trial("at", "date", "", "timestamp without time zone")},
        Case{"NarrowerVarchar", trial("label", "varchar(5)")}}) {
    auto rows = query(c.sql);
    EXPECT_TRUE(rows.ok()) << c.name << ": " << rows.error().message;
  }
  // One bad row each: the first failing key and PostgreSQL's error, never the value.
  sql("UPDATE t SET mail = 'nobody' WHERE id = 4321");
  sql("UPDATE t SET tags = ARRAY['x7'] WHERE id = 17");
  sql("UPDATE t SET doc = '{\"a\": \"seven\"}' WHERE id = 2500");
  sql("UPDATE t SET label = 'longlabel' WHERE id = 4000");
  struct Failing {
    const char* name;
    std::string sql;
    const char* key;
    const char* stage;
    const char* error;
  };
  for (const auto& c :
       {Failing{"TextToDomain", trial("mail", "email_address"), "4321", "assign",
                "violates check constraint \"email_address_check\""},
        Failing{"ArrayElements", trial("tags", "integer[]", "tags::integer[]"), "17", "convert",
                "invalid input syntax for type integer: \"...\""},
        Failing{"JsonToComposite", trial("doc", "pair", "json_populate_record(NULL::pair, doc)"),
                "2500", "convert", "invalid input syntax for type integer"},
        Failing{"NarrowerVarchar", trial("label", "varchar(5)"), "4000", "assign",
                "value too long for type character varying(5)"}}) {
    auto rows = query(c.sql);
    ASSERT_FALSE(rows.ok()) << c.name;
    auto failure = parseConversionFailure(rows.error().message);
    ASSERT_TRUE(failure) << c.name << ": " << rows.error().message;
    EXPECT_EQ(failure->key, c.key) << c.name;
    EXPECT_EQ(failure->stage, c.stage) << c.name;
    EXPECT_THAT(failure->error, HasSubstr(c.error)) << c.name;
    EXPECT_THAT(failure->error, ::testing::Not(HasSubstr("nobody"))) << c.name;
    EXPECT_THAT(failure->error, ::testing::Not(HasSubstr("seven"))) << c.name;
  }
  // The downgrade's conversion on the upgraded values: bigint values back into integer.
  sql("ALTER TABLE t ADD COLUMN big bigint");
  sql("UPDATE t SET big = id");
  sql("UPDATE t SET big = 3000000000 WHERE id = 99");
  auto back = query(trial("big", "numeric(20,0)", "", "integer"));
  ASSERT_FALSE(back.ok());
  auto failure = parseConversionFailure(back.error().message);
  ASSERT_TRUE(failure) << back.error().message;
  EXPECT_EQ(failure->stage, "back");
  EXPECT_EQ(failure->key, "99");
  EXPECT_THAT(failure->error, HasSubstr("integer out of range"));
  // A lock is no data error: it stays an error of the query (unverified), never a failure.
  pqxx::connection holder{conn_.libpqConninfo()};
  pqxx::work lock{holder};
  lock.exec("LOCK TABLE t IN ACCESS EXCLUSIVE MODE");
  auto locked = query(trial("mail", "email_address"));
  ASSERT_FALSE(locked.ok());
  EXPECT_EQ(locked.error().reason, "Timeout");
  EXPECT_FALSE(parseConversionFailure(locked.error().message));
  lock.abort();
  // Read-only for real: the trials changed nothing.
  auto rows = query("SELECT count(*) FROM t WHERE mail = 'nobody'");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ((*rows)[0][0], "1");
}

TEST_F(LiveStatementsTest, UnreachableLiveDatabase_EscalatesEveryDataDependentOperationOnly) {
  // A revision made by real autogenerate: a unique index (data-dependent), a nullable column
  // (not), a CHECK constraint (data-dependent), a dropped index (not).
  testing::ExampleApp app;
  app.alembic({"upgrade", "head"}, conn_.url());
  app.applyChange("team_name_unique");
  app.applyChange("user_add_phone");
  app.applyChange("item_price_check");
  app.alembic({"revision", "--autogenerate", "-m", "mixed"}, conn_.url());
  std::string file;
  for (const auto& f : app.versionFiles()) {
    if (f.find("mixed") != std::string::npos) {
      file = f;
    }
  }
  ASSERT_FALSE(file.empty());
  auto parsed = alembic::parseRevisionFile(app.read("migrations/versions/" + file));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  std::vector<std::string> ops;
  for (const auto& op : parsed->upgradeOps) {
    ops.push_back(op.op);
  }
  EXPECT_THAT(ops, ::testing::UnorderedElementsAre("drop_index", "create_index", "add_column",
                                                   "create_check_constraint"));

  ConnectionInfo nowhere = conn_;
  nowhere.port = testing::freePort();
  PgDatabase unreachable(nowhere, std::make_shared<core::Redactor>());
  alembic::AnalysisContext ctx;
  ctx.file = file;
  auto findings = checkLiveData(unreachable, conn_.database, *parsed, ctx);
  ASSERT_THAT(findings, SizeIs(2));
  for (const auto& f : findings) {
    EXPECT_EQ(f.code, "LiveCheckIncomplete");
    EXPECT_EQ(f.severity, "escalation");
    EXPECT_THAT(f.message, HasSubstr("could not be read"));
    EXPECT_THAT(f.recommendation, HasSubstr("SELECT "));
  }
  std::vector<std::string> messages = {findings[0].message, findings[1].message};
  EXPECT_THAT(messages, ::testing::UnorderedElementsAre(
                            HasSubstr("unique index ix_team_name on team (name)"),
                            HasSubstr("check constraint ck_item_price_cents_nonnegative")));
  EXPECT_THAT(ctx.liveRowCounts, IsEmpty());
}

TEST_F(LiveStatementsTest, HostileExpressionsAreRefusedBeforeAnyQueryRuns) {
  sql("CREATE TABLE t (id int PRIMARY KEY, name text, x int)");
  sql("INSERT INTO t VALUES (1, 'a', 1)");
  for (const char* expression : testing::kHostileExpressions) {
    SCOPED_TRACE(expression);
    std::string literal;
    for (char c : std::string(expression)) {
      literal += c == '\n'                ? std::string("\\n")
                 : c == '\'' || c == '\\' ? std::string("\\") + c
                                          : std::string(1, c);
    }
    auto parsed = alembic::parseRevisionFile(
        "revision = 'r2'\ndown_revision = 'r1'\n\ndef upgrade():\n"
        "    op.create_check_constraint('ck', 't', '" +
        literal +
        "')\n"
        "    op.alter_column('t', 'x', type_=sa.BigInteger(), postgresql_using='" +
        literal +
        "')\n    op.create_index('ix', 't', ['name'], unique=True, postgresql_where=sa.text('" +
        literal + "'))\n\ndef downgrade():\n    pass\n");
    ASSERT_TRUE(parsed.ok());
    // Planned against the real catalog: no check at all, three escalations.
    std::vector<TableRef> refs = {{"", "t"}};
    auto answers = db()->queryReadOnly(conn_.database, {catalogQuery(refs)}, {});
    ASSERT_TRUE(answers.ok() && (*answers)[0].ok());
    auto plan =
        planLiveChecks(*parsed, readCatalog(refs, *(*answers)[0]), LiveCheckLimits{}, "v.py");
    EXPECT_THAT(plan.checks, IsEmpty());
    ASSERT_THAT(plan.unverified, SizeIs(3));
    alembic::AnalysisContext ctx;
    auto findings = checkLiveData(*db(), conn_.database, *parsed, ctx);
    ASSERT_THAT(findings, SizeIs(3));
    for (const auto& f : findings) {
      EXPECT_EQ(f.code, "LiveCheckIncomplete");
      EXPECT_THAT(f.message, HasSubstr("not evaluated on the live database"));
    }
  }
}

}  // namespace
}  // namespace alembic_sidecar::database
