#include "workspace/local_workspace.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/reasons.h"
#include "workspace/process.h"
#include "workspace/process_session.h"

namespace alembic_sidecar::workspace {

namespace fs = std::filesystem;

LocalWorkspace::LocalWorkspace(std::string root, std::function<bool()> cancelled)
    : cancelled_(std::move(cancelled)) {
  std::error_code ec;
  fs::path absolute = fs::absolute(root, ec);
  root_ = ec ? root : absolute.lexically_normal().string();
  if (root_.size() > 1 && root_.back() == '/') {
    root_.pop_back();
  }
}

std::string LocalWorkspace::resolve(const std::string& path) const {
  if (!path.empty() && path.front() == '/') {
    return path;
  }
  return (fs::path(root_) / path).lexically_normal().string();
}

core::Result<CommandOutput> LocalWorkspace::run(const Command& cmd) {
  ProcessSpec spec;
  spec.argv = cmd.argv;
  spec.env = cmd.env;
  spec.cwd = resolve(cmd.cwd);
  spec.stdinData = cmd.stdinData;
  spec.timeout = cmd.timeout;
  spec.cancelled = cancelled_;
  auto result = runProcess(spec);
  if (!result) {
    return result.error();
  }
  CommandOutput out;
  out.exitCode = result->exitCode;
  out.timedOut = result->timedOut;
  out.out = std::move(result->out);
  out.err = std::move(result->err);
  return out;
}

core::Result<std::unique_ptr<Session>> LocalWorkspace::start(const Command& cmd) {
  ProcessSpec spec;
  spec.argv = cmd.argv;
  spec.env = cmd.env;
  spec.cwd = resolve(cmd.cwd);
  return startProcessSession(spec);
}

core::Result<std::string> LocalWorkspace::readFile(const std::string& path) {
  std::ifstream in(resolve(path), std::ios::binary);
  if (!in) {
    return core::Error::terminal(core::reason::kProjectInvalid, "cannot read " + path);
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

core::Result<std::vector<DirEntry>> LocalWorkspace::listDir(const std::string& path) {
  std::error_code ec;
  std::vector<DirEntry> entries;
  for (const auto& entry : fs::directory_iterator(resolve(path), ec)) {
    entries.push_back(DirEntry{entry.path().filename().string(), entry.is_directory()});
  }
  if (ec) {
    return core::Error::terminal(core::reason::kProjectInvalid,
                                 "cannot list " + path + ": " + ec.message());
  }
  std::sort(entries.begin(), entries.end(),
            [](const DirEntry& a, const DirEntry& b) { return a.name < b.name; });
  return entries;
}

core::Status LocalWorkspace::removeFile(const std::string& path) {
  std::error_code ec;
  fs::remove(resolve(path), ec);
  if (ec) {
    return core::Error::terminal(core::reason::kProjectInvalid,
                                 "cannot remove " + path + ": " + ec.message());
  }
  return {};
}

bool LocalWorkspace::exists(const std::string& path) {
  std::error_code ec;
  return fs::exists(resolve(path), ec);
}

}  // namespace alembic_sidecar::workspace
