// One test per finding code, on the real PostgreSQL and Debian's alembic: each starts from
// the example app, makes the model change (and seeds rows or creates a view where the case
// needs it), and checks phase, exit code and code. Safe changes must raise no escalation.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "support/cli_runner.h"
#include "support/example_app.h"
#include "support/postgres_server.h"
#include "workspace/process.h"

namespace alembic_sidecar::testing {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

std::string squawkPath() {
  return std::string(ALEMBIC_SIDECAR_SOURCE_DIR) + "/.tools/bin/squawk";
}

class FindingsTest : public ::testing::Test {
 protected:
  void SetUp() override { db_ = createTestDatabase("fnd"); }

  CliResult revision(const std::string& message, std::vector<std::string> extra = {},
                     std::map<std::string, std::string> env = {}) {
    std::vector<std::string> args = {"revision", "-m", message, "--project", app_.dir(),
                                     "--database-url", db_.url(), "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    env.emplace("ALEMBIC_SIDECAR_SQUAWK", squawkPath());
    return runCli(args, env);
  }

  /** Brings the live database to the fixture's head, as a deployed app would be. */
  void upgradeLiveDatabase() {
    workspace::ProcessSpec spec;
    spec.argv = {"alembic", "upgrade", "head"};
    spec.cwd = app_.dir();
    spec.env = {{"DATABASE_URL", db_.url()}};
    auto result = workspace::runProcess(spec);
    ASSERT_TRUE(result.ok());
    ASSERT_EQ(result->exitCode, 0) << result->err;
  }

  /** The finding with `code`, or a null JSON. */
  static nlohmann::json finding(const nlohmann::json& report, const std::string& code) {
    return findingIn(report, code);
  }

  static std::vector<std::string> escalations(const nlohmann::json& report) {
    std::vector<std::string> out;
    for (const auto& f : report["findings"]) {
      if (f["severity"] == "escalation") {
        out.push_back(f["code"]);
      }
    }
    return out;
  }

  void expectEscalated(const CliResult& result, const std::string& code) {
    EXPECT_EQ(result.exitCode, 3) << result.err << result.out;
    auto report = result.json();
    EXPECT_EQ(report["phase"], "Escalated");
    EXPECT_EQ(report["reason"], code);
    auto f = finding(report, code);
    ASSERT_FALSE(f.is_null()) << report.dump(2);
    EXPECT_EQ(f["severity"], "escalation");
    EXPECT_FALSE(f["recommendation"].get<std::string>().empty());
  }

  ExampleApp app_;
  database::ConnectionInfo db_;
};

constexpr char kTeamHeadquarters[] = "    headquarters: Optional[str] = None\n";

TEST_F(FindingsTest, SafeChanges_NewTableNullableColumnIndex_NoWarningsTheAuthorCannotActOn) {
  app_.applyChange("user_add_phone");
  app_.write("fastapi_template/models/tag.py",
             "from typing import Optional\n\nfrom sqlmodel import Field, SQLModel\n\n\n"
             "class Tag(SQLModel, table=True):\n"
             "    id: Optional[int] = Field(default=None, primary_key=True)\n"
             "    label: str = Field(max_length=50)\n");
  app_.replace("fastapi_template/models/__init__.py", "from fastapi_template.models.team",
               "from fastapi_template.models.tag import Tag\nfrom fastapi_template.models.team");
  app_.replace("fastapi_template/models/item.py", "title: str = Field(max_length=200)",
               "title: str = Field(max_length=200, index=True)");
  upgradeLiveDatabase();
  execSql(db_.database, "INSERT INTO team (name) VALUES ('core')");

  auto result = revision("phone, tags and a title index");

  ASSERT_EQ(result.exitCode, 0) << result.err << result.out;
  auto report = result.json();
  EXPECT_EQ(report["phase"], "Succeeded");
  EXPECT_THAT(escalations(report), IsEmpty()) << report.dump(2);
  for (const auto& f : report["findings"]) {
    EXPECT_NE(f["severity"], "warning") << f.dump();
  }
  // squawk ran: its lock rule on the (empty) live item table is information.
  auto lint = finding(report, "LintRequireConcurrentIndexCreation");
  ASSERT_FALSE(lint.is_null()) << report.dump(2);
  EXPECT_EQ(lint["severity"], "info");
  EXPECT_THAT(lint["message"].get<std::string>(), HasSubstr("item has 0 row(s)"));
  EXPECT_TRUE(finding(report, "LintPreferTextField").is_null());
  EXPECT_TRUE(finding(report, "LintPreferIdentity").is_null());
}

TEST_F(FindingsTest, LintExclude_EmptyBringsTheDefaultOffRulesBack) {
  app_.applyChange("user_add_phone");
  auto result = revision("add phone", {}, {{"ALEMBIC_SIDECAR_LINT_EXCLUDE", ""}});
  ASSERT_EQ(result.exitCode, 0) << result.out;
  EXPECT_EQ(finding(result.json(), "LintPreferTextField")["severity"], "warning");
  EXPECT_EQ(finding(result.json(), "LintRequireLockTimeout")["severity"], "warning");
}

TEST_F(FindingsTest, LintExclude_UnknownRuleSaysTheLintDidNotRun) {
  app_.applyChange("user_add_phone");
  auto result = revision("add phone", {}, {{"ALEMBIC_SIDECAR_LINT_EXCLUDE", "default,no-such-rule"}});
  ASSERT_EQ(result.exitCode, 0) << result.out;
  auto f = finding(result.json(), "SquawkNotInstalled");
  ASSERT_FALSE(f.is_null()) << result.out;
  EXPECT_EQ(f["severity"], "info");
  EXPECT_THAT(f["message"].get<std::string>(), HasSubstr("no-such-rule"));
}

TEST_F(FindingsTest, ProbableRename_AddPlusDropOnOneTable) {
  app_.replace("fastapi_template/models/team.py", kTeamHeadquarters,
               "    head_office: Optional[str] = None\n");
  auto result = revision("rename headquarters");
  expectEscalated(result, "ProbableRename");
  auto f = finding(result.json(), "ProbableRename");
  EXPECT_THAT(f["message"].get<std::string>(), HasSubstr("team.headquarters"));
  EXPECT_THAT(f["message"].get<std::string>(), HasSubstr("team.head_office"));
  EXPECT_GT(f["line"].get<int>(), 0);
  // The file stays for review: the round trip itself passes on an empty database.
  EXPECT_EQ(result.json()["roundTrip"]["schemaRestored"], true);
  EXPECT_TRUE(std::filesystem::exists(app_.dir() + "/" +
                                      result.json()["revision"]["file"].get<std::string>()));
}

TEST_F(FindingsTest, DestructiveChange_DropColumnNeedsApproval) {
  app_.replace("fastapi_template/models/team.py", kTeamHeadquarters, "");
  auto result = revision("drop headquarters");
  expectEscalated(result, "DestructiveChange");
  EXPECT_THAT(finding(result.json(), "DestructiveChange")["recommendation"].get<std::string>(),
              HasSubstr("--approve destructive"));
}

TEST_F(FindingsTest, DestructiveChange_ApprovedSucceeds) {
  app_.replace("fastapi_template/models/team.py", kTeamHeadquarters, "");
  auto result = revision("drop headquarters", {"--approve", "destructive"});
  ASSERT_EQ(result.exitCode, 0) << result.out;
  EXPECT_EQ(finding(result.json(), "DestructiveChange")["severity"], "info");
}

TEST_F(FindingsTest, RequiredColumnOnPopulatedTable_CountsTheLiveDatabase) {
  app_.replace("fastapi_template/models/team.py", kTeamHeadquarters,
               std::string(kTeamHeadquarters) + "    code: str = Field(max_length=10)\n");
  upgradeLiveDatabase();
  execSql(db_.database, "INSERT INTO team (name) VALUES ('core'), ('web')");

  auto result = revision("team code");

  expectEscalated(result, "RequiredColumnOnPopulatedTable");
  EXPECT_THAT(finding(result.json(), "RequiredColumnOnPopulatedTable")["message"].get<std::string>(),
              HasSubstr("2 row(s)"));
}

TEST_F(FindingsTest, RequiredColumnOnEmptyTable_IsFine) {
  app_.replace("fastapi_template/models/team.py", kTeamHeadquarters,
               std::string(kTeamHeadquarters) + "    code: str = Field(max_length=10)\n");
  upgradeLiveDatabase();
  auto result = revision("team code");
  ASSERT_EQ(result.exitCode, 0) << result.out;
  EXPECT_THAT(escalations(result.json()), IsEmpty());
}

constexpr char kTicketModel[] =
    "import enum\nfrom typing import Optional\n\nfrom sqlmodel import Field, SQLModel\n\n\n"
    "class Severity(enum.Enum):\n    minor = 'minor'\n    major = 'major'\n\n\n"
    "class Ticket(SQLModel, table=True):\n"
    "    id: Optional[int] = Field(default=None, primary_key=True)\n"
    "    severity: Severity = Field(default=Severity.minor)\n";

TEST_F(FindingsTest, EnumTypeNotDropped_NewTableWithNativeEnum) {
  app_.write("fastapi_template/models/ticket.py", kTicketModel);
  app_.replace("fastapi_template/models/__init__.py", "from fastapi_template.models.team",
               "from fastapi_template.models.ticket import Ticket\nfrom fastapi_template.models.team");
  auto before = app_.versionFiles();

  auto result = revision("tickets");

  expectEscalated(result, "EnumTypeNotDropped");
  auto report = result.json();
  // The round trip shows the same defect: the type outlives the downgrade.
  EXPECT_EQ(report["roundTrip"]["schemaRestored"], false);
  EXPECT_THAT(report["message"].get<std::string>(), HasSubstr("RoundTripSchemaMismatch"));
  EXPECT_THAT(finding(report, "EnumTypeNotDropped")["recommendation"].get<std::string>(),
              HasSubstr("alembic-postgresql-enum"));
  EXPECT_EQ(app_.versionFiles(), before);  // a revision that fails its round trip is removed
}

TEST_F(FindingsTest, EnumTypeMissing_EnumColumnOnExistingTable) {
  app_.replace("fastapi_template/models/item.py", "from typing import TYPE_CHECKING, Optional\n",
               "import enum\nfrom typing import TYPE_CHECKING, Optional\n");
  app_.replace("fastapi_template/models/item.py", "class Item(SQLModel, table=True):",
               "class Priority(enum.Enum):\n    low = 'low'\n    high = 'high'\n\n\n"
               "class Item(SQLModel, table=True):");
  app_.replace("fastapi_template/models/item.py", "    owner_id: int = Field(foreign_key=\"user.id\")\n",
               "    owner_id: int = Field(foreign_key=\"user.id\")\n"
               "    priority: Optional[Priority] = None\n");
  auto result = revision("item priority");
  expectEscalated(result, "EnumTypeMissing");
  EXPECT_EQ(result.json()["roundTrip"]["upgrade"], "Failed");
}

TEST_F(FindingsTest, EnumValuesChanged_AutogenerateIsBlindToNewMembers) {
  app_.replace("fastapi_template/models/user.py", "    member = \"member\"\n",
               "    member = \"member\"\n    guest = \"guest\"\n");
  auto before = app_.versionFiles();

  auto result = revision("guest role");

  expectEscalated(result, "EnumValuesChanged");
  auto f = finding(result.json(), "EnumValuesChanged");
  EXPECT_THAT(f["message"].get<std::string>(), HasSubstr("added guest"));
  EXPECT_TRUE(result.json()["revision"].is_null());  // autogenerate wrote an empty revision
  EXPECT_EQ(app_.versionFiles(), before);
}

TEST_F(FindingsTest, TypeChangeWithoutUsing_StringToInteger) {
  app_.replace("fastapi_template/models/team.py", kTeamHeadquarters,
               "    headquarters: Optional[int] = None\n");
  auto result = revision("headquarters as number");
  expectEscalated(result, "TypeChangeWithoutUsing");
  EXPECT_EQ(result.json()["roundTrip"]["upgrade"], "Failed");
}

TEST_F(FindingsTest, TypeChangeWithoutUsing_AlsoInTheDowngrade) {
  // integer -> text casts, but the downgrade's text -> integer does not.
  app_.replace("fastapi_template/models/item.py", "    price_cents: int = Field(default=0)\n",
               "    price_cents: str = Field(default='0')\n");
  auto result = revision("price as text");
  expectEscalated(result, "TypeChangeWithoutUsing");
  EXPECT_THAT(finding(result.json(), "TypeChangeWithoutUsing")["message"].get<std::string>(),
              HasSubstr("the downgrade"));
  EXPECT_EQ(result.json()["roundTrip"]["downgrade"], "Failed");
}

TEST_F(FindingsTest, TypeChangeThatCastsBothWays_IsFine) {
  app_.replace("fastapi_template/models/team.py", "Field(max_length=100, index=True)",
               "Field(max_length=200, index=True)");
  auto result = revision("longer team names");
  ASSERT_EQ(result.exitCode, 0) << result.out;
  EXPECT_THAT(escalations(result.json()), IsEmpty());
  EXPECT_EQ(result.json()["operations"][0]["op"], "alter_column");
}

TEST_F(FindingsTest, TypeComparisonDisabled_WarnsAndMissesTheTypeChange) {
  app_.replace("migrations/env.py",
               "context.configure(connection=connection, target_metadata=target_metadata, "
               "compare_type=True)",
               "context.configure(connection=connection, target_metadata=target_metadata)");
  app_.replace("fastapi_template/models/team.py", kTeamHeadquarters,
               "    headquarters: Optional[int] = None\n");
  auto result = revision("headquarters as number");
  ASSERT_EQ(result.exitCode, 0) << result.out;
  auto report = result.json();
  EXPECT_EQ(report["reason"], "NoChanges");
  auto f = finding(report, "TypeComparisonDisabled");
  ASSERT_FALSE(f.is_null());
  EXPECT_EQ(f["severity"], "warning");
  EXPECT_THAT(f["recommendation"].get<std::string>(), HasSubstr("compare_type=True"));
}

TEST_F(FindingsTest, UnnamedConstraint_ForeignKeyAddedToExistingTable) {
  app_.replace("fastapi_template/models/item.py", "    owner_id: int = Field(foreign_key=\"user.id\")\n",
               "    owner_id: int = Field(foreign_key=\"user.id\")\n"
               "    team_id: Optional[int] = Field(default=None, foreign_key=\"team.id\")\n");
  auto result = revision("item team");
  expectEscalated(result, "UnnamedConstraint");
  EXPECT_THAT(finding(result.json(), "UnnamedConstraint")["recommendation"].get<std::string>(),
              HasSubstr("naming_convention"));
  EXPECT_EQ(result.json()["roundTrip"]["downgrade"], "Failed");
}

TEST_F(FindingsTest, UndefinedName_TemplateWithoutSqlmodelImport) {
  app_.replace("migrations/script.py.mako", "import sqlmodel.sql.sqltypes\n", "");
  app_.applyChange("user_add_phone");
  auto result = revision("add phone");
  expectEscalated(result, "UndefinedName");
  auto f = finding(result.json(), "UndefinedName");
  EXPECT_THAT(f["message"].get<std::string>(), HasSubstr("'sqlmodel'"));
  EXPECT_THAT(f["recommendation"].get<std::string>(), HasSubstr("script.py.mako"));
  EXPECT_GT(f["line"].get<int>(), 0);
}

constexpr char kRawSqlHook[] =
    "def add_comment(context, revision, directives):\n"
    "    from alembic.operations import ops\n"
    "    script = directives[0]\n"
    "    if not script.upgrade_ops.is_empty():\n"
    "        script.upgrade_ops.ops.append(\n"
    "            ops.ExecuteSQLOp(\"COMMENT ON TABLE team IS 'teams'\"))\n\n\n"
    "def do_run_migrations(connection) -> None:\n";

TEST_F(FindingsTest, RawSQLNotApproved_OpExecuteFromAnEnvHook) {
  app_.replace("migrations/env.py", "def do_run_migrations(connection) -> None:\n", kRawSqlHook);
  app_.replace("migrations/env.py", "target_metadata=target_metadata, compare_type=True)",
               "target_metadata=target_metadata, compare_type=True,\n"
               "                      process_revision_directives=add_comment)");
  app_.applyChange("user_add_phone");
  auto result = revision("add phone");
  expectEscalated(result, "RawSQLNotApproved");
}

TEST_F(FindingsTest, RawSQLApproved_Succeeds) {
  app_.replace("migrations/env.py", "def do_run_migrations(connection) -> None:\n", kRawSqlHook);
  app_.replace("migrations/env.py", "target_metadata=target_metadata, compare_type=True)",
               "target_metadata=target_metadata, compare_type=True,\n"
               "                      process_revision_directives=add_comment)");
  app_.applyChange("user_add_phone");
  auto result = revision("add phone", {"--approve", "raw-sql"});
  ASSERT_EQ(result.exitCode, 0) << result.out;
  EXPECT_EQ(finding(result.json(), "RawSQLNotApproved")["severity"], "info");
}

TEST_F(FindingsTest, DatabaseDrift_ViewAndColumnCreatedByHand) {
  upgradeLiveDatabase();
  execSql(db_.database, "CREATE VIEW team_names AS SELECT name FROM team");
  execSql(db_.database, "ALTER TABLE item ADD COLUMN legacy_code text");
  app_.applyChange("user_add_phone");

  auto result = revision("add phone");

  expectEscalated(result, "DatabaseDrift");
  std::string all = result.json()["findings"].dump();
  EXPECT_THAT(all, HasSubstr("view public.team_names"));
  EXPECT_THAT(all, HasSubstr("column public.item.legacy_code"));
  EXPECT_THAT(all, HasSubstr("alembic-utils"));
}

TEST_F(FindingsTest, NoDriftWhenTheLiveDatabaseMatchesTheHistory) {
  upgradeLiveDatabase();
  app_.applyChange("user_add_phone");
  auto result = revision("add phone");
  ASSERT_EQ(result.exitCode, 0) << result.out;
  EXPECT_TRUE(finding(result.json(), "DatabaseDrift").is_null()) << result.out;
}

TEST_F(FindingsTest, NonConcurrentIndex_OnALargeLiveTable) {
  upgradeLiveDatabase();
  execSql(db_.database, "INSERT INTO \"user\" (name, email, role) VALUES ('a', 'a@x', 'member')");
  execSql(db_.database,
          "INSERT INTO item (title, price_cents, owner_id) "
          "SELECT 'item ' || g, g, 1 FROM generate_series(1, 60) AS g");
  app_.replace("fastapi_template/models/item.py", "title: str = Field(max_length=200)",
               "title: str = Field(max_length=200, index=True)");

  auto result = revision("index item title", {"--large-table-rows", "50"});

  expectEscalated(result, "NonConcurrentIndex");
  EXPECT_THAT(finding(result.json(), "NonConcurrentIndex")["message"].get<std::string>(),
              HasSubstr("60 row(s)"));
  // squawk says the same thing generically, as a warning.
  EXPECT_FALSE(finding(result.json(), "LintRequireConcurrentIndexCreation").is_null());
}

TEST_F(FindingsTest, SquawkMissing_RunStillWorksAndSaysSo) {
  app_.applyChange("user_add_phone");
  auto result = revision("add phone", {}, {{"ALEMBIC_SIDECAR_SQUAWK", "/nonexistent/squawk"}});
  ASSERT_EQ(result.exitCode, 0) << result.out;
  auto f = finding(result.json(), "SquawkNotInstalled");
  ASSERT_FALSE(f.is_null());
  EXPECT_EQ(f["severity"], "info");
}

}  // namespace
}  // namespace alembic_sidecar::testing
