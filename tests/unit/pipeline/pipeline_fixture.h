#pragma once

// The pipeline over a scripted driver and a mock database: shared by the pipeline's unit tests.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/reasons.h"
#include "mocks/fake_driver.h"
#include "mocks/fake_workspace.h"
#include "mocks/mock_database.h"
#include "mocks/mock_workspace.h"
#include "pipeline/pipeline.h"

namespace alembic_sidecar::pipeline {

using ::testing::_;
using ::testing::NiceMock;
using ::testing::Return;

inline constexpr char kScratch[] = "app_autogen_1800000000_abcdef";
inline constexpr char kNewRevision[] = R"PY("""add user phone

Revision ID: b2
Revises: a1
"""
from alembic import op
import sqlalchemy as sa

revision = 'b2'
down_revision = 'a1'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('user', sa.Column('phone', sa.String(), nullable=True))


def downgrade() -> None:
    op.drop_column('user', 'phone')
)PY";

/** A fingerprint built from its own catalog rows, so equal ones are equal by content. */
inline database::SchemaFingerprint schema(
    std::vector<std::pair<std::string, std::string>> columns) {
  std::vector<database::CatalogObject> rows = {{"table", "public.user", "relkind r"}};
  for (const auto& [name, type] : columns) {
    rows.push_back({"column", "public.user." + name, type});
  }
  return database::SchemaFingerprint::fromCatalog(rows);
}

inline alembic::HistoryEntry head(const std::string& id, std::vector<std::string> labels = {}) {
  alembic::HistoryEntry e;
  e.revision = id;
  e.path = "migrations/versions/" + id + ".py";
  e.isHead = true;
  e.branchLabels = std::move(labels);
  return e;
}

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    conn_.user = "u";
    conn_.password = "pw";
    conn_.database = "app";
    conn_.scheme = "postgresql+asyncpg";
    ON_CALL(resolver_, resolve()).WillByDefault([this] {
      database::ResolvedDatabase resolved{conn_, "flag", {}};
      resolved.schemeChosen = schemeChosen_;
      return core::Result<database::ResolvedDatabase>(resolved);
    });
    ON_CALL(*db_, probe(_)).WillByDefault(Return(core::Status{}));
    ON_CALL(*db_, listDatabases(_)).WillByDefault(Return(std::vector<std::string>{}));
    ON_CALL(*db_, createDatabase(_)).WillByDefault(Return(core::Status{}));
    ON_CALL(*db_, listScratch(_)).WillByDefault(Return(std::vector<database::ScratchDatabase>{}));
    ON_CALL(*db_, claimScratch(_)).WillByDefault([](const std::string&) {
      return testing::FakeScratchLease::make();
    });
    ON_CALL(*db_, dropDatabase(_)).WillByDefault(Return(core::Status{}));
    ON_CALL(*db_, identity(_)).WillByDefault([](const std::string& name) {
      return core::Result<std::string>(name + ":16385:1700000000.5");
    });
    ON_CALL(*db_, appliedRevisions(_, _)).WillByDefault(Return(std::vector<std::string>{}));
    ON_CALL(*db_, countRows(_, _, _, _)).WillByDefault(Return(int64_t{0}));
    // No answer: the live-data checks say they were skipped (info), the verdict is unchanged.
    ON_CALL(*db_, queryReadOnly(_, _, _))
        .WillByDefault(Return(std::vector<core::Result<database::QueryRows>>{}));
    ON_CALL(*db_, enumLabels(_, _)).WillByDefault(Return(std::vector<std::string>{}));
    ON_CALL(*db_, fingerprint(_)).WillByDefault(Return(schema({{"id", "integer"}})));
    driver_.driverInfo.envPy = "migrations/env.py";
    driver_.driverInfo.alembicVersion = "1.8.1";
    driver_.driverInfo.sqlalchemyVersion = "1.4.46";
    driver_.driverInfo.versionLocations = {"migrations/versions"};
    driver_.driverInfo.drivers = {"asyncpg", "psycopg2"};
    driver_.historyOutcome.revisions = {head("a1")};
    driver_.compareOutcome.compareType = true;
    driver_.modelsOutcome.tables = {"user"};
    driver_.workspace.files["migrations/versions/a1.py"] =
        "revision = 'a1'\ndown_revision = None\n";
    driver_.stageRevision("b2_add_user_phone.py", kNewRevision);
  }

  RunOutcome run(RunRequest request = {}) {
    if (request.message.empty()) {
      request.message = "add user phone";
    }
    PipelineDeps deps;
    deps.workspace = &launchWorkspace_;
    deps.resolver = &resolver_;
    deps.databaseFactory = [this](const database::ConnectionInfo&) {
      return std::unique_ptr<database::Database>(db_.release());
    };
    deps.now = [] {
      return std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));
    };
    deps.randomSuffix = [] { return std::string("abcdef"); };
    deps.cancelled = cancelled_;
    deps.startDriver = [this](workspace::Workspace&, const alembic::DriverOptions& options) {
      options_ = options;
      ++driverStarts_;
      return core::Result<std::unique_ptr<alembic::Driver>>(
          std::make_unique<testing::DriverRef>(driver_));
    };
    return runPipeline(request, deps);
  }

  bool hasFile(const std::string& path) const { return driver_.workspace.files.count(path) > 0; }

  testing::FakeWorkspace launchWorkspace_;
  testing::FakeDriver driver_;
  NiceMock<testing::MockResolver> resolver_;
  std::unique_ptr<NiceMock<testing::MockDatabase>> db_ =
      std::make_unique<NiceMock<testing::MockDatabase>>();
  NiceMock<testing::MockDatabase>* db = db_.get();
  database::ConnectionInfo conn_;
  bool schemeChosen_ = true;
  alembic::DriverOptions options_;
  int driverStarts_ = 0;
  std::function<bool()> cancelled_;
};

}  // namespace alembic_sidecar::pipeline
