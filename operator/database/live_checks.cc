#include "database/live_checks.h"

#include <algorithm>
#include <regex>
#include <set>

#include "core/reasons.h"
#include "database/live_check_findings.h"
#include "database/sql_guard.h"
#include "database/sql_types.h"

namespace alembic_sidecar::database {
namespace {

namespace sev = core::severity;
namespace code = core::finding;
using Kind = LiveCheck::Kind;
using OpKind = DataOp::Kind;
using alembic::RevisionOp;

std::string joined(const std::vector<std::string>& items, const std::string& sep = ", ") {
  std::string out;
  for (const auto& i : items) {
    out += (out.empty() ? "" : sep) + i;
  }
  return out;
}

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
  bool withDefault(const std::string& table, const std::string& name) const {
    return column(table, name) && columns.at(table).at(name);
  }
};

const std::regex& serverDefaultPattern() {
  static const std::regex kServerDefault(R"(server_default\s*=\s*(?!None\b))");
  return kServerDefault;
}

Created createdBy(const alembic::ParsedRevision& revision) {
  Created created;
  for (const auto& op : revision.upgradeOps) {
    if (op.op == "create_table") {
      created.tables.insert(op.table);
    } else if (op.op == "add_column" && !op.column.empty()) {
      created.columns[op.table][op.column] = std::regex_search(op.text, serverDefaultPattern());
    }
  }
  return created;
}

/** The sa.Column(...) an add_column op adds: NOT NULL with nothing to fill existing rows. */
bool requiredWithoutFill(const RevisionOp& op) {
  for (const auto& arg : op.call.args) {
    auto call = alembic::parseCall(arg);
    if (!call || (call->callee != "sa.Column" && call->callee != "Column" &&
                  call->callee != "sqlalchemy.Column")) {
      continue;
    }
    bool primaryKey = call->kwarg("primary_key").value_or("False") == "True";
    auto nullable = call->kwarg("nullable");
    bool notNull = nullable ? *nullable == "False" : primaryKey;
    auto serverDefault = call->kwarg("server_default");
    bool filled = (serverDefault && *serverDefault != "None") ||
                  arg.find("Identity(") != std::string::npos ||
                  arg.find("Computed(") != std::string::npos;
    return notNull && !filled;
  }
  return false;
}

/** The downgrade's alter_column of the same column, when it changes the type back. */
const RevisionOp* downgradeAlter(const alembic::ParsedRevision& rev, const RevisionOp& up) {
  for (const auto& op : rev.downgradeOps) {
    if (op.op == "alter_column" && op.table == up.table && op.column == up.column &&
        !op.details.type.empty()) {
      return &op;
    }
  }
  return nullptr;
}

/** The key of offending rows for the select list (`prefix` qualifies its columns). */
std::string keyExpression(const LiveTable& table, const std::string& prefix) {
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
    return "the table has no primary key: rows are counted, not named";
  }
  std::string key =
      table.primaryKey.size() == 1 ? table.primaryKey[0] : "(" + joined(table.primaryKey) + ")";
  if (!table.surrogateKey()) {
    return "the primary key " + key + " is not a surrogate key: its values are not shown";
  }
  return "primary key " + key;
}

std::string offendersSql(const LiveTable& table, const std::string& from,
                         const std::string& keyPrefix, const std::string& condition,
                         const LiveCheckLimits& limits) {
  const std::string limit = std::to_string(limits.maxOffenders + 1);
  if (!table.surrogateKey()) {
    return "SELECT count(*), NULL::text FROM (SELECT 1 FROM " + from + " WHERE " + condition +
           " LIMIT " + limit + ") AS offenders";
  }
  return "SELECT count(*), array_to_json((array_agg(k))[1:" + std::to_string(limits.sampleKeys) +
         "])::text FROM (SELECT " + keyExpression(table, keyPrefix) + " AS k FROM " + from +
         " WHERE " + condition + " LIMIT " + limit + ") AS offenders";
}

