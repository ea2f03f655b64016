// Projects whose env.py has a shape the driver once could not serve (issue 19): an engine
// cached in a process-global factory, target_metadata given only online, an enum type created
// at run time from the model's class, and raw DBAPI connections, psql and pg_dump started by
// env.py. Each correct project ends InSync / Succeeded with no flag beyond --url-env; each
// connection env.py aims at the live database ends the run IsolationBreached, and the live
// database is byte-identical (pg_dump, data included) before and after. Real PostgreSQL,
// Debian's alembic, the built binary.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/cli_runner.h"
#include "support/example_app.h"
#include "support/postgres_server.h"
#include "support/temp_dir.h"

namespace alembic_sidecar::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct Shape {
  std::string fixture;
  std::string change;      // a new nullable column
  std::string urlEnv;      // the project's own variable; empty: DATABASE_URL / sqlalchemy.url
  std::string seedSql;
  std::string expectedOp;  // in the generated revision

  friend void PrintTo(const Shape& s, std::ostream* os) { *os << s.fixture; }
};

const Shape kFacade{"facade_app", "orders_note", "ORDERS_DATABASE_CONNECTION",
                    "INSERT INTO orders (customer) SELECT 'c' || g FROM generate_series(1, 200) g;",
                    "op.add_column('orders', sa.Column('note'"};
const Shape kOnlineMetadata{
    "online_app", "article_subtitle", "",
    "INSERT INTO author (handle) VALUES ('ann'), ('bob');"
    "INSERT INTO article (author_id, title, body) SELECT 1, 't' || g, 'b' "
    "FROM generate_series(1, 100) g;",
    "op.add_column('article', sa.Column('subtitle'"};
const Shape kRuntimeEnum{"enum_app", "invoice_memo", "",
                         "INSERT INTO invoice (number, total, status) SELECT 'n' || g, g, 'sent' "
                         "FROM generate_series(1, 100) g;",
                         "op.add_column('invoice', sa.Column('memo'"};
const Shape kHooks{"hooks_app", "contact_phone", "",
                   "INSERT INTO contact (email, name) SELECT 'c' || g || '@x.io', 'c' "
                   "FROM generate_series(1, 100) g;",
                   "op.add_column('contact', sa.Column('phone'"};

class EnvShapesTest : public ::testing::Test {
 protected:
  /** The live database at head with rows, deployed by the project's own alembic. */
  void prepare(const Shape& shape, bool withoutExtensions = false) {
    shape_ = shape;
    app_ = std::make_unique<ExampleApp>(shape.fixture);
    live_ = createTestDatabase("live").withScheme("postgresql+psycopg2");
    if (shape.fixture == "online_app") {
      // Its env.py reads only sqlalchemy.url: deploy through a copy of the ini.
      std::string ini = app_->read("alembic.ini");
      app_->replace("alembic.ini", "postgresql+psycopg2://blog:blog@localhost/blog", live_.url());
      app_->alembic({"upgrade", "head"}, live_.url(), appEnv());
      app_->write("alembic.ini", ini);
    } else {
      app_->alembic({"upgrade", "head"}, live_.url(), appEnv());
    }
    if (withoutExtensions) {
      // The DBAs' extensions are not there yet: a hook that reached this database would
      // leave one behind, and the dump would show it.
      execSql(live_.database, "DROP EXTENSION citext; DROP EXTENSION pgcrypto;");
    }
    execSql(live_.database, shape.seedSql);
    before_ = dumpDatabase(live_.database);
    ASSERT_FALSE(before_.empty());
  }

  /** The app's container environment: its own variables point at the live database. */
  std::map<std::string, std::string> appEnv() const {
    const auto& server = testServer();
    std::map<std::string, std::string> env = {{"PGHOST", "127.0.0.1"},
                                              {"PGPORT", std::to_string(server.port)},
                                              {"PGUSER", server.user},
                                              {"PGPASSWORD", server.password},
                                              {"PGDATABASE", live_.database}};
    if (!shape_.urlEnv.empty()) {
      env[shape_.urlEnv] = live_.url();
    }
    return env;
  }

  CliResult run(const std::string& action, std::map<std::string, std::string> env = {}) {
    std::vector<std::string> args = {action, "--project", app_->dir(), "--database-url",
                                     live_.url(), "--json"};
    if (action == "revision") {
      args.insert(args.begin() + 1, {"-m", "new nullable column"});
    }
    if (!shape_.urlEnv.empty()) {
      args.insert(args.end(), {"--url-env", shape_.urlEnv});
    }
    for (const auto& [k, v] : appEnv()) {
      env.emplace(k, v);
    }
    return runCli(args, env);
  }

  void expectLiveUntouched() {
    EXPECT_EQ(dumpDatabase(live_.database), before_) << "the live database changed";
    EXPECT_TRUE(databasesWithPrefix(live_.database + "_autogen_").empty());
  }

  std::string libpqUrl() const {
    const auto& server = testServer();
    return "postgresql://" + server.user + ":" + server.password + "@127.0.0.1:" +
           std::to_string(server.port) + "/" + live_.database;
  }

  Shape shape_;
  std::unique_ptr<ExampleApp> app_;
  database::ConnectionInfo live_;
  std::string before_;
};

class CorrectShapes : public EnvShapesTest, public ::testing::WithParamInterface<Shape> {};

