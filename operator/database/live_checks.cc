#include "database/live_checks.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "core/reasons.h"
#include "database/sql_guard.h"
#include "database/sql_types.h"

namespace alembic_sidecar::database {
namespace {

namespace sev = core::severity;
namespace code = core::finding;
using Kind = LiveCheck::Kind;
using alembic::RevisionOp;

std::string joined(const std::vector<std::string>& items, const std::string& sep = ", ") {
  std::string out;
  for (const auto& i : items) {
    out += (out.empty() ? "" : sep) + i;
  }
  return out;
}

TableRef refOf(const RevisionOp& op) { return TableRef{op.details.schema, op.table}; }

/** The last segment of a rendered type: sqlmodel.sql.sqltypes.AutoString(length=20) -> ... */
std::string shortType(const std::string& rendered) {
  auto paren = rendered.find('(');
  auto dot = rendered.rfind('.', paren);
  return dot == std::string::npos ? rendered : rendered.substr(dot + 1);
}

/** What the revision itself creates: tables, and columns added to existing tables. */
struct Created {
  std::set<std::string> tables;
  std::map<std::string, std::map<std::string, bool>> columns;  // table -> column -> has default

  bool column(const std::string& table, const std::string& name) const {
    auto t = columns.find(table);
    return t != columns.end() && t->second.count(name);
  }
};

Created createdBy(const alembic::ParsedRevision& revision) {
  Created created;
  static const std::regex kServerDefault(R"(server_default\s*=\s*(?!None\b))");
  for (const auto& op : revision.upgradeOps) {
    if (op.op == "create_table") {
      created.tables.insert(op.table);
    } else if (op.op == "add_column" && !op.column.empty()) {
      created.columns[op.table][op.column] = std::regex_search(op.text, kServerDefault);
    }
  }
  return created;
}

/** The text of a primary key for the SQL select list (`prefix` qualifies its columns). */
std::string keyExpression(const LiveTable& table, const std::string& prefix) {
  if (table.primaryKey.empty()) {
    return prefix + "ctid::text";
  }
  if (table.primaryKey.size() == 1) {
    return prefix + quoteIdent(table.primaryKey[0]) + "::text";
  }
  std::vector<std::string> cols;
  for (const auto& c : table.primaryKey) {
    cols.push_back(prefix + quoteIdent(c));
  }
  return "ROW(" + joined(cols) + ")::text";
}

std::string keyLabel(const LiveTable& table) {
  if (table.primaryKey.empty()) {
    return "ctid (the table has no primary key)";
  }
  return table.primaryKey.size() == 1 ? "primary key " + table.primaryKey[0]
                                      : "primary key (" + joined(table.primaryKey) + ")";
}

std::string offendersSql(const LiveTable& table, const std::string& from,
                         const std::string& keyPrefix, const std::string& condition,
                         const LiveCheckLimits& limits) {
  return "SELECT count(*), array_to_json((array_agg(k))[1:" + std::to_string(limits.sampleKeys) +
         "])::text FROM (SELECT " + keyExpression(table, keyPrefix) + " AS k FROM " + from +
         " WHERE " + condition + " LIMIT " + std::to_string(limits.maxOffenders + 1) +
         ") AS offenders";
}

std::string duplicatesSql(const LiveTable& table, const std::vector<std::string>& columns,
                          const std::string& predicate, const LiveCheckLimits& limits) {
  std::vector<std::string> quoted;
  std::vector<std::string> notNull;
  for (const auto& c : columns) {
    quoted.push_back(quoteIdent(c));
    notNull.push_back(quoteIdent(c) + " IS NOT NULL");
  }
  std::string where = joined(notNull, " AND ");
  if (!predicate.empty()) {
    where += " AND (" + predicate + ")";
  }
  std::string key = keyExpression(table, "");
  // min/max keep two keys per group without collecting every key of the table.
  return "SELECT count(*), coalesce(sum(n), 0), array_to_json((array_agg(ARRAY[lo, hi]))[1:" +
         std::to_string(limits.sampleKeys) + "])::text FROM (SELECT count(*) AS n, min(" + key +
         ") AS lo, max(" + key + ") AS hi FROM " + table.qualified() + " WHERE " + where +
         " GROUP BY " + joined(quoted) + " HAVING count(*) > 1 LIMIT " +
         std::to_string(limits.maxOffenders + 1) + ") AS groups";
}

class Planner {
 public:
  Planner(const alembic::ParsedRevision& rev, const std::map<TableRef, LiveTable>& tables,
          const LiveCheckLimits& limits, const std::string& file)
      : rev_(rev), tables_(tables), limits_(limits), file_(file), created_(createdBy(rev)) {}

