#include "alembic/alembic_ini.h"

#include <map>
#include <sstream>

#include "alembic/python_source.h"
#include "core/reasons.h"

namespace alembic_sidecar::alembic {
namespace {

/** %(here)s is the ini file's directory; values are joined onto it afterwards. */
std::string expandHere(std::string value) {
  const std::string here = "%(here)s";
  for (size_t pos; (pos = value.find(here)) != std::string::npos;) {
    value.replace(pos, here.size(), ".");
  }
  return value;
}

std::vector<std::string> splitList(const std::string& value) {
  // alembic accepts spaces, commas (and os.pathsep for version_locations) as separators.
  std::vector<std::string> out;
  std::string current;
  for (char c : value) {
    if (c == ' ' || c == ',' || c == ':' || c == '\n' || c == '\t') {
      if (!current.empty()) {
        out.push_back(current);
        current.clear();
      }
    } else {
      current.push_back(c);
    }
  }
  if (!current.empty()) {
    out.push_back(current);
  }
  return out;
}

}  // namespace

std::string joinRelative(const std::string& base, const std::string& path) {
  if (!path.empty() && path.front() == '/') {
    return path;
  }
  std::string joined = (base.empty() || base == ".") ? path : base + "/" + path;
  std::vector<std::string> parts;
  std::stringstream in(joined);
  std::string part;
  while (std::getline(in, part, '/')) {
    if (part.empty() || part == ".") {
      continue;
    }
    if (part == ".." && !parts.empty() && parts.back() != "..") {
      parts.pop_back();
    } else {
      parts.push_back(part);
    }
  }
  std::string out;
  for (const auto& p : parts) {
    out += (out.empty() ? "" : "/") + p;
  }
  return out.empty() ? "." : out;
}

core::Result<AlembicIni> parseAlembicIni(std::string_view text, const std::string& configDir) {
  std::map<std::string, std::string> values;
  std::string section;
  std::string lastKey;
  std::istringstream in{std::string(text)};
  std::string raw;
  while (std::getline(in, raw)) {
    if (!raw.empty() && raw.back() == '\r') {
      raw.pop_back();
    }
    std::string line = trim(raw);
    if (line.empty() || line[0] == '#' || line[0] == ';') {
      continue;
    }
    if (line.front() == '[' && line.back() == ']') {
      section = line.substr(1, line.size() - 2);
      lastKey.clear();
      continue;
    }
    if (section != "alembic") {
      continue;
    }
    bool continuation = !raw.empty() && (raw[0] == ' ' || raw[0] == '\t') && !lastKey.empty();
    if (continuation) {
      values[lastKey] += "\n" + line;
      continue;
    }
    auto eq = line.find_first_of("=:");
    if (eq == std::string::npos) {
      continue;
    }
    lastKey = trim(line.substr(0, eq));
    values[lastKey] = trim(line.substr(eq + 1));
  }
  auto it = values.find("script_location");
  if (it == values.end() || it->second.empty()) {
    return core::Error::terminal(core::reason::kProjectInvalid,
                                 "alembic.ini has no script_location in its [alembic] section");
  }
  AlembicIni ini;
  std::string location = expandHere(it->second);
  if (auto colon = location.find(':'); colon != std::string::npos && location.front() != '/') {
    std::string package = location.substr(0, colon);
    for (char& c : package) {
      if (c == '.') {
        c = '/';
      }
    }
    location = package + "/" + location.substr(colon + 1);
  }
  ini.scriptLocation = joinRelative(configDir, location);
  if (auto v = values.find("version_locations"); v != values.end() && !v->second.empty()) {
    for (const auto& loc : splitList(expandHere(v->second))) {
      ini.versionLocations.push_back(joinRelative(configDir, loc));
    }
  } else {
    ini.versionLocations.push_back(joinRelative(ini.scriptLocation, "versions"));
  }
  if (auto p = values.find("prepend_sys_path"); p != values.end() && !p->second.empty()) {
    for (const auto& entry : splitList(expandHere(p->second))) {
      ini.prependSysPath.push_back(joinRelative(configDir, entry));
    }
  }
  return ini;
}

}  // namespace alembic_sidecar::alembic
