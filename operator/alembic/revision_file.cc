#include "alembic/revision_file.h"

#include <regex>

#include "core/reasons.h"

namespace alembic_sidecar::alembic {
namespace {

bool startsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

/** The literal or the expression text for names given as op.f('x'), 'x' or None. */
std::string nameOf(const std::string& argument) {
  if (auto literal = stringLiteral(argument)) {
    return *literal;
  }
  return trim(argument);
}

std::string literalOrEmpty(const std::string& argument) {
  return stringLiteral(argument).value_or("");
}

std::string argOrKwarg(const Call& call, size_t index, const std::string& keyword) {
  if (index < call.args.size()) {
    return call.args[index];
  }
  return call.kwarg(keyword).value_or("");
}

/** Fills table / column / name from the call's arguments for the known op.* functions. */
void describeOp(RevisionOp& op, const std::string& batchTable) {
  const Call& c = op.call;
  const std::string& f = op.op;
  // In a batch block the table is implicit and every positional argument shifts left.
  size_t shift = batchTable.empty() ? 0 : 1;
  auto arg = [&](size_t i, const std::string& kw) {
    return i < shift ? std::string{} : argOrKwarg(c, i - shift, kw);
  };
  op.table = batchTable.empty() ? literalOrEmpty(argOrKwarg(c, 0, "table_name")) : batchTable;
  if (f == "add_column") {
    std::string column = arg(1, "column");
    if (auto col = parseCall(column); col && !col->args.empty()) {
      op.column = literalOrEmpty(col->args[0]);
    }
  } else if (f == "drop_column" || f == "alter_column") {
    op.column = literalOrEmpty(arg(1, "column_name"));
  } else if (f == "create_index" || f == "drop_index") {
    op.name = nameOf(argOrKwarg(c, 0, "index_name"));
    std::string table =
        f == "create_index" ? arg(1, "table_name") : c.kwarg("table_name").value_or("");
    op.table = batchTable.empty() ? literalOrEmpty(table) : batchTable;
  } else if (f == "create_foreign_key" || f == "create_unique_constraint" ||
             f == "create_check_constraint" || f == "create_primary_key" ||
             f == "drop_constraint") {
    op.name = nameOf(argOrKwarg(c, 0, "constraint_name"));
    std::string tableKw = f == "create_foreign_key" ? "source_table" : "table_name";
    op.table = batchTable.empty() ? literalOrEmpty(argOrKwarg(c, 1, tableKw)) : batchTable;
  } else if (f == "rename_table") {
    op.name = literalOrEmpty(argOrKwarg(c, 1, "new_table_name"));
  } else if (f == "execute") {
    op.table.clear();
  }
}

/** Names in a list or tuple literal (['a', 'b']); `expressions` is set for other elements. */
std::vector<std::string> nameList(const std::string& argument, bool* expressions) {
  std::string inner = trim(argument);
  if (inner.size() >= 2 && (inner.front() == '[' || inner.front() == '(')) {
    inner = inner.substr(1, inner.size() - 2);
  }
  std::vector<std::string> names;
  for (const auto& part : splitTopLevel(inner)) {
    if (part.empty()) {
      continue;
    }
    if (auto literal = stringLiteral(part)) {
      names.push_back(*literal);
    } else if (expressions != nullptr) {
      *expressions = true;
    }
  }
  return names;
}

std::optional<bool> boolKwarg(const Call& call, const std::string& name) {
  auto value = call.kwarg(name);
  if (value == "True") {
    return true;
  }
  if (value == "False") {
    return false;
  }
  return std::nullopt;
}

/**
 * Fills op.details for the ops the live-data checks look at. In a batch block the table
 * argument is implicit, so positional arguments after the first shift left by `shift`.
 */
void describeDetails(RevisionOp& op, size_t shift) {
  const Call& c = op.call;
  const std::string& f = op.op;
  OpDetails& d = op.details;
  auto arg = [&](size_t i, const std::string& kw) {
    return i < shift ? std::string{} : argOrKwarg(c, i - shift, kw);
  };
  d.schema = literalOrEmpty(c.kwarg(f == "create_foreign_key" ? "source_schema" : "schema")
                                .value_or(""));
  d.nullsNotDistinct = boolKwarg(c, "postgresql_nulls_not_distinct").value_or(false);
  if (f == "create_index") {
    d.columns = nameList(arg(2, "columns"), &d.expressions);
    d.unique = boolKwarg(c, "unique").value_or(false);
    d.where = c.kwarg("postgresql_where").value_or("");
    if (!d.where.empty()) {
      d.whereSql = sqlText(d.where);
    }
  } else if (f == "create_unique_constraint" || f == "create_primary_key") {
    d.columns = nameList(arg(2, "columns"), &d.expressions);
  } else if (f == "create_foreign_key") {
    d.referentTable = literalOrEmpty(arg(2, "referent_table"));
    d.columns = nameList(arg(3, "local_cols"), &d.expressions);
    d.referentColumns = nameList(arg(4, "remote_cols"), &d.expressions);
    d.referentSchema = literalOrEmpty(c.kwarg("referent_schema").value_or(""));
  } else if (f == "create_check_constraint") {
    d.condition = arg(2, "condition");
    d.conditionSql = sqlText(d.condition);
  } else if (f == "alter_column") {
    d.nullable = boolKwarg(c, "nullable");
    d.type = c.kwarg("type_").value_or("");
    d.existingType = c.kwarg("existing_type").value_or("");
    d.postgresqlUsing = c.kwarg("postgresql_using").value_or("");
  }
}

struct Block {
  std::vector<RevisionOp>* ops = nullptr;
  int indent = 0;
};

}  // namespace

std::optional<std::string> sqlText(std::string_view argument) {
  std::string t = trim(argument);
  if (auto call = parseCall(t); call && call->args.size() == 1 && call->kwargs.empty() &&
                                (call->callee == "text" || call->callee == "sa.text" ||
                                 call->callee == "sqlalchemy.text")) {
    return stringLiteral(call->args[0]);
  }
  return stringLiteral(t);
}

std::vector<std::string> enumTypeNames(std::string_view text) {
  static const std::regex kEnum(R"((?:sa\.Enum|sqlalchemy\.Enum|postgresql\.ENUM|\bENUM|\bEnum)\s*\()");
  std::vector<std::string> names;
  std::string s(text);
  for (auto it = std::sregex_iterator(s.begin(), s.end(), kEnum); it != std::sregex_iterator();
       ++it) {
    size_t start = static_cast<size_t>(it->position());
    if (auto call = parseCall(std::string_view(s).substr(start))) {
      if (auto name = call->kwarg("name")) {
        if (auto literal = stringLiteral(*name)) {
          names.push_back(*literal);
        }
      }
    }
  }
  return names;
}

std::string ParsedRevision::downRevisionText() const {
  std::string out;
  for (const auto& d : downRevisions) {
    out += (out.empty() ? "" : ", ") + d;
  }
  return out;
}

core::Result<ParsedRevision> parseRevisionFile(std::string_view source) {
  ParsedRevision parsed;
  bool sawRevision = false;
  Block block;
  std::string batchTable;
  int batchIndent = -1;
  bool firstStatement = true;

  for (const auto& line : logicalLines(source)) {
    const std::string& t = line.text;
    if (line.indent == 0) {
      block = Block{};
      batchTable.clear();
      batchIndent = -1;
      if (firstStatement && (t.front() == '"' || t.front() == '\'')) {
        if (auto doc = stringLiteral(t)) {
          std::string first = doc->substr(0, doc->find('\n'));
          parsed.message = trim(first);
        }
      }
      firstStatement = false;
      static const std::regex kAssign(R"(^(revision|down_revision)\s*(?::\s*[^=]+)?=\s*(.+)$)");
      std::smatch m;
      if (std::regex_match(t, m, kAssign)) {
        std::string value = trim(m[2].str());
        if (m[1] == "revision") {
          if (auto literal = stringLiteral(value)) {
            parsed.revision = *literal;
            sawRevision = true;
          }
        } else if (value != "None") {
          std::string inner = value;
          if (!inner.empty() && (inner.front() == '(' || inner.front() == '[')) {
            inner = inner.substr(1, inner.size() - 2);
          }
          for (const auto& part : splitTopLevel(inner)) {
            if (auto literal = stringLiteral(part)) {
              parsed.downRevisions.push_back(*literal);
            }
          }
        }
      } else if (startsWith(t, "def upgrade(")) {
        parsed.hasUpgrade = true;
        block = Block{&parsed.upgradeOps, 0};
      } else if (startsWith(t, "def downgrade(")) {
        parsed.hasDowngrade = true;
        block = Block{&parsed.downgradeOps, 0};
      }
      continue;
    }
    if (block.ops == nullptr) {
      continue;
    }
    if (block.ops == &parsed.downgradeOps && t != "pass" && t.front() != '"' &&
        t.front() != '\'') {
      ++parsed.downgradeStatements;
      if (startsWith(t, "raise NotImplementedError")) {
        parsed.downgradeRaises = true;
      }
    }
    if (batchIndent >= 0 && line.indent <= batchIndent) {
      batchTable.clear();
      batchIndent = -1;
    }
    static const std::regex kBatch(R"(^with\s+op\.batch_alter_table\((.*)\)\s+as\s+(\w+)\s*:$)");
    std::smatch m;
    if (std::regex_match(t, m, kBatch)) {
      auto args = splitTopLevel(m[1].str());
      batchTable = args.empty() ? "" : literalOrEmpty(args[0]);
      batchIndent = line.indent;
      continue;
    }
    std::string chained;
    auto call = parseCall(t, &chained);
    if (!call) {
      continue;
    }
    RevisionOp op;
    op.line = line.line;
    op.text = t;
    op.call = *call;
    op.enumTypes = enumTypeNames(t);
    const std::string& callee = call->callee;
    bool isEnum = callee == "sa.Enum" || callee == "postgresql.ENUM" || callee == "ENUM" ||
                  callee == "sqlalchemy.Enum";
    if (isEnum && (chained == "create" || chained == "drop")) {
      op.op = chained + "_enum";
      op.name = literalOrEmpty(call->kwarg("name").value_or(""));
      block.ops->push_back(std::move(op));
      continue;
    }
    std::string prefix;
    if (startsWith(callee, "op.")) {
      prefix = "op.";
    } else if (!batchTable.empty() && callee.find('.') != std::string::npos) {
      prefix = callee.substr(0, callee.find('.') + 1);  // batch_op.
    } else {
      continue;
    }
    op.op = callee.substr(prefix.size());
    if (op.op == "f" || op.op == "get_bind" || op.op == "get_context") {
      continue;
    }
    describeOp(op, prefix == "op." ? std::string{} : batchTable);
    describeDetails(op, prefix == "op." ? 0 : 1);
    block.ops->push_back(std::move(op));
  }
  if (auto def = source.find("\ndef downgrade("); def != std::string_view::npos) {
    auto next = source.find("\ndef ", def + 1);
    parsed.downgradeAutogenerated =
        source.substr(def, next == std::string_view::npos ? std::string_view::npos : next - def)
            .find("### commands auto generated by Alembic") != std::string_view::npos;
  }
  if (!sawRevision) {
    return core::Error::terminal(core::reason::kRevisionUnparseable,
                                 "no `revision = '...'` assignment found");
  }
  if (!parsed.hasUpgrade) {
    return core::Error::terminal(core::reason::kRevisionUnparseable,
                                 "no upgrade() function found in revision " + parsed.revision);
  }
  return parsed;
}

}  // namespace alembic_sidecar::alembic
