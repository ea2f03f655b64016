// Shapes of real projects nobody here wrote, each with a history made by real autogenerate
// (tests/fixtures/README.md): expand/contract branches with models registered in a loop, an
// upgrade-only history, a src/ layout with its alembic.ini in a subdirectory, a custom
// version table, a non-public schema and several version locations, and an @as_declarative
// Base. `check` on each correct app ends InSync; each planted mistake ends with its reason
// and quotes the line that says what went wrong.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "support/cli_runner.h"
#include "support/example_app.h"
#include "support/postgres_server.h"
#include "workspace/process.h"

namespace alembic_sidecar::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::vector<std::string> codes(const nlohmann::json& report) {
  std::vector<std::string> out;
  for (const auto& f : report["findings"]) {
    out.push_back(f["code"]);
  }
  return out;
}

std::string condition(const nlohmann::json& report, const std::string& type) {
  for (const auto& c : report["conditions"]) {
    if (c["type"] == type) {
      return c["reason"].get<std::string>() + ": " + c["message"].get<std::string>();
    }
  }
  return "missing";
}

class ProjectShapes : public ::testing::Test {
 protected:
  void open(const std::string& fixture, const std::string& versionsDir = "migrations/versions") {
    app_ = std::make_unique<ExampleApp>(fixture, versionsDir);
    db_ = createTestDatabase("shape").withScheme("postgresql+psycopg2");
  }

  CliResult run(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
    args.insert(args.end(), {"--project", app_->dir(), "--database-url", db_.url(), "--json"});
    return runCli(args, env);
  }

  /** Real alembic in the app, e.g. to plant a second head the way a developer would. */
  void alembic(const std::vector<std::string>& args) { app_->alembic(args, db_.url()); }

  std::unique_ptr<ExampleApp> app_;
  database::ConnectionInfo db_;
};

TEST_F(ProjectShapes, Branches_CheckUpgradesBothHeadsAndRoundTripsEachBranch) {
  open("branches_app");
  auto result = run({"check"});
  ASSERT_EQ(result.exitCode, 0) << result.out << result.err;
  auto report = result.json();
  EXPECT_EQ(report["reason"], "InSync");
  std::string roundTrip = condition(report, "RoundTripPassed");
  EXPECT_THAT(roundTrip, HasSubstr("downgrade expand@-1 restored"));
  EXPECT_THAT(roundTrip, HasSubstr("downgrade contract@-1 restored"));
  EXPECT_THAT(condition(report, "ModelsRegistered"), HasSubstr("2 table(s)"));
}

TEST_F(ProjectShapes, Branches_DependsOnAcrossBranchesChecksAndRoundTrips) {
  open("branches_app");
  // contract's new head depends_on expand's head (made by `revision --autogenerate --head
  // contract@head --depends-on 19e2ec68eda7`).
  app_->applyChange("shop_customer_email_depends_on");
  auto result = run({"check"});
  ASSERT_EQ(result.exitCode, 0) << result.out << result.err;
  auto report = result.json();
  EXPECT_EQ(report["reason"], "InSync");
  std::string roundTrip = condition(report, "RoundTripPassed");
  EXPECT_THAT(roundTrip, HasSubstr("downgrade contract@-1 restored dfac5317516f"));
  // Taking expand's head down takes its dependent with it (alembic's depends_on): the
  // reference is built forward to what is left, contract's old head.
  EXPECT_THAT(roundTrip, HasSubstr("downgrade expand@-1 restored dfac5317516f"));
  // And a revision on top of the dependent head.
  app_->applyChange("shop_order_note");
  auto revision = run({"revision", "-m", "add order note", "--head", "contract@head"});
  ASSERT_EQ(revision.exitCode, 0) << revision.out << revision.err;
  EXPECT_EQ(revision.json()["revision"]["downRevision"], "447053289d3b");
}

TEST_F(ProjectShapes, Branches_RevisionWithoutHeadSaysWhichHeadsThereAre) {
  open("branches_app");
  app_->applyChange("shop_order_note");
  auto result = run({"revision", "-m", "add order note"});
  EXPECT_EQ(result.exitCode, 1) << result.out;
  auto report = result.json();
  EXPECT_EQ(report["reason"], "HeadRequired");
  EXPECT_THAT(report["message"].get<std::string>(), HasSubstr("--head BRANCH@head"));
  EXPECT_THAT(report["message"].get<std::string>(), HasSubstr("FAILED: Multiple heads"));
  EXPECT_EQ(app_->versionFiles().size(), 3u);
}

TEST_F(ProjectShapes, Branches_RevisionGoesOnTheNamedBranch) {
  open("branches_app");
  app_->applyChange("shop_order_note");
  auto result = run({"revision", "-m", "add order note", "--head", "expand@head"});
  ASSERT_EQ(result.exitCode, 0) << result.out << result.err;
  auto report = result.json();
  EXPECT_EQ(report["reason"], "RevisionCreated");
  EXPECT_EQ(report["revision"]["downRevision"], "19e2ec68eda7");  // the expand head
  std::string text = app_->read(report["revision"]["file"]);
  EXPECT_THAT(text, HasSubstr("op.add_column('order', sa.Column('note'"));
  // And the history it leaves still checks clean.
  auto check = run({"check"});
  EXPECT_EQ(check.exitCode, 0) << check.out;
}

