#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "workspace/workspace.h"

namespace alembic_sidecar::alembic {

/**
 * The project's files as the running driver sees them: every operation is one request on
 * the driver's existing channel, so a run in a pod needs no second exec session. Paths are
 * relative to the project root the driver was started in.
 */
class DriverWorkspace final : public workspace::Workspace {
 public:
  /** Sends one request to the driver and returns its answer. */
  using Call = std::function<core::Result<nlohmann::json>(nlohmann::json)>;

  DriverWorkspace(Call call, std::string root, std::string description);

  core::Result<workspace::CommandOutput> run(const workspace::Command& cmd) override;
  core::Result<std::string> readFile(const std::string& path) override;
  core::Result<std::vector<workspace::DirEntry>> listDir(const std::string& path) override;
  core::Status removeFile(const std::string& path) override;
  bool exists(const std::string& path) override;
  core::Result<workspace::FileMap> readTree(const std::string& dir,
                                            const workspace::TreeOptions& options) override;
  std::string root() const override { return root_; }
  std::string describe() const override { return description_; }

 private:
  /** The answer's result when ok; otherwise an error naming the operation and the path. */
  core::Result<nlohmann::json> request(nlohmann::json request, const std::string& what);

  Call call_;
  std::string root_;
  std::string description_;
};

}  // namespace alembic_sidecar::alembic