  LiveCheckPlan run() {
    for (const auto& op : rev_.upgradeOps) {
      if (op.table.empty() || created_.tables.count(op.table)) {
        continue;  // a table this revision creates has no live rows yet
      }
      if (op.op == "create_index" && op.details.unique) {
        unique(op, "unique index " + op.name);
      } else if (op.op == "create_unique_constraint") {
        unique(op, "unique constraint " + op.name);
      } else if (op.op == "create_primary_key") {
        primaryKey(op);
      } else if (op.op == "alter_column") {
        alterColumn(op);
      } else if (op.op == "create_foreign_key") {
        foreignKey(op);
      } else if (op.op == "create_check_constraint") {
        check(op);
      }
    }
    return std::move(plan_);
  }

 private:
  void skip(const RevisionOp& op, const std::string& subject, const std::string& why) {
    plan_.skipped.push_back(core::Finding{
        code::kLiveChecksSkipped, sev::kInfo,
        subject + " was not checked against the live rows: " + why,
        "nothing to do unless you know of rows it affects; the round trip ran on an empty "
        "scratch database only",
        file_, op.line});
  }

  /** The live table of the op, or nullptr after a note saying why there is none. */
  const LiveTable* liveTable(const RevisionOp& op, const std::string& subject) {
    auto it = tables_.find(refOf(op));
    if (it != tables_.end()) {
      return &it->second;
    }
    skip(op, subject,
         "the live database has no table " + refOf(op).display() +
             " (it may not be at the history's head yet)");
    return nullptr;
  }

  /** False (after a note) when a column is neither live nor added by this revision. */
  bool columnsKnown(const RevisionOp& op, const LiveTable& table,
                    const std::vector<std::string>& columns, const std::string& subject) {
    for (const auto& c : columns) {
      if (!table.columnTypes.count(c) && !created_.column(op.table, c)) {
        skip(op, subject, "the live table " + table.name + " has no column " + c);
        return false;
      }
    }
    return true;
  }

  void add(const RevisionOp& op, const LiveTable& table, Kind kind, const char* findingCode,
           std::string subject, std::string sql) {
    plan_.checks.push_back(LiveCheck{kind,
                                     findingCode,
                                     std::move(subject),
                                     op.table,
                                     keyLabel(table),
                                     op.line,
                                     {std::move(sql), {}}});
  }

  void unique(const RevisionOp& op, const std::string& what) {
    std::string subject = what + " on " + op.table + " (" + joined(op.details.columns) + ")";
    const LiveTable* table = liveTable(op, subject);
    if (table == nullptr) {
      return;
    }
    if (op.details.expressions || op.details.columns.empty()) {
      skip(op, subject, "it indexes expressions, not plain columns");
      return;
    }
    std::string predicate;
    if (!op.details.where.empty()) {
      if (!op.details.whereSql) {
        skip(op, subject, "its postgresql_where is not SQL text");
        return;
      }
      if (auto why = expressionRejection(*op.details.whereSql)) {
        skip(op, subject, "its predicate is not evaluated: " + *why);
        return;
      }
      predicate = *op.details.whereSql;
    }
    if (!columnsKnown(op, *table, op.details.columns, subject)) {
      return;
    }
    for (const auto& c : op.details.columns) {
      if (created_.column(op.table, c)) {
        if (created_.columns.at(op.table).at(c)) {
          skip(op, subject, "column " + c + " is added by this revision with a server default");
        }
        return;  // a new column without a default is NULL in every row: no duplicates
      }
    }
    add(op, *table, Kind::kDuplicates, code::kDuplicateRowsUnderUnique, subject,
        duplicatesSql(*table, op.details.columns, predicate, limits_));
  }

  void primaryKey(const RevisionOp& op) {
    unique(op, "primary key " + op.name);
    auto it = tables_.find(refOf(op));
    if (it == tables_.end() || op.details.expressions) {
      return;
    }
    for (const auto& c : op.details.columns) {
      if (it->second.columnTypes.count(c)) {
        add(op, it->second, Kind::kNulls, code::kNullRowsUnderNotNull,
            "primary key " + op.name + " on " + op.table + " (NOT NULL " + c + ")",
            offendersSql(it->second, it->second.qualified(), "", quoteIdent(c) + " IS NULL",
                         limits_));
      }
    }
  }

