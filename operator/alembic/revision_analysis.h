#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "alembic/revision_file.h"
#include "core/report.h"

namespace alembic_sidecar::alembic {

/** A native enum type as the models declare it (from the inspect helper). */
struct ModelEnum {
  std::string name;
  std::vector<std::string> labels;
};

/** One squawk result for the revision's rendered SQL. */
struct LintResult {
  std::string rule;  // squawk rule name, e.g. require-concurrent-index-creation
  std::string message;
  std::string help;
  int sqlLine = 0;
  std::string statement;
};

/** What the analysis knows beyond the file itself; everything optional has a neutral default. */
struct AnalysisContext {
  std::string file;  // the revision file, relative to the project
  bool approveRawSQL = false;
  bool approveDestructive = false;
  /** Tables, enum types (with labels) that exist at the previous head (scratch baseline). */
  std::set<std::string> existingTables;
  std::map<std::string, std::vector<std::string>> existingEnums;
  /** Rows per table in the live database, for the tables the revision touches. */
  std::map<std::string, int64_t> liveRowCounts;
  /** Tables whose liveRowCounts entry is an estimate (pg_class.reltuples), not a count. */
  std::set<std::string> liveRowEstimates;
  int64_t largeTableRows = 100000;
  /**
   * Tables mapped by SQLModel classes: advice about them is written as Field(...), about any
   * other table as Column(...) (the project's own idiom).
   */
  std::set<std::string> sqlmodelTables;
  /**
   * Where the round trip runs, for messages about what it cannot show ("the scratch database,
   * which has no rows"); empty: on the app's database itself (in place).
   */
  std::string roundTripDatabase = "the scratch database, which has no rows";
  /** Enum types as the models declare them; empty when the inspect helper did not run. */
  std::vector<ModelEnum> modelEnums;
  /** pyflakes "undefined name" lines: (line, name). */
  std::vector<std::pair<int, std::string>> undefinedNames;
  std::vector<LintResult> lint;
};

/**
 * Findings for one generated revision: partial capture (probable renames, enum types created
 * but not dropped or used but never created, enum labels autogenerate cannot see, type
 * changes PostgreSQL cannot cast, unnamed constraints, undefined names), policy (raw SQL,
 * destructive changes), live-data risks (NOT NULL without default on a populated table,
 * blocking index builds on large tables) and SQL lint. Pure: no I/O.
 */
std::vector<core::Finding> analyzeRevision(const ParsedRevision& revision,
                                           const AnalysisContext& context);

/** A squawk result as a finding: code Lint<RuleInCamelCase>, severity warning. */
core::Finding lintFinding(const LintResult& lint, const std::string& file);

/**
 * True for squawk rules about locks and table rewrites: their cost grows with the table, so
 * analyzeRevision() lowers them to info on a table the revision creates or one with fewer
 * live rows than largeTableRows.
 */
bool isLockRule(const std::string& rule);

/** The table a rendered SQL statement works on (ALTER TABLE, CREATE INDEX ... ON, ...). */
std::string statementTable(const std::string& statement);

/** Recommendation shared by every enum finding. */
extern const char kEnumRecommendation[];

}  // namespace alembic_sidecar::alembic
