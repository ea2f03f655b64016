#pragma once

#include <string>
#include <utility>
#include <vector>

#include "alembic/revision_analysis.h"
#include "core/result.h"

namespace alembic_sidecar::alembic {

/**
 * squawk rules left out by default: they flag every statement alembic or SQLAlchemy writes,
 * whatever the change (a transaction per migration, no timeouts, SERIAL for Integer primary
 * keys, int4 for Integer, varchar for String(n)), so the model author cannot act on them.
 */
extern const char kSquawkDefaultExcludes[];

/** The environment variable that replaces kSquawkDefaultExcludes. */
inline constexpr char kLintExcludeEnv[] = "ALEMBIC_SIDECAR_LINT_EXCLUDE";

/**
 * The squawk rules to exclude, from ALEMBIC_SIDECAR_LINT_EXCLUDE's value: unset (nullptr) is
 * the default list; otherwise a comma-separated list of rule names that replaces it, in which
 * the word `default` stands for the default list (so "default,ban-drop-column" adds a rule
 * and "" excludes nothing). Names are trimmed, deduplicated and kept in order.
 */
std::vector<std::string> lintExcludes(const char* envValue);

/** (line, name) for every "undefined name" pyflakes reports. */
std::vector<std::pair<int, std::string>> parsePyflakes(const std::string& output);

/** squawk's --reporter json output; `sql` gives each result its statement for messages. */
std::vector<LintResult> parseSquawkJson(const std::string& output, const std::string& sql);

/**
 * Runs pyflakes (Debian's python3-pyflakes, with /usr/bin/python3) on a file's text, locally.
 * Error reason kPyflakesNotInstalled-style: WorkspaceUnavailable when it is missing.
 */
core::Result<std::vector<std::pair<int, std::string>>> runPyflakes(const std::string& source);

/**
 * Runs squawk on SQL, locally, without the rules lintExcludes() names for the environment.
 * WorkspaceUnavailable when squawk is not on PATH or refuses its arguments (an unknown rule).
 */
core::Result<std::vector<LintResult>> runSquawk(const std::string& sql);

}  // namespace alembic_sidecar::alembic
