#pragma once

#include <optional>
#include <string>

namespace alembic_sidecar::database {

/** A column type as far as "does every value fit" is concerned. */
struct SqlType {
  enum class Kind {
    kUnknown,
    kText,  // text, or varchar / char without a length
    kVarchar,
    kChar,
    kSmallint,
    kInteger,
    kBigint,
    kNumeric,
    kReal,
    kDouble,
    kBoolean,
    kUuid,
    kOther,  // dates, json, enums, arrays, ...: no value test here
  };
  Kind kind = Kind::kUnknown;
  std::optional<int> length;     // varchar / char
  std::optional<int> precision;  // numeric; unset: unconstrained
  int scale = 0;                 // numeric
  std::string text;              // as written, for messages

  bool isString() const {
    return kind == Kind::kText || kind == Kind::kVarchar || kind == Kind::kChar;
  }
  bool isInteger() const {
    return kind == Kind::kSmallint || kind == Kind::kInteger || kind == Kind::kBigint;
  }
  bool isApproximate() const { return kind == Kind::kReal || kind == Kind::kDouble; }
};

/** The type of an alembic render such as `sa.String(length=20)` or `sa.NUMERIC(10, 2)`. */
SqlType fromSqlAlchemy(const std::string& rendered);

/** The type of PostgreSQL's format_type() text, e.g. `character varying(100)`. */
SqlType fromPostgres(const std::string& formatType);

/**
 * SQL conditions over `column` (an already quoted column reference) that pick the rows whose
 * value ALTER COLUMN ... TYPE `to` cannot keep. Empty strings: no such row can exist.
 */
struct FitConditions {
  /** The value does not convert or does not fit: the ALTER fails on that row. */
  std::string fails;
  /** The value converts with loss (rounded to the new scale, fraction dropped). */
  std::string rounds;
  /** A conversion PostgreSQL 15 cannot test without trying it (text -> date, -> enum, ...). */
  bool untestable = false;
};
FitConditions fitConditions(const SqlType& from, const SqlType& to, const std::string& column);

}  // namespace alembic_sidecar::database
