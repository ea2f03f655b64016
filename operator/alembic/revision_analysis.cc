#include "alembic/revision_analysis.h"

#include <algorithm>
#include <cctype>
#include <regex>

#include "core/reasons.h"
#include "database/sql_types.h"

namespace alembic_sidecar::alembic {

const char kEnumRecommendation[] =
    "add alembic-postgresql-enum to the project (`import alembic_postgresql_enum` in env.py): "
    "autogenerate then creates, drops and syncs native enum types itself; or declare the "
    "column with sa.Enum(..., name='...') and let a separately approved revision manage the "
    "type";

namespace {

using core::Finding;
namespace sev = core::severity;
namespace code = core::finding;

/** A column declared in an op: `sa.Column('name', <type>, nullable=..., server_default=...)`. */
struct ColumnSpec {
  std::string name;
  std::string type;
  bool nullable = true;
  bool hasServerDefault = false;
};

std::optional<ColumnSpec> columnSpec(const std::string& text) {
  auto call = parseCall(text);
  if (!call || call->args.empty() ||
      (call->callee != "sa.Column" && call->callee != "Column" && call->callee != "sqlalchemy.Column")) {
    return std::nullopt;
  }
  ColumnSpec spec;
  spec.name = stringLiteral(call->args[0]).value_or("");
  if (call->args.size() > 1) {
    spec.type = call->args[1];
  }
  // SQLAlchemy's default is nullable unless the column is a primary key.
  auto nullable = call->kwarg("nullable");
  bool primaryKey = call->kwarg("primary_key").value_or("False") == "True";
  spec.nullable = nullable ? *nullable != "False" : !primaryKey;
  auto serverDefault = call->kwarg("server_default");
  spec.hasServerDefault = serverDefault && *serverDefault != "None";
  return spec;
}

/** The column an add_column op adds (its second argument, or the first in a batch block). */
std::optional<ColumnSpec> addedColumn(const RevisionOp& op) {
  for (const auto& arg : op.call.args) {
    if (auto spec = columnSpec(arg)) {
      return spec;
    }
  }
  if (auto kw = op.call.kwarg("column")) {
    return columnSpec(*kw);
  }
  return std::nullopt;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string upper(std::string text) {
  for (char& c : text) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return text;
}

std::string camelRule(const std::string& rule) {
  std::string out;
  bool capital = true;
  for (char c : rule) {
    if (c == '-' || c == '_') {
      capital = true;
      continue;
    }
    out.push_back(capital ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c);
    capital = false;
  }
  return out;
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) {
    out += (out.empty() ? "" : ", ") + i;
  }
  return out;
}

class Analysis {
 public:
  Analysis(const ParsedRevision& rev, const AnalysisContext& ctx) : rev_(rev), ctx_(ctx) {}

  std::vector<Finding> run() {
    rawSql();
    renamesAndDestructive();
    requiredColumns();
    enumTypes();
    enumValues();
    typeChanges();
    unnamedConstraints();
    undefinedNames();
    indexes();
    lint();
    downgradeProvided();
    return std::move(findings_);
  }

 private:
  void add(std::string c, const char* severity, std::string message, std::string recommendation,
           int line = 0) {
    findings_.push_back(Finding{std::move(c), severity, std::move(message),
                                std::move(recommendation), ctx_.file, line});
  }

  /** Upgrade-only by design is a project's choice; say what it means for the round trip. */
  void downgradeProvided() {
    if (!rev_.upgradeOnly()) {
      return;
    }
    std::string how = !rev_.hasDowngrade     ? "has no downgrade()"
                      : rev_.downgradeRaises ? "raises NotImplementedError in downgrade()"
                                             : "does nothing in downgrade()";
    add(code::kDowngradeNotProvided, sev::kWarning,
        "revision " + rev_.revision + " " + how +
            ": upgrade-only by design; its round trip verifies the upgrade only, and it cannot "
            "be rolled back with alembic downgrade",
        "nothing, if the project ships no downgrades; otherwise keep the downgrade() "
        "autogenerate writes (script.py.mako's ${downgrades})");
  }

