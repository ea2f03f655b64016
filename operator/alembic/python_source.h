#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace alembic_sidecar::alembic {

/**
 * A logical line of Python source: physical lines joined inside brackets and after a
 * backslash, comments removed, string literals kept verbatim.
 */
struct LogicalLine {
  int indent = 0;  // columns of leading whitespace of the first physical line
  int line = 0;    // 1-based number of the first physical line
  std::string text;
};

/** Splits Python source into logical lines; blank and comment-only lines are dropped. */
std::vector<LogicalLine> logicalLines(std::string_view source);

/** A call such as `op.add_column('user', sa.Column('email'), schema=None)`. */
struct Call {
  std::string callee;                 // "op.add_column"
  std::vector<std::string> args;      // positional argument texts, trimmed
  std::vector<std::pair<std::string, std::string>> kwargs;  // keyword -> text

  std::optional<std::string> kwarg(const std::string& name) const;
};

/**
 * Parses `text` as one call expression `callee(args)` (a trailing `.method()` chain on the
 * result, as in `sa.Enum(...).create(...)`, is reported through `chainedMethod`).
 */
std::optional<Call> parseCall(std::string_view text, std::string* chainedMethod = nullptr);

/** Splits on top-level commas (outside brackets and strings); parts are trimmed. */
std::vector<std::string> splitTopLevel(std::string_view text, char separator = ',');

/** The value of a Python string literal ('x', "x", r'x', op.f('x')), or nullopt. */
std::optional<std::string> stringLiteral(std::string_view text);

std::string trim(std::string_view text);

}  // namespace alembic_sidecar::alembic
