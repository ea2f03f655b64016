// The proof that a revision captured the models: a second autogenerate comparison on the
// scratch database the revision just migrated must find nothing left to do. What it still
// finds would be generated again by the next revision: a table in a schema env.py does not
// compare is created again (and that upgrade fails with DuplicateTable), every time.

#include <map>
#include <set>

#include "core/reasons.h"
#include "pipeline/steps.h"

namespace alembic_sidecar::pipeline {
namespace {

namespace sev = core::severity;
namespace code = core::finding;

constexpr size_t kMaxListedOps = 10;

std::string describe(const core::Operation& op) {
  std::string out = op.op + " " + op.table;
  if (!op.column.empty()) {
    out += "." + op.column;
  }
  if (!op.name.empty()) {
    out += " (" + op.name + ")";
  }
  return out;
}

std::string schemaFix(const std::string& schema, const RunState& state) {
  const std::string envPy = state.project().envPy.empty() ? "env.py" : state.project().envPy;
  return "in " + envPy +
         ", pass include_schemas=True to context.configure() (online and "
         "offline), and let any include_name / include_object hook accept schema '" +
         schema + "', e.g. def include_name(name, type_, parent_names): return name in (None, '" +
         schema +
         "') if type_ == 'schema' else True; then generate again (this revision "
         "stays for review)";
}

}  // namespace

void checkRepeatable(RunState& state, const database::SchemaFingerprint& migrated) {
  state.driver->setTimeout(state.remaining());
  auto compared = state.driver->compare(state.target);
  const std::string file = state.revision ? state.revision->path : std::string{};
  if (!compared || !compared->ok) {
    addFinding(state, {code::kAutogenerateRepeatUnchecked, sev::kInfo,
                       "a second autogenerate comparison on the migrated scratch database could "
                       "not run: " +
                           (compared ? compared->describe(2) : compared.error().message),
                       "make env.py work with alembic's EnvironmentContext", file, 0});
    return;
  }
  // Tables of the migrated schema: bare name -> schemas holding it.
  std::map<std::string, std::set<std::string>> schemasOf;
  std::set<std::string> qualified;
  for (const auto& [object, _] : migrated.objects()) {
    if (object.rfind("table ", 0) != 0) {
      continue;
    }
    std::string key = object.substr(6);
    qualified.insert(key);
    auto dot = key.find('.');
    if (dot != std::string::npos) {
      schemasOf[key.substr(dot + 1)].insert(key.substr(0, dot));
    }
  }
  std::set<std::string> reported;  // schema.table
  std::vector<std::string> other;
  for (const auto& op : compared->pendingOps) {
    bool again = false;
    if (op.op == "create_table") {
      for (const auto& schema : schemasOf[op.table]) {
        if (schema == "public" || !reported.insert(schema + "." + op.table).second) {
          again = again || schema != "public";
          continue;
        }
        again = true;
        addFinding(state,
                   {code::kSchemaNotCompared, sev::kEscalation,
                    "model table " + schema + "." + op.table +
                        " is in a schema env.py does not compare: after this revision's "
                        "upgrade a second autogenerate creates it again, so the next revision "
                        "of the project would fail with DuplicateTable (and every one after it)",
                    schemaFix(schema, state), file, 0});
      }
    }
    if (!again) {
      other.push_back(describe(op));
    }
  }
  // A model table in a schema that never reaches the migrated schema: filtered out of every
  // comparison (include_name / include_object), so no revision creates it.
  for (const auto& table : state.modelTables) {
    auto dot = table.find('.');
    if (dot == std::string::npos || qualified.count(table) || reported.count(table)) {
      continue;
    }
    const std::string schema = table.substr(0, dot);
    addFinding(state, {code::kSchemaNotCompared, sev::kEscalation,
                       "model table " + table +
                           " is in target_metadata but not in the schema "
                           "the migrations build: env.py leaves schema " +
                           schema + " out of autogenerate's comparison, so no revision creates it",
                       schemaFix(schema, state) +
                           "; if the table is managed elsewhere on purpose, take it out of "
                           "target_metadata",
                       file, 0});
  }
  if (other.empty()) {
    return;
  }
  std::string listed;
  for (size_t i = 0; i < other.size() && i < kMaxListedOps; ++i) {
    listed += (listed.empty() ? "" : "; ") + other[i];
  }
  if (other.size() > kMaxListedOps) {
    listed += "; and " + std::to_string(other.size() - kMaxListedOps) + " more";
  }
  // Approved raw SQL may create what the models do not describe (a comment, say): a human
  // approved it, so the difference is a warning there, not a new decision.
  bool approvedRawSql = false;
  if (state.revision && state.request.approvals.rawSQL) {
    for (const auto& op : state.revision->parsed.upgradeOps) {
      approvedRawSql = approvedRawSql || op.op == "execute";
    }
  }
  addFinding(state,
             {code::kAutogenerateNotRepeatable, approvedRawSql ? sev::kWarning : sev::kEscalation,
              "after this revision's upgrade, a second autogenerate on the migrated "
              "scratch database still finds " +
                  std::to_string(other.size()) + " operation(s): " + listed +
                  (approvedRawSql ? "; the revision runs approved raw SQL (op.execute), which may "
                                    "create what the models do not describe, and the next "
                                    "autogenerate would undo it"
                                  : "; the revision does not capture the models, and the next one "
                                    "would repeat them"),
              "find why autogenerate keeps seeing a difference (a type or default it "
              "compares but cannot render, an include_object hook, a comparator) and "
              "fix the model or env.py, then generate again",
              file, 0});
}

}  // namespace alembic_sidecar::pipeline