TEST_F(ProjectShapes, Branches_ModelNobodyImportsIsNamedWithItsFix) {
  open("branches_app");
  app_->write("shop/reports/__init__.py", "");
  app_->write("shop/reports/models.py",
              "from sqlalchemy import Column, Integer, String\n\n"
              "from shop.models.base import Base\n\n\n"
              "class DailyReport(Base):\n"
              "    __tablename__ = \"daily_report\"\n\n"
              "    id = Column(Integer, primary_key=True)\n"
              "    body = Column(String(2000))\n");
  auto result = run({"check"});
  EXPECT_EQ(result.exitCode, 1) << result.out;
  auto report = result.json();
  EXPECT_EQ(report["reason"], "ModelNotRegistered");
  std::string message = report["message"].get<std::string>();
  EXPECT_THAT(message, HasSubstr("DailyReport in shop/reports/models.py:6"));
  EXPECT_THAT(message, HasSubstr("from shop.reports.models import DailyReport"));
  EXPECT_THAT(message, HasSubstr("migrations/env.py"));
}

TEST_F(ProjectShapes, Branches_UnlabelledSecondHeadIsMultipleHeads) {
  open("branches_app");
  alembic({"revision", "-m", "stray", "--head", "6eccab9f8025", "--splice"});
  auto result = run({"check"});
  EXPECT_EQ(result.exitCode, 1) << result.out;
  auto report = result.json();
  EXPECT_EQ(report["reason"], "MultipleHeads");
  EXPECT_THAT(report["message"].get<std::string>(), HasSubstr("19e2ec68eda7 (expand)"));
}

TEST_F(ProjectShapes, Branches_DriftIsModelsOutOfSync) {
  open("branches_app");
  app_->applyChange("shop_order_note");
  auto result = run({"check"});
  EXPECT_EQ(result.exitCode, 1) << result.out;
  auto report = result.json();
  EXPECT_EQ(report["reason"], "ModelsOutOfSync");
  EXPECT_THAT(report["message"].get<std::string>(), HasSubstr("add_column order.note"));
}

TEST_F(ProjectShapes, UpgradeOnly_CheckIsInSyncAndSaysWhatItCouldVerify) {
  open("upgrade_only_app");
  auto result = run({"check"});
  ASSERT_EQ(result.exitCode, 0) << result.out << result.err;
  auto report = result.json();
  EXPECT_EQ(report["reason"], "InSync");
  EXPECT_THAT(codes(report), ::testing::Contains("DowngradeNotProvided"));
  EXPECT_THAT(condition(report, "RoundTripPassed"), HasSubstr("UpgradeOnly: "));
  EXPECT_THAT(condition(report, "RoundTripPassed"), HasSubstr("verified forward only"));
}

TEST_F(ProjectShapes, UpgradeOnly_RoundTripsCanBeTurnedOff) {
  open("upgrade_only_app");
  auto result = run({"check", "--roundtrip-last", "0"});
  ASSERT_EQ(result.exitCode, 0) << result.out;
  EXPECT_THAT(condition(result.json(), "RoundTripPassed"),
              HasSubstr("round trips are off (--roundtrip-last 0)"));
}

TEST_F(ProjectShapes, UpgradeOnly_NewRevisionIsVerifiedForwardAndKept) {
  open("upgrade_only_app");
  app_->applyChange("ledger_add_memo");
  auto result = run({"revision", "-m", "add memo"});
  ASSERT_EQ(result.exitCode, 0) << result.out << result.err;
  auto report = result.json();
  EXPECT_EQ(report["reason"], "RevisionCreated");
  EXPECT_THAT(codes(report), ::testing::Contains("DowngradeNotProvided"));
  EXPECT_THAT(condition(report, "RoundTripPassed"), HasSubstr("UpgradeOnly: upgrade-only"));
  EXPECT_EQ(app_->versionFiles().size(), 3u);
}

TEST_F(ProjectShapes, SrcLayout_IniInASubdirectoryWithItsOwnUrlVariable) {
  open("src_layout_app", "src/acme/migrations/versions");
  std::vector<std::string> shape = {"--config", "deploy/alembic.ini", "--url-env",
                                    "ACME_DATABASE_URL"};
  std::vector<std::string> args = {"check"};
  args.insert(args.end(), shape.begin(), shape.end());
  auto check = run(args);
  ASSERT_EQ(check.exitCode, 0) << check.out << check.err;
  EXPECT_EQ(check.json()["reason"], "InSync");

  app_->applyChange("acme_account_name");
  args = {"revision", "-m", "add account name"};
  args.insert(args.end(), shape.begin(), shape.end());
  auto created = run(args);
  ASSERT_EQ(created.exitCode, 0) << created.out << created.err;
  auto report = created.json();
  EXPECT_EQ(report["reason"], "RevisionCreated");
  // The head's version location, and the custom version table did not upset the round trip.
  EXPECT_THAT(report["revision"]["file"].get<std::string>(),
              HasSubstr("src/acme/migrations/versions/"));
  EXPECT_TRUE(report["roundTrip"]["schemaRestored"].get<bool>());
  EXPECT_THAT(app_->read(report["revision"]["file"]),
              HasSubstr("op.add_column('account', sa.Column('name'"));
}

