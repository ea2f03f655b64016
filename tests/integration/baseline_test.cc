// Projects whose history does not build their database (docs/baselines.md): the database is
// made by create_all() then `alembic stamp head`, and holds rows. The built binary, Debian's
// alembic / SQLAlchemy / SQLModel, a real PostgreSQL; pg_dump of the live database must not
// change by a byte in any run.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <pqxx/pqxx>

#include "support/cli_runner.h"
#include "support/example_app.h"
#include "support/postgres_server.h"
#include "workspace/process.h"

namespace alembic_sidecar::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

/** One fixture app whose history does not build its database, and its pending changes. */
struct Project {
  std::string name;
  std::string fixture;
  std::string initModule;     // builds a new database: create_all() + `alembic stamp head`
  std::string rows;           // SQL that fills the live database
  std::string nullable;       // change: a new nullable column
  std::string rename;         // change: a column renamed (drop + add)
  std::string required;       // change: a NOT NULL column without default on a populated table
  std::string renameAdvice;   // the rename's recommendation, in the project's own idiom
  std::string whyLiveSchema;  // what auto's choice says

  friend void PrintTo(const Project& p, std::ostream* os) { *os << p.name; }
};

const Project kCreateAll{
    "CreateAllThenStamp",
    "createall_app",
    "tracker.db",
    "INSERT INTO users (name, email, last_login) VALUES ('ada', 'ada@example.com', now()), "
    "('bob', 'bob@example.com', NULL); INSERT INTO projects (title, owner_id) VALUES "
    "('compiler', 1); INSERT INTO audit_log (action, created_at) VALUES ('login', now())",
    "tracker_user_nickname",
    "tracker_last_login_renamed",
    "tracker_project_priority_required",
    "last_seen = Column('last_login', ...)",
    "at revision 46f2de0421e0 (migrations/versions/46f2de0421e0_add_user_last_login.py)",
};

const Project kEmptyRevision{
    "SingleEmptyRevision",
    "emptyrev_app",
    "notes.db",
    "INSERT INTO notebook (title) VALUES ('work'); INSERT INTO note (notebook_id, body, tag) "
    "VALUES (1, 'hello', 'x'), (1, 'world', NULL)",
    "notes_note_pinned",
    "notes_tag_renamed",
    "notes_notebook_color_required",
    "Field(sa_column=sa.Column('tag', ...))",
    "does not create 2 table(s)",
};

class BaselineTest : public ::testing::TestWithParam<Project> {
 protected:
  void SetUp() override {
    app_ = std::make_unique<ExampleApp>(GetParam().fixture);
    // Both apps have a sync env.py: their URL names psycopg2.
    db_ = createTestDatabase("bl").withScheme("postgresql+psycopg2");
    // The project's own way to make a database.
    workspace::ProcessSpec init;
    init.argv = {"/usr/bin/python3", "-m", GetParam().initModule};
    init.cwd = app_->dir();
    init.env = {{"DATABASE_URL", db_.url()}, {"PYTHONDONTWRITEBYTECODE", "1"}};
    auto made = workspace::runProcess(init);
    ASSERT_TRUE(made.ok()) << made.error().message;
    ASSERT_EQ(made->exitCode, 0) << made->err;
    execSql(db_.database, GetParam().rows);
    before_ = dumpDatabase(db_.database);
    ASSERT_THAT(before_, HasSubstr("COPY public."));
  }

  void TearDown() override {
    if (before_.empty()) {
      return;  // SetUp failed
    }
    // Every run, whatever its verdict, left the live database as it was.
    EXPECT_EQ(dumpDatabase(db_.database), before_);
    EXPECT_THAT(databasesWithPrefix(db_.database + "_autogen_"), ::testing::IsEmpty());
  }