  void rawSql() {
    for (const auto* ops : {&rev_.upgradeOps, &rev_.downgradeOps}) {
      for (const auto& op : *ops) {
        if (op.op != "execute") {
          continue;
        }
        if (ctx_.approveRawSQL) {
          add(code::kRawSQLNotApproved, sev::kInfo, "raw SQL (op.execute) approved: " + op.text,
              "keep the approval in the run's record", op.line);
        } else {
          add(code::kRawSQLNotApproved, sev::kEscalation,
              "the revision runs raw SQL (op.execute) that no one approved: " + op.text,
              "express the change in the models so autogenerate renders it; for views, "
              "functions and triggers use alembic-utils (replaceable entities); if raw SQL is "
              "truly needed, re-run with --approve raw-sql (spec.approvals.rawSQL: true)",
              op.line);
        }
      }
    }
  }

  /** The type the downgrade gives back to a dropped column (its add_column in downgrade). */
  std::string droppedColumnType(const std::string& table, const std::string& column) const {
    for (const auto& op : rev_.downgradeOps) {
      if (op.op == "add_column" && op.table == table) {
        if (auto spec = addedColumn(op); spec && spec->name == column) {
          return spec->type;
        }
      }
    }
    return {};
  }

  std::set<std::string> createTableColumns(const RevisionOp& op) const {
    std::set<std::string> names;
    for (const auto& arg : op.call.args) {
      if (auto spec = columnSpec(arg)) {
        names.insert(spec->name);
      }
    }
    return names;
  }

  void renamesAndDestructive() {
    std::set<std::string> renamed;  // "table.column" or "table" already reported
    // Column renames: add_column + drop_column on one table with compatible types.
    for (const auto& drop : rev_.upgradeOps) {
      if (drop.op != "drop_column") {
        continue;
      }
      std::string oldFamily =
          database::fromSqlAlchemy(droppedColumnType(drop.table, drop.column)).family();
      for (const auto& addOp : rev_.upgradeOps) {
        if (addOp.op != "add_column" || addOp.table != drop.table) {
          continue;
        }
        auto added = addedColumn(addOp);
        if (!added) {
          continue;
        }
        std::string newFamily = database::fromSqlAlchemy(added->type).family();
        if (!oldFamily.empty() && !newFamily.empty() && oldFamily != newFamily) {
          continue;
        }
        renamed.insert(drop.table + "." + drop.column);
        add(code::kProbableRename, ctx_.approveDestructive ? sev::kWarning : sev::kEscalation,
            "column " + drop.table + "." + drop.column + " is dropped and " + drop.table + "." +
                added->name +
                " is added with a compatible type: probably a rename, which "
                "autogenerate renders as drop + add and so loses every value of the column",
            "rename with a reviewed revision that uses op.alter_column(..., new_column_name=...) "
            "(approved as a manual change), or keep the old column name in the model (" +
                keepColumnName(drop.table, added->name, drop.column) +
                "); approving destructive changes (--approve destructive) accepts the data loss",
            drop.line);
        break;
      }
    }
    // Table renames: create_table + drop_table with the same columns.
    for (const auto& drop : rev_.upgradeOps) {
      if (drop.op != "drop_table") {
        continue;
      }
      std::set<std::string> oldColumns;
      for (const auto& op : rev_.downgradeOps) {
        if (op.op == "create_table" && op.table == drop.table) {
          oldColumns = createTableColumns(op);
        }
      }
      for (const auto& create : rev_.upgradeOps) {
        if (create.op == "create_table" && !oldColumns.empty() &&
            createTableColumns(create) == oldColumns) {
          renamed.insert(drop.table);
          add(code::kProbableRename, ctx_.approveDestructive ? sev::kWarning : sev::kEscalation,
              "table " + drop.table + " is dropped and " + create.table +
                  " is created with the same columns: probably a rename, which loses every row",
              "keep the table name with __tablename__ = '" + drop.table +
                  "' in the model, or rename in a reviewed revision with op.rename_table; "
                  "--approve destructive accepts the data loss",
              drop.line);
        }
      }
    }
    for (const auto& op : rev_.upgradeOps) {
      bool dropTable = op.op == "drop_table" && !renamed.count(op.table);
      bool dropColumn = op.op == "drop_column" && !renamed.count(op.table + "." + op.column);
      if (!dropTable && !dropColumn) {
        continue;
      }
      std::string what = dropTable ? "table " + op.table : "column " + op.table + "." + op.column;
      if (ctx_.approveDestructive) {
        add(code::kDestructiveChange, sev::kInfo, "approved destructive change: drops " + what,
            "", op.line);
      } else {
        add(code::kDestructiveChange, sev::kEscalation,
            "the revision drops " + what + " and every value in it",
            "if the model change was intended, re-run with --approve destructive "
            "(spec.approvals.destructive: true); otherwise restore the model",
            op.line);
      }
    }
  }

