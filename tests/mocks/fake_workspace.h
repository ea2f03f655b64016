#pragma once

#include <functional>
#include <map>
#include <string>

#include "workspace/workspace.h"

namespace alembic_sidecar::testing {

/** An in-memory project: files in a map, commands answered by a handler. */
class FakeWorkspace : public workspace::Workspace {
 public:
  using Handler = std::function<workspace::CommandOutput(const workspace::Command&)>;

  std::map<std::string, std::string> files;
  std::vector<workspace::Command> commands;  // every command run, in order
  Handler handler = [](const workspace::Command&) { return workspace::CommandOutput{0, "", "", false}; };

  core::Result<workspace::CommandOutput> run(const workspace::Command& cmd) override {
    commands.push_back(cmd);
    return handler(cmd);
  }
  core::Result<std::string> readFile(const std::string& path) override {
    auto it = files.find(path);
    if (it == files.end()) {
      return core::Error::terminal("ProjectInvalid", "no file " + path);
    }
    return it->second;
  }
  core::Result<std::vector<workspace::DirEntry>> listDir(const std::string& path) override {
    std::string prefix = path == "." ? "" : path + "/";
    std::map<std::string, bool> entries;
    for (const auto& [file, _] : files) {
      if (file.rfind(prefix, 0) != 0) {
        continue;
      }
      std::string rest = file.substr(prefix.size());
      auto slash = rest.find('/');
      entries[rest.substr(0, slash)] = slash != std::string::npos;
    }
    if (entries.empty()) {
      return core::Error::terminal("ProjectInvalid", "no directory " + path);
    }
    std::vector<workspace::DirEntry> out;
    for (const auto& [name, dir] : entries) {
      out.push_back({name, dir});
    }
    return out;
  }
  core::Status removeFile(const std::string& path) override {
    files.erase(path);
    return {};
  }
  bool exists(const std::string& path) override {
    return files.count(path) > 0 || listDir(path).ok();
  }
  std::string root() const override { return "/project"; }
  std::string describe() const override { return "fake /project"; }
};

}  // namespace alembic_sidecar::testing
