#pragma once

#include <gmock/gmock.h>

#include "database/resolver.h"
#include "workspace/workspace.h"

namespace alembic_sidecar::testing {

class MockWorkspace : public workspace::Workspace {
 public:
  MOCK_METHOD(core::Result<workspace::CommandOutput>, run, (const workspace::Command&),
              (override));
  MOCK_METHOD(core::Result<std::string>, readFile, (const std::string&), (override));
  MOCK_METHOD(core::Result<std::vector<workspace::DirEntry>>, listDir, (const std::string&),
              (override));
  MOCK_METHOD(core::Status, removeFile, (const std::string&), (override));
  MOCK_METHOD(bool, exists, (const std::string&), (override));
  MOCK_METHOD(std::string, root, (), (const, override));
  MOCK_METHOD(std::string, describe, (), (const, override));
};

class MockResolver : public database::DatabaseResolver {
 public:
  MOCK_METHOD(core::Result<database::ResolvedDatabase>, resolve, (), (override));
};

}  // namespace alembic_sidecar::testing
