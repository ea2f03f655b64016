// `alembic-sidecar revision` end to end: the built binary, Debian's alembic 1.8 / SQLAlchemy
// 1.4 / SQLModel 0.0.8, and a real PostgreSQL started by the harness.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <pqxx/pqxx>

#include "support/cli_runner.h"
#include "workspace/process.h"
#include "support/example_app.h"
#include "support/postgres_server.h"

namespace alembic_sidecar::testing {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

class RevisionTest : public ::testing::Test {
 protected:
  void SetUp() override { db_ = createTestDatabase("rev"); }

  CliResult revision(const std::string& message, std::vector<std::string> extra = {},
                     const std::map<std::string, std::string>& env = {}) {
    std::vector<std::string> args = {"revision", "-m", message, "--project", app_.dir(),
                                     "--database-url", db_.url(), "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    return runCli(args, env);
  }

  static std::string conditionReason(const nlohmann::json& report, const std::string& type) {
    for (const auto& c : report["conditions"]) {
      if (c["type"] == type) {
        return c["reason"].get<std::string>() + "/" + c["status"].get<std::string>();
      }
    }
    return "missing";
  }

  static std::vector<std::string> codes(const nlohmann::json& report) {
    std::vector<std::string> out;
    for (const auto& f : report["findings"]) {
      out.push_back(f["code"]);
    }
    return out;
  }

  ExampleApp app_;
  database::ConnectionInfo db_;
};

TEST_F(RevisionTest, AddColumn_SucceedsWithFileAndRoundTrip) {
  app_.applyChange("user_add_phone");
  auto before = app_.versionFiles();

  auto result = revision("add user phone");

  ASSERT_EQ(result.exitCode, 0) << result.err << result.out;
  auto report = result.json();
  EXPECT_EQ(report["phase"], "Succeeded");
  EXPECT_EQ(report["reason"], "RevisionCreated");
  EXPECT_EQ(report["action"], "revision");
  EXPECT_EQ(report["database"]["source"], "flag");
  EXPECT_EQ(report["database"]["name"], db_.database);
  EXPECT_EQ(report["database"]["port"], db_.port);
  EXPECT_THAT(report["operations"],
              Contains(nlohmann::json{{"op", "add_column"}, {"table", "user"}, {"column", "phone"}}));
  EXPECT_EQ(report["roundTrip"]["upgrade"], "Passed");
  EXPECT_EQ(report["roundTrip"]["downgrade"], "Passed");
  EXPECT_EQ(report["roundTrip"]["reupgrade"], "Passed");
  EXPECT_EQ(report["roundTrip"]["schemaRestored"], true);
  EXPECT_EQ(report["revision"]["downRevision"], "2f2b53fd94b8");
  EXPECT_EQ(report["revision"]["message"], "add user phone");
  EXPECT_EQ(report["revision"]["sha256"].get<std::string>().size(), 64u);
  for (const char* type : {"DatabaseReady", "ModelsRegistered", "RevisionGenerated", "Validated",
                           "RoundTripPassed", "Ready"}) {
    EXPECT_THAT(conditionReason(report, type), HasSubstr("/True")) << type;
  }

  auto after = app_.versionFiles();
  ASSERT_EQ(after.size(), before.size() + 1);
  std::string file = report["revision"]["file"];
  std::string text = app_.read(file);
  EXPECT_THAT(text, HasSubstr("op.add_column('user', sa.Column('phone'"));
  EXPECT_THAT(text, HasSubstr("revision = '" + report["revision"]["id"].get<std::string>() + "'"));
  // Progress, one line per step, goes to stderr.
  EXPECT_THAT(result.err, HasSubstr("ok  RoundTripPassed"));
  // The scratch database is gone; the app's database was never touched.
  EXPECT_THAT(databasesWithPrefix(db_.database + "_autogen_"), ::testing::IsEmpty());
}

TEST_F(RevisionTest, NoModelChange_SucceedsWithNoChangesAndRemovesTheEmptyFile) {
  auto before = app_.versionFiles();

  auto result = revision("nothing to do");

  ASSERT_EQ(result.exitCode, 0) << result.err << result.out;
  auto report = result.json();
  EXPECT_EQ(report["phase"], "Succeeded");
  EXPECT_EQ(report["reason"], "NoChanges");
  EXPECT_TRUE(report["revision"].is_null());
  EXPECT_EQ(app_.versionFiles(), before);
  EXPECT_THAT(codes(report), Contains("NoModelChanges"));
  EXPECT_EQ(report["roundTrip"]["upgrade"], "Skipped");
}

TEST_F(RevisionTest, NoChangeWithCompareTypeOff_DiagnosisSaysTypeChangesAreInvisible) {
  app_.replace("migrations/env.py",
               "context.configure(connection=connection, target_metadata=target_metadata, "
               "compare_type=True)",
               "context.configure(connection=connection, target_metadata=target_metadata)");
  app_.replace("migrations/env.py", "        compare_type=True,\n", "");

  auto result = revision("nothing to do");

  ASSERT_EQ(result.exitCode, 0) << result.err << result.out;
  auto report = result.json();
  EXPECT_EQ(report["reason"], "NoChanges");
  EXPECT_THAT(codes(report), Contains("TypeComparisonDisabled"));
}

TEST_F(RevisionTest, UnregisteredModel_FailsWithModelNotRegisteredAndGeneratesNothing) {
  app_.write("fastapi_template/models/tag.py",
             "from typing import Optional\n\n"
             "from sqlmodel import Field, SQLModel\n\n\n"
             "class Tag(SQLModel, table=True):\n"
             "    id: Optional[int] = Field(default=None, primary_key=True)\n"
             "    label: str\n");
  auto before = app_.versionFiles();

  auto result = revision("add tags");

  EXPECT_EQ(result.exitCode, 1) << result.err;
  auto report = result.json();
  EXPECT_EQ(report["phase"], "Failed");
  EXPECT_EQ(report["reason"], "ModelNotRegistered");
  EXPECT_THAT(report["message"].get<std::string>(),
              AllOf(HasSubstr("Tag"), HasSubstr("fastapi_template/models/tag.py")));
  ASSERT_FALSE(report["findings"].empty());
  EXPECT_EQ(report["findings"][0]["file"], "fastapi_template/models/tag.py");
  EXPECT_EQ(report["findings"][0]["line"], 6);
  EXPECT_EQ(conditionReason(report, "RevisionGenerated"), "NotRun/Unknown");
  EXPECT_EQ(app_.versionFiles(), before);
  EXPECT_THAT(databasesWithPrefix(db_.database + "_autogen_"), ::testing::IsEmpty());
}

TEST_F(RevisionTest, RegisteredThroughPackageInit_IsAccepted) {
  app_.write("fastapi_template/models/tag.py",
             "from typing import Optional\n\n"
             "from sqlmodel import Field, SQLModel\n\n\n"
             "class Tag(SQLModel, table=True):\n"
             "    id: Optional[int] = Field(default=None, primary_key=True)\n"
             "    label: str\n");
  app_.replace("fastapi_template/models/__init__.py",
               "from fastapi_template.models.item import Item\n",
               "from fastapi_template.models.item import Item\nfrom .tag import Tag\n");

  auto result = revision("add tags");

  ASSERT_EQ(result.exitCode, 0) << result.err << result.out;
  EXPECT_THAT(result.json()["operations"],
              Contains(nlohmann::json{{"op", "create_table"}, {"table", "tag"}}));
}

TEST_F(RevisionTest, UnreachableDatabase_FailsWithin15SecondsNamingHostAndPort) {
  database::ConnectionInfo closed = db_;
  closed.port = 1;  // nothing listens on port 1
  closed.password = "unreachable-canary-Pw";
  std::vector<std::string> args = {"revision", "-m", "x", "--project", app_.dir(),
                                   "--database-url", closed.url(), "--json"};

  auto result = runCli(args);

  EXPECT_EQ(result.exitCode, 1);
  EXPECT_LT(result.durationMs, 16000);
  auto report = result.json();
  EXPECT_EQ(report["reason"], "DatabaseUnavailable");
  EXPECT_THAT(report["message"].get<std::string>(), HasSubstr("127.0.0.1:1"));
  EXPECT_THAT(result.out + result.err, Not(HasSubstr("unreachable-canary-Pw")));
}

TEST_F(RevisionTest, ShellMetacharactersInMessage_EndUpLiterally) {
  app_.applyChange("user_add_phone");
  const std::string message = "fix \"it\"; rm -rf / #$(id)";

  auto result = revision(message);

  ASSERT_EQ(result.exitCode, 0) << result.err << result.out;
  auto report = result.json();
  EXPECT_EQ(report["revision"]["message"], message);
  std::string text = app_.read(report["revision"]["file"]);
  EXPECT_EQ(text.substr(0, text.find('\n')), "\"\"\"" + message);
  EXPECT_THAT(text, Not(HasSubstr("uid=")));
}

TEST_F(RevisionTest, DowngradeThatForgetsAnIndex_FailsWithRoundTripSchemaMismatch) {
  // A team's env.py hook that drops index removals from downgrades ("tables take their
  // indexes with them") is wrong as soon as a revision only adds an index.
  app_.replace("migrations/env.py", "def do_run_migrations(connection) -> None:\n",
               "def skip_index_drops(context, revision, directives):\n"
               "    from alembic.operations import ops\n\n"
               "    def strip(container):\n"
               "        container.ops = [o for o in container.ops\n"
               "                         if not isinstance(o, ops.DropIndexOp)]\n"
               "        for o in container.ops:\n"
               "            if hasattr(o, 'ops'):\n"
               "                strip(o)\n\n"
               "    for container in directives[0].downgrade_ops_list:\n"
               "        strip(container)\n\n\n"
               "def do_run_migrations(connection) -> None:\n");
  app_.replace("migrations/env.py",
               "target_metadata=target_metadata, compare_type=True)",
               "target_metadata=target_metadata, compare_type=True,\n"
               "                      process_revision_directives=skip_index_drops)");
  app_.replace("fastapi_template/models/item.py", "title: str = Field(max_length=200)",
               "title: str = Field(max_length=200, index=True)");
  auto before = app_.versionFiles();

  auto result = revision("index item title");

  EXPECT_EQ(result.exitCode, 1) << result.err << result.out;
  auto report = result.json();
  EXPECT_EQ(report["reason"], "RoundTripSchemaMismatch");
  EXPECT_THAT(report["message"].get<std::string>(), HasSubstr("index public.item.ix_item_title"));
  EXPECT_EQ(report["roundTrip"]["upgrade"], "Passed");
  EXPECT_EQ(report["roundTrip"]["downgrade"], "Passed");
  EXPECT_EQ(report["roundTrip"]["schemaRestored"], false);
  bool listed = false;
  for (const auto& f : report["findings"]) {
    listed |= f["code"] == "RoundTripDifference" &&
              f["message"].get<std::string>().find("ix_item_title") != std::string::npos;
  }
  EXPECT_TRUE(listed) << report.dump(2);
  // The rejected file is not left in the project.
  EXPECT_EQ(app_.versionFiles(), before);
  EXPECT_THAT(databasesWithPrefix(db_.database + "_autogen_"), ::testing::IsEmpty());
}

TEST_F(RevisionTest, BrokenEnvPy_FailsWithBaselineUpgradeFailedAndAlembicsError) {
  app_.replace("migrations/env.py", "target_metadata = metadata\n",
               "target_metadata = metadata\nraise RuntimeError('env.py exploded on purpose')\n");

  auto result = revision("anything");

  EXPECT_EQ(result.exitCode, 1);
  auto report = result.json();
  EXPECT_EQ(report["reason"], "BaselineUpgradeFailed");
  EXPECT_THAT(report["message"].get<std::string>(), HasSubstr("env.py exploded on purpose"));
}

TEST_F(RevisionTest, InplaceIsolation_LeavesTheDatabaseAtTheNewHead) {
  app_.applyChange("user_add_phone");

  auto result = revision("add user phone", {"--isolation", "inplace"});

  ASSERT_EQ(result.exitCode, 0) << result.err << result.out;
  auto report = result.json();
  std::string id = report["revision"]["id"];
  pqxx::connection conn{db_.libpqConninfo()};
  pqxx::nontransaction tx{conn};
  EXPECT_EQ(tx.exec1("SELECT version_num FROM alembic_version")[0].as<std::string>(), id);
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM information_schema.columns WHERE table_name = 'user' "
                     "AND column_name = 'phone'")[0]
                .as<int>(),
            1);
}

