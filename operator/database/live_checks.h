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
#include "database/database.h"

namespace alembic_sidecar::database {

// Live-data checks, the pure half: a generated revision's operations become read-only SQL
// for the app's own database (live_check_findings.h words the answers). No I/O here;
// live_data.h runs the queries.

/** How much the live-data checks may cost on the app's database. */
struct LiveCheckLimits {
  /** Counting stops after this many offending rows (or duplicate groups). */
  int64_t maxOffenders = 1000;
  /** Primary keys of offending rows quoted in a finding. */
  int sampleKeys = 5;
  /** Tables up to this many rows are counted; larger ones take pg_class.reltuples. */
  int64_t exactCountLimit = 100000;
  ReadOnlyLimits query{std::chrono::seconds(10), std::chrono::seconds(1)};
};

/** A table as an op names it: schema empty means "as search_path resolves it". */
struct TableRef {
  std::string schema;
  std::string name;

  std::string display() const { return schema.empty() ? name : schema + "." + name; }
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
};

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
  enum class Kind { kDuplicates, kNulls, kDoesNotFit, kRounded, kOrphans, kViolations };
  Kind kind = Kind::kNulls;
  std::string code;      // the finding code a positive answer carries
  std::string subject;   // what the op does, for the message
  std::string table;     // as the op names it
  std::string keyLabel;  // what the sampled keys are: "primary key id", "ctid (...)"
  int line = 0;
  ReadOnlyQuery query;
};

/** The checks a revision needs, and the notes on what cannot be checked (info findings). */
struct LiveCheckPlan {
  std::vector<LiveCheck> checks;
  std::vector<core::Finding> skipped;
};

/** Checks for every upgrade op the live tables can answer; `file` goes into the notes. */
LiveCheckPlan planLiveChecks(const alembic::ParsedRevision& revision,
                             const std::map<TableRef, LiveTable>& tables,
                             const LiveCheckLimits& limits, const std::string& file);

/** A bigint cell of a read-only query's answer; nullopt for NULL, empty or not a number. */
std::optional<int64_t> integerField(const std::optional<std::string>& field);

}  // namespace alembic_sidecar::database
