#include "database/live_schema.h"

#include <algorithm>
#include <map>

#include "core/reasons.h"

namespace alembic_sidecar::database {
namespace {

constexpr char kUserSchemas[] =
    "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' "
    "AND n.nspname NOT LIKE 'pg\\_temp\\_%'";

std::string notExtensionMember(const std::string& catalog, const std::string& oidExpr) {
  return "NOT EXISTS (SELECT 1 FROM pg_depend dep WHERE dep.classid = '" + catalog +
         "'::regclass AND dep.objid = " + oidExpr + " AND dep.deptype = 'e')";
}

// Sequence options in CREATE SEQUENCE / identity syntax, from pg_sequence `s`.
constexpr char kSequenceOptions[] =
    "'INCREMENT BY ' || s.seqincrement || ' MINVALUE ' || s.seqmin || ' MAXVALUE ' || s.seqmax "
    "|| ' START WITH ' || s.seqstart || ' CACHE ' || s.seqcache "
    "|| CASE WHEN s.seqcycle THEN ' CYCLE' ELSE ' NO CYCLE' END";

/**
 * Each SELECT yields (kind, ord, schema, name, a, b, c, d), all text. What a..d hold:
 *   schema -; extension a=version; enum a=labels; domain a=definition;
 *   domain-constraint a=name b=definition; composite a=attributes;
 *   sequence a=options b=owning column (quoted); function a=CREATE FUNCTION b=prokind;
 *   table a=relkind b=relpersistence c=partition key d=PARTITION OF / INHERITS clause;
 *   column (ord = attnum) a=column definition b=local|inherited;
 *   constraint / foreign-key a=name b=definition; index a=CREATE INDEX b=relkind of its table;
 *   view / materialized-view a=query; trigger a=CREATE TRIGGER; comment a=COMMENT ON.
 */
std::vector<std::string> schemaQueries() {
  const std::string user = kUserSchemas;
  const std::string options = kSequenceOptions;
  return {
      "SELECT 'schema', n.oid::bigint::text, n.nspname, n.nspname, NULL, NULL, NULL, NULL "
      "FROM pg_namespace n WHERE " +
          user + " AND n.nspname <> 'public' AND " + notExtensionMember("pg_namespace", "n.oid"),
      "SELECT 'extension', e.oid::bigint::text, n.nspname, e.extname, e.extversion, NULL, NULL, "
      "NULL FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
      "WHERE e.extname <> 'plpgsql'",
      "SELECT 'enum', t.oid::bigint::text, n.nspname, t.typname, "
      "string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder), NULL, NULL, NULL "
      "FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid "
      "JOIN pg_namespace n ON n.oid = t.typnamespace WHERE " +
          user + " AND " + notExtensionMember("pg_type", "t.oid") +
          " GROUP BY t.oid, n.nspname, t.typname",
      "SELECT 'domain', t.oid::bigint::text, n.nspname, t.typname, "
      "format_type(t.typbasetype, t.typtypmod) "
      "|| CASE WHEN t.typcollation <> 0 AND t.typcollation <> bt.typcollation "
      "        THEN ' COLLATE ' || quote_ident(co.collname) ELSE '' END "
      "|| COALESCE(' DEFAULT ' || pg_get_expr(t.typdefaultbin, 0), '') "
      "|| CASE WHEN t.typnotnull THEN ' NOT NULL' ELSE '' END, NULL, NULL, NULL "
      "FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
      "JOIN pg_type bt ON bt.oid = t.typbasetype LEFT JOIN pg_collation co ON co.oid = "
      "t.typcollation WHERE t.typtype = 'd' AND " +
          user + " AND " + notExtensionMember("pg_type", "t.oid"),
      "SELECT 'domain-constraint', con.oid::bigint::text, n.nspname, t.typname, con.conname, "
      "pg_get_constraintdef(con.oid), NULL, NULL FROM pg_constraint con "
      "JOIN pg_type t ON t.oid = con.contypid JOIN pg_namespace n ON n.oid = t.typnamespace "
      "WHERE " +
          user + " AND " + notExtensionMember("pg_type", "t.oid"),
      "SELECT 'composite', c.oid::bigint::text, n.nspname, c.relname, "
      "string_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod), ', ' "
      "ORDER BY a.attnum), NULL, NULL, NULL FROM pg_class c "
      "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid "
      "AND a.attnum > 0 AND NOT a.attisdropped WHERE c.relkind = 'c' AND " +
          user + " AND " + notExtensionMember("pg_class", "c.oid") +
          " GROUP BY c.oid, n.nspname, c.relname",
      // Sequences of their own (an identity column makes its own).
      "SELECT 'sequence', c.oid::bigint::text, n.nspname, c.relname, "
      "'AS ' || format_type(s.seqtypid, NULL) || ' ' || " +
          options +
          ", "
          "(SELECT quote_ident(tn.nspname) || '.' || quote_ident(tc.relname) || '.' || "
          "   quote_ident(ta.attname) FROM pg_depend d JOIN pg_class tc ON tc.oid = d.refobjid "
          "   JOIN pg_namespace tn ON tn.oid = tc.relnamespace "
          "   JOIN pg_attribute ta ON ta.attrelid = d.refobjid AND ta.attnum = d.refobjsubid "
          "   WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid "
          "   AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'a' LIMIT 1), NULL, NULL "
          "FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid "
          "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE " +
          user + " AND " + notExtensionMember("pg_class", "c.oid") +
          " AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass "
          "AND d.objid = c.oid AND d.deptype = 'i')",
      "SELECT 'function', p.oid::bigint::text, n.nspname, "
      "p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')', "
      "CASE WHEN p.prokind IN ('f', 'p') THEN pg_get_functiondef(p.oid) END, p.prokind::text, "
      "NULL, NULL FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE " +
          user + " AND " + notExtensionMember("pg_proc", "p.oid"),
      "SELECT 'table', c.oid::bigint::text, n.nspname, c.relname, c.relkind::text, "
      "c.relpersistence::text, CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END, "
      "CASE WHEN c.relispartition THEN (SELECT 'PARTITION OF ' || quote_ident(pn.nspname) || "
      "  '.' || quote_ident(pc.relname) || ' ' FROM pg_inherits i "
      "  JOIN pg_class pc ON pc.oid = i.inhparent "
      "  JOIN pg_namespace pn ON pn.oid = pc.relnamespace WHERE i.inhrelid = c.oid) "
      "  || pg_get_expr(c.relpartbound, c.oid) "
      "ELSE (SELECT 'INHERITS (' || string_agg(quote_ident(pn.nspname) || '.' || "
      "  quote_ident(pc.relname), ', ' ORDER BY i.inhseqno) || ')' FROM pg_inherits i "
      "  JOIN pg_class pc ON pc.oid = i.inhparent "
      "  JOIN pg_namespace pn ON pn.oid = pc.relnamespace WHERE i.inhrelid = c.oid) END "
      "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
      "WHERE c.relkind IN ('r', 'p', 'f') AND " +
          user + " AND " + notExtensionMember("pg_class", "c.oid"),
      "SELECT 'column', a.attnum::bigint::text, n.nspname, c.relname, "
      "quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod) "
      "|| CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation "
      "        THEN ' COLLATE ' || quote_ident(co.collname) ELSE '' END "
      "|| CASE WHEN a.attgenerated = 's' "
      "        THEN ' GENERATED ALWAYS AS (' || pg_get_expr(d.adbin, d.adrelid) || ') STORED' "
      "        ELSE COALESCE(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '') END "
      "|| CASE WHEN a.attidentity IN ('a', 'd') THEN ' GENERATED ' "
      "   || CASE a.attidentity WHEN 'a' THEN 'ALWAYS' ELSE 'BY DEFAULT' END || ' AS IDENTITY' "
      "   || COALESCE((SELECT ' (SEQUENCE NAME ' || quote_ident(sn.nspname) || '.' || "
      "      quote_ident(sc.relname) || ' ' || " +
          options +
          " || ')' FROM pg_depend dep "
          "      JOIN pg_class sc ON sc.oid = dep.objid "
          "      JOIN pg_namespace sn ON sn.oid = sc.relnamespace "
          "      JOIN pg_sequence s ON s.seqrelid = sc.oid "
          "      WHERE dep.classid = 'pg_class'::regclass AND dep.refobjid = a.attrelid "
          "      AND dep.refobjsubid = a.attnum AND dep.deptype = 'i' LIMIT 1), '') ELSE '' END "
          "|| CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END, "
          "CASE WHEN a.attislocal THEN 'local' ELSE 'inherited' END, NULL, NULL "
          "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
          "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_type t ON t.oid = a.atttypid "
          "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
          "LEFT JOIN pg_collation co ON co.oid = a.attcollation "
          "WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped AND " +
          user + " AND " + notExtensionMember("pg_class", "c.oid"),
      // Constraints a partition or child table inherits come with it.
      "SELECT CASE WHEN con.contype = 'f' THEN 'foreign-key' ELSE 'constraint' END, "
      "con.oid::bigint::text, n.nspname, c.relname, con.conname, pg_get_constraintdef(con.oid), "
      "NULL, NULL FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid "
      "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE con.contype IN ('p', 'u', 'c', 'f', "
      "'x') AND con.conparentid = 0 AND con.conislocal AND c.relkind IN ('r', 'p') AND " +
          user + " AND " + notExtensionMember("pg_class", "c.oid"),
      // Indexes that are not a constraint's, nor a partition's copy of a partitioned index.
      "SELECT 'index', ci.oid::bigint::text, n.nspname, ci.relname, pg_get_indexdef(i.indexrelid), "
      "ct.relkind::text, NULL, NULL FROM pg_index i JOIN pg_class ci ON ci.oid = i.indexrelid "
      "JOIN pg_class ct ON ct.oid = i.indrelid JOIN pg_namespace n ON n.oid = ci.relnamespace "
      "WHERE " +
          user + " AND " + notExtensionMember("pg_class", "ct.oid") +
          " AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid "
          "AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x')) "
          "AND NOT EXISTS (SELECT 1 FROM pg_inherits ih WHERE ih.inhrelid = i.indexrelid)",
      "SELECT CASE c.relkind WHEN 'm' THEN 'materialized-view' ELSE 'view' END, "
      "c.oid::bigint::text, n.nspname, c.relname, pg_get_viewdef(c.oid), NULL, NULL, NULL "
      "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
      "WHERE c.relkind IN ('v', 'm') AND " +
          user + " AND " + notExtensionMember("pg_class", "c.oid"),
      "SELECT 'trigger', tg.oid::bigint::text, n.nspname, c.relname, pg_get_triggerdef(tg.oid), "
      "NULL, NULL, NULL FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid "
      "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE NOT tg.tgisinternal "
      "AND tg.tgparentid = 0 AND " +
          user + " AND " + notExtensionMember("pg_class", "c.oid"),
      // Comments on tables, views and their columns (alembic compares them).
      "SELECT 'comment', (c.oid::bigint * 10000 + ds.objsubid)::text, n.nspname, c.relname, "
      "CASE WHEN ds.objsubid = 0 THEN 'COMMENT ON ' || CASE c.relkind WHEN 'v' THEN 'VIEW' "
      "  WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END || ' ' || quote_ident(n.nspname) || "
      "  '.' || quote_ident(c.relname) || ' IS ' || quote_literal(ds.description) "
      "ELSE 'COMMENT ON COLUMN ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname) || "
      "  '.' || quote_ident(a.attname) || ' IS ' || quote_literal(ds.description) END, "
      "NULL, NULL, NULL FROM pg_description ds JOIN pg_class c ON ds.classoid = "
      "'pg_class'::regclass AND ds.objoid = c.oid "
      "JOIN pg_namespace n ON n.oid = c.relnamespace "
      "LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ds.objsubid "
      "WHERE c.relkind IN ('r', 'p', 'v', 'm') AND (ds.objsubid = 0 OR NOT a.attisdropped) AND " +
          user + " AND " + notExtensionMember("pg_class", "c.oid"),
  };
}

const std::string& cell(const std::vector<std::optional<std::string>>& row, size_t i) {
  static const std::string kEmpty;
  return i < row.size() && row[i] ? *row[i] : kEmpty;
}

std::string quoteIdent(const std::string& name) {
  std::string out = "\"";
  for (char c : name) {
    out += c == '"' ? std::string("\"\"") : std::string(1, c);
  }
  return out + "\"";
}

std::string quoteLiteral(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    out += c == '\'' ? std::string("''") : std::string(1, c);
  }
  return out + "'";
}

/** One catalog row, typed. */
struct Row {
  std::string kind;
  long long ord = 0;
  std::string schema;
  std::string name;
  std::string a, b, c, d;
};

std::string plural(size_t n, const std::string& what) {
  return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}

}  // namespace