TEST_F(RevisionTest, LeftoverScratchDatabases_AreSweptOnlyWhenOld) {
  app_.applyChange("user_add_phone");
  std::string old = db_.database + "_autogen_1000000000_abcdef";  // 2001
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  std::string fresh = db_.database + "_autogen_" + std::to_string(now) + "_fedcba";
  execSql("postgres", "CREATE DATABASE " + old);
  execSql("postgres", "CREATE DATABASE " + fresh);

  auto result = revision("add user phone");

  ASSERT_EQ(result.exitCode, 0) << result.err << result.out;
  EXPECT_THAT(databasesWithPrefix(db_.database + "_autogen_"), ::testing::ElementsAre(fresh));
  execSql("postgres", "DROP DATABASE " + fresh);
}

TEST_F(RevisionTest, MultipleHeads_FailsListingTheHeadsAndNamingTheMerge) {
  // A second branch off an older revision, made by alembic itself.
  workspace::ProcessSpec branch;
  branch.argv = {"alembic", "revision", "-m", "other branch", "--head", "0697a8d1f932",
                 "--splice"};
  branch.cwd = app_.dir();
  auto made = workspace::runProcess(branch);
  ASSERT_TRUE(made.ok());
  ASSERT_EQ(made->exitCode, 0) << made->err;
  app_.applyChange("user_add_phone");
  auto before = app_.versionFiles();

  auto result = revision("add user phone");

  EXPECT_EQ(result.exitCode, 1) << result.err;
  auto report = result.json();
  EXPECT_EQ(report["reason"], "MultipleHeads");
  EXPECT_THAT(report["message"].get<std::string>(), HasSubstr("2f2b53fd94b8"));
  EXPECT_THAT(report["message"].get<std::string>(), HasSubstr("alembic merge heads"));
  EXPECT_EQ(app_.versionFiles(), before);
}

