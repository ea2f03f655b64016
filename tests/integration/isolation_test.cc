// Apps nobody here wrote, on a live database full of rows: `revision` and `check` either
// isolate correctly or stop with IsolationBreached before any statement runs; either way the
// live database's schema dump and row counts are what they were. Real PostgreSQL, Debian's
// alembic, the built binary.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "support/cli_runner.h"
#include "support/example_app.h"
#include "support/postgres_server.h"
#include "support/temp_dir.h"

namespace alembic_sidecar::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

/** A fixture app, how its live database is seeded, and a pending model change. */
struct LiveApp {
  std::string fixture;
  std::string versionsDir;
  std::string scheme;  // what the app's own DATABASE_URL would say
  std::string change;
  std::string seedSql;
  std::string expectedOp;  // in the generated file

  friend void PrintTo(const LiveApp& app, std::ostream* os) { *os << app.fixture; }
};

const LiveApp kAsyncApp{
    "example_app", "migrations/versions", "postgresql+asyncpg", "user_add_phone",
    "INSERT INTO team (name) VALUES ('core'), ('web');"
    "INSERT INTO \"user\" (name, email, role, team_id) SELECT 'u' || g, 'u' || g || '@x.io', "
    "'member', 1 FROM generate_series(1, 500) g;",
    "op.add_column('user', sa.Column('phone'"};
const LiveApp kSyncApp{
    "sync_app", "migrations/versions", "postgresql+psycopg2", "sync_product_add_sku",
    "INSERT INTO warehouse (name) VALUES ('north'), ('south');"
    "INSERT INTO product (name, warehouse_id) SELECT 'p' || g, 1 + g % 2 "
    "FROM generate_series(1, 1000) g;",
    "op.add_column('product', sa.Column('sku'"};

class IsolationTest : public ::testing::Test {
 protected:
  /** A live database at head with rows, and the app that owns it. */
  void prepare(const LiveApp& spec, const std::map<std::string, std::string>& env = {}) {
    spec_ = spec;
    app_ = std::make_unique<ExampleApp>(spec.fixture, spec.versionsDir);
    live_ = createTestDatabase("live").withScheme(spec.scheme);
    auto up = runCli({"upgrade", "--project", app_->dir(), "--database-url", live_.url(),
                      "--json"},
                     env);
    ASSERT_EQ(up.exitCode, 0) << up.out << up.err;
    execSql(live_.database, spec.seedSql);
    before_ = snapshotDatabase(live_.database);
    ASSERT_FALSE(before_.rowCounts.empty());
  }

  CliResult run(const std::string& action, std::vector<std::string> extra = {},
                const std::map<std::string, std::string>& env = {}) {
    std::vector<std::string> args = {action, "--project", app_->dir(), "--database-url",
                                     live_.url(), "--json"};
    if (action == "revision") {
      args.insert(args.begin() + 1, {"-m", "pending change"});
    }
    args.insert(args.end(), extra.begin(), extra.end());
    return runCli(args, env);
  }

  void expectLiveUntouched() {
    auto after = snapshotDatabase(live_.database);
    EXPECT_EQ(after.schemaDump, before_.schemaDump);
    EXPECT_EQ(after.rowCounts, before_.rowCounts);
    EXPECT_EQ(after.versions, before_.versions);
    EXPECT_TRUE(databasesWithPrefix(live_.database + "_autogen_").empty());
  }

  LiveApp spec_;
  std::unique_ptr<ExampleApp> app_;
  database::ConnectionInfo live_;
  DatabaseSnapshot before_;
};

class IsolatingApps : public IsolationTest, public ::testing::WithParamInterface<LiveApp> {};

TEST_P(IsolatingApps, RevisionAndCheck_NeverChangeTheLiveDatabase) {
  prepare(GetParam());
  auto inSync = run("check");
  EXPECT_EQ(inSync.exitCode, 0) << inSync.out << inSync.err;
  EXPECT_EQ(inSync.json()["reason"], "InSync");
  expectLiveUntouched();

  app_->applyChange(GetParam().change);
  auto drift = run("check");
  EXPECT_EQ(drift.exitCode, 1) << drift.out;
  EXPECT_EQ(drift.json()["reason"], "ModelsOutOfSync");
  expectLiveUntouched();

  auto files = app_->versionFiles();
  auto created = run("revision");
  ASSERT_EQ(created.exitCode, 0) << created.out << created.err;
  EXPECT_EQ(created.json()["reason"], "RevisionCreated");
  auto after = app_->versionFiles();
  ASSERT_EQ(after.size(), files.size() + 1);
  std::string file = created.json()["revision"]["file"].get<std::string>();
  EXPECT_THAT(app_->read(file), HasSubstr(GetParam().expectedOp));
  expectLiveUntouched();
}

INSTANTIATE_TEST_SUITE_P(AsyncAndSync, IsolatingApps, ::testing::Values(kAsyncApp, kSyncApp),
                         [](const auto& info) { return info.param.fixture; });

TEST_F(IsolationTest, StockTemplate_SqliteUrlInTheIniIsNeverUsed) {
  prepare(kSyncApp);
  app_->applyChange(kSyncApp.change);
  auto result = run("revision");
  EXPECT_EQ(result.exitCode, 0) << result.out << result.err;
  EXPECT_FALSE(std::filesystem::exists(app_->dir() + "/inventory.db"));
  expectLiveUntouched();
}