std::string quoteQualified(const std::string& schema, const std::string& name) {
  return quoteIdent(schema) + "." + quoteIdent(name);
}

std::string quoteTableName(const std::string& dottedName) {
  auto dot = dottedName.find('.');
  return dot == std::string::npos
             ? quoteIdent(dottedName)
             : quoteQualified(dottedName.substr(0, dot), dottedName.substr(dot + 1));
}

ReadOnlyQuery liveSchemaQuery() {
  static const std::string kAll = [] {
    std::string all;
    for (const auto& query : schemaQueries()) {
      all += (all.empty() ? "" : " UNION ALL ") + ("(" + query + ")");
    }
    return all;
  }();
  return ReadOnlyQuery{kAll, {}};
}

ReadOnlyQuery versionRowsQuery(const std::string& versionTable) {
  // to_regclass in the same statement would not stop the planner from resolving the table,
  // so the caller asks liveTablesQuery() first and only then this.
  return ReadOnlyQuery{
      "SELECT version_num::text FROM " + quoteTableName(versionTable) + " ORDER BY 1", {}};
}

ReadOnlyQuery liveTablesQuery() {
  return ReadOnlyQuery{std::string("SELECT n.nspname || '.' || c.relname FROM pg_class c "
                                   "JOIN pg_namespace n ON n.oid = c.relnamespace "
                                   "WHERE c.relkind IN ('r', 'p') AND ") +
                           kUserSchemas + " ORDER BY 1",
                       {}};
}

