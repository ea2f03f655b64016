#include "workspace/file_protocol.h"

#include <openssl/evp.h>

#include "core/json_util.h"
#include "core/reasons.h"

namespace alembic_sidecar::workspace {
namespace {

using nlohmann::json;

std::string encode64(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

core::Result<std::string> decode64(const std::string& text) {
  if (text.size() % 4 != 0) {
    return core::Error::terminal(core::reason::kWorkspaceUnavailable, "malformed base64");
  }
  std::string out(3 * (text.size() / 4) + 1, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) {
    return core::Error::terminal(core::reason::kWorkspaceUnavailable, "malformed base64");
  }
  size_t pad = 0;
  for (size_t i = text.size(); i > 0 && text[i - 1] == '=' && pad < 2; --i) {
    ++pad;
  }
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

json pathRequest(const char* op, const std::string& path) { return {{"op", op}, {"path", path}}; }

}  // namespace

json runRequest(const Command& cmd) {
  return {{"op", "run"},
          {"argv", cmd.argv},
          {"env", cmd.env},
          {"cwd", cmd.cwd},
          {"stdinBase64", encode64(cmd.stdinData)},
          {"outputEncoding", "base64"},
          {"timeout", std::chrono::duration<double>(cmd.timeout).count()}};
}

json readRequest(const std::string& path) {
  json request = pathRequest("read", path);
  request["encoding"] = "base64";
  return request;
}

json listRequest(const std::string& path) { return pathRequest("list", path); }
json existsRequest(const std::string& path) { return pathRequest("exists", path); }
json removeRequest(const std::string& path) { return pathRequest("remove", path); }

json treeRequest(const std::string& dir, const TreeOptions& options) {
  return {{"op", "tree"},
          {"path", dir},
          {"skip", options.skipDirs},
          {"suffixes", options.suffixes},
          {"maxDepth", options.maxDepth},
          {"maxBytes", options.maxBytes}};
}

core::Result<json> replyResult(const json& reply, const std::string& what, const std::string& where,
                               const std::string& reason) {
  if (core::boolField(reply, "ok")) {
    return core::objectOr(reply, "result");
  }
  const json& error = core::objectOr(reply, "error");
  const std::string type = core::stringField(error, "type");
  const bool missing = type == "FileNotFoundError" || type == "NotADirectoryError";
  return core::Error::terminal(missing ? std::string(kFileNotFound) : reason,
                               what + " in " + where + ": " + core::stringField(error, "line"));
}

CommandOutput commandOutputOf(const json& result) {
  CommandOutput out;
  out.exitCode = static_cast<int>(core::intField(result, "exitCode", -1));
  out.timedOut = core::boolField(result, "timedOut");
  auto bytes = [&result](const char* encoded, const char* text) {
    if (auto it = result.find(encoded); it != result.end() && it->is_string()) {
      auto decoded = decode64(it->get<std::string>());
      return decoded ? *decoded : std::string();
    }
    return core::stringField(result, text);
  };
  out.out = bytes("outBase64", "out");
  out.err = bytes("errBase64", "err");
  return out;
}

core::Result<std::string> contentOf(const json& result) {
  if (auto it = result.find("base64"); it != result.end() && it->is_string()) {
    return decode64(it->get<std::string>());
  }
  return core::stringField(result, "text");
}

std::vector<DirEntry> entriesOf(const json& result) {
  std::vector<DirEntry> entries;
  for (const auto& item : core::arrayField(result, "entries")) {
    if (item.is_array() && item.size() == 2 && item[0].is_string() && item[1].is_boolean()) {
      entries.push_back({item[0].get<std::string>(), item[1].get<bool>()});
    }
  }
  return entries;
}

FileMap filesOf(const json& result) {
  FileMap files;
  for (const auto& [path, text] : core::objectOr(result, "files").items()) {
    if (text.is_string()) {
      files.emplace(path, text.get<std::string>());
    }
  }
  return files;
}

}  // namespace alembic_sidecar::workspace
