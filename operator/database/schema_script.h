#pragma once

#include <string>
#include <vector>

namespace alembic_sidecar::database {

/** One DDL statement of a schema script, with the object it makes (for messages). */
struct ScriptStatement {
  std::string object;  // "table public.users", "view public.active_users", ...
  std::string sql;
};

/**
 * DDL that rebuilds a schema on an empty database, in dependency order where the catalog
 * tells it (schemas, extensions, types, sequences, functions, tables, constraints, indexes,
 * foreign keys, views, triggers, comments, then the version table's rows).
 */
struct SchemaScript {
  std::vector<ScriptStatement> statements;
  /** Objects no statement makes (aggregates, foreign tables, ...), as "kind schema.name". */
  std::vector<std::string> skipped;
  /** "3 table(s), 1 enum type(s), ..." for messages. */
  std::string summary;
};

}  // namespace alembic_sidecar::database