  void requiredColumns() {
    for (const auto& op : rev_.upgradeOps) {
      if (op.op != "add_column") {
        continue;
      }
      auto column = addedColumn(op);
      if (!column || column->nullable || column->hasServerDefault) {
        continue;
      }
      auto rows = ctx_.liveRowCounts.find(op.table);
      if (rows == ctx_.liveRowCounts.end() || rows->second <= 0) {
        continue;
      }
      add(code::kRequiredColumnOnPopulatedTable, sev::kEscalation,
          "NOT NULL column " + op.table + "." + column->name + " has no server default, but " +
              op.table + " has " + liveRows(op.table) +
              " in the live database: the upgrade will fail there" +
              (ctx_.roundTripDatabase.empty()
                   ? std::string()
                   : " (a round trip on " + ctx_.roundTripDatabase + ", cannot show it)"),
          sqlmodel(op.table)
              ? "give the model field a server default (Field(sa_column_kwargs={'server_default': "
                "...})) or make it Optional first and backfill before tightening it"
              : "give the column a server default (Column(..., nullable=False, "
                "server_default=...)) or make it nullable=True first and backfill before "
                "tightening it",
          op.line);
    }
  }

  /** Enum types an op needs that did not exist at the previous head. */
  std::vector<std::string> newEnums(const RevisionOp& op) const {
    std::vector<std::string> out;
    for (const auto& name : op.enumTypes) {
      if (!ctx_.existingEnums.count(name)) {
        out.push_back(name);
      }
    }
    return out;
  }

  /** Enum types the upgrade creates explicitly anywhere (Enum(...).create(bind), CREATE TYPE). */
  std::set<std::string> explicitlyCreated() const {
    std::set<std::string> out;
    for (const auto& op : rev_.upgradeOps) {
      if (op.op == "create_enum" && !op.name.empty()) {
        out.insert(op.name);
      }
      if (op.op == "execute") {
        static const std::regex kCreateType(R"re(CREATE\s+TYPE\s+(?:\w+\.)?"?(\w+)"?\s+AS\s+ENUM)re",
                                            std::regex::icase);
        for (std::sregex_iterator it(op.text.begin(), op.text.end(), kCreateType), end; it != end;
             ++it) {
          out.insert((*it)[1].str());
        }
      }
    }
    return out;
  }

  void enumTypes() {
    std::map<std::string, int> created;  // name -> line
    const auto explicitCreates = explicitlyCreated();
    for (const auto& op : rev_.upgradeOps) {
      if (op.op == "create_enum" && !op.name.empty()) {
        created.emplace(op.name, op.line);
      } else if (op.op == "create_table") {
        for (const auto& name : newEnums(op)) {
          created.emplace(name, op.line);
        }
      } else if (op.op == "add_column" || op.op == "alter_column") {
        // add_column does not create the type; only an explicit create does.
        for (const auto& name : newEnums(op)) {
          // A type the revision creates explicitly (even further down) is not missing.
          if (!created.count(name) && !explicitCreates.count(name) &&
              ctx_.existingTables.count(op.table)) {
            add(code::kEnumTypeMissing, sev::kEscalation,
                "column " + op.table + "." + op.column + " uses the enum type " + name +
                    ", which does not exist and which the revision never creates: the upgrade "
                    "fails with 'type \"" + name + "\" does not exist'",
                kEnumRecommendation, op.line);
            created.emplace(name, op.line);  // report once
          }
        }
      }
    }
    std::set<std::string> dropped;
    for (const auto& op : rev_.downgradeOps) {
      if (op.op == "drop_enum") {
        dropped.insert(op.name);
      }
      if (op.op == "execute") {
        std::string text = upper(op.text);
        for (const auto& [name, _] : created) {
          if (contains(text, "DROP TYPE") && contains(op.text, name)) {
            dropped.insert(name);
          }
        }
      }
    }
    for (const auto& [name, line] : created) {
      if (dropped.count(name)) {
        continue;
      }
      bool missingReported = std::any_of(findings_.begin(), findings_.end(), [&](const Finding& f) {
        return f.code == code::kEnumTypeMissing && contains(f.message, "type " + name + ",");
      });
      if (missingReported) {
        continue;
      }
      add(code::kEnumTypeNotDropped, sev::kEscalation,
          "the upgrade creates the native enum type " + name +
              " but the downgrade never drops it: after a downgrade the type stays behind and "
              "the next upgrade fails with 'type \"" + name + "\" already exists'",
          kEnumRecommendation, line);
    }
  }