  CliResult run(const std::string& command, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {command,          "--project", app_->dir(),
                                     "--database-url", db_.url(),   "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    return runCli(args);
  }

  CliResult revision(const std::string& change, std::vector<std::string> extra = {}) {
    app_->applyChange(change);
    std::vector<std::string> args = {"-m", change};
    args.insert(args.end(), extra.begin(), extra.end());
    return run("revision", args);
  }

  static nlohmann::json finding(const nlohmann::json& report, const std::string& code) {
    return findingIn(report, code);
  }

  void expectLiveSchemaBaseline(const nlohmann::json& report) {
    EXPECT_EQ(report["baseline"]["source"], "live-schema") << report.dump(2);
    EXPECT_THAT(report["baseline"]["reason"].get<std::string>(),
                HasSubstr(GetParam().whyLiveSchema));
    EXPECT_THAT(report["baseline"]["reason"].get<std::string>(), HasSubstr("no row of data"));
  }

  std::unique_ptr<ExampleApp> app_;
  database::ConnectionInfo db_;
  std::string before_;
};

TEST_P(BaselineTest, Check_IsInSyncOnACopyOfTheLiveSchema) {
  auto result = run("check");
  ASSERT_EQ(result.exitCode, 0) << result.out << result.err;
  auto report = result.json();
  EXPECT_EQ(report["reason"], "InSync");
  expectLiveSchemaBaseline(report);
  EXPECT_EQ(report["roundTrip"]["schemaRestored"], true);
  EXPECT_TRUE(finding(report, "LiveSchemaCopyIncomplete").is_null()) << report.dump(2);
}

TEST_P(BaselineTest, NullableColumn_Succeeds) {
  auto before = app_->versionFiles();
  auto result = revision(GetParam().nullable);
  ASSERT_EQ(result.exitCode, 0) << result.out << result.err;
  auto report = result.json();
  EXPECT_EQ(report["reason"], "RevisionCreated");
  expectLiveSchemaBaseline(report);
  EXPECT_EQ(report["operations"].size(), 1u) << report.dump(2);
  EXPECT_EQ(report["operations"][0]["op"], "add_column");
  EXPECT_EQ(report["roundTrip"]["schemaRestored"], true);
  EXPECT_EQ(app_->versionFiles().size(), before.size() + 1);
  EXPECT_TRUE(
      std::filesystem::exists(app_->dir() + "/" + report["revision"]["file"].get<std::string>()));
}

TEST_P(BaselineTest, Rename_EscalatesProbableRenameInTheProjectsIdiom) {
  auto result = revision(GetParam().rename);
  EXPECT_EQ(result.exitCode, 3) << result.out << result.err;
  auto report = result.json();
  EXPECT_EQ(report["phase"], "Escalated");
  EXPECT_EQ(report["reason"], "ProbableRename") << report.dump(2);
  expectLiveSchemaBaseline(report);
  EXPECT_THAT(finding(report, "ProbableRename")["recommendation"].get<std::string>(),
              HasSubstr(GetParam().renameAdvice));
}

TEST_P(BaselineTest, RequiredColumnOnAPopulatedTable_Escalates) {
  auto result = revision(GetParam().required);
  EXPECT_EQ(result.exitCode, 3) << result.out << result.err;
  auto report = result.json();
  EXPECT_EQ(report["phase"], "Escalated");
  auto f = finding(report, "RequiredColumnOnPopulatedTable");
  ASSERT_FALSE(f.is_null()) << report.dump(2);
  EXPECT_THAT(f["message"].get<std::string>(),
              HasSubstr("the scratch copy of the live schema, which has no rows"));
}

TEST_P(BaselineTest, Inplace_RefusesTheRenameBeforeRunningIt) {
  auto result = revision(GetParam().rename, {"--isolation", "inplace"});
  EXPECT_EQ(result.exitCode, 3) << result.out << result.err;
  auto report = result.json();
  EXPECT_EQ(report["phase"], "Escalated");
  EXPECT_FALSE(finding(report, "InplaceRoundTripRefused").is_null()) << report.dump(2);
  EXPECT_THAT(report["message"].get<std::string>(), HasSubstr("is unchanged"));
  EXPECT_THAT(report["message"].get<std::string>(), Not(HasSubstr("scratch")));
  // revision.file is where the file is.
  EXPECT_TRUE(
      std::filesystem::exists(app_->dir() + "/" + report["revision"]["file"].get<std::string>()))
      << report["revision"].dump();
}

TEST_P(BaselineTest, Inplace_RefusesTheRequiredColumnBeforeRunningIt) {
  auto result = revision(GetParam().required, {"--isolation", "inplace"});
  EXPECT_EQ(result.exitCode, 3) << result.out << result.err;
  auto report = result.json();
  EXPECT_FALSE(finding(report, "InplaceRoundTripRefused").is_null()) << report.dump(2);
  auto f = finding(report, "RequiredColumnOnPopulatedTable");
  ASSERT_FALSE(f.is_null());
  EXPECT_THAT(f["message"].get<std::string>(), Not(HasSubstr("scratch")));
  EXPECT_TRUE(
      std::filesystem::exists(app_->dir() + "/" + report["revision"]["file"].get<std::string>()));
}

INSTANTIATE_TEST_SUITE_P(Projects, BaselineTest, ::testing::Values(kCreateAll, kEmptyRevision),
                         [](const ::testing::TestParamInfo<Project>& info) {
                           return info.param.name;
                         });

class CreateAllTest : public BaselineTest {};

TEST_P(CreateAllTest, HistoryBaseline_NamesTheFailingRevisionAndTheFlag) {
  auto result = run("check", {"--baseline", "history"});
  EXPECT_EQ(result.exitCode, 1) << result.out;
  auto report = result.json();
  EXPECT_EQ(report["reason"], "BaselineUpgradeFailed");
  const std::string message = report["message"];
  EXPECT_THAT(message, HasSubstr(GetParam().whyLiveSchema));
  EXPECT_THAT(message, HasSubstr("relation \"users\" does not exist"));
  EXPECT_THAT(message, HasSubstr("--baseline live-schema"));
}

TEST_P(CreateAllTest, RevId_NamesTheRevision) {
  auto result = revision(GetParam().nullable, {"--rev-id", "0003"});
  ASSERT_EQ(result.exitCode, 0) << result.out;
  auto report = result.json();
  EXPECT_EQ(report["revision"]["id"], "0003");
  EXPECT_EQ(report["revision"]["downRevision"], "46f2de0421e0");
  EXPECT_THAT(report["revision"]["file"].get<std::string>(), HasSubstr("0003_"));
}

// The live side of the copy reads pg_catalog; PostgreSQL's deparse functions take ACCESS SHARE
// on the table they describe, the weakest lock there is, which only ACCESS EXCLUSIVE blocks.

TEST_P(CreateAllTest, CopyTakesNoLockAnyOtherSessionCouldFeel) {
  // EXCLUSIVE conflicts with every lock mode but ACCESS SHARE: the copy still completes.
  pqxx::connection holder{db_.libpqConninfo()};
  pqxx::work tx{holder};
  tx.exec("LOCK TABLE users, projects, audit_log IN EXCLUSIVE MODE");
  auto result = run("check", {"--baseline", "live-schema"});
  tx.abort();
  ASSERT_EQ(result.exitCode, 0) << result.out;
  EXPECT_EQ(result.json()["reason"], "InSync");
}

TEST_P(CreateAllTest, CopyGivesUpWithinItsTimeoutsWhileATableIsLockedExclusively) {
  // ACCESS EXCLUSIVE: someone is altering or rewriting `users` right now. A copy taken now
  // would describe a schema that is changing, so the copy fails at lock_timeout, says why,
  // and a retry later succeeds; it never waits in the lock queue.
  pqxx::connection holder{db_.libpqConninfo()};
  pqxx::work tx{holder};
  tx.exec("LOCK TABLE users IN ACCESS EXCLUSIVE MODE");
  auto result = run("check", {"--baseline", "live-schema"});
  tx.abort();
  EXPECT_EQ(result.exitCode, 1) << result.out;
  auto report = result.json();
  EXPECT_EQ(report["reason"], "LiveSchemaCopyFailed");
  EXPECT_THAT(report["message"].get<std::string>(), HasSubstr("lock_timeout"));
  EXPECT_THAT(report["message"].get<std::string>(), HasSubstr("holds a lock on a live table"));
  EXPECT_LT(result.durationMs, 60000);

  auto again = run("check", {"--baseline", "live-schema"});
  EXPECT_EQ(again.exitCode, 0) << again.out;
}

INSTANTIATE_TEST_SUITE_P(Projects, CreateAllTest, ::testing::Values(kCreateAll),
                         [](const ::testing::TestParamInfo<Project>& info) {
                           return info.param.name;
                         });

class EmptyRevisionTest : public BaselineTest {};

TEST_P(EmptyRevisionTest, HistoryBaseline_DriftSaysTheHistoryHasAGap) {
  // On the history's schema (nothing), autogenerate would create every table: the drift
  // check says these tables are in the models and in the database, not made by hand.
  auto result = revision(GetParam().nullable, {"--baseline", "history"});
  EXPECT_EQ(result.exitCode, 3) << result.out;
  auto report = result.json();
  EXPECT_EQ(report["baseline"]["source"], "history");
  bool gap = false;
  for (const auto& f : report["findings"]) {
    if (f["code"] == "DatabaseDrift") {
      const std::string text =
          f["message"].get<std::string>() + f["recommendation"].get<std::string>();
      EXPECT_THAT(text, Not(HasSubstr("created by hand")));
      gap |= text.find("a gap in the history") != std::string::npos &&
             text.find("--baseline live-schema") != std::string::npos;
    }
  }
  EXPECT_TRUE(gap) << report.dump(2);
}

INSTANTIATE_TEST_SUITE_P(Projects, EmptyRevisionTest, ::testing::Values(kEmptyRevision),
                         [](const ::testing::TestParamInfo<Project>& info) {
                           return info.param.name;
                         });

}  // namespace
}  // namespace alembic_sidecar::testing
