// PgDatabase::queryReadOnly on the real PostgreSQL: what the live-data checks promise about
// the app's database (read-only, one statement, bounded in time) holds at the server.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "core/redactor.h"
#include "database/pg_database.h"
#include "support/postgres_server.h"

namespace alembic_sidecar::database {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

class ReadOnlyQueryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    conn_ = testing::createTestDatabase("roq");
    testing::execSql(conn_.database, "CREATE TABLE t (id int PRIMARY KEY, v text)");
    testing::execSql(conn_.database, "INSERT INTO t VALUES (1, 'a'), (2, NULL)");
  }

  std::vector<core::Result<QueryRows>> run(std::vector<ReadOnlyQuery> queries,
                                           ReadOnlyLimits limits = {}) {
    PgDatabase db(conn_, std::make_shared<core::Redactor>());
    auto results = db.queryReadOnly(conn_.database, queries, limits);
    EXPECT_TRUE(results.ok()) << results.error().message;
    return results.ok() ? *results : std::vector<core::Result<QueryRows>>{};
  }

  int64_t rows() {
    PgDatabase db(conn_, std::make_shared<core::Redactor>());
    auto results = db.queryReadOnly(conn_.database, {{"SELECT count(*) FROM t", {}}}, {});
    return std::stoll(*(*results)[0]->at(0).at(0));
  }

  ConnectionInfo conn_;
};

TEST_F(ReadOnlyQueryTest, ReturnsRowsWithNullsAndParameters) {
  auto results = run({{"SELECT id, v FROM t WHERE id >= $1::int ORDER BY id", {"1"}}});
  ASSERT_THAT(results, SizeIs(1));
  ASSERT_TRUE(results[0].ok()) << results[0].error().message;
  const auto& r = *results[0];
  ASSERT_THAT(r, SizeIs(2));
  EXPECT_EQ(r[0][1], "a");
  EXPECT_FALSE(r[1][1].has_value());
}

TEST_F(ReadOnlyQueryTest, WritesAreRefusedByTheServer) {
  auto results = run({{"DELETE FROM t", {}},
                      {"WITH d AS (DELETE FROM t RETURNING 1) SELECT count(*) FROM d", {}},
                      {"SELECT set_config('transaction_read_only', 'off', true)", {}},
                      {"CREATE TABLE u (x int)", {}}});
  ASSERT_THAT(results, SizeIs(4));
  for (size_t i = 0; i < results.size(); ++i) {
    if (i == 2) {
      continue;  // may be refused or not; what matters is that nothing below it writes
    }
    ASSERT_FALSE(results[i].ok()) << i;
    EXPECT_THAT(results[i].error().message, HasSubstr("read-only transaction")) << i;
  }
  EXPECT_EQ(rows(), 2);
}

TEST_F(ReadOnlyQueryTest, ASecondStatementCannotRideAlong) {
  auto results = run({{"SELECT 1; COMMIT; DELETE FROM t", {}}, {"SELECT 1; DELETE FROM t", {}}});
  ASSERT_THAT(results, SizeIs(2));
  for (const auto& r : results) {
    ASSERT_FALSE(r.ok());
    EXPECT_THAT(r.error().message, HasSubstr("multiple commands"));
  }
  EXPECT_EQ(rows(), 2);
}

TEST_F(ReadOnlyQueryTest, StatementTimeoutIsReportedAndTheNextQueryStillRuns) {
  ReadOnlyLimits limits;
  limits.statementTimeout = std::chrono::milliseconds(200);
  auto results = run({{"SELECT pg_sleep(5)", {}}, {"SELECT 42", {}}}, limits);
  ASSERT_THAT(results, SizeIs(2));
  ASSERT_FALSE(results[0].ok());
  EXPECT_EQ(results[0].error().reason, "Timeout");
  EXPECT_THAT(results[0].error().message, HasSubstr("statement_timeout (200 ms)"));
  ASSERT_TRUE(results[1].ok());
  EXPECT_EQ((*results[1])[0][0], "42");
}

TEST_F(ReadOnlyQueryTest, ALockedTableMakesTheQueryGiveUpInsteadOfQueueing) {
  // Another session holds ACCESS EXCLUSIVE (an ALTER TABLE in progress, say).
  pqxx::connection other{conn_.libpqConninfo()};
  pqxx::work lock{other};
  lock.exec("LOCK TABLE t IN ACCESS EXCLUSIVE MODE");
  ReadOnlyLimits limits;
  limits.lockTimeout = std::chrono::milliseconds(100);
  auto results = run({{"SELECT count(*) FROM t", {}}}, limits);
  ASSERT_THAT(results, SizeIs(1));
  ASSERT_FALSE(results[0].ok());
  EXPECT_EQ(results[0].error().reason, "Timeout");
  EXPECT_THAT(results[0].error().message, HasSubstr("lock_timeout (100 ms)"));
  lock.abort();
}

TEST_F(ReadOnlyQueryTest, UnreachableServerIsTheOuterError) {
  ConnectionInfo nowhere = conn_;
  nowhere.port = 1;
  PgDatabase db(nowhere, std::make_shared<core::Redactor>());
  auto results = db.queryReadOnly(nowhere.database, {{"SELECT 1", {}}}, {});
  ASSERT_FALSE(results.ok());
  EXPECT_EQ(results.error().reason, "DatabaseUnavailable");
}

}  // namespace
}  // namespace alembic_sidecar::database
