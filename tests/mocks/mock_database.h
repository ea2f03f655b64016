#pragma once

#include <gmock/gmock.h>

#include "database/database.h"

namespace alembic_sidecar::testing {

class MockDatabase : public database::Database {
 public:
  MOCK_METHOD(core::Status, probe, (const database::ProbePolicy&), (override));
  MOCK_METHOD(core::Status, createDatabase, (const std::string&), (override));
  MOCK_METHOD(core::Status, dropDatabase, (const std::string&), (override));
  MOCK_METHOD(core::Result<std::vector<std::string>>, listDatabases, (const std::string&),
              (override));
  MOCK_METHOD(core::Result<database::SchemaFingerprint>, fingerprint, (const std::string&),
              (override));
  MOCK_METHOD(core::Result<int64_t>, countRows,
              (const std::string&, const std::string&, const std::string&, int64_t), (override));
  MOCK_METHOD(core::Result<std::vector<std::string>>, enumLabels,
              (const std::string&, const std::string&), (override));
  MOCK_METHOD(core::Result<std::vector<core::Result<database::QueryRows>>>, queryReadOnly,
              (const std::string&, const std::vector<database::ReadOnlyQuery>&,
               const database::ReadOnlyLimits&),
              (override));
  MOCK_METHOD(core::Result<std::vector<std::string>>, appliedRevisions, (const std::string&),
              (override));
  MOCK_METHOD(const database::ConnectionInfo&, connection, (), (const, override));
};

}  // namespace alembic_sidecar::testing
