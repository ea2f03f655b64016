#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace alembic_sidecar::database {

// A type change tried for real: the exact conversion an ALTER COLUMN ... TYPE applies (its
// USING expression, else the assignment cast to the new type), evaluated over the live rows
// in a read-only transaction. PostgreSQL either converts every row or raises the error the
// upgrade would raise; the trial then names the first failing row in primary-key order. Pure:
// the SQL is built and the answer read here, live_data.h runs it.

/** One `ALTER TABLE ... ALTER COLUMN ... TYPE ... [USING ...]` of SQL alembic rendered. */
struct AlterType {
  std::string schema;  // empty when the statement does not qualify the table
  std::string table;   // as PostgreSQL resolves the names (unquoted ones folded)
  std::string column;
  std::string type;      // the type as written, e.g. `VARCHAR(20)`, `INTEGER[]`
  std::string usingSql;  // the USING expression as written; empty without one
};

/** The ALTER COLUMN TYPE statements of rendered SQL (alembic upgrade --sql), in order. */
std::vector<AlterType> alterTypeStatements(std::string_view sql);

/** What a trial converts and how it names rows. Names are unquoted; SQL texts are guarded. */
struct ConversionTrialSpec {
  std::string qualifiedTable;           // "schema"."table"
  std::string alias;                    // the table's bare name: USING may qualify columns with it
  std::vector<std::string> keyColumns;  // primary key in key order; empty: none (ctid order)
  bool showKey = false;                 // the key is a surrogate: name its value
  std::string column;
  std::string newType;   // SQL text of the new type
  std::string usingSql;  // SQL text of USING; empty: the column itself
  /** The downgrade's type to assign the converted value back to; empty: not tried. */
  std::string backType;
};

/**
 * A DO block that converts every row (assignment semantics: PL/pgSQL assigns with the
 * assignment cast and checks the new type's modifiers, as ALTER does) and, on a data error,
 * finds the first failing row in key order and raises it in a message parseConversionFailure()
 * reads. Errors that are not about the data (a lock, a timeout, a missing type, permission)
 * are raised unchanged: the trial is then unverified, not failed.
 */
std::string conversionTrialSql(const ConversionTrialSpec& spec);

/** A trial's data error, from the message of the error it raised. */
struct ConversionFailure {
  /** "convert" (the USING expression or the cast), "assign" (the new type's limits) or
   *  "back" (the downgrade's conversion of the converted value). */
  std::string stage;
  int64_t row = 0;                 // 1-based position in key order
  std::optional<std::string> key;  // the failing row's key, only when showKey
  std::string sqlstate;
  /** PostgreSQL's message with every quoted value masked: never a column value. */
  std::string error;
};
std::optional<ConversionFailure> parseConversionFailure(std::string_view message);

/**
 * `message` with the values PostgreSQL quotes in data errors (`invalid input syntax for type
 * integer: "Berlin"`, `value "99999999999" is out of range`) replaced by "...", keeping quoted
 * names of constraints, types, columns and relations.
 */
std::string withoutValues(std::string_view message);

}  // namespace alembic_sidecar::database
