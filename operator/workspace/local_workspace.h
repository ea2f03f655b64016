#pragma once

#include <functional>

#include "core/redactor.h"
#include "workspace/workspace.h"

namespace alembic_sidecar::workspace {

/** The project on this machine's file system; commands run as local child processes. */
class LocalWorkspace : public Workspace {
 public:
  /**
   * `cancelled` is handed to every command (ProcessSpec::cancelled): once it returns true a
   * running command is stopped with its process group and a new one does not start.
   */
  explicit LocalWorkspace(std::string root, std::function<bool()> cancelled = {});

  core::Result<CommandOutput> run(const Command& cmd) override;
  core::Result<std::unique_ptr<Session>> start(const Command& cmd) override;
  core::Result<std::string> readFile(const std::string& path) override;
  core::Result<std::vector<DirEntry>> listDir(const std::string& path) override;
  core::Status removeFile(const std::string& path) override;
  bool exists(const std::string& path) override;
  std::string root() const override { return root_; }
  std::string describe() const override { return "local " + root_; }

 private:
  std::string resolve(const std::string& path) const;

  std::string root_;
  std::function<bool()> cancelled_;
};

}  // namespace alembic_sidecar::workspace
