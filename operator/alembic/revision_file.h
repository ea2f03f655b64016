#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "alembic/python_source.h"
#include "core/result.h"

namespace alembic_sidecar::alembic {

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

/** Enum type names (name='...') of sa.Enum / postgresql.ENUM expressions inside `text`. */
std::vector<std::string> enumTypeNames(std::string_view text);

}  // namespace alembic_sidecar::alembic