TEST_F(RevisionTest, UsageErrors_ExitWith2) {
  EXPECT_EQ(runCli({"revision", "--project", app_.dir()}).exitCode, 2);  // no -m
  EXPECT_EQ(runCli({"revision", "-m", "", "--project", app_.dir()}).exitCode, 2);
  EXPECT_EQ(runCli({"revision", "-m", std::string(201, 'x'), "--project", app_.dir()}).exitCode, 2);
  EXPECT_EQ(runCli({"revision", "-m", "x", "--isolation", "sideways"}).exitCode, 2);
  EXPECT_EQ(runCli({"revision", "-m", "x", "--project", "/does/not/exist"}).exitCode, 2);
  EXPECT_EQ(runCli({"frobnicate"}).exitCode, 2);
}

TEST_F(RevisionTest, MissingAlembicIni_FailsWithProjectInvalid) {
  std::filesystem::remove(app_.dir() + "/alembic.ini");

  auto result = revision("x");

  EXPECT_EQ(result.exitCode, 1);
  EXPECT_EQ(result.json()["reason"], "ProjectInvalid");
  EXPECT_THAT(result.json()["message"].get<std::string>(), HasSubstr("alembic.ini"));
}

TEST_F(RevisionTest, TextReport_HasOneLinePerStep) {
  app_.applyChange("user_add_phone");
  auto result = runCli({"revision", "-m", "add phone", "--project", app_.dir(), "--database-url",
                        db_.url()});

  ASSERT_EQ(result.exitCode, 0) << result.err;
  for (const char* type : {"DatabaseReady", "ModelsRegistered", "RevisionGenerated", "Validated",
                           "RoundTripPassed", "Ready"}) {
    EXPECT_THAT(result.out, HasSubstr("[ok]   " + std::string(type) + ":")) << result.out;
  }
  EXPECT_THAT(result.out, HasSubstr("add_column user.phone"));
}

}  // namespace
}  // namespace alembic_sidecar::testing
