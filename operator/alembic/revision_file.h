#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "alembic/python_source.h"
#include "core/result.h"

namespace alembic_sidecar::alembic {

/**
 * What an op says about the data it constrains or converts: what the live-data checks need.
 * Filled for the ops that carry it; empty or unset otherwise.
 */
struct OpDetails {
  std::string schema;                // schema= (source_schema= for FKs), when a literal
  /** Columns of create_index / create_unique_constraint / create_primary_key, or an FK's
   *  local columns; names only (see `expressions`). */
  std::vector<std::string> columns;
  bool expressions = false;          // an index element is an expression, e.g. sa.text(...)
  bool unique = false;               // create_index(..., unique=True)
  std::string where;                 // postgresql_where=, as written (partial index)
  std::optional<std::string> whereSql;  // ... when it is SQL text ('...' or sa.text('...'))
  std::string referentTable;         // create_foreign_key
  std::string referentSchema;
  std::vector<std::string> referentColumns;
  std::string condition;             // create_check_constraint's condition, as written
  std::optional<std::string> conditionSql;  // ... when it is SQL text
  std::optional<bool> nullable;      // alter_column nullable=True / False
  std::string type;                  // alter_column type_=, as written
  std::string existingType;          // alter_column existing_type=, as written
  std::string postgresqlUsing;       // alter_column postgresql_using=, as written
};

/** One operation in upgrade() or downgrade() of a revision file. */
struct RevisionOp {
  std::string op;      // add_column, create_table, create_enum, execute, ...
  std::string table;   // empty when the op has none
  std::string column;  // add_column / drop_column / alter_column
  std::string name;    // index, constraint or enum type name; "None" when given as None
  int line = 0;
  std::string text;    // the statement as written
  Call call;           // parsed arguments
  /** Native enum types named in the op (sa.Enum(..., name='x') columns, or the enum itself). */
  std::vector<std::string> enumTypes;
  OpDetails details;
};

/** What a generated revision file says. */
struct ParsedRevision {
  std::string revision;
  std::vector<std::string> downRevisions;  // empty for the first revision; 2+ for merges
  std::string message;                     // first line of the module docstring
  std::vector<RevisionOp> upgradeOps;
  std::vector<RevisionOp> downgradeOps;
  bool hasUpgrade = false;
  bool hasDowngrade = false;

  /** True when upgrade() and downgrade() contain no operation (autogenerate found nothing). */
  bool empty() const { return upgradeOps.empty() && downgradeOps.empty(); }
  /** "a" or "a, b" for merges; empty for the first revision. */
  std::string downRevisionText() const;
};

/**
 * Parses a revision file written by `alembic revision --autogenerate`. Understands op.* calls,
 * batch_alter_table blocks (batch_op.* ops get the block's table), and native enum types
 * created or dropped through sa.Enum(...).create()/.drop() (ops create_enum / drop_enum).
 * Errors: RevisionUnparseable.
 */
core::Result<ParsedRevision> parseRevisionFile(std::string_view source);

/** The SQL of 'text' or sa.text('text') / text('text'); nullopt for other expressions. */
std::optional<std::string> sqlText(std::string_view argument);

/** Enum type names (name='...') of sa.Enum / postgresql.ENUM expressions inside `text`. */
std::vector<std::string> enumTypeNames(std::string_view text);

}  // namespace alembic_sidecar::alembic