std::string duplicatesSql(const LiveTable& table, const std::vector<std::string>& columns,
                          const std::string& predicate, bool nullsNotDistinct,
                          const LiveCheckLimits& limits) {
  std::vector<std::string> quoted;
  std::vector<std::string> notNull;
  for (const auto& c : columns) {
    quoted.push_back(quoteIdent(c));
    notNull.push_back(quoteIdent(c) + " IS NOT NULL");
  }
  // NULLS NOT DISTINCT: NULLs are equal under the key, as GROUP BY treats them.
  std::vector<std::string> where;
  if (!nullsNotDistinct) {
    where.push_back(joined(notNull, " AND "));
  }
  if (!predicate.empty()) {
    where.push_back("(" + predicate + ")");
  }
  const std::string filter = where.empty() ? "" : " WHERE " + joined(where, " AND ");
  const std::string tail = " GROUP BY " + joined(quoted) + " HAVING count(*) > 1 LIMIT " +
                           std::to_string(limits.maxOffenders + 1) + ") AS groups";
  if (!table.surrogateKey()) {
    return "SELECT count(*), coalesce(sum(n), 0), NULL::text FROM (SELECT count(*) AS n FROM " +
           table.qualified() + filter + tail;
  }
  std::string key = keyExpression(table, "");
  // min/max keep two keys per group without collecting every key of the table.
  return "SELECT count(*), coalesce(sum(n), 0), array_to_json((array_agg(ARRAY[lo, hi]))[1:" +
         std::to_string(limits.sampleKeys) + "])::text FROM (SELECT count(*) AS n, min(" + key +
         ") AS lo, max(" + key + ") AS hi FROM " + table.qualified() + filter + tail;
}

class Planner {
 public:
  Planner(const alembic::ParsedRevision& rev, const std::map<TableRef, LiveTable>& tables,
          const LiveCheckLimits& limits, const std::string& file,
          const std::vector<AlterType>& alters)
      : rev_(rev), tables_(tables), limits_(limits), file_(file), created_(createdBy(rev)) {
    plan_.ops = dataOps(rev, alters);
  }

  LiveCheckPlan run() {
    for (size_t i = 0; i < plan_.ops.size(); ++i) {
      switch (plan_.ops[i].kind) {
        case OpKind::kUnique:
          unique(i);
          break;
        case OpKind::kPrimaryKey:
          primaryKey(i);
          break;
        case OpKind::kNotNull:
          notNull(i);
          break;
        case OpKind::kTypeChange:
          typeChange(i);
          break;
        case OpKind::kForeignKey:
          foreignKey(i);
          break;
        case OpKind::kCheck:
          check(i);
          break;
        case OpKind::kRequiredColumn:
          if (liveTable(i)) {
            plan_.counted.push_back(CountedOp{i, plan_.ops[i].table, std::nullopt, {}});
          }
          break;
      }
    }
    return std::move(plan_);
  }

 private:
  const DataOp& op(size_t i) const { return plan_.ops[i]; }
  const alembic::OpDetails& details(size_t i) const { return plan_.ops[i].op->details; }

  /** Nothing live to verify: the op meets no row. */
  void skip(size_t i, const std::string& why) {
    plan_.skipped.push_back(core::Finding{
        code::kLiveChecksSkipped, sev::kInfo, op(i).subject + " meets no live row: " + why,
        "nothing to do: when the upgrade runs there, the table holds only rows written after "
        "the pending revisions",
        file_, op(i).line});
  }

  /** The op cannot be checked against rows that exist: an escalation. */
  void unverified(size_t i, const std::string& why) {
    plan_.unverified.push_back(unverifiedFinding(op(i), why, limits_, file_));
  }

  /** The live table of the op, or nullptr after a note saying there is none. */
  const LiveTable* liveTable(size_t i) {
    auto it = tables_.find(op(i).table);
    if (it != tables_.end()) {
      return &it->second;
    }
    skip(i, "the live database has no table " + op(i).table.display() +
                " (it is not at the history's head yet)");
    return nullptr;
  }

  /** False (after an escalation) when a column is neither live nor added by this revision. */
  bool columnsKnown(size_t i, const LiveTable& table, const std::vector<std::string>& columns) {
    for (const auto& c : columns) {
      if (!table.columnTypes.count(c) && !created_.column(op(i).op->table, c)) {
        unverified(i, "the live table " + table.name + " has no column " + c +
                          " (the live database is not at the history's head), so the rows the "
                          "pending revisions leave cannot be read");
        return false;
      }
    }
    return true;
  }

