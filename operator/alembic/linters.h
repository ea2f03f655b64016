#pragma once

#include <string>
#include <utility>
#include <vector>

#include "alembic/revision_analysis.h"
#include "core/result.h"

namespace alembic_sidecar::alembic {

/** squawk rules left out by default: they flag every statement alembic writes by design. */
extern const char kSquawkDefaultExcludes[];

/** (line, name) for every "undefined name" pyflakes reports. */
std::vector<std::pair<int, std::string>> parsePyflakes(const std::string& output);

/** squawk's --reporter json output; `sql` gives each result its statement for messages. */
std::vector<LintResult> parseSquawkJson(const std::string& output, const std::string& sql);

/**
 * Runs pyflakes (Debian's python3-pyflakes, with /usr/bin/python3) on a file's text, locally.
 * Error reason kPyflakesNotInstalled-style: WorkspaceUnavailable when it is missing.
 */
core::Result<std::vector<std::pair<int, std::string>>> runPyflakes(const std::string& source);

/** Runs squawk on SQL, locally; WorkspaceUnavailable when squawk is not on PATH. */
core::Result<std::vector<LintResult>> runSquawk(const std::string& sql);

}  // namespace alembic_sidecar::alembic
