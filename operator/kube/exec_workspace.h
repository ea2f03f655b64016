#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kube/kube_api.h"
#include "workspace/workspace.h"

namespace alembic_sidecar::kube {

/** The container a workspace lives in. */
struct ExecTarget {
  std::string namespace_;
  std::string pod;
  std::string container;
  /** The project directory inside the container; empty: the container's working directory. */
  std::string workingDir;
};

struct ExecWorkspaceOptions {
  /** The interpreter that runs the launcher in the container. */
  std::string python = "python3";
  /**
   * The launcher: `python -c <launcherProgram>`, fed `launcherPreamble` and then one request of
   * the file protocol (workspace/file_protocol.h) on stdin. The driver's own bootstrap and
   * package (alembic::fileLauncher()), so one Python file protocol serves both workspaces.
   */
  std::string launcherProgram;
  std::string launcherPreamble;
  /** Bound on readFile / listDir / removeFile / exists. */
  std::chrono::milliseconds fileTimeout{std::chrono::seconds(60)};
  /** Added to Command.timeout for the exec stream, so the launcher's own kill wins. */
  std::chrono::milliseconds timeoutGrace{std::chrono::seconds(15)};
};

/**
 * A workspace inside a running container, reached through pods/exec. Every operation is one
 * exec of [python, "-c", launcherProgram] that answers one request of the file protocol: the
 * request itself (op, argv, env, cwd, path, stdin) travels as a JSON line on the exec stdin,
 * so environment values (database passwords) never appear in the exec URL, the container's
 * process list or the API server's audit log. `run` runs the argv (no shell) in its own
 * session with its output captured, and kills it when Command.timeout passes. The launcher
 * reads exactly its input and never waits for stdin EOF, so it works over v4.channel.k8s.io,
 * which cannot half-close stdin.
 */
class ExecWorkspace final : public workspace::Workspace {
 public:
  ExecWorkspace(std::shared_ptr<KubeApi> api, ExecTarget target, ExecWorkspaceOptions options = {});

  core::Result<workspace::CommandOutput> run(const workspace::Command& cmd) override;
  /** One pods/exec session running argv directly (env and cwd are not applied). */
  core::Result<std::unique_ptr<workspace::Session>> start(const workspace::Command& cmd) override;
  core::Result<std::string> readFile(const std::string& path) override;
  core::Result<std::vector<workspace::DirEntry>> listDir(const std::string& path) override;
  core::Status removeFile(const std::string& path) override;
  bool exists(const std::string& path) override;
  /** One exec: the launcher walks the tree and returns the files as JSON. */
  core::Result<workspace::FileMap> readTree(const std::string& dir,
                                            const workspace::TreeOptions& options) override;
  std::string root() const override { return target_.workingDir; }
  std::string describe() const override;

 private:
  /** One exec of the launcher: the reply's result, or an error naming `what`. */
  core::Result<nlohmann::json> call(nlohmann::json request, const std::string& what,
                                    std::chrono::milliseconds timeout);

  std::shared_ptr<KubeApi> api_;
  ExecTarget target_;
  ExecWorkspaceOptions options_;
};

}  // namespace alembic_sidecar::kube
