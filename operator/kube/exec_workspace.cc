#include "kube/exec_workspace.h"

#include <spdlog/spdlog.h>

#include "core/json_util.h"
#include "core/reasons.h"
#include "kube/api_errors.h"
#include "kube/exec_session.h"
#include "kube/exec_stream.h"
#include "workspace/file_protocol.h"

namespace alembic_sidecar::kube {

namespace fp = workspace;

ExecWorkspace::ExecWorkspace(std::shared_ptr<KubeApi> api, ExecTarget target,
                             ExecWorkspaceOptions options)
    : api_(std::move(api)), target_(std::move(target)), options_(std::move(options)) {}

std::string ExecWorkspace::describe() const {
  std::string out = "pod " + target_.namespace_ + "/" + target_.pod;
  if (!target_.container.empty()) {
    out += " container " + target_.container;
  }
  if (!target_.workingDir.empty()) {
    out += " dir " + target_.workingDir;
  }
  return out;
}

core::Result<nlohmann::json> ExecWorkspace::call(nlohmann::json request, const std::string& what,
                                                 std::chrono::milliseconds timeout) {
  if (options_.launcherProgram.empty()) {
    return core::Error::terminal(core::reason::kInternalError,
                                 "the exec workspace was given no launcher program");
  }
  request["root"] = target_.workingDir;
  ExecRequest exec;
  exec.namespace_ = target_.namespace_;
  exec.pod = target_.pod;
  exec.container = target_.container;
  exec.command = {options_.python, "-c", options_.launcherProgram};
  // Replace, not throw, on invalid UTF-8: one odd byte must not lose the whole request.
  exec.stdinData = options_.launcherPreamble +
                   request.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  exec.closeStdin = true;
  exec.timeout = timeout;
  auto result = api_->exec(exec);
  if (!result) {
    core::Error error = result.error();
    // Name the interpreter: a missing one is the usual cause, and the stream's own error
    // (the server's Status, or only a closed socket) does not always say which it was.
    error.message = "cannot run " + options_.python + " in " + describe() + ": " + error.message;
    error.reason = core::reason::kWorkspaceUnavailable;
    return error;
  }
  if (result->timedOut) {
    return core::Error::retryable(core::reason::kTimeout,
                                  what + " in " + describe() + " timed out");
  }
  auto reply = nlohmann::json::parse(result->out.substr(0, result->out.find('\n')), nullptr,
                                     /*allow_exceptions=*/false);
  if (!reply.is_object()) {
    // Not the launcher speaking: the interpreter is missing or broke.
    std::string err =
        result->err.size() > 2000 ? result->err.substr(result->err.size() - 2000) : result->err;
    return core::Error::retryable(core::reason::kWorkspaceUnavailable,
                                  what + " in " + describe() + ": " + options_.python +
                                      " exited with " + std::to_string(result->exitCode) +
                                      " without an answer: " + err);
  }
  return fp::replyResult(reply, what, describe(), core::reason::kWorkspaceUnavailable);
}

core::Result<workspace::CommandOutput> ExecWorkspace::run(const workspace::Command& cmd) {
  if (cmd.argv.empty()) {
    return core::Error::terminal(core::reason::kUsageError, "run: empty argv");
  }
  auto result =
      call(fp::runRequest(cmd), "run " + cmd.argv.front(), cmd.timeout + options_.timeoutGrace);
  if (!result) {
    if (result.error().reason == core::reason::kTimeout) {
      workspace::CommandOutput output;
      output.timedOut = true;
      output.exitCode = -1;
      return output;
    }
    return result.error();
  }
  return fp::commandOutputOf(*result);
}

core::Result<std::string> ExecWorkspace::readFile(const std::string& path) {
  auto result = call(fp::readRequest(path), "read " + path, options_.fileTimeout);
  if (!result) {
    return result.error();
  }
  return fp::contentOf(*result);
}

core::Result<std::vector<workspace::DirEntry>> ExecWorkspace::listDir(const std::string& path) {
  auto result = call(fp::listRequest(path), "list " + path, options_.fileTimeout);
  if (!result) {
    return result.error();
  }
  return fp::entriesOf(*result);
}

core::Status ExecWorkspace::removeFile(const std::string& path) {
  auto result = call(fp::removeRequest(path), "remove " + path, options_.fileTimeout);
  if (!result) {
    return result.error();
  }
  return {};
}

bool ExecWorkspace::exists(const std::string& path) {
  auto result = call(fp::existsRequest(path), "exists " + path, options_.fileTimeout);
  if (!result) {
    spdlog::warn("Workspace exists check failed workspace={} path={} error={}", describe(), path,
                 result.error().message);
    return false;
  }
  return core::boolField(*result, "exists");
}

core::Result<workspace::FileMap> ExecWorkspace::readTree(const std::string& dir,
                                                         const workspace::TreeOptions& options) {
  auto result =
      call(fp::treeRequest(dir, options), "read the files under " + dir, options_.fileTimeout);
  if (!result) {
    return result.error();
  }
  return fp::filesOf(*result);
}

core::Result<std::unique_ptr<workspace::Session>> ExecWorkspace::start(
    const workspace::Command& cmd) {
  if (cmd.argv.empty()) {
    return core::Error::terminal(core::reason::kUsageError, "start: empty argv");
  }
  ExecRequest exec;
  exec.namespace_ = target_.namespace_;
  exec.pod = target_.pod;
  exec.container = target_.container;
  exec.command = cmd.argv;
  exec.stdinData = std::string();
  exec.closeStdin = false;
  exec.timeout = options_.fileTimeout;  // bounds the connection only
  auto connection = api_->openExec(exec);
  if (!connection) {
    core::Error error = connection.error();
    error.message = "cannot start " + cmd.argv.front() + " in " + describe() + ": " + error.message;
    error.reason = core::reason::kWorkspaceUnavailable;
    return error;
  }
  return makeExecSession(std::move(*connection), describe());
}

}  // namespace alembic_sidecar::kube
