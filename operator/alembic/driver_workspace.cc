#include "alembic/driver_workspace.h"

#include "core/json_util.h"
#include "core/reasons.h"

namespace alembic_sidecar::alembic {

using nlohmann::json;

DriverWorkspace::DriverWorkspace(Call call, std::string root, std::string description)
    : call_(std::move(call)), root_(std::move(root)), description_(std::move(description)) {}

core::Result<json> DriverWorkspace::request(json request, const std::string& what) {
  auto reply = call_(std::move(request));
  if (!reply) {
    return reply.error();
  }
  if (!core::boolField(*reply, "ok")) {
    const json& error = core::objectOr(*reply, "error");
    const std::string type = core::stringField(error, "type");
    return core::Error::terminal(type == "FileNotFoundError" ? std::string("NotFound")
                                                             : std::string(core::reason::kProjectInvalid),
                                 what + " in " + description_ + ": " +
                                     core::stringField(error, "line"));
  }
  return core::objectOr(*reply, "result");
}

core::Result<workspace::CommandOutput> DriverWorkspace::run(const workspace::Command& cmd) {
  if (cmd.argv.empty()) {
    return core::Error::terminal(core::reason::kUsageError, "run: empty argv");
  }
  auto result = request({{"op", "run"},
                         {"argv", cmd.argv},
                         {"env", cmd.env},
                         {"cwd", cmd.cwd},
                         {"stdin", cmd.stdinData},
                         {"timeout", std::chrono::duration<double>(cmd.timeout).count()}},
                        "run " + cmd.argv.front());
  if (!result) {
    core::Error error = result.error();
    error.reason = core::reason::kWorkspaceUnavailable;
    return error;
  }
  workspace::CommandOutput out;
  out.exitCode = static_cast<int>(core::intField(*result, "exitCode", -1));
  out.timedOut = core::boolField(*result, "timedOut");
  out.out = core::stringField(*result, "out");
  out.err = core::stringField(*result, "err");
  return out;
}

core::Result<std::string> DriverWorkspace::readFile(const std::string& path) {
  auto result = request({{"op", "read"}, {"path", path}}, "read " + path);
  if (!result) {
    return result.error();
  }
  return core::stringField(*result, "text");
}

core::Result<std::vector<workspace::DirEntry>> DriverWorkspace::listDir(const std::string& path) {
  auto result = request({{"op", "list"}, {"path", path}}, "list " + path);
  if (!result) {
    return result.error();
  }
  std::vector<workspace::DirEntry> entries;
  for (const auto& item : core::arrayField(*result, "entries")) {
    if (item.is_array() && item.size() == 2 && item[0].is_string() && item[1].is_boolean()) {
      entries.push_back({item[0].get<std::string>(), item[1].get<bool>()});
    }
  }
  return entries;
}

core::Status DriverWorkspace::removeFile(const std::string& path) {
  auto result = request({{"op", "remove"}, {"path", path}}, "remove " + path);
  if (!result) {
    return result.error();
  }
  return {};
}

bool DriverWorkspace::exists(const std::string& path) {
  auto result = request({{"op", "exists"}, {"path", path}}, "exists " + path);
  return result && core::boolField(*result, "exists");
}

core::Result<workspace::FileMap> DriverWorkspace::readTree(const std::string& dir,
                                                           const workspace::TreeOptions& options) {
  auto result = request({{"op", "tree"},
                         {"path", dir},
                         {"skip", options.skipDirs},
                         {"suffixes", options.suffixes},
                         {"maxDepth", options.maxDepth},
                         {"maxBytes", options.maxBytes}},
                        "read the files under " + dir);
  if (!result) {
    return result.error();
  }
  workspace::FileMap files;
  for (const auto& [path, text] : core::objectOr(*result, "files").items()) {
    if (text.is_string()) {
      files.emplace(path, text.get<std::string>());
    }
  }
  return files;
}

}  // namespace alembic_sidecar::alembic