  void add(size_t i, const LiveTable& table, Kind kind, const char* findingCode, std::string sql) {
    plan_.checks.push_back(LiveCheck{kind, findingCode, op(i).subject, op(i).op->table,
                                     keyLabel(table), table.surrogateKey(), op(i).line,
                                     ReadOnlyQuery{std::move(sql), {}}, i});
  }

  /** The op holds when the table has at most `maxRows` rows (checked by its row count). */
  void countUpTo(size_t i, int64_t maxRows, std::string beyond) {
    plan_.counted.push_back(CountedOp{i, op(i).table, maxRows, std::move(beyond)});
  }

  /** Duplicate check of a unique key; false when it planned nothing (decided otherwise). */
  void unique(size_t i) {
    const auto& d = details(i);
    const LiveTable* table = liveTable(i);
    if (table == nullptr) {
      return;
    }
    if (d.expressions || d.columns.empty()) {
      unverified(i, "it indexes expressions, not plain columns, which the checks do not evaluate");
      return;
    }
    std::string predicate;
    if (!d.where.empty()) {
      if (!d.whereSql) {
        unverified(i, "its postgresql_where is a SQLAlchemy expression, not SQL text");
        return;
      }
      if (auto why = expressionRejection(*d.whereSql)) {
        unverified(i, "its predicate is not evaluated on the live database: " + *why);
        return;
      }
      predicate = *d.whereSql;
    }
    if (!columnsKnown(i, *table, d.columns)) {
      return;
    }
    for (const auto& c : d.columns) {
      if (!created_.column(op(i).op->table, c)) {
        continue;
      }
      if (created_.withDefault(op(i).op->table, c)) {
        countUpTo(i, 1,
                  "column " + c +
                      " is added by this revision with a server default, which "
                      "every existing row gets: whether those values collide is not known");
      } else if (d.nullsNotDistinct) {
        countUpTo(i, 1,
                  "column " + c +
                      " is added by this revision and NULL in every existing "
                      "row, and NULLS NOT DISTINCT makes those NULLs equal");
      }
      return;  // a new column without a default is NULL in every row: no duplicates
    }
    add(i, *table, Kind::kDuplicates, code::kDuplicateRowsUnderUnique,
        duplicatesSql(*table, d.columns, predicate, d.nullsNotDistinct, limits_));
  }

  void primaryKey(size_t i) {
    unique(i);
    auto it = tables_.find(op(i).table);
    if (it == tables_.end() || details(i).expressions) {
      return;
    }
    for (const auto& c : details(i).columns) {
      if (it->second.columnTypes.count(c)) {
        add(i, it->second, Kind::kNulls, code::kNullRowsUnderNotNull,
            offendersSql(it->second, it->second.qualified(), "", quoteIdent(c) + " IS NULL",
                         limits_));
      } else if (created_.column(op(i).op->table, c) && !created_.withDefault(op(i).op->table, c)) {
        countUpTo(i, 0,
                  "column " + c + " is added by this revision and NULL in every existing row");
      }
    }
  }

  void notNull(size_t i) {
    const LiveTable* table = liveTable(i);
    if (table == nullptr || !columnsKnown(i, *table, {op(i).op->column})) {
      return;
    }
    add(i, *table, Kind::kNulls, code::kNullRowsUnderNotNull,
        offendersSql(*table, table->qualified(), "", quoteIdent(op(i).op->column) + " IS NULL",
                     limits_));
  }

