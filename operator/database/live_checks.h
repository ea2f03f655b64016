#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "alembic/revision_file.h"
#include "core/report.h"
#include "core/result.h"
#include "database/conversion_trial.h"
#include "database/database.h"

namespace alembic_sidecar::database {

// Live-data checks, the pure half: a generated revision's operations become read-only SQL
// for the app's own database (live_check_findings.h words the answers). No I/O here;
// live_data.h runs the queries.
//
// The rule: every data-dependent operation (one whose success depends on the rows it meets)
// is either verified against the live rows or escalated. A plan therefore accounts for each
// such operation: checks that will answer it, a reason it needs none (its table is not live
// yet, its column is new), or a reason it cannot be checked (an escalation).

/** How much the live-data checks may cost on the app's database. */
struct LiveCheckLimits {
  /** Counting stops after this many offending rows (or duplicate groups). */
  int64_t maxOffenders = 1000;
  /** Primary keys of offending rows quoted in a finding (surrogate keys only). */
  int sampleKeys = 5;
  /** Tables up to this many rows are counted; larger ones take pg_class.reltuples. */
  int64_t exactCountLimit = 100000;
  /** statement_timeout and lock_timeout of each check, and the role it runs as. */
  ReadOnlyLimits query{std::chrono::seconds(10), std::chrono::seconds(1), {}};
};

/** A table as an op names it: schema empty means "as search_path resolves it". */
struct TableRef {
  std::string schema;
  std::string name;

  std::string display() const { return schema.empty() ? name : schema + "." + name; }
  /** The name as SQL: "schema"."name" or "name". */
  std::string sql() const;
  auto operator<=>(const TableRef&) const = default;
};

/** What the live database says about one table (from catalogQuery()). */
struct LiveTable {
  std::string schema;  // resolved
  std::string name;
  int64_t reltuples = -1;                          // pg_class.reltuples; -1 when never analysed
  std::vector<std::string> primaryKey;             // in key order; empty when there is none
  std::map<std::string, std::string> columnTypes;  // column -> format_type()

  /** "schema"."name", quoted. */
  std::string qualified() const;
  /**
   * The primary key is a surrogate (every column an integer or a uuid): its values say
   * nothing about anyone and may be shown. A natural key (an email, a code) never is.
   */
  bool surrogateKey() const;
};

/** An upgrade operation whose success depends on the rows its table holds. */
struct DataOp {
  enum class Kind {
    kUnique,
    kPrimaryKey,
    kNotNull,
    kTypeChange,
    kForeignKey,
    kCheck,
    kRequiredColumn
  };
  Kind kind = Kind::kUnique;
  const alembic::RevisionOp* op = nullptr;  // into the revision the plan was made from
  TableRef table;
  std::string subject;  // what the op does, for messages: "unique index ix_x on team (name)"
  int line = 0;
  /** The type change as alembic renders it (offline SQL); unset when it was not rendered. */
  std::optional<AlterType> alter;
  /** The new type's SQL: the rendered one, else the classifier's; empty when unknown. */
  std::string newType;
};

/**
 * The data-dependent operations of the revision's upgrade: unique keys and indexes, primary
 * keys, SET NOT NULL, type changes, foreign keys, CHECK constraints and NOT NULL columns
 * without a server default, each on a table the revision does not create. `alters` are the
 * ALTER COLUMN TYPE statements of the upgrade's offline SQL (may be empty).
 */
std::vector<DataOp> dataOps(const alembic::ParsedRevision& revision,
                            const std::vector<AlterType>& alters);

/**
 * A read-only query a person can run on the live database to verify `op` by hand (it needs
 * no catalog knowledge; counts and groups, never more than ten rows).
 */
std::string handQuery(const DataOp& op);

/** Tables the revision's upgrade touches (and FK referents), minus those it creates itself. */
std::vector<TableRef> tablesToInspect(const alembic::ParsedRevision& revision);

/** One query for every table: existence, reltuples, primary key and column types. */
ReadOnlyQuery catalogQuery(const std::vector<TableRef>& tables);

/** The tables catalogQuery() found, by the ref they were asked for; missing ones are absent. */
std::map<TableRef, LiveTable> readCatalog(const std::vector<TableRef>& tables,
                                          const QueryRows& rows);

/** count(*) of the table's rows, stopping at `limit` + 1. */
ReadOnlyQuery rowCountQuery(const LiveTable& table, int64_t limit);

/** One question to the live data about one operation. */
struct LiveCheck {
  enum class Kind {
    kDuplicates,
    kNulls,
    kDoesNotFit,
    kRounded,
    kOrphans,
    kViolations,
    kConversion
  };
  Kind kind = Kind::kNulls;
  std::string code;     // the finding code a positive answer carries
  std::string subject;  // what the op does, for the message
  std::string table;    // as the op names it
  /** What the sampled keys are ("primary key id"); when keys are hidden, why. */
  std::string keyLabel;
  bool showKeys = true;
  int line = 0;
  ReadOnlyQuery query;
  size_t op = 0;  // the DataOp it answers (index into LiveCheckPlan::ops)
};

/** An op whose verdict is its table's row count: unverified when the count is unknown. */
struct CountedOp {
  size_t op = 0;
  TableRef table;
  /** Verified when the table has at most this many rows; nullopt: any count verifies it. */
  std::optional<int64_t> maxRows;
  std::string beyondMax;  // why more rows than that cannot be verified
};

/** The checks a revision needs, and what needs none or cannot be checked. */
struct LiveCheckPlan {
  std::vector<DataOp> ops;
  std::vector<LiveCheck> checks;
  std::vector<CountedOp> counted;
  /** Info: an op that meets no live row (its table is not in the live database yet). */
  std::vector<core::Finding> skipped;
  /** Escalations: an op that cannot be checked, and why (LiveCheckIncomplete). */
  std::vector<core::Finding> unverified;
};

/** Checks for every data-dependent op the live tables can answer; `file` goes into findings. */
LiveCheckPlan planLiveChecks(const alembic::ParsedRevision& revision,
                             const std::map<TableRef, LiveTable>& tables,
                             const LiveCheckLimits& limits, const std::string& file,
                             const std::vector<AlterType>& alters = {});

/** A bigint cell of a read-only query's answer; nullopt for NULL, empty or not a number. */
std::optional<int64_t> integerField(const std::optional<std::string>& field);

}  // namespace alembic_sidecar::database