  bool revisionMentions(const std::string& enumName) const {
    for (const auto* ops : {&rev_.upgradeOps, &rev_.downgradeOps}) {
      for (const auto& op : *ops) {
        if (op.name == enumName ||
            std::find(op.enumTypes.begin(), op.enumTypes.end(), enumName) != op.enumTypes.end() ||
            (op.op == "execute" && contains(op.text, enumName))) {
          return true;
        }
      }
    }
    return false;
  }

  void enumValues() {
    for (const auto& model : ctx_.modelEnums) {
      auto db = ctx_.existingEnums.find(model.name);
      if (db == ctx_.existingEnums.end() || db->second == model.labels ||
          revisionMentions(model.name)) {
        continue;
      }
      std::vector<std::string> added;
      std::vector<std::string> removed;
      for (const auto& l : model.labels) {
        if (std::find(db->second.begin(), db->second.end(), l) == db->second.end()) {
          added.push_back(l);
        }
      }
      for (const auto& l : db->second) {
        if (std::find(model.labels.begin(), model.labels.end(), l) == model.labels.end()) {
          removed.push_back(l);
        }
      }
      std::string change = added.empty() && removed.empty() ? "the order of its labels changed"
                           : added.empty() ? "removed " + joined(removed)
                           : removed.empty() ? "added " + joined(added)
                                             : "added " + joined(added) + ", removed " +
                                                   joined(removed);
      add(code::kEnumValuesChanged, sev::kEscalation,
          "the models declare enum " + model.name + " as [" + joined(model.labels) +
              "] but the database type has [" + joined(db->second) + "] (" + change +
              "); autogenerate cannot see enum label changes, so the revision does nothing "
              "about it",
          kEnumRecommendation);
      if (!removed.empty() && !ctx_.approveDestructive) {
        add(code::kDestructiveChange, sev::kEscalation,
            "enum " + model.name + " loses the label(s) " + joined(removed) +
                "; rows holding them cannot be converted",
            "migrate the rows off those labels first; --approve destructive accepts the change");
      }
    }
  }

  void typeChanges() {
    for (const auto* ops : {&rev_.upgradeOps, &rev_.downgradeOps}) {
      const bool upgrade = ops == &rev_.upgradeOps;
      for (const auto& op : *ops) {
        if (op.op != "alter_column") {
          continue;
        }
        auto to = op.call.kwarg("type_");
        auto from = op.call.kwarg("existing_type");
        if (!to || !from || op.call.kwarg("postgresql_using")) {
          continue;
        }
        if (!database::castNeedsUsing(database::fromSqlAlchemy(*from),
                                       database::fromSqlAlchemy(*to))) {
          continue;
        }
        add(code::kTypeChangeWithoutUsing, sev::kEscalation,
            std::string(upgrade ? "the upgrade" : "the downgrade") + " changes column " +
                op.table + "." + op.column + " from " + *from + " to " + *to +
                ", which PostgreSQL cannot cast implicitly; without postgresql_using it fails "
                "with 'cannot be cast automatically'",
            "autogenerate cannot express the data conversion: add a new column with the new "
            "type, backfill it in a revision approved for raw SQL (--approve raw-sql), then drop "
            "the old column; or set postgresql_using through a process_revision_directives hook "
            "in env.py",
            op.line);
      }
    }
  }

