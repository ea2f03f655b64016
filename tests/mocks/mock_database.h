#pragma once

#include <gmock/gmock.h>

#include <memory>

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
  MOCK_METHOD(core::Result<std::vector<std::string>>, appliedRevisions,
              (const std::string&, const std::string&), (override));
  MOCK_METHOD(core::Result<std::string>, identity, (const std::string&), (override));
  MOCK_METHOD(core::Result<std::unique_ptr<database::ScratchLease>>, claimScratch,
              (const std::string&), (override));
  MOCK_METHOD(core::Result<std::vector<database::ScratchDatabase>>, listScratch,
              (const std::string&), (override));
  MOCK_METHOD(core::Result<std::vector<core::Result<database::QueryRows>>>, queryReadOnly,
              (const std::string&, const std::vector<database::ReadOnlyQuery>&,
               const database::ReadOnlyLimits&),
              (override));
  MOCK_METHOD(core::Status, buildSchema, (const std::string&, const database::SchemaScript&),
              (override));
  MOCK_METHOD(const database::ConnectionInfo&, connection, (), (const, override));
};

/** A lease for MockDatabase::claimScratch; `released` turns true when it is destroyed. */
class FakeScratchLease : public database::ScratchLease {
 public:
  explicit FakeScratchLease(std::shared_ptr<bool> released = std::make_shared<bool>(false))
      : released_(std::move(released)) {}
  ~FakeScratchLease() override { *released_ = true; }
  const database::ScratchOwner& owner() const override { return owner_; }
  bool held() override { return !*released_; }

  /** A claimScratch() answer. */
  static core::Result<std::unique_ptr<database::ScratchLease>> make(
      std::shared_ptr<bool> released = std::make_shared<bool>(false)) {
    return std::unique_ptr<database::ScratchLease>(
        std::make_unique<FakeScratchLease>(std::move(released)));
  }

 private:
  std::shared_ptr<bool> released_;
  database::ScratchOwner owner_;
};

}  // namespace alembic_sidecar::testing