  void alterColumn(const RevisionOp& op) {
    const auto& d = op.details;
    bool setsNotNull = d.nullable == false;
    if (!setsNotNull && d.type.empty()) {
      return;
    }
    std::string column = op.table + "." + op.column;
    std::string subject =
        setsNotNull ? "SET NOT NULL on " + column : "the type change of " + column;
    if (created_.column(op.table, op.column)) {
      return;  // altering a column this revision adds: nothing live to test
    }
    const LiveTable* table = liveTable(op, subject);
    if (table == nullptr || !columnsKnown(op, *table, {op.column}, subject)) {
      return;
    }
    std::string c = quoteIdent(op.column);
    if (setsNotNull) {
      add(op, *table, Kind::kNulls, code::kNullRowsUnderNotNull, subject,
          offendersSql(*table, table->qualified(), "", c + " IS NULL", limits_));
    }
    if (d.type.empty()) {
      return;
    }
    SqlType from = fromPostgres(table->columnTypes.at(op.column));
    SqlType to = fromSqlAlchemy(d.type);
    std::string change = "changing " + column + " from " + from.text + " to " + shortType(d.type);
    if (!d.postgresqlUsing.empty()) {
      skip(op, change, "postgresql_using decides the conversion");
      return;
    }
    FitConditions fit = fitConditions(from, to, c);
    if (fit.untestable) {
      skip(op, change, "PostgreSQL 15 cannot test that conversion without performing it");
      return;
    }
    if (!fit.fails.empty()) {
      add(op, *table, Kind::kDoesNotFit, code::kValuesDoNotFitType, change,
          offendersSql(*table, table->qualified(), "", c + " IS NOT NULL AND (" + fit.fails + ")",
                       limits_));
    }
    if (!fit.rounds.empty()) {
      add(op, *table, Kind::kRounded, code::kValuesRoundedByType, change,
          offendersSql(*table, table->qualified(), "", c + " IS NOT NULL AND (" + fit.rounds + ")",
                       limits_));
    }
  }

  void foreignKey(const RevisionOp& op) {
    const auto& d = op.details;
    std::string subject = "foreign key " + op.name + " from " + op.table + " (" +
                          joined(d.columns) + ") to " + d.referentTable + " (" +
                          joined(d.referentColumns) + ")";
    const LiveTable* table = liveTable(op, subject);
    if (table == nullptr) {
      return;
    }
    if (d.expressions || d.columns.empty() || d.columns.size() != d.referentColumns.size()) {
      skip(op, subject, "its column lists are not plain names of the same length");
      return;
    }
    if (!columnsKnown(op, *table, d.columns, subject)) {
      return;
    }
    for (const auto& c : d.columns) {
      if (created_.column(op.table, c)) {
        if (created_.columns.at(op.table).at(c)) {
          skip(op, subject, "column " + c + " is added by this revision with a server default");
        }
        return;  // NULL in every existing row: no orphans
      }
    }
    std::vector<std::string> conditions;
    for (const auto& c : d.columns) {
      conditions.push_back("src." + quoteIdent(c) + " IS NOT NULL");
    }
    TableRef referentRef{d.referentSchema, d.referentTable};
    auto referent = tables_.find(referentRef);
    if (referent == tables_.end()) {
      if (!created_.tables.count(d.referentTable)) {
        skip(op, subject,
             "the live database has no table " + referentRef.display() +
                 " (it may not be at the history's head yet)");
        return;
      }
      // The referent is created by this revision: empty, so every non-NULL key is an orphan.
    } else {
      std::vector<std::string> match;
      for (size_t i = 0; i < d.columns.size(); ++i) {
        if (!referent->second.columnTypes.count(d.referentColumns[i])) {
          skip(op, subject,
               "the live table " + d.referentTable + " has no column " + d.referentColumns[i]);
          return;
        }
        match.push_back("ref." + quoteIdent(d.referentColumns[i]) + " = src." +
                        quoteIdent(d.columns[i]));
      }
      conditions.push_back("NOT EXISTS (SELECT 1 FROM " + referent->second.qualified() +
                           " AS ref WHERE " + joined(match, " AND ") + ")");
    }
    add(op, *table, Kind::kOrphans, code::kOrphanRowsUnderForeignKey, subject,
        offendersSql(*table, table->qualified() + " AS src", "src.", joined(conditions, " AND "),
                     limits_));
  }

  void check(const RevisionOp& op) {
    const auto& d = op.details;
    std::string shown = d.conditionSql ? *d.conditionSql : d.condition;
    std::string subject = "check constraint " + op.name + " on " + op.table + " (" + shown + ")";
    const LiveTable* table = liveTable(op, subject);
    if (table == nullptr) {
      return;
    }
    if (!d.conditionSql) {
      skip(op, subject, "its condition is a SQLAlchemy expression, not SQL text");
      return;
    }
    if (auto why = expressionRejection(*d.conditionSql)) {
      skip(op, subject, "its condition is not evaluated: " + *why);
      return;
    }
    auto added = created_.columns.find(op.table);
    if (added != created_.columns.end()) {
      for (const auto& [column, _] : added->second) {
        if (std::regex_search(
                *d.conditionSql,
                std::regex("\\b" + std::regex_replace(column, std::regex(R"(\W)"), R"(\$&)") +
                           "\\b"))) {
          skip(op, subject, "it uses column " + column + ", which this revision adds");
          return;
        }
      }
    }
    // A row violates a CHECK only when the condition is false (NULL passes).
    add(op, *table, Kind::kViolations, code::kRowsViolateCheck, subject,
        offendersSql(*table, table->qualified(), "", "NOT (" + *d.conditionSql + ")", limits_));
  }

