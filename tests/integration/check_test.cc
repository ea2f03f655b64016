// `alembic-sidecar check` (CI) and `alembic-sidecar upgrade` on the real PostgreSQL and
// Debian's alembic.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "support/cli_runner.h"
#include "support/example_app.h"
#include "support/postgres_server.h"
#include "workspace/process.h"

namespace alembic_sidecar::testing {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class CheckTest : public ::testing::Test {
 protected:
  void SetUp() override { db_ = createTestDatabase("chk"); }

  CliResult run(const std::string& command, std::vector<std::string> extra = {},
                std::map<std::string, std::string> env = {}) {
    std::vector<std::string> args = {command, "--project", app_.dir(), "--database-url",
                                     db_.url(), "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    env.emplace("ALEMBIC_SIDECAR_SQUAWK",
                std::string(ALEMBIC_SIDECAR_SOURCE_DIR) + "/.tools/bin/squawk");
    return runCli(args, env);
  }

  static nlohmann::json finding(const nlohmann::json& report, const std::string& code) {
    return findingIn(report, code);
  }

  ExampleApp app_;
  database::ConnectionInfo db_;
};

TEST_F(CheckTest, ExampleApp_IsInSyncAndReportsItsAppliedHistoryAsWarnings) {
  auto before = app_.versionFiles();
  // By default lint finds nothing in this history: every rule it trips is one SQLAlchemy trips
  // on any new table (prefer-identity, prefer-text-field, ...). Turn those back on to see
  // where the results land.
  auto result = run("check", {},
                    {{"ALEMBIC_SIDECAR_LINT_EXCLUDE",
                      "prefer-robust-stmts,require-lock-timeout,require-statement-timeout,"
                      "transaction-nesting"}});
  ASSERT_EQ(result.exitCode, 0) << result.err << result.out;
  auto report = result.json();
  EXPECT_EQ(report["action"], "check");
  EXPECT_EQ(report["reason"], "InSync");
  EXPECT_EQ(report["roundTrip"]["schemaRestored"], true);
  // Revision 1 creates userrole without dropping it: older history is reported, not blocking.
  auto f = finding(report, "EnumTypeNotDropped");
  ASSERT_FALSE(f.is_null());
  EXPECT_EQ(f["severity"], "warning");
  EXPECT_THAT(f["file"].get<std::string>(), HasSubstr("d2b6920ef9c7"));
  // squawk results are mapped to the revision that carries the statement.
  bool mapped = false;
  for (const auto& l : report["findings"]) {
    mapped |= l["code"].get<std::string>().rfind("Lint", 0) == 0 &&
              l["file"].get<std::string>().find("0697a8d1f932") != std::string::npos;
  }
  EXPECT_TRUE(mapped) << report.dump(2);
  EXPECT_EQ(app_.versionFiles(), before);
  EXPECT_THAT(databasesWithPrefix(db_.database + "_autogen_"), IsEmpty());
}

TEST_F(CheckTest, PendingModelChange_FailsWithModelsOutOfSyncAndWritesNothing) {
  app_.applyChange("user_add_phone");
  auto before = app_.versionFiles();
  auto result = run("check");
  EXPECT_EQ(result.exitCode, 1) << result.out;
  auto report = result.json();
  EXPECT_EQ(report["reason"], "ModelsOutOfSync");
  EXPECT_THAT(report["message"].get<std::string>(), HasSubstr("add_column user.phone"));
  EXPECT_THAT(report["operations"],
              Contains(nlohmann::json{{"op", "add_column"}, {"table", "user"}, {"column", "phone"}}));
  EXPECT_EQ(app_.versionFiles(), before);
}

TEST_F(CheckTest, RoundTripOfTheWholeHistory_FindsTheEnumTheFirstRevisionLeavesBehind) {
  auto result = run("check", {"--roundtrip-last", "3"});
  EXPECT_EQ(result.exitCode, 1) << result.out;
  auto report = result.json();
  EXPECT_EQ(report["reason"], "RoundTripSchemaMismatch");
  EXPECT_THAT(report["message"].get<std::string>(), HasSubstr("enum public.userrole"));
  EXPECT_EQ(finding(report, "EnumTypeNotDropped")["severity"], "escalation");
  EXPECT_EQ(report["roundTrip"]["reupgrade"], "Failed");
}

TEST_F(CheckTest, RawSqlInTheNewestRevision_NeedsApproval) {
  // Commit a revision that carries op.execute (approved when it was generated).
  app_.replace("migrations/env.py", "def do_run_migrations(connection) -> None:\n",
               "def add_comment(context, revision, directives):\n"
               "    from alembic.operations import ops\n"
               "    if not directives[0].upgrade_ops.is_empty():\n"
               "        directives[0].upgrade_ops.ops.append(\n"
               "            ops.ExecuteSQLOp(\"UPDATE team SET name = name WHERE false\"))\n\n\n"
               "def do_run_migrations(connection) -> None:\n");
  app_.replace("migrations/env.py", "target_metadata=target_metadata, compare_type=True)",
               "target_metadata=target_metadata, compare_type=True,\n"
               "                      process_revision_directives=add_comment)");
  app_.applyChange("user_add_phone");
  auto made = run("revision", {"-m", "phone with comment", "--approve", "raw-sql"});
  ASSERT_EQ(made.exitCode, 0) << made.out;

  auto unapproved = run("check");
  EXPECT_EQ(unapproved.exitCode, 3) << unapproved.out;
  EXPECT_EQ(unapproved.json()["reason"], "RawSQLNotApproved");

  auto approved = run("check", {"--approve", "raw-sql"});
  EXPECT_EQ(approved.exitCode, 0) << approved.out;
}

TEST_F(CheckTest, MultipleHeads_Fail) {
  workspace::ProcessSpec branch;
  branch.argv = {"alembic", "revision", "-m", "fork", "--head", "0697a8d1f932", "--splice"};
  branch.cwd = app_.dir();
  auto made = workspace::runProcess(branch);
  ASSERT_TRUE(made.ok());
  ASSERT_EQ(made->exitCode, 0);
  auto result = run("check");
  EXPECT_EQ(result.exitCode, 1);
  EXPECT_EQ(result.json()["reason"], "MultipleHeads");
}

TEST_F(CheckTest, Upgrade_BringsTheAppDatabaseToHead) {
  auto result = run("upgrade");
  ASSERT_EQ(result.exitCode, 0) << result.out;
  auto report = result.json();
  EXPECT_EQ(report["reason"], "Upgraded");
  EXPECT_THAT(report["message"].get<std::string>(), HasSubstr("from base to 2f2b53fd94b8"));
  pqxx::connection conn{db_.libpqConninfo()};
  pqxx::nontransaction tx{conn};
  EXPECT_EQ(tx.exec1("SELECT version_num FROM alembic_version")[0].as<std::string>(),
            "2f2b53fd94b8");

  auto again = run("upgrade");
  ASSERT_EQ(again.exitCode, 0);
  EXPECT_THAT(again.json()["message"].get<std::string>(), HasSubstr("already at head"));
}

}  // namespace
}  // namespace alembic_sidecar::testing