  void unnamedConstraints() {
    static const std::set<std::string> kNamedOps = {
        "create_foreign_key", "create_unique_constraint", "create_check_constraint",
        "create_primary_key", "drop_constraint"};
    for (const auto* ops : {&rev_.upgradeOps, &rev_.downgradeOps}) {
      for (const auto& op : *ops) {
        if (!kNamedOps.count(op.op) || op.name != "None") {
          continue;
        }
        add(code::kUnnamedConstraint, sev::kEscalation,
            op.op + " on " + op.table +
                " has no constraint name (None): PostgreSQL invents "
                "one, and op.drop_constraint(None, ...) cannot drop it, so the downgrade fails",
            std::string("give MetaData a naming_convention (e.g. ") +
                (ctx_.sqlmodelTables.empty()
                     ? "Base = declarative_base(metadata=MetaData(naming_convention="
                     : "SQLModel.metadata.naming_convention = (") +
                "{'fk': 'fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s', 'uq': "
                "'uq_%(table_name)s_%(column_0_name)s', 'ck': "
                "'ck_%(table_name)s_%(constraint_name)s', 'pk': 'pk_%(table_name)s', 'ix': "
                "'ix_%(column_0_label)s'})) and generate again",
            op.line);
      }
    }
  }

  void undefinedNames() {
    for (const auto& [line, name] : ctx_.undefinedNames) {
      std::string fix =
          name == "sqlmodel"
              ? "add `import sqlmodel.sql.sqltypes` to the project's script.py.mako so every "
                "generated revision imports it"
              : "add the import of '" + name + "' to script.py.mako (or render the type through "
                "a render_item hook in env.py)";
      add(code::kUndefinedName, sev::kEscalation,
          "the generated file uses the name '" + name + "', which it never imports: the "
          "revision fails with NameError when it runs",
          fix, line);
    }
  }

  void indexes() {
    for (const auto& op : rev_.upgradeOps) {
      if (op.op != "create_index" || op.call.kwarg("postgresql_concurrently").value_or("") == "True") {
        continue;
      }
      auto rows = ctx_.liveRowCounts.find(op.table);
      if (rows == ctx_.liveRowCounts.end() || rows->second < ctx_.largeTableRows) {
        continue;
      }
      add(code::kNonConcurrentIndex, sev::kEscalation,
          "index " + op.name + " is built without CONCURRENTLY on " + op.table + ", which has " +
              liveRows(op.table) + " in the live database: writes to the table "
              "block for the whole build",
          "declare the index with postgresql_concurrently=True (in __table_args__) and run the "
          "revision in an autocommit block, or schedule the build for a maintenance window",
          op.line);
    }
  }

  /** "N row(s)", or "about N row(s) (estimated ...)" when the count is an estimate. */
  /** The table's model is a SQLModel class (advice in Field(...) rather than Column(...)). */
  bool sqlmodel(const std::string& table) const {
    return ctx_.sqlmodelTables.count(table) > 0 || ctx_.sqlmodelTables.count("public." + table) > 0;
  }

  /** How the model keeps column `oldName` under the attribute `attribute`, in its idiom. */
  std::string keepColumnName(const std::string& table, const std::string& attribute,
                             const std::string& oldName) const {
    return sqlmodel(table)
               ? attribute + ": ... = Field(sa_column=sa.Column('" + oldName + "', ...))"
               : attribute + " = Column('" + oldName + "', ...)";
  }

  std::string liveRows(const std::string& table) const {
    std::string n = std::to_string(ctx_.liveRowCounts.at(table));
    return ctx_.liveRowEstimates.count(table)
               ? "about " + n + " row(s) (estimated from pg_class.reltuples)"
               : n + " row(s)";
  }

  bool createdTable(const std::string& table) const {
    return std::any_of(rev_.upgradeOps.begin(), rev_.upgradeOps.end(), [&](const RevisionOp& op) {
      return op.op == "create_table" && op.table == table;
    });
  }

