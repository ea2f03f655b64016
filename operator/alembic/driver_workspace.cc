#include "alembic/driver_workspace.h"

#include "core/reasons.h"
#include "workspace/file_protocol.h"

namespace alembic_sidecar::alembic {

using nlohmann::json;
namespace fp = workspace;

DriverWorkspace::DriverWorkspace(Call call, std::string root, std::string description)
    : call_(std::move(call)), root_(std::move(root)), description_(std::move(description)) {}

core::Result<json> DriverWorkspace::request(json request, const std::string& what) {
  auto reply = call_(std::move(request));
  if (!reply) {
    return reply.error();
  }
  return fp::replyResult(*reply, what, description_, core::reason::kProjectInvalid);
}

core::Result<workspace::CommandOutput> DriverWorkspace::run(const workspace::Command& cmd) {
  if (cmd.argv.empty()) {
    return core::Error::terminal(core::reason::kUsageError, "run: empty argv");
  }
  auto result = request(fp::runRequest(cmd), "run " + cmd.argv.front());
  if (!result) {
    core::Error error = result.error();
    error.reason = core::reason::kWorkspaceUnavailable;
    return error;
  }
  return fp::commandOutputOf(*result);
}

core::Result<std::string> DriverWorkspace::readFile(const std::string& path) {
  auto result = request(fp::readRequest(path), "read " + path);
  if (!result) {
    return result.error();
  }
  return fp::contentOf(*result);
}

core::Result<std::vector<workspace::DirEntry>> DriverWorkspace::listDir(const std::string& path) {
  auto result = request(fp::listRequest(path), "list " + path);
  if (!result) {
    return result.error();
  }
  return fp::entriesOf(*result);
}

core::Status DriverWorkspace::removeFile(const std::string& path) {
  auto result = request(fp::removeRequest(path), "remove " + path);
  if (!result) {
    return result.error();
  }
  return {};
}

bool DriverWorkspace::exists(const std::string& path) {
  auto result = request(fp::existsRequest(path), "exists " + path);
  return result && result->value("exists", false);
}

core::Result<workspace::FileMap> DriverWorkspace::readTree(const std::string& dir,
                                                           const workspace::TreeOptions& options) {
  auto result = request(fp::treeRequest(dir, options), "read the files under " + dir);
  if (!result) {
    return result.error();
  }
  return fp::filesOf(*result);
}

}  // namespace alembic_sidecar::alembic
