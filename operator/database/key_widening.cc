#include "database/key_widening.h"

#include <cctype>
#include <nlohmann/json.hpp>
#include <regex>

#include "core/reasons.h"
#include "database/sql_guard.h"

namespace alembic_sidecar::database {
namespace {

namespace sev = core::severity;
namespace code = core::finding;
using Kind = SqlType::Kind;

int width(const SqlType& t) {
  switch (t.kind) {
    case Kind::kSmallint:
      return 2;
    case Kind::kInteger:
      return 4;
    case Kind::kBigint:
      return 8;
    default:
      return 0;
  }
}

/** The SQLAlchemy type of `to`, for the alter_column a recommendation shows. */
std::string sqlAlchemyType(const SqlType& to) {
  switch (to.kind) {
    case Kind::kSmallint:
      return "sa.SmallInteger()";
    case Kind::kInteger:
      return "sa.Integer()";
    default:
      return "sa.BigInteger()";
  }
}

std::string upper(std::string s) {
  for (char& c : s) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return s;
}

/** The upgrade alters `table`.`column` to a type at least as wide as `to`. */
bool revisionWidens(const alembic::ParsedRevision& rev, const std::string& table,
                    const std::string& column, const SqlType& to) {
  for (const auto& op : rev.upgradeOps) {
    if (op.op == "alter_column" && op.table == table && op.column == column &&
        !op.details.type.empty() && width(fromSqlAlchemy(op.details.type)) >= width(to)) {
      return true;
    }
  }
  return false;
}

/** The upgrade runs ALTER SEQUENCE on `sequence` (an approved op.execute). */
bool revisionAltersSequence(const alembic::ParsedRevision& rev, const std::string& sequence) {
  const std::regex pattern("ALTER\\s+SEQUENCE\\s+(IF\\s+EXISTS\\s+)?(\\S+\\.)?\"?" +
                           std::regex_replace(upper(sequence), std::regex(R"(\W)"), R"(\$&)") +
                           "\"?\\s+AS\\s+");
  for (const auto& op : rev.upgradeOps) {
    if (op.op == "execute" && std::regex_search(upper(op.text), pattern)) {
      return true;
    }
  }
  return false;
}

}  // namespace

std::vector<Widening> integerWidenings(const alembic::ParsedRevision& revision) {
  std::vector<Widening> out;
  for (const auto& op : revision.upgradeOps) {
    if (op.op != "alter_column" || op.details.type.empty() || op.details.existingType.empty()) {
      continue;
    }
    SqlType from = fromSqlAlchemy(op.details.existingType);
    SqlType to = fromSqlAlchemy(op.details.type);
    if (width(from) > 0 && width(to) > width(from)) {
      out.push_back(Widening{&op, TableRef{op.details.schema, op.table}, op.column, to});
    }
  }
  return out;
}

ReadOnlyQuery keyWideningQuery(const std::vector<Widening>& widenings) {
  nlohmann::json refs = nlohmann::json::array();
  for (const auto& w : widenings) {
    refs.push_back({w.table.schema, w.table.name, w.column});
  }
  const std::string column =
      "FROM json_array_elements($1::json) WITH ORDINALITY AS r(t, ord) "
      "JOIN pg_class c ON c.oid = to_regclass(CASE WHEN r.t->>0 = '' THEN quote_ident(r.t->>1) "
      "ELSE quote_ident(r.t->>0) || '.' || quote_ident(r.t->>1) END) "
      "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = r.t->>2 AND NOT a.attisdropped ";
  // deptype 'a': a SERIAL's sequence, OWNED BY the column. An identity's ('i') follows it.
  return ReadOnlyQuery{
      "SELECT r.ord - 1, 'sequence', sn.nspname, sc.relname, format_type(s.seqtypid, NULL), "
      "NULL " +
          column +
          "JOIN pg_depend d ON d.refclassid = 'pg_class'::regclass AND d.refobjid = c.oid "
          "AND d.refobjsubid = a.attnum AND d.classid = 'pg_class'::regclass AND d.deptype = 'a' "
          "JOIN pg_sequence s ON s.seqrelid = d.objid "
          "JOIN pg_class sc ON sc.oid = s.seqrelid "
          "JOIN pg_namespace sn ON sn.oid = sc.relnamespace "
          "UNION ALL "
          "SELECT r.ord - 1, 'foreign_key', fn.nspname, fc.relname, "
          "format_type(fa.atttypid, fa.atttypmod), fa.attname " +
          column +
          "JOIN pg_constraint con ON con.contype = 'f' AND con.confrelid = c.oid "
          "AND a.attnum = ANY (con.confkey) "
          "CROSS JOIN LATERAL unnest(con.confkey, con.conkey) AS k(ref, loc) "
          "JOIN pg_attribute fa ON fa.attrelid = con.conrelid AND fa.attnum = k.loc "
          "JOIN pg_class fc ON fc.oid = con.conrelid "
          "JOIN pg_namespace fn ON fn.oid = fc.relnamespace "
          "WHERE k.ref = a.attnum ORDER BY 1, 2 DESC, 3, 4",
      {refs.dump()}};
}

std::vector<core::Finding> keyWideningFindings(const std::vector<Widening>& widenings,
                                               const QueryRows& rows,
                                               const alembic::ParsedRevision& revision,
                                               const std::string& file) {
  std::vector<core::Finding> out;
  for (const auto& row : rows) {
    if (row.size() < 6 || !row[0] || !row[1] || !row[2] || !row[3] || !row[4]) {
      continue;
    }
    auto index = integerField(row[0]);
    if (!index || *index < 0 || static_cast<size_t>(*index) >= widenings.size()) {
      continue;
    }
    const Widening& w = widenings[static_cast<size_t>(*index)];
    const std::string key = w.table.display() + "." + w.column;
    const std::string to = w.to.sql().value_or("bigint");
    SqlType type = fromPostgres(*row[4]);
    if (width(type) == 0 || width(type) >= width(w.to)) {
      continue;
    }
    const std::string& schema = *row[2];
    const std::string& name = *row[3];
    if (*row[1] == "sequence") {
      if (revisionAltersSequence(revision, name)) {
        continue;
      }
      const std::string sequence =
          (schema == "public" ? "" : quoteIdent(schema) + ".") + quoteIdent(name);
      out.push_back(core::Finding{
          code::kSequenceNotWidened, sev::kEscalation,
          "the upgrade widens " + key + " to " + to + ", but the sequence " + name +
              " that fills it stays AS " + *row[4] +
              ": autogenerate does not alter sequences, so inserts still fail once nextval "
              "passes the " +
              *row[4] + " maximum",
          "complete the widening in the same revision: op.execute('ALTER SEQUENCE " + sequence +
              " AS " + to +
              "') (raw SQL: --approve raw-sql), or declare the key with "
              "sa.Identity() so that PostgreSQL widens its sequence with the column",
          file, w.op->line});
    } else if (row[5]) {
      const std::string& column = *row[5];
      if (revisionWidens(revision, name, column, w.to)) {
        continue;
      }
      std::string tableArg = "'" + name + "'";
      std::string schemaArg = schema == "public" ? "" : ", schema='" + schema + "'";
      out.push_back(core::Finding{
          code::kReferencingColumnNotWidened, sev::kEscalation,
          "the upgrade widens " + key + " to " + to + ", but " + name + "." + column +
              ", a foreign key referencing it, stays " + *row[4] + ": keys beyond the " + *row[4] +
              " range cannot be referenced from " + name,
          "widen the referencing column in the model too (a BigInteger foreign-key field), so "
          "that autogenerate renders, in the same revision: op.alter_column(" +
              tableArg + ", '" + column + "', existing_type=sa." + upper(*row[4]) +
              "(), type_=" + sqlAlchemyType(w.to) + schemaArg + ")",
          file, w.op->line});
    }
  }
  return out;
}

}  // namespace alembic_sidecar::database
