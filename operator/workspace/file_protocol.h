#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/result.h"
#include "workspace/workspace.h"

namespace alembic_sidecar::workspace {

/**
 * The one file protocol: requests and replies of operator/alembic/driver/.../files.py (read,
 * list, exists, remove, tree, run), spoken by the running driver (DriverWorkspace) and by the
 * exec workspace's one-shot launcher (ExecWorkspace). A reply is {ok, result} or {ok: false,
 * error: {type, line}}. File contents, a command's stdin and its output travel as base64, so
 * any bytes survive.
 */
nlohmann::json runRequest(const Command& cmd);
nlohmann::json readRequest(const std::string& path);
nlohmann::json listRequest(const std::string& path);
nlohmann::json existsRequest(const std::string& path);
nlohmann::json removeRequest(const std::string& path);
nlohmann::json treeRequest(const std::string& dir, const TreeOptions& options);

/** The reason of a reply whose error is a missing file or directory. */
inline constexpr char kFileNotFound[] = "NotFound";

/**
 * The reply's result when ok. Otherwise an error whose message is `what` + " in " + `where` +
 * the driver's line; its reason is kFileNotFound for a missing file, else `reason`.
 */
core::Result<nlohmann::json> replyResult(const nlohmann::json& reply, const std::string& what,
                                         const std::string& where, const std::string& reason);

CommandOutput commandOutputOf(const nlohmann::json& result);
/** The file's bytes (from base64; plain text from an older driver). */
core::Result<std::string> contentOf(const nlohmann::json& result);
std::vector<DirEntry> entriesOf(const nlohmann::json& result);
FileMap filesOf(const nlohmann::json& result);

}  // namespace alembic_sidecar::workspace
