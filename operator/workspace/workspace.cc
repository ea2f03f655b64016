#include "workspace/workspace.h"

#include <algorithm>

#include "core/reasons.h"

namespace alembic_sidecar::workspace {
namespace {

bool matches(const std::string& name, const std::vector<std::string>& suffixes) {
  return std::any_of(suffixes.begin(), suffixes.end(), [&](const std::string& s) {
    return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
  });
}

void walk(Workspace& ws, const std::string& dir, int depth, const TreeOptions& options,
          size_t& bytes, FileMap& out) {
  auto entries = ws.listDir(dir);
  if (!entries || depth > options.maxDepth) {
    return;
  }
  for (const auto& e : *entries) {
    std::string path = dir == "." || dir.empty() ? e.name : dir + "/" + e.name;
    if (e.isDirectory) {
      if (std::find(options.skipDirs.begin(), options.skipDirs.end(), e.name) ==
          options.skipDirs.end()) {
        walk(ws, path, depth + 1, options, bytes, out);
      }
    } else if (matches(e.name, options.suffixes) && bytes < options.maxBytes) {
      if (auto text = ws.readFile(path)) {
        bytes += text->size();
        out.emplace(path, std::move(*text));
      }
    }
  }
}

}  // namespace

core::Result<FileMap> Workspace::readTree(const std::string& dir, const TreeOptions& options) {
  FileMap out;
  size_t bytes = 0;
  walk(*this, dir, 0, options, bytes, out);
  return out;
}

core::Result<std::unique_ptr<Session>> Workspace::start(const Command& cmd) {
  return core::Error::terminal(core::reason::kWorkspaceUnavailable,
                               describe() + " cannot run a long-lived command (" +
                                   (cmd.argv.empty() ? std::string("?") : cmd.argv.front()) + ")");
}

}  // namespace alembic_sidecar::workspace
