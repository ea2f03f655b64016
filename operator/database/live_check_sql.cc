// Live-data checks, the SQL that needs no plan: the catalog question, row counts, and the
// queries a person can run by hand to verify an operation the tool could not.

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "database/live_checks.h"
#include "database/sql_guard.h"
#include "database/sql_types.h"

namespace alembic_sidecar::database {
namespace {

std::string joined(const std::vector<std::string>& items, const std::string& sep = ", ") {
  std::string out;
  for (const auto& i : items) {
    out += (out.empty() ? "" : sep) + i;
  }
  return out;
}

std::vector<std::string> quoted(const std::vector<std::string>& names,
                                const std::string& prefix = "") {
  std::vector<std::string> out;
  for (const auto& n : names) {
    out.push_back(prefix + quoteIdent(n));
  }
  return out;
}

}  // namespace

std::string TableRef::sql() const {
  return schema.empty() ? quoteIdent(name) : quoteIdent(schema) + "." + quoteIdent(name);
}

std::string LiveTable::qualified() const { return quoteIdent(schema) + "." + quoteIdent(name); }

bool LiveTable::surrogateKey() const {
  if (primaryKey.empty()) {
    return false;
  }
  for (const auto& column : primaryKey) {
    auto type = columnTypes.find(column);
    if (type == columnTypes.end()) {
      return false;
    }
    SqlType t = fromPostgres(type->second);
    if (!t.isInteger() && t.kind != SqlType::Kind::kUuid) {
      return false;
    }
  }
  return true;
}

std::string handQuery(const DataOp& op) {
  using Kind = DataOp::Kind;
  const auto& d = op.op->details;
  const std::string t = op.table.sql();
  switch (op.kind) {
    case Kind::kUnique:
    case Kind::kPrimaryKey: {
      if (d.expressions || d.columns.empty()) {
        return "SELECT count(*) FROM " + t +
               ";  -- then compare with the distinct values of the "
               "indexed expressions";
      }
      auto cols = quoted(d.columns);
      std::vector<std::string> notNull;
      for (const auto& c : cols) {
        notNull.push_back(c + " IS NOT NULL");
      }
      std::string where = d.nullsNotDistinct ? "" : joined(notNull, " AND ");
      if (d.whereSql) {
        where += (where.empty() ? "" : " AND ") + ("(" + *d.whereSql + ")");
      }
      std::string sql = "SELECT " + joined(cols) + ", count(*) FROM " + t +
                        (where.empty() ? "" : " WHERE " + where) + " GROUP BY " + joined(cols) +
                        " HAVING count(*) > 1 LIMIT 10;";
      if (op.kind == Kind::kPrimaryKey) {
        std::vector<std::string> nulls;
        for (const auto& c : cols) {
          nulls.push_back(c + " IS NULL");
        }
        sql += " SELECT count(*) FROM " + t + " WHERE " + joined(nulls, " OR ") + ";";
      }
      return sql;
    }
    case Kind::kNotNull:
      return "SELECT count(*) FROM " + t + " WHERE " + quoteIdent(op.op->column) + " IS NULL;";
    case Kind::kTypeChange: {
      std::string expr =
          op.alter && !op.alter->usingSql.empty() ? op.alter->usingSql : quoteIdent(op.op->column);
      std::string type = op.newType.empty() ? "<the new type>" : op.newType;
      return "SELECT count(CAST((" + expr + ") AS " + type + ")) FROM " + t +
             ";  -- an error names what does not convert";
    }
    case Kind::kForeignKey: {
      TableRef referent{d.referentSchema, d.referentTable};
      std::vector<std::string> conditions;
      std::vector<std::string> match;
      for (size_t i = 0; i < d.columns.size(); ++i) {
        conditions.push_back("src." + quoteIdent(d.columns[i]) + " IS NOT NULL");
        if (i < d.referentColumns.size()) {
          match.push_back("ref." + quoteIdent(d.referentColumns[i]) + " = src." +
                          quoteIdent(d.columns[i]));
        }
      }
      conditions.push_back("NOT EXISTS (SELECT 1 FROM " + referent.sql() + " AS ref WHERE " +
                           joined(match, " AND ") + ")");
      return "SELECT count(*) FROM " + t + " AS src WHERE " + joined(conditions, " AND ") + ";";
    }
    case Kind::kCheck:
      return "SELECT count(*) FROM " + t + " WHERE NOT (" +
             (d.conditionSql ? *d.conditionSql : "<the condition as SQL>") + ");";
    case Kind::kRequiredColumn:
      return "SELECT EXISTS (SELECT 1 FROM " + t + ");";
  }
  return {};
}

std::vector<TableRef> tablesToInspect(const alembic::ParsedRevision& revision) {
  std::set<std::string> created;
  for (const auto& op : revision.upgradeOps) {
    if (op.op == "create_table") {
      created.insert(op.table);
    }
  }
  std::vector<TableRef> out;
  auto addRef = [&](const TableRef& ref) {
    if (!ref.name.empty() && !created.count(ref.name) &&
        std::find(out.begin(), out.end(), ref) == out.end()) {
      out.push_back(ref);
    }
  };
  for (const auto& op : revision.upgradeOps) {
    if (op.op == "execute" || op.op == "drop_table") {
      continue;
    }
    addRef(TableRef{op.details.schema, op.table});
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
  // yields NULL for a table that does not exist. format_type and pg_index take no lock either.
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
