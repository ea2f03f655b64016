#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace alembic_sidecar::alembic {

/** The parts of alembic.ini the pipeline needs; paths relative to the project root. */
struct AlembicIni {
  std::string scriptLocation;                 // e.g. "migrations"
  std::vector<std::string> versionLocations;  // defaults to <scriptLocation>/versions
  std::vector<std::string> prependSysPath;    // e.g. {"."}
};

/**
 * Parses the [alembic] section. `configDir` is the directory of the ini file relative to the
 * project root ("." usually); `%(here)s` expands to it. A `package:dir` script location is
 * read as the directory package/dir. Errors: ProjectInvalid.
 */
core::Result<AlembicIni> parseAlembicIni(std::string_view text, const std::string& configDir);

/** Joins relative paths, collapsing "." components ("./a" + "b" -> "a/b"). */
std::string joinRelative(const std::string& base, const std::string& path);

}  // namespace alembic_sidecar::alembic