TEST_F(IsolationTest, EnvPyWithItsOwnVariables_IsStoppedBeforeAnyStatement) {
  const auto& server = testServer();
  std::map<std::string, std::string> vars;
  LiveApp spec{"postgres_vars_app", "alembic/versions", "postgresql+psycopg2", "post_add_slug",
               "INSERT INTO post (title, body) SELECT 't' || g, 'b' FROM generate_series(1, 300) g;",
               ""};
  // The app's settings point at the live database, as they would in its own container.
  auto live = createTestDatabase("live");
  vars = {{"POSTGRES_SERVER", "127.0.0.1"},     {"POSTGRES_PORT", std::to_string(server.port)},
          {"POSTGRES_USER", server.user},       {"POSTGRES_PASSWORD", server.password},
          {"POSTGRES_DB", live.database}};
  spec_ = spec;
  app_ = std::make_unique<ExampleApp>(spec.fixture, spec.versionsDir);
  live_ = live.withScheme(spec.scheme);
  auto up = runCli({"upgrade", "--project", app_->dir(), "--database-url", live_.url(), "--json"},
                   vars);
  ASSERT_EQ(up.exitCode, 0) << up.out << up.err;  // upgrade targets the live database itself
  execSql(live_.database, spec.seedSql);
  before_ = snapshotDatabase(live_.database);
  app_->applyChange(spec.change);

  for (const char* action : {"revision", "check"}) {
    auto result = run(action, {}, vars);
    EXPECT_EQ(result.exitCode, 1) << action << result.out;
    auto report = result.json();
    EXPECT_EQ(report["reason"], "IsolationBreached") << action;
    std::string message = report["message"].get<std::string>();
    EXPECT_THAT(message, HasSubstr("database '" + live_.database + "'"));
    EXPECT_THAT(message, HasSubstr("--url-env"));
    EXPECT_THAT(result.out + result.err, Not(HasSubstr(server.password)));
    expectLiveUntouched();
  }
  EXPECT_EQ(app_->versionFiles().size(), 1u);
}

TEST_F(IsolationTest, SyncApp_WorksWithNoUrlOnAThrowawayServer) {
  app_ = std::make_unique<ExampleApp>("sync_app");
  app_->applyChange(kSyncApp.change);
  TempDir pg("throwaway-pg");
  auto files = app_->allFiles();
  auto result = runCli({"revision", "-m", "add sku", "--project", app_->dir(), "--json",
                        "--ephemeral"},
                       {{"ALEMBIC_SIDECAR_LOCAL_PG_DIR", pg.path().string()}});
  ASSERT_EQ(result.exitCode, 0) << result.out << result.err;
  auto report = result.json();
  EXPECT_EQ(report["reason"], "RevisionCreated");
  EXPECT_THAT(report["conditions"][0]["message"].get<std::string>(),
              HasSubstr("postgresql+psycopg2 from sync env.py"));
  // Only the new revision appears, besides the project lock in alembic-sidecar's own
  // directory, which tells git to ignore it.
  std::vector<std::string> added;
  for (const auto& f : app_->allFiles()) {
    if (std::find(files.begin(), files.end(), f) == files.end()) {
      added.push_back(f);
    }
  }
  EXPECT_THAT(added, ::testing::UnorderedElementsAre(
                         report["revision"]["file"].get<std::string>(),
                         ".alembic-sidecar/lock", ".alembic-sidecar/.gitignore"));
  EXPECT_THAT(app_->read(".alembic-sidecar/.gitignore"), HasSubstr("\n*\n"));
  EXPECT_FALSE(std::filesystem::exists(app_->dir() + "/inventory.db"));
}

struct CommandForm {
  std::string name;
  std::vector<std::string> args;

  friend void PrintTo(const CommandForm& form, std::ostream* os) { *os << form.name; }
};

class AlembicCommandForms : public IsolationTest,
                            public ::testing::WithParamInterface<CommandForm> {};

TEST_P(AlembicCommandForms, CheckFindsTheAppsInterpreter) {
  prepare(kSyncApp);
  auto result = run("check", GetParam().args);
  EXPECT_EQ(result.exitCode, 0) << result.out << result.err;
  EXPECT_EQ(result.json()["reason"], "InSync");
  expectLiveUntouched();
}

INSTANTIATE_TEST_SUITE_P(
    EveryForm, AlembicCommandForms,
    ::testing::Values(
        CommandForm{"Bare", {"--alembic-cmd", "alembic"}},
        CommandForm{"Path", {"--alembic-cmd", "/usr/bin/alembic"}},
        CommandForm{"PythonM", {"--alembic-cmd", "/usr/bin/python3 -m alembic"}},
        CommandForm{"WrapperPythonM", {"--alembic-cmd", "env /usr/bin/python3 -m alembic"}},
        CommandForm{"PythonFlag", {"--alembic-cmd", "poetry run alembic", "--python",
                                   "/usr/bin/python3"}}),
    [](const auto& info) { return info.param.name; });

TEST_F(IsolationTest, InterpreterWithoutAlembic_SaysWhichOneAndWhatToPass) {
  prepare(kSyncApp);
  auto result = run("check", {"--python", "/usr/bin/python3 -S"});
  EXPECT_EQ(result.exitCode, 1) << result.out;
  auto report = result.json();
  EXPECT_EQ(report["reason"], "WorkspaceUnavailable");
  EXPECT_THAT(report["message"].get<std::string>(), HasSubstr("--python"));
}

}  // namespace
}  // namespace alembic_sidecar::testing