  /** The table a DROP INDEX works on, from the revision's own drop_index op. */
  std::string indexTable(const std::string& statement) const {
    static const std::regex kDropIndex(
        R"re(^\s*DROP\s+INDEX\s+(?:CONCURRENTLY\s+)?(?:IF\s+EXISTS\s+)?"?([^\s";]+)"?)re",
        std::regex::icase);
    std::smatch m;
    if (!std::regex_search(statement, m, kDropIndex)) {
      return {};
    }
    for (const auto& op : rev_.upgradeOps) {
      if (op.op == "drop_index" && op.name == m[1].str()) {
        return op.table;
      }
    }
    return {};
  }

  /**
   * Lock and rewrite rules say "this blocks the table": true in proportion to its rows. On a
   * table this revision creates, or one with fewer live rows than largeTableRows, the lock
   * is brief and the finding is info; where the rows are unknown it stays a warning.
   */
  void lint() {
    for (const auto& l : ctx_.lint) {
      core::Finding f = lintFinding(l, ctx_.file);
      if (isLockRule(l.rule)) {
        std::string table = statementTable(l.statement);
        if (table.empty()) {
          table = indexTable(l.statement);
        }
        auto rows = ctx_.liveRowCounts.find(table);
        if (!table.empty() && createdTable(table)) {
          f.severity = sev::kInfo;
          f.message += " [" + table + " is created by this revision: nothing to block]";
        } else if (rows != ctx_.liveRowCounts.end() && rows->second < ctx_.largeTableRows) {
          f.severity = sev::kInfo;
          f.message += " [" + table + " has " + liveRows(table) +
                       " in the live database: the lock is brief]";
        } else if (rows != ctx_.liveRowCounts.end()) {
          f.message += " [" + table + " has " + liveRows(table) + " in the live database]";
        }
      }
      findings_.push_back(std::move(f));
    }
  }

  const ParsedRevision& rev_;
  const AnalysisContext& ctx_;
  std::vector<Finding> findings_;
};

}  // namespace

core::Finding lintFinding(const LintResult& l, const std::string& file) {
  std::string where = l.statement.empty() ? "" : " (" + l.statement + ")";
  return core::Finding{std::string(code::kLintPrefix) + camelRule(l.rule), sev::kWarning,
                       "squawk " + l.rule + ": " + l.message + where, l.help, file, 0};
}

bool isLockRule(const std::string& rule) {
  static const std::set<std::string> kRules = {
      "adding-field-with-default",        "adding-foreign-key-constraint",
      "adding-not-nullable-field",        "adding-required-field",
      "adding-serial-primary-key-field",  "changing-column-type",
      "constraint-missing-not-valid",     "disallowed-unique-constraint",
      "require-concurrent-index-creation", "require-concurrent-index-deletion",
      "require-concurrent-reindex",       "require-concurrent-partition-detach"};
  return kRules.count(rule) > 0;
}

std::string statementTable(const std::string& statement) {
  static const std::regex kTable(
      R"re(^\s*(?:ALTER\s+TABLE(?:\s+IF\s+EXISTS)?(?:\s+ONLY)?|CREATE\s+(?:UNIQUE\s+)?INDEX\s+)re"
      R"re((?:CONCURRENTLY\s+)?(?:IF\s+NOT\s+EXISTS\s+)?(?:"[^"]+"|\S+)?\s*ON(?:\s+ONLY)?|)re"
      R"re(CREATE\s+TABLE(?:\s+IF\s+NOT\s+EXISTS)?)\s+((?:"(?:[^"]|"")+"|[^\s(;."]+)))re"
      R"re((?:\.((?:"(?:[^"]|"")+"|[^\s(;."]+)))?)re",
      std::regex::icase);
  std::smatch m;
  if (!std::regex_search(statement, m, kTable)) {
    return {};
  }
  auto unquote = [](std::string name) {
    if (name.size() >= 2 && name.front() == '"') {
      name = name.substr(1, name.size() - 2);
      for (size_t pos; (pos = name.find("\"\"")) != std::string::npos;) {
        name.replace(pos, 2, "\"");
      }
    }
    return name;
  };
  std::string first = unquote(m[1].str());
  if (!m[2].matched) {
    return first;
  }
  std::string second = unquote(m[2].str());
  return first == "public" ? second : first + "." + second;
}

std::vector<core::Finding> analyzeRevision(const ParsedRevision& revision,
                                           const AnalysisContext& context) {
  return Analysis(revision, context).run();
}

}  // namespace alembic_sidecar::alembic