TEST_F(ProjectShapes, SrcLayout_WithoutTheUrlVariableIsIsolationBreachedOrSaysWhy) {
  open("src_layout_app", "src/acme/migrations/versions");
  // The app's own variable names the live database; the run offers its scratch URL only in
  // DATABASE_URL (no --url-env): env.py must not be obeyed.
  auto result = run({"check", "--config", "deploy/alembic.ini"},
                    {{"ACME_DATABASE_URL", db_.url()}});
  EXPECT_EQ(result.exitCode, 1) << result.out;
  auto report = result.json();
  EXPECT_EQ(report["reason"], "IsolationBreached");
  EXPECT_THAT(report["message"].get<std::string>(), HasSubstr("database '" + db_.database + "'"));
}

TEST_F(ProjectShapes, AsDeclarativeBase_TablesAreSeenAndChecked) {
  open("declarative_app");
  auto check = run({"check"});
  ASSERT_EQ(check.exitCode, 0) << check.out << check.err;
  EXPECT_THAT(condition(check.json(), "ModelsRegistered"), HasSubstr("2 table(s)"));
  app_->applyChange("catalog_book_isbn");
  auto created = run({"revision", "-m", "add isbn"});
  ASSERT_EQ(created.exitCode, 0) << created.out;
  EXPECT_THAT(app_->read(created.json()["revision"]["file"]),
              HasSubstr("op.add_column('book', sa.Column('isbn'"));
}

TEST_F(ProjectShapes, ModelModuleThatFailsToImport_QuotesItsException) {
  open("declarative_app");
  app_->write("catalog/models.py", app_->read("catalog/models.py") +
                                       "\n\nclass Broken(Base):\n    title = Colum(String(5))\n");
  auto result = run({"check"});
  EXPECT_EQ(result.exitCode, 1) << result.out;
  auto report = result.json();
  // env.py imports the module itself, so alembic's own load fails and says why, and where.
  EXPECT_EQ(report["reason"], "ModelImportFailed");
  EXPECT_THAT(report["message"].get<std::string>(),
              HasSubstr("NameError: name 'Colum' is not defined (catalog/models.py:16)"));
}

TEST_F(ProjectShapes, ModelsByModuleName_AreImportedAndChecked) {
  open("branches_app");
  app_->write("shop/extra.py",
              "from sqlalchemy import Column, Integer\n\nfrom shop.models.base import Base\n\n\n"
              "class Extra(Base):\n    __tablename__ = 'extra'\n\n"
              "    id = Column(Integer, primary_key=True)\n");
  auto result = run({"check", "--models", "shop.extra"});
  EXPECT_EQ(result.exitCode, 1) << result.out;
  EXPECT_EQ(result.json()["reason"], "ModelNotRegistered");
  EXPECT_THAT(result.json()["message"].get<std::string>(), HasSubstr("Extra in shop/extra.py"));
}

// alembic's documented recipe "Don't Generate Empty Migrations with Autogenerate": env.py's
// process_revision_directives looks at config.cmd_opts.autogenerate and drops an empty script,
// so alembic writes no file at all.
constexpr char kDropEmptyRecipe[] = R"PY(
def process_revision_directives(context, revision, directives):
    if config.cmd_opts.autogenerate:
        script = directives[0]
        if script.upgrade_ops.is_empty():
            directives[:] = []
)PY";

TEST_F(ProjectShapes, EnvPyThatDropsEmptyRevisions_NoChangesThenARealOne) {
  open("sync_app");
  app_->replace("migrations/env.py", "\ndef run_migrations_offline",
                std::string(kDropEmptyRecipe) + "\n\ndef run_migrations_offline");
  app_->replace("migrations/env.py",
                "connection=connection, target_metadata=target_metadata",
                "connection=connection, target_metadata=target_metadata,\n"
                "            process_revision_directives=process_revision_directives");
  const auto before = app_->versionFiles();
  auto nothing = run({"revision", "-m", "nothing"});
  ASSERT_EQ(nothing.exitCode, 0) << nothing.out << nothing.err;
  EXPECT_EQ(nothing.json()["reason"], "NoChanges");
  EXPECT_EQ(app_->versionFiles(), before);

  app_->applyChange("sync_product_add_sku");
  auto created = run({"revision", "-m", "add sku"});
  ASSERT_EQ(created.exitCode, 0) << created.out << created.err;
  EXPECT_EQ(created.json()["reason"], "RevisionCreated");
  EXPECT_EQ(app_->versionFiles().size(), before.size() + 1);
}

}  // namespace
}  // namespace alembic_sidecar::testing