  void typeChange(size_t i) {
    const auto& d = details(i);
    const std::string& column = op(i).op->column;
    const LiveTable* table = liveTable(i);
    if (table == nullptr || !columnsKnown(i, *table, {column})) {
      return;
    }
    SqlType from = fromPostgres(table->columnTypes.at(column));
    SqlType to = fromSqlAlchemy(d.type);
    plan_.ops[i].subject = "changing " + op(i).op->table + "." + column + " from " + from.text +
                           " to " + shortType(d.type);
    std::string usingSql;
    if (op(i).alter) {
      usingSql = op(i).alter->usingSql;
    } else if (!d.postgresqlUsing.empty()) {
      auto literal = alembic::stringLiteral(d.postgresqlUsing);
      if (!literal) {
        unverified(i,
                   "its postgresql_using is not a string literal, and the upgrade's SQL could "
                   "not be rendered offline to read it");
        return;
      }
      usingSql = *literal;
    }
    const std::string c = quoteIdent(column);
    if (usingSql.empty() && conversionIsLossless(from, to)) {
      return;  // a widening: every value converts unchanged
    }
    FitConditions fit = usingSql.empty() ? fitConditions(from, to, c) : FitConditions{"", "", true};
    if (!fit.fails.empty()) {
      add(i, *table, Kind::kDoesNotFit, code::kValuesDoNotFitType,
          offendersSql(*table, table->qualified(), "", c + " IS NOT NULL AND (" + fit.fails + ")",
                       limits_));
    }
    if (!fit.rounds.empty()) {
      add(i, *table, Kind::kRounded, code::kValuesRoundedByType,
          offendersSql(*table, table->qualified(), "", c + " IS NOT NULL AND (" + fit.rounds + ")",
                       limits_));
    }
    // Where the classifier knows both types and no USING decides, the conditions above are
    // the exact predicate of the assignment cast's failure: they are the trial. Otherwise
    // (USING, dates, domains, arrays, json, enums, custom types) the conversion is tried.
    if (usingSql.empty() && !fit.untestable) {
      return;
    }
    const std::string& newType = op(i).newType;
    if (newType.empty()) {
      unverified(i, "the new type " + shortType(d.type) +
                        " is not one the checks can name in SQL, and the upgrade's SQL could "
                        "not be rendered offline (alembic upgrade --sql) to read it");
      return;
    }
    if (auto why = typeRejection(newType)) {
      unverified(i, "the new type " + newType + " is not declared on the live database: " + *why);
      return;
    }
    if (!usingSql.empty()) {
      if (auto why = expressionRejection(usingSql)) {
        unverified(i, "its USING expression is not evaluated on the live database: " + *why);
        return;
      }
    }
    ConversionTrialSpec spec;
    spec.qualifiedTable = table->qualified();
    spec.alias = table->name;
    spec.keyColumns = table->primaryKey;
    spec.showKey = table->surrogateKey();
    spec.column = column;
    spec.newType = newType;
    spec.usingSql = usingSql;
    // The downgrade converts the upgraded values back; tried where it casts (no USING of its
    // own, which would name columns of the upgraded table).
    if (const RevisionOp* down = downgradeAlter(rev_, *op(i).op);
        down != nullptr && down->details.postgresqlUsing.empty() && !typeRejection(from.text)) {
      spec.backType = from.text;
    }
    add(i, *table, Kind::kConversion, code::kConversionFailsOnLiveRows, conversionTrialSql(spec));
  }

