#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace alembic_sidecar::database {

// The live-data checks build SQL from names and expressions parsed out of a generated
// migration file: untrusted text. Names are always quoted; an expression or a type name is
// only ever run when the guard below proves it harmless (and then inside a read-only,
// time-bounded transaction).

/** `name` as a PostgreSQL identifier: double-quoted, inner quotes doubled. */
std::string quoteIdent(std::string_view name);

/** `value` as a standard-conforming string literal: single-quoted, inner quotes doubled. */
std::string quoteLiteral(std::string_view value);

/**
 * Why `expression` (a CHECK condition, an index predicate or a USING clause from a revision
 * file) will not be evaluated against live rows, or nullopt when it may be. It is read with
 * PostgreSQL's own lexical rules (sql_lexer.h), so a quoted or schema-qualified name is the
 * name PostgreSQL would call. Accepted: a scalar expression of column names, literals, the
 * usual operators, casts, CASE, ARRAY[...] / ROW(...), and a list of built-in functions that
 * only compute a value from their arguments, called by their bare name. Refused: anything
 * else, among it a second statement or a comment, dollar quoting and prefixed strings,
 * unbalanced brackets, subqueries, any other function (`pg_sleep`, `"pg_sleep"`,
 * `pg_catalog."pg_terminate_backend"`, `set_config`, ...), any schema-qualified call, the
 * OPERATOR() syntax, an operator outside the list, and a cast or typed literal of a catalog
 * lookup type (`'pg_sleep'::regproc`, `regprocedure '...'`, `::pg_catalog.regclass`).
 */
std::optional<std::string> expressionRejection(std::string_view expression);

/**
 * Why `type` (a type name from SQL alembic rendered, e.g. `VARCHAR(20)`, `TIMESTAMP WITHOUT
 * TIME ZONE`, `INTEGER[]`, `inventory.pair`) may not be declared in a live check, or nullopt:
 * a possibly qualified, possibly quoted name with numeric modifiers and array brackets, and
 * never a catalog lookup type (reg*).
 */
std::optional<std::string> typeRejection(std::string_view type);

}  // namespace alembic_sidecar::database