  const alembic::ParsedRevision& rev_;
  const std::map<TableRef, LiveTable>& tables_;
  const LiveCheckLimits& limits_;
  const std::string& file_;
  Created created_;
  LiveCheckPlan plan_;
};

}  // namespace

std::string LiveTable::qualified() const { return quoteIdent(schema) + "." + quoteIdent(name); }

std::vector<TableRef> tablesToInspect(const alembic::ParsedRevision& revision) {
  Created created = createdBy(revision);
  std::vector<TableRef> out;
  auto addRef = [&](const TableRef& ref) {
    if (!ref.name.empty() && !created.tables.count(ref.name) &&
        std::find(out.begin(), out.end(), ref) == out.end()) {
      out.push_back(ref);
    }
  };
  for (const auto& op : revision.upgradeOps) {
    if (op.op == "execute" || op.op == "drop_table") {
      continue;
    }
    addRef(refOf(op));
    if (op.op == "create_foreign_key") {
      addRef(TableRef{op.details.referentSchema, op.details.referentTable});
    }
  }
  return out;
}

ReadOnlyQuery catalogQuery(const std::vector<TableRef>& tables) {
  nlohmann::json refs = nlohmann::json::array();
  for (const auto& t : tables) {
    refs.push_back({t.schema, t.name});
  }
  // to_regclass resolves a name as the migration will (search_path), takes no lock and
  // yields NULL for a table that does not exist.
  return ReadOnlyQuery{
      "SELECT r.ord - 1, n.nspname, c.relname, c.reltuples::bigint, "
      "(SELECT json_agg(a.attname ORDER BY k.i)::text FROM pg_index i "
      "CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, i) "
      "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
      "WHERE i.indrelid = c.oid AND i.indisprimary), "
      "(SELECT json_object_agg(a.attname, format_type(a.atttypid, a.atttypmod))::text "
      "FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) "
      "FROM json_array_elements($1::json) WITH ORDINALITY AS r(t, ord) "
      "LEFT JOIN pg_class c ON c.oid = to_regclass(CASE WHEN r.t->>0 = '' "
      "THEN quote_ident(r.t->>1) ELSE quote_ident(r.t->>0) || '.' || quote_ident(r.t->>1) END) "
      "AND c.relkind IN ('r', 'p') "
      "LEFT JOIN pg_namespace n ON n.oid = c.relnamespace ORDER BY r.ord",
      {refs.dump()}};
}

std::map<TableRef, LiveTable> readCatalog(const std::vector<TableRef>& tables,
                                          const QueryRows& rows) {
  std::map<TableRef, LiveTable> out;
  for (const auto& row : rows) {
    if (row.size() < 6 || !row[1] || !row[2]) {
      continue;  // no such table
    }
    auto index = integerField(row[0]);
    if (!index || *index < 0 || static_cast<size_t>(*index) >= tables.size()) {
      continue;
    }
    LiveTable table;
    table.schema = *row[1];
    table.name = *row[2];
    table.reltuples = integerField(row[3]).value_or(-1);
    auto pk = nlohmann::json::parse(row[4].value_or("[]"), nullptr, false);
    if (pk.is_array()) {
      for (const auto& c : pk) {
        if (c.is_string()) {
          table.primaryKey.push_back(c.get<std::string>());
        }
      }
    }
    auto columns = nlohmann::json::parse(row[5].value_or("{}"), nullptr, false);
    if (columns.is_object()) {
      for (const auto& [name, type] : columns.items()) {
        table.columnTypes[name] = type.is_string() ? type.get<std::string>() : "";
      }
    }
    out[tables[static_cast<size_t>(*index)]] = std::move(table);
  }
  return out;
}

ReadOnlyQuery rowCountQuery(const LiveTable& table, int64_t limit) {
  return ReadOnlyQuery{"SELECT count(*) FROM (SELECT 1 FROM " + table.qualified() + " LIMIT " +
                           std::to_string(limit + 1) + ") AS s",
                       {}};
}

LiveCheckPlan planLiveChecks(const alembic::ParsedRevision& revision,
                             const std::map<TableRef, LiveTable>& tables,
                             const LiveCheckLimits& limits, const std::string& file) {
  return Planner(revision, tables, limits, file).run();
}

std::optional<int64_t> integerField(const std::optional<std::string>& field) {
  if (!field || field->empty()) {
    return std::nullopt;
  }
  try {
    return std::stoll(*field);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace alembic_sidecar::database