core::Result<SchemaScript> buildSchemaScript(const QueryRows& rows, const std::string& versionTable,
                                             const std::vector<std::string>& versionRows) {
  std::map<std::string, std::vector<Row>> byKind;
  for (const auto& raw : rows) {
    Row row;
    row.kind = cell(raw, 0);
    try {
      row.ord = std::stoll(cell(raw, 1));
    } catch (const std::exception&) {
      return core::Error::terminal(core::reason::kInternalError,
                                   "unexpected catalog row of kind '" + row.kind + "'");
    }
    row.schema = cell(raw, 2);
    row.name = cell(raw, 3);
    row.a = cell(raw, 4);
    row.b = cell(raw, 5);
    row.c = cell(raw, 6);
    row.d = cell(raw, 7);
    byKind[row.kind].push_back(std::move(row));
  }
  for (auto& [kind, list] : byKind) {
    std::stable_sort(list.begin(), list.end(),
                     [](const Row& x, const Row& y) { return x.ord < y.ord; });
  }
  auto of = [&byKind](const char* kind) -> const std::vector<Row>& {
    static const std::vector<Row> kNone;
    auto it = byKind.find(kind);
    return it == byKind.end() ? kNone : it->second;
  };

  SchemaScript script;
  auto add = [&script](std::string object, std::string sql) {
    script.statements.push_back(ScriptStatement{std::move(object), std::move(sql)});
  };
  auto qualified = [](const Row& r) { return r.schema + "." + r.name; };

  for (const auto& r : of("schema")) {
    add("schema " + r.name, "CREATE SCHEMA IF NOT EXISTS " + quoteIdent(r.name));
  }
  for (const auto& r : of("extension")) {
    std::string sql = "CREATE EXTENSION IF NOT EXISTS " + quoteIdent(r.name);
    if (r.schema != "pg_catalog") {
      sql += " WITH SCHEMA " + quoteIdent(r.schema);
    }
    add("extension " + r.name, sql + " VERSION " + quoteLiteral(r.a));
  }
  for (const auto& r : of("enum")) {
    add("enum " + qualified(r),
        "CREATE TYPE " + quoteQualified(r.schema, r.name) + " AS ENUM (" + r.a + ")");
  }
  for (const auto& r : of("domain")) {
    add("domain " + qualified(r),
        "CREATE DOMAIN " + quoteQualified(r.schema, r.name) + " AS " + r.a);
  }
  for (const auto& r : of("domain-constraint")) {
    add("domain constraint " + qualified(r) + "." + r.a,
        "ALTER DOMAIN " + quoteQualified(r.schema, r.name) + " ADD CONSTRAINT " + quoteIdent(r.a) +
            " " + r.b);
  }
  for (const auto& r : of("composite")) {
    add("type " + qualified(r),
        "CREATE TYPE " + quoteQualified(r.schema, r.name) + " AS (" + r.a + ")");
  }
  for (const auto& r : of("sequence")) {
    add("sequence " + qualified(r),
        "CREATE SEQUENCE " + quoteQualified(r.schema, r.name) + " " + r.a);
  }
  size_t functions = 0;
  for (const auto& r : of("function")) {
    if (r.b != "f" && r.b != "p") {
      script.skipped.push_back((r.b == "a" ? "aggregate " : "window function ") + qualified(r));
      continue;
    }
    ++functions;
    add("function " + qualified(r), r.a);
  }

  // Tables: columns in attnum order; partitions take theirs from the parent.
  std::map<std::string, std::vector<const Row*>> columns;
  for (const auto& r : of("column")) {
    columns[qualified(r)].push_back(&r);
  }
  size_t tables = 0;
  for (const auto& r : of("table")) {
    if (r.a == "f") {
      script.skipped.push_back("foreign table " + qualified(r));
      continue;
    }
    ++tables;
    const bool partition = r.d.rfind("PARTITION OF ", 0) == 0;
    std::string sql = std::string("CREATE ") + (r.b == "u" ? "UNLOGGED " : "") + "TABLE " +
                      quoteQualified(r.schema, r.name);
    if (partition) {
      sql += " " + r.d;
    } else {
      std::string list;
      for (const auto* col : columns[qualified(r)]) {
        if (col->b == "local") {
          list += (list.empty() ? "" : ", ") + col->a;
        }
      }
      sql += " (" + list + ")";
      if (!r.d.empty()) {
        sql += " " + r.d;
      }
    }
    if (r.a == "p" && !r.c.empty()) {
      sql += " PARTITION BY " + r.c;
    }
    add("table " + qualified(r), sql);
  }
  for (const auto& r : of("sequence")) {
    if (!r.b.empty()) {
      add("sequence " + qualified(r),
          "ALTER SEQUENCE " + quoteQualified(r.schema, r.name) + " OWNED BY " + r.b);
    }
  }
  auto addConstraints = [&](const char* kind) {
    for (const auto& r : of(kind)) {
      add(std::string(kind) + " " + qualified(r) + "." + r.a,
          "ALTER TABLE " + quoteQualified(r.schema, r.name) + " ADD CONSTRAINT " +
              quoteIdent(r.a) + " " + r.b);
    }
  };
  addConstraints("constraint");
  for (const auto& r : of("index")) {
    if (r.b != "m") {
      add("index " + qualified(r), r.a);
    }
  }
  // A foreign key may reference a unique index that is no constraint: after the indexes.
  addConstraints("foreign-key");
  for (const auto& r : of("view")) {
    add("view " + qualified(r), "CREATE VIEW " + quoteQualified(r.schema, r.name) + " AS " + r.a);
  }
  for (const auto& r : of("materialized-view")) {
    std::string query = r.a;
    while (!query.empty() && (query.back() == ';' || query.back() == ' ' || query.back() == '\n')) {
      query.pop_back();
    }
    add("materialized view " + qualified(r), "CREATE MATERIALIZED VIEW " +
                                                 quoteQualified(r.schema, r.name) + " AS " + query +
                                                 " WITH NO DATA");
  }
  for (const auto& r : of("index")) {
    if (r.b == "m") {
      add("index " + qualified(r), r.a);
    }
  }
  for (const auto& r : of("trigger")) {
    add("trigger on " + qualified(r), r.a);
  }
  for (const auto& r : of("comment")) {
    add("comment on " + qualified(r), r.a);
  }
  for (const auto& version : versionRows) {
    add("row of " + versionTable, "INSERT INTO " + quoteTableName(versionTable) +
                                      " (version_num) VALUES (" + quoteLiteral(version) + ")");
  }

  const size_t views = of("view").size() + of("materialized-view").size();
  const size_t types = of("enum").size() + of("domain").size() + of("composite").size();
  script.summary = plural(tables, "table");
  const std::pair<size_t, const char*> counts[] = {
      {of("constraint").size() + of("foreign-key").size(), "constraint"},
      {of("index").size(), "index(es)"},
      {types, "type"},
      {of("sequence").size(), "sequence"},
      {views, "view"},
      {functions, "function"},
      {of("trigger").size(), "trigger"},
      {of("extension").size(), "extension"}};
  for (const auto& [n, what] : counts) {
    if (n > 0) {
      const std::string name = what;
      script.summary +=
          ", " + (name.back() == ')' ? std::to_string(n) + " " + name : plural(n, name));
    }
  }
  return script;
}

}  // namespace alembic_sidecar::database
