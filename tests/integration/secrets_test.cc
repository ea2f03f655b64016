// A canary password must never reach stdout, stderr, the report, or the project files —
// not on success, not when PostgreSQL refuses it, not when env.py prints the URL itself.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/redactor.h"
#include "support/cli_runner.h"
#include "support/example_app.h"
#include "support/postgres_server.h"

namespace alembic_sidecar::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class SecretsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // '@', '/' and '%' must survive URL encoding; the suffix makes the canary unique.
    password_ = "Canary@/%pw-" + randomName(10);
    user_ = "canary_" + randomName(6);
    execSql("postgres", "CREATE ROLE " + user_ + " LOGIN CREATEDB PASSWORD '" + password_ + "'");
    db_ = createTestDatabase("sec");
    execSql("postgres", "ALTER DATABASE " + db_.database + " OWNER TO " + user_);
    db_.user = user_;
    db_.password = password_;
  }

  void expectNoCanary(const CliResult& result) {
    for (const std::string& form : {password_, core::percentEncode(password_)}) {
      EXPECT_THAT(result.out, Not(HasSubstr(form)));
      EXPECT_THAT(result.err, Not(HasSubstr(form)));
      for (const auto& entry : std::filesystem::recursive_directory_iterator(app_.dir())) {
        if (!entry.is_regular_file()) {
          continue;
        }
        std::ifstream in(entry.path(), std::ios::binary);
        std::stringstream text;
        text << in.rdbuf();
        EXPECT_THAT(text.str(), Not(HasSubstr(form))) << entry.path();
      }
    }
  }

  CliResult revision(const database::ConnectionInfo& db) {
    return runCli({"revision", "-m", "canary run", "--project", app_.dir(), "--database-url",
                   db.url(), "--json"},
                  {{"ALEMBIC_SIDECAR_LOG_LEVEL", "trace"}});
  }

  ExampleApp app_;
  std::string password_;
  std::string user_;
  database::ConnectionInfo db_;
};

TEST_F(SecretsTest, SuccessfulRun_NeverPrintsThePassword) {
  app_.applyChange("user_add_phone");
  auto result = revision(db_);
  ASSERT_EQ(result.exitCode, 0) << result.err << result.out;
  EXPECT_EQ(result.json()["reason"], "RevisionCreated");
  expectNoCanary(result);
}

TEST_F(SecretsTest, EnvPyThatPrintsTheUrl_IsMaskedInTheReport) {
  app_.replace("migrations/env.py", "target_metadata = metadata\n",
               "target_metadata = metadata\n"
               "raise RuntimeError('cannot use ' + database_url())\n");
  auto result = revision(db_);
  EXPECT_EQ(result.exitCode, 1);
  EXPECT_THAT(result.json()["message"].get<std::string>(), HasSubstr("cannot use"));
  EXPECT_THAT(result.json()["message"].get<std::string>(), HasSubstr("****"));
  expectNoCanary(result);
}

TEST_F(SecretsTest, RefusedPassword_FailsWithoutEchoingIt) {
  database::ConnectionInfo wrong = db_;
  wrong.password = password_ + "-wrong";
  auto result = revision(wrong);
  EXPECT_EQ(result.exitCode, 1);
  EXPECT_EQ(result.json()["reason"], "DatabaseUnavailable");
  EXPECT_THAT(result.json()["message"].get<std::string>(), HasSubstr(user_));
  expectNoCanary(result);
}

}  // namespace
}  // namespace alembic_sidecar::testing
