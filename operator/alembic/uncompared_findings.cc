#include "alembic/uncompared_findings.h"

#include "core/reasons.h"

namespace alembic_sidecar::alembic {
namespace {

namespace code = core::finding;

bool sameTable(const RevisionOp& op, const UncomparedDifference& d) {
  return op.table == d.table || (!d.schema.empty() && op.table == d.schema + "." + d.table);
}

bool hasKwarg(const RevisionOp& op, const char* name) {
  return op.call.kwarg(name).has_value();
}

/** True when an upgrade() operation carries this difference into the database. */
bool covers(const RevisionOp& op, const UncomparedDifference& d) {
  if (!sameTable(op, d)) {
    return false;
  }
  if (op.op == "create_table" || op.op == "drop_table") {
    return true;
  }
  const bool columnOp = !d.column.empty() && op.column == d.column;
  if (d.kind == "server_default") {
    return columnOp && (op.op == "add_column" || op.op == "drop_column" ||
                        (op.op == "alter_column" && hasKwarg(op, "server_default")));
  }
  if (d.kind == "computed") {
    // alter_column cannot change a generation expression: only a new column can.
    return columnOp && (op.op == "add_column" || op.op == "drop_column");
  }
  if (d.kind == "identity") {
    return columnOp &&
           (op.op == "add_column" || op.op == "drop_column" || op.op == "alter_column");
  }
  if (d.kind == "comment") {
    if (d.column.empty()) {
      return op.op == "create_table_comment" || op.op == "drop_table_comment";
    }
    return columnOp && (op.op == "add_column" || op.op == "drop_column" ||
                        (op.op == "alter_column" && hasKwarg(op, "comment")));
  }
  if (d.kind == "check_constraint") {
    if (d.name.empty() || op.name.empty() || op.name == "None") {
      // An unnamed constraint: any CHECK the revision adds (or, for one only the database
      // has, any constraint it drops) is taken as the answer.
      return d.model.empty() ? op.op == "drop_constraint" : op.op == "create_check_constraint";
    }
    return op.name == d.name && (op.op == "create_check_constraint" || op.op == "drop_constraint");
  }
  if (d.kind == "index_predicate") {
    return op.name == d.name && (op.op == "create_index" || op.op == "drop_index");
  }
  return false;
}

std::string qualified(const UncomparedDifference& d) {
  std::string table = d.schema.empty() ? d.table : d.schema + "." + d.table;
  return d.column.empty() ? table : table + "." + d.column;
}

std::string orNone(const std::string& text) { return text.empty() ? "none" : "`" + text + "`"; }

core::Finding serverDefault(const UncomparedDifference& d, const UncomparedContext& ctx) {
  return {code::kServerDefaultNotCompared, core::severity::kEscalation,
          "the model gives " + qualified(d) + " the server default " + orNone(d.model) +
              "; the schema at head has " + orNone(d.database) +
              ". env.py leaves compare_server_default off, so autogenerate did not compare "
              "server defaults and the revision does not change it",
          "pass compare_server_default=True to context.configure() in " + ctx.envPy +
              " (online and offline); autogenerate then renders op.alter_column(..., "
              "server_default=...) for this change, and generate again",
          ctx.file, 0};
}

core::Finding checkConstraint(const UncomparedDifference& d, const UncomparedContext& ctx) {
  std::string what = d.name.empty() ? "an unnamed CHECK constraint" : "CHECK constraint " + d.name;
  std::string message;
  if (d.database.empty()) {
    message = "the models declare " + what + " (" + d.model + ") on " + qualified(d) +
              ", which the schema at head lacks";
  } else if (d.model.empty()) {
    message = "the schema at head has " + what + " (" + d.database + ") on " + qualified(d) +
              ", which the models no longer declare";
  } else {
    message = what + " on " + qualified(d) + " differs: the models say `" + d.model +
              "`, the schema at head `" + d.database + "`";
  }
  return {code::kCheckConstraintNotCompared, core::severity::kEscalation,
          message + ". alembic's autogenerate never compares CHECK constraints, so the revision "
                    "does not carry it",
          "let autogenerate see CHECK constraints: register a comparator in " + ctx.envPy +
              " (alembic.autogenerate.comparators.dispatch_for(\"table\")) that adds a "
              "CreateCheckConstraintOp / DropConstraintOp for the named CHECK constraints the "
              "database lacks or no longer needs (autogenerate then renders "
              "op.create_check_constraint / op.drop_constraint), and name every constraint "
              "(a MetaData naming_convention with \"ck\"); otherwise the ALTER TABLE goes in a "
              "revision approved for raw SQL (--approve raw-sql)",
          ctx.file, 0};
}

core::Finding computed(const UncomparedDifference& d, const UncomparedContext& ctx) {
  std::string message =
      d.database.empty()
          ? "the model makes " + qualified(d) + " a generated column (sa.Computed(\"" +
                d.model + "\")); in the schema at head it is a plain column"
      : d.model.empty() ? "in the schema at head " + qualified(d) + " is generated (" +
                              d.database + "); the model makes it a plain column"
                        : "the model changes the generation expression of " + qualified(d) +
                              " to `" + d.model + "`; the schema at head has `" + d.database +
                              "`";
  return {code::kComputedColumnNotCompared, core::severity::kEscalation,
          message + ". alembic only warns \"Computed default on " + d.table + "." + d.column +
              " cannot be modified\" and writes no operation, and PostgreSQL 15 cannot change "
              "a generation expression in place",
          "add the new expression as a new column in the model and remove the old one "
          "(autogenerate renders add_column + drop_column; the drop needs --approve "
          "destructive), or register a comparator in " + ctx.envPy +
              " that renders drop_column + add_column for a changed Computed column",
          ctx.file, 0};
}

core::Finding identity(const UncomparedDifference& d, const UncomparedContext& ctx) {
  return {code::kIdentityNotCompared, core::severity::kEscalation,
          "the model declares " + qualified(d) + " as identity " + orNone(d.model) +
              "; the schema at head has " + orNone(d.database) +
              ", and the revision does not change it",
          "alembic compares Identity columns itself: look for an include_object / include_name "
          "hook in " + ctx.envPy + " that leaves this column out, then generate again",
          ctx.file, 0};
}

core::Finding indexPredicate(const UncomparedDifference& d, const UncomparedContext& ctx) {
  return {code::kIndexPredicateNotCompared, core::severity::kEscalation,
          "index " + d.name + " on " + qualified(d) + ": the model's predicate is " +
              (d.model.empty() ? std::string("none (a full index)") : "WHERE " + d.model) +
              ", the schema at head has " +
              (d.database.empty() ? std::string("none (a full index)") : "WHERE " + d.database) +
              ". autogenerate compares an index by name, columns and uniqueness only "
              "(postgresql_where is never compared), so the revision does not change it",
          "give the index a new name in the model (autogenerate renders drop_index + "
          "create_index with postgresql_where), or register a comparator in " + ctx.envPy +
              " that emits DropIndexOp + CreateIndexOp when postgresql_where differs",
          ctx.file, 0};
}

core::Finding comment(const UncomparedDifference& d, const UncomparedContext& ctx) {
  return {code::kCommentNotCompared, core::severity::kEscalation,
          "the model's comment on " + qualified(d) + " is " + orNone(d.model) +
              "; the schema at head has " + orNone(d.database) +
              ", and the revision does not change it",
          "alembic compares comments itself: look for an include_object / include_name hook "
          "in " + ctx.envPy + " that leaves this object out, then generate again",
          ctx.file, 0};
}

}  // namespace

std::string uncomparedCode(const std::string& kind) {
  if (kind == "server_default") {
    return code::kServerDefaultNotCompared;
  }
  if (kind == "check_constraint") {
    return code::kCheckConstraintNotCompared;
  }
  if (kind == "computed") {
    return code::kComputedColumnNotCompared;
  }
  if (kind == "identity") {
    return code::kIdentityNotCompared;
  }
  if (kind == "index_predicate") {
    return code::kIndexPredicateNotCompared;
  }
  if (kind == "comment") {
    return code::kCommentNotCompared;
  }
  return {};
}

std::vector<core::Finding> uncomparedFindings(const std::vector<UncomparedDifference>& differences,
                                              const UncomparedContext& context) {
  std::vector<core::Finding> out;
  for (const auto& d : differences) {
    bool covered = false;
    if (context.revision != nullptr) {
      for (const auto& op : context.revision->upgradeOps) {
        covered = covered || covers(op, d);
      }
    }
    if (covered) {
      continue;
    }
    if (d.kind == "server_default") {
      out.push_back(serverDefault(d, context));
    } else if (d.kind == "check_constraint") {
      out.push_back(checkConstraint(d, context));
    } else if (d.kind == "computed") {
      out.push_back(computed(d, context));
    } else if (d.kind == "identity") {
      out.push_back(identity(d, context));
    } else if (d.kind == "index_predicate") {
      out.push_back(indexPredicate(d, context));
    } else if (d.kind == "comment") {
      out.push_back(comment(d, context));
    }
  }
  return out;
}

}  // namespace alembic_sidecar::alembic
