#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace alembic_sidecar::database {

// The live-data checks build SQL from names and expressions parsed out of a generated
// migration file: untrusted text. Names are always quoted; an expression is only ever run when
// it passes expressionRejection() (and then inside a read-only, time-bounded transaction).

/** `name` as a PostgreSQL identifier: double-quoted, inner quotes doubled. */
std::string quoteIdent(std::string_view name);

/** `value` as a standard-conforming string literal: single-quoted, inner quotes doubled. */
std::string quoteLiteral(std::string_view value);

/**
 * Why `expression` (a CHECK condition or an index predicate from a revision file) will not be
 * evaluated against live rows, or nullopt when it may be: a scalar expression of column
 * names, literals, operators, casts and a list of plain built-in functions. Refused: a
 * second statement or a comment (`;`, `--`, slash-star), dollar quoting and escape-string prefixes,
 * unbalanced brackets, subqueries (SELECT, VALUES, ...) and any function not on the list
 * (pg_sleep, set_config, dblink, schema-qualified calls, ...).
 */
std::optional<std::string> expressionRejection(std::string_view expression);

}  // namespace alembic_sidecar::database
