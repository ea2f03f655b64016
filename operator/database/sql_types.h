#pragma once

#include <optional>
#include <string>

namespace alembic_sidecar::database {

// The one classifier of column types: an alembic render (`sa.String(length=20)`) or a
// PostgreSQL format_type() text becomes a SqlType; everything that asks "what kind of type is
// this" (the revision analysis, the live-data checks, the conversion trials) asks it here.

/** A column type as far as conversions and "does every value fit" are concerned. */
struct SqlType {
  enum class Kind {
    kUnknown,  // a type this classifier does not know (a domain, a composite, a custom type)
    kText,     // text, or varchar / char without a length
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
    kDate,
    kTimestamp,
    kTimestampTz,
    kTime,
    kInterval,
    kJson,
    kJsonb,
    kEnum,
    kArray,
    kBinary,
    kOther,  // known to PostgreSQL but without a value test here: inet, ranges, tsvector, ...
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
  bool isTimestamp() const { return kind == Kind::kTimestamp || kind == Kind::kTimestampTz; }

  /**
   * The family a type belongs to: "string", "integer", "numeric", "boolean", "uuid",
   * "datetime", "interval", "json", "enum", "array", "binary", "other"; empty when unknown.
   */
  std::string family() const;
  /** The type as PostgreSQL SQL (`varchar(20)`, `numeric(10,2)`); nullopt when unknown. */
  std::optional<std::string> sql() const;
};

/** The type of an alembic render such as `sa.String(length=20)` or `sa.NUMERIC(10, 2)`. */
SqlType fromSqlAlchemy(const std::string& rendered);

/** The type of PostgreSQL's format_type() text, e.g. `character varying(100)`. */
SqlType fromPostgres(const std::string& formatType);

/**
 * True when ALTER COLUMN ... TYPE from one type to the other has no assignment cast, so that
 * PostgreSQL refuses it without a USING clause ("cannot be cast automatically"). False when
 * either type is unknown (nothing to say).
 */
bool castNeedsUsing(const SqlType& from, const SqlType& to);

/**
 * True when every value of `from` converts to `to` and keeps its meaning (a wider string,
 * integer or numeric, anything to text): nothing about the live rows to try.
 */
bool conversionIsLossless(const SqlType& from, const SqlType& to);

/**
 * SQL conditions over `column` (an already quoted column reference) that pick the rows whose
 * value ALTER COLUMN ... TYPE `to` cannot keep. Empty strings: no such row can exist.
 */
struct FitConditions {
  /** The value does not convert or does not fit: the ALTER fails on that row. */
  std::string fails;
  /** The value converts with loss (rounded to the new scale, fraction dropped). */
  std::string rounds;
  /** No condition can say it: only trying the conversion can (text -> date, -> enum, ...). */
  bool untestable = false;
};
FitConditions fitConditions(const SqlType& from, const SqlType& to, const std::string& column);

}  // namespace alembic_sidecar::database