TEST_P(CorrectShapes, CheckIsInSyncAndRevisionSucceeds) {
  prepare(GetParam());
  TempDir backups("backups");
  std::map<std::string, std::string> env = {{"MIGRATION_BACKUP_DIR", backups.path().string()}};

  auto check = run("check", env);
  EXPECT_EQ(check.exitCode, 0) << check.out << check.err;
  EXPECT_EQ(check.json()["reason"], "InSync") << check.json()["message"];
  EXPECT_TRUE(findingIn(check.json(), "EnumTypeMissing").is_null()) << check.out;
  expectLiveUntouched();

  app_->applyChange(GetParam().change);
  auto files = app_->versionFiles();
  auto created = run("revision", env);
  ASSERT_EQ(created.exitCode, 0) << created.out << created.err;
  EXPECT_EQ(created.json()["phase"], "Succeeded") << created.json()["message"];
  EXPECT_EQ(created.json()["reason"], "RevisionCreated");
  ASSERT_EQ(app_->versionFiles().size(), files.size() + 1);
  EXPECT_THAT(app_->read(created.json()["revision"]["file"].get<std::string>()),
              HasSubstr(GetParam().expectedOp));
  expectLiveUntouched();
}

INSTANTIATE_TEST_SUITE_P(Projects, CorrectShapes,
                         ::testing::Values(kFacade, kOnlineMetadata, kRuntimeEnum, kHooks),
                         [](const auto& info) { return info.param.fixture; });

TEST_F(EnvShapesTest, ProcessGlobalEngine_RegistersModelsOnlineAgainstTheScratchDatabase) {
  prepare(kFacade);
  auto check = run("check");
  ASSERT_EQ(check.exitCode, 0) << check.out << check.err;
  auto models = check.json()["conditions"][1];
  EXPECT_EQ(models["type"], "ModelsRegistered");
  EXPECT_THAT(models["message"].get<std::string>(), HasSubstr("2 table(s)"));
  EXPECT_THAT(models["message"].get<std::string>(), HasSubstr("online"));
}

TEST_F(EnvShapesTest, RefusalOnlyInTheOfflineSql_StillEndsTheRunIsolationBreached) {
  // env.py's offline branch (the SQL lint's `alembic upgrade --sql`) takes the lock on a
  // connection of its own; nothing else of the run connects elsewhere. That refusal once
  // came out as an info finding (LintSkipped).
  prepare(kHooks, /*withoutExtensions=*/true);
  app_->replace("migrations/env.py", "    url = config.get_main_option(\"sqlalchemy.url\")\n",
                "    url = config.get_main_option(\"sqlalchemy.url\")\n"
                "    if os.environ.get(\"OFFLINE_LOCK_DSN\"):\n"
                "        psycopg2.connect(os.environ[\"OFFLINE_LOCK_DSN\"]).close()\n");
  auto result = run("check", {{"OFFLINE_LOCK_DSN", libpqUrl()}});
  EXPECT_EQ(result.exitCode, 1) << result.out << result.err;
  auto report = result.json();
  EXPECT_EQ(report["reason"], "IsolationBreached") << report["message"];
  std::string message = report["message"].get<std::string>();
  EXPECT_THAT(message, HasSubstr("Validated"));
  EXPECT_THAT(message, HasSubstr("'" + live_.database + "' (psycopg2.connect)"));
  EXPECT_THAT(message, HasSubstr("--url-env"));
  expectLiveUntouched();
}

struct Hook {
  std::string name;
  std::string variable;  // the env.py setting aimed at the live database
  std::string tool;      // what the refusal names

  friend void PrintTo(const Hook& h, std::ostream* os) { *os << h.name; }
};

class RawConnectionsToLive : public EnvShapesTest, public ::testing::WithParamInterface<Hook> {};

TEST_P(RawConnectionsToLive, EndIsolationBreachedAndLeaveTheLiveDatabaseAsItWas) {
  prepare(kHooks, /*withoutExtensions=*/true);
  TempDir backups("backups");
  std::map<std::string, std::string> env = {{GetParam().variable, libpqUrl()},
                                            {"MIGRATION_BACKUP_DIR", backups.path().string()}};
  app_->applyChange(kHooks.change);
  for (const char* action : {"check", "revision"}) {
    auto result = run(action, env);
    EXPECT_EQ(result.exitCode, 1) << action << result.out << result.err;
    auto report = result.json();
    EXPECT_EQ(report["reason"], "IsolationBreached") << action << " " << report["message"];
    std::string message = report["message"].get<std::string>();
    EXPECT_THAT(message, HasSubstr("'" + live_.database + "'")) << action;
    EXPECT_THAT(message, HasSubstr(GetParam().tool)) << action;
    EXPECT_THAT(message, HasSubstr("--url-env")) << action;
    EXPECT_THAT(result.out + result.err, Not(HasSubstr(testServer().password)));
    expectLiveUntouched();
  }
  EXPECT_EQ(app_->versionFiles().size(), 2u);
}

INSTANTIATE_TEST_SUITE_P(
    EveryKind, RawConnectionsToLive,
    ::testing::Values(Hook{"psycopg2", "MIGRATION_LOCK_DSN", "psycopg2.connect"},
                      Hook{"psql", "MIGRATION_PSQL_DSN", "psql"},
                      Hook{"pg_dump", "MIGRATION_BACKUP_DSN", "pg_dump"}),
    [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace alembic_sidecar::testing