  void foreignKey(size_t i) {
    const auto& d = details(i);
    const LiveTable* table = liveTable(i);
    if (table == nullptr) {
      return;
    }
    if (d.expressions || d.columns.empty() || d.columns.size() != d.referentColumns.size()) {
      unverified(i, "its column lists are not plain names of the same length");
      return;
    }
    if (!columnsKnown(i, *table, d.columns)) {
      return;
    }
    for (const auto& c : d.columns) {
      if (created_.column(op(i).op->table, c)) {
        if (created_.withDefault(op(i).op->table, c)) {
          countUpTo(i, 0,
                    "column " + c +
                        " is added by this revision with a server default, which "
                        "every existing row gets: whether " +
                        d.referentTable + " holds that value is not known");
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
        unverified(i, "the live database has no table " + referentRef.display() +
                          " (it is not at the history's head), so what the live rows of " +
                          op(i).op->table + " reference cannot be read");
        return;
      }
      // The referent is created by this revision: empty, so every non-NULL key is an orphan.
    } else {
      std::vector<std::string> match;
      for (size_t k = 0; k < d.columns.size(); ++k) {
        if (!referent->second.columnTypes.count(d.referentColumns[k])) {
          unverified(i, "the live table " + d.referentTable + " has no column " +
                            d.referentColumns[k] +
                            " (the live database is not at the history's "
                            "head)");
          return;
        }
        match.push_back("ref." + quoteIdent(d.referentColumns[k]) + " = src." +
                        quoteIdent(d.columns[k]));
      }
      conditions.push_back("NOT EXISTS (SELECT 1 FROM " + referent->second.qualified() +
                           " AS ref WHERE " + joined(match, " AND ") + ")");
    }
    add(i, *table, Kind::kOrphans, code::kOrphanRowsUnderForeignKey,
        offendersSql(*table, table->qualified() + " AS src", "src.", joined(conditions, " AND "),
                     limits_));
  }

  void check(size_t i) {
    const auto& d = details(i);
    const LiveTable* table = liveTable(i);
    if (table == nullptr) {
      return;
    }
    if (!d.conditionSql) {
      unverified(i, "its condition is a SQLAlchemy expression, not SQL text");
      return;
    }
    if (auto why = expressionRejection(*d.conditionSql)) {
      unverified(i, "its condition is not evaluated on the live database: " + *why);
      return;
    }
    auto added = created_.columns.find(op(i).op->table);
    if (added != created_.columns.end()) {
      for (const auto& [column, _] : added->second) {
        if (std::regex_search(
                *d.conditionSql,
                std::regex("\\b" + std::regex_replace(column, std::regex(R"(\W)"), R"(\$&)") +
                           "\\b"))) {
          countUpTo(i, 0,
                    "it uses column " + column +
                        ", which this revision adds, so the "
                        "condition cannot be evaluated before the upgrade");
          return;
        }
      }
    }
    // A row violates a CHECK only when the condition is false (NULL passes).
    add(i, *table, Kind::kViolations, code::kRowsViolateCheck,
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

std::vector<DataOp> dataOps(const alembic::ParsedRevision& revision,
                            const std::vector<AlterType>& alters) {
  Created created = createdBy(revision);
  std::vector<DataOp> out;
  auto push = [&](OpKind kind, const RevisionOp& op, std::string subject) {
    DataOp d;
    d.kind = kind;
    d.op = &op;
    d.table = TableRef{op.details.schema, op.table};
    d.subject = std::move(subject);
    d.line = op.line;
    out.push_back(std::move(d));
    return &out.back();
  };
  for (const auto& op : revision.upgradeOps) {
    if (op.table.empty() || created.tables.count(op.table)) {
      continue;  // a table this revision creates has no live rows yet
    }
    const auto& d = op.details;
    const std::string cols = " on " + op.table + " (" + joined(d.columns) + ")";
    if (op.op == "create_index" && d.unique) {
      push(OpKind::kUnique, op, "unique index " + op.name + cols);
    } else if (op.op == "create_unique_constraint") {
      push(OpKind::kUnique, op, "unique constraint " + op.name + cols);
    } else if (op.op == "create_primary_key") {
      push(OpKind::kPrimaryKey, op, "primary key " + op.name + cols);
    } else if (op.op == "alter_column" && !created.column(op.table, op.column)) {
      const std::string column = op.table + "." + op.column;
      if (d.nullable == false) {
        push(OpKind::kNotNull, op, "SET NOT NULL on " + column);
      }
      if (!d.type.empty()) {
        DataOp* change =
            push(OpKind::kTypeChange, op, "changing " + column + " to " + shortType(d.type));
        for (const auto& a : alters) {
          if (a.table == op.table && a.column == op.column &&
              (a.schema.empty() || d.schema.empty() || a.schema == d.schema)) {
            change->alter = a;
          }
        }
        change->newType =
            change->alter ? change->alter->type : fromSqlAlchemy(d.type).sql().value_or("");
      }
    } else if (op.op == "create_foreign_key") {
      push(OpKind::kForeignKey, op,
           "foreign key " + op.name + " from " + op.table + " (" + joined(d.columns) + ") to " +
               d.referentTable + " (" + joined(d.referentColumns) + ")");
    } else if (op.op == "create_check_constraint") {
      std::string shown = d.conditionSql ? *d.conditionSql : d.condition;
      push(OpKind::kCheck, op,
           "check constraint " + op.name + " on " + op.table + " (" + shown + ")");
    } else if (op.op == "add_column" && requiredWithoutFill(op)) {
      push(OpKind::kRequiredColumn, op,
           "NOT NULL column " + op.table + "." + op.column + " without a server default");
    }
  }
  return out;
}

LiveCheckPlan planLiveChecks(const alembic::ParsedRevision& revision,
                             const std::map<TableRef, LiveTable>& tables,
                             const LiveCheckLimits& limits, const std::string& file,
                             const std::vector<AlterType>& alters) {
  return Planner(revision, tables, limits, file, alters).run();
}

}  // namespace alembic_sidecar::database
