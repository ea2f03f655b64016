#include "alembic/alembic_runner.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "mocks/mock_workspace.h"

namespace alembic_sidecar::alembic {
namespace {

using ::testing::_;
using ::testing::Field;
using ::testing::Return;
using ::testing::StrictMock;

TEST(AlembicOutput, GeneratedPathWithSpaces) {
  EXPECT_EQ(generatedPathFromOutput("  Generating /src/my app/migrations/versions/x_y.py ...  done\n"),
            "/src/my app/migrations/versions/x_y.py");
  EXPECT_EQ(generatedPathFromOutput("nothing"), "");
}

TEST(AlembicOutput, Heads) {
  EXPECT_THAT(parseHeads("2f2b53fd94b8 (head)\nabc123 (branchx) (head)\n"),
              ::testing::ElementsAre("2f2b53fd94b8", "abc123"));
  EXPECT_TRUE(parseHeads("").empty());
}

TEST(AlembicOutput, TailKeepsTheFinalExceptionNotTheTraceback) {
  AlembicRun run;
  run.err =
      "INFO  [alembic.runtime.migration] Context impl PostgresqlImpl.\n"
      "Traceback (most recent call last):\n  File \"x\", line 1, in <module>\n"
      "sqlalchemy.exc.ProgrammingError: relation \"ix\" already exists\n"
      "[SQL: CREATE INDEX ix ON item (title)]\n"
      "(Background on this error at: https://sqlalche.me/e/14/f405)\n";
  EXPECT_EQ(run.tail(),
            "sqlalchemy.exc.ProgrammingError: relation \"ix\" already exists\n"
            "[SQL: CREATE INDEX ix ON item (title)]");
  AlembicRun failed;
  failed.err = "FAILED: Multiple head revisions are present\n";
  EXPECT_EQ(failed.tail(), "FAILED: Multiple head revisions are present");
}

TEST(AlembicRunner, PassesTheMessageAsOneArgvElementAndTheUrlInTheEnvironment) {
  StrictMock<testing::MockWorkspace> ws;
  auto redactor = std::make_shared<core::Redactor>();
  AlembicSettings settings;
  settings.command = {"uv", "run", "alembic"};
  settings.configFile = "alembic.ini";
  AlembicRunner runner(ws, settings, redactor);
  database::ConnectionInfo db;
  db.user = "u";
  db.password = "pw-secret";
  db.database = "d";
  const std::string message = "fix \"it\"; rm -rf / #$(id)";
  workspace::CommandOutput out;
  out.exitCode = 0;
  out.out = "Generating /x.py ...  done using postgresql://u:pw-secret@h/d\n";
  EXPECT_CALL(ws, describe()).WillRepeatedly(Return("local /p"));
  EXPECT_CALL(ws, run(::testing::AllOf(
                      Field(&workspace::Command::argv,
                            ::testing::ElementsAre("uv", "run", "alembic", "-c", "alembic.ini",
                                                   "revision", "--autogenerate", "-m", message)),
                      Field(&workspace::Command::env,
                            ::testing::Contains(::testing::Pair("DATABASE_URL", db.url()))))))
      .WillOnce(Return(out));
  auto run = runner.autogenerate(message, db);
  ASSERT_TRUE(run.ok());
  EXPECT_TRUE(run->succeeded());
  EXPECT_EQ(run->out, "Generating /x.py ...  done using postgresql://u:****@h/d\n");
}

}  // namespace
}  // namespace alembic_sidecar::alembic
