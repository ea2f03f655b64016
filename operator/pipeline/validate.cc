#include <future>
#include <regex>

#include "alembic/linters.h"
#include "alembic/revision_analysis.h"
#include "core/reasons.h"
#include "database/drift.h"
#include "database/live_data.h"
#include "pipeline/steps.h"

namespace alembic_sidecar::pipeline {
namespace {

namespace sev = core::severity;
namespace code = core::finding;

bool compareTypeInEnvPy(const std::string& envPy) {
  static const std::regex kCompareType(R"(compare_type\s*=\s*(True|[A-Za-z_]\w*))");
  std::smatch m;
  return std::regex_search(envPy, m, kCompareType) && m[1] != "False";
}

/** alembic >= 1.12 compares types by default. */
bool alembicComparesTypesByDefault(const std::string& version) {
  int major = 0;
  int minor = 0;
  if (std::sscanf(version.c_str(), "%d.%d", &major, &minor) != 2) {
    return false;
  }
  return major > 1 || (major == 1 && minor >= 12);
}

std::vector<std::string> enumLabels(const std::string& definition) {
  std::vector<std::string> labels;
  for (const auto& part : alembic::splitTopLevel(definition)) {
    // quote_literal output: 'it''s'
    std::string label = part;
    if (label.size() >= 2 && label.front() == '\'' && label.back() == '\'') {
      label = label.substr(1, label.size() - 2);
      for (size_t pos; (pos = label.find("''")) != std::string::npos;) {
        label.replace(pos, 2, "'");
      }
    }
    labels.push_back(label);
  }
  return labels;
}

/** Tables and enum types at the previous head, from the scratch baseline fingerprint. */
void fillBaseline(const database::SchemaFingerprint& fp, alembic::AnalysisContext& ctx) {
  for (const auto& [object, definition] : fp.objects()) {
    auto space = object.find(' ');
    std::string kind = object.substr(0, space);
    std::string key = object.substr(space + 1);
    std::string bare = key.rfind("public.", 0) == 0 ? key.substr(7) : key;
    if (kind == "table") {
      ctx.existingTables.insert(key);
      ctx.existingTables.insert(bare);
    } else if (kind == "enum") {
      ctx.existingEnums[bare] = enumLabels(definition);
    }
  }
}

void undefinedNames(RunState& state, alembic::AnalysisContext& ctx,
                    const core::Result<std::vector<std::pair<int, std::string>>>& names) {
  if (!names) {
    addFinding(state, {code::kPyflakesNotInstalled, sev::kInfo,
                       "undefined names were not checked: " + names.error().message,
                       "install python3-pyflakes where alembic-sidecar runs", "", 0});
    return;
  }
  ctx.undefinedNames = *names;
}

/** The alembic range whose offline SQL is this revision's; empty for merges. */
std::string sqlRange(const alembic::ParsedRevision& parsed) {
  if (parsed.downRevisions.size() > 1) {
    return {};  // a merge revision carries no DDL of its own
  }
  return parsed.downRevisions.empty() ? parsed.revision
                                      : parsed.downRevisions.front() + ":" + parsed.revision;
}

/** Lints the revision's offline SQL with squawk. */
void lintSql(RunState& state, alembic::AnalysisContext& ctx, const std::string& range,
             const core::Result<alembic::AlembicRun>& sql) {
  if (!sql || !sql->succeeded()) {
    addFinding(state, {code::kSquawkNotInstalled, sev::kInfo,
                       "the SQL of the revision could not be rendered offline (alembic upgrade " +
                           range + " --sql): " + (sql ? sql->tail(3) : sql.error().message),
                       "make env.py's run_migrations_offline() work to get SQL lint", "", 0});
    return;
  }
  auto lint = alembic::runSquawk(sql->out);
  if (!lint) {
    addFinding(state, {code::kSquawkNotInstalled, sev::kInfo,
                       "SQL lint skipped: " + lint.error().message,
                       "install squawk (npm install squawk-cli) to lint the rendered SQL", "", 0});
    return;
  }
  ctx.lint = *lint;
}

/** Compares the live database with the history's schema when both are at the same head. */
void checkDrift(RunState& state) {
  if (state.request.isolation != kIsolationScratch || !state.baseline) {
    return;
  }
  const std::string live = state.resolved->connection.database;
  auto liveRevisions = state.db->appliedRevisions(live);
  auto headRevisions = state.db->appliedRevisions(state.target.database);
  if (!liveRevisions || !headRevisions) {
    return;
  }
  if (liveRevisions->empty()) {
    return;  // a database alembic never touched: nothing to compare yet
  }
  if (*liveRevisions != *headRevisions) {
    std::string at = liveRevisions->front();
    addFinding(state, {code::kDatabaseDrift, sev::kInfo,
                       "drift not checked: the live database " + live + " is at " + at +
                           ", not at the history's head",
                       "apply the pending migrations (alembic upgrade head) to compare", "", 0});
    return;
  }
  auto fingerprint = state.db->fingerprint(live);
  if (!fingerprint) {
    return;
  }
  for (auto& f : database::driftFindings(*fingerprint, *state.baseline)) {
    addFinding(state, std::move(f));
  }
}

void typeComparison(RunState& state) {
  bool on = state.inspect && state.inspect->compareType
                ? *state.inspect->compareType
                : compareTypeInEnvPy(state.layout->envPySource);
  std::string version = state.inspect ? state.inspect->alembicVersion : std::string{};
  if (on || alembicComparesTypesByDefault(version)) {
    return;
  }
  addFinding(state, {code::kTypeComparisonDisabled, sev::kWarning,
                     "env.py does not pass compare_type=True and alembic " +
                         (version.empty() ? std::string("< 1.12") : version) +
                         " does not compare column types by default: type changes in the "
                         "models produce no migration",
                     "pass compare_type=True to context.configure() in " + state.layout->envPy,
                     state.layout->envPy, 0});
}

}  // namespace

StepOutcome validate(RunState& state) {
  const char* type = core::condition::kValidated;
  auto& rev = *state.revision;
  auto parsed = alembic::parseRevisionFile(rev.text);
  if (!parsed) {
    return failStep(state, type, parsed.error().reason,
                    rev.path + " could not be read as a revision: " + parsed.error().message);
  }
  rev.parsed = std::move(*parsed);
  state.report.revision = core::RevisionInfo{rev.parsed.revision, rev.parsed.downRevisionText(),
                                             rev.path, rev.parsed.message, rev.sha256};
  for (const auto& op : rev.parsed.upgradeOps) {
    state.report.operations.push_back(core::Operation{op.op, op.table, op.column, op.name});
  }

  // Three independent interpreter launches run side by side: what the models say beyond the
  // file (enum labels, compare_type, alembic's version), the revision's offline SQL, and
  // pyflakes. Findings are added on this thread once they are back.
  auto python = state.request.pythonCommand.empty()
                    ? alembic::pythonFor(*state.deps.workspace, state.request.alembic.command)
                    : state.request.pythonCommand;
  state.alembic->setTimeout(state.remaining());
  const std::string range = rev.parsed.empty() ? std::string{} : sqlRange(rev.parsed);
  auto inspectFuture = std::async(std::launch::async, [&state, &python] {
    return alembic::runInspect(*state.deps.workspace, python, state.request.alembic.configFile,
                               state.request.alembic.urlEnvVar, state.target, false,
                               state.remaining(), state.deps.redactor);
  });
  std::future<core::Result<alembic::AlembicRun>> sqlFuture;
  if (!range.empty()) {
    sqlFuture = std::async(std::launch::async, [&state, range] {
      return state.alembic->run({"upgrade", range, "--sql"}, state.target);
    });
  }
  std::future<core::Result<std::vector<std::pair<int, std::string>>>> pyflakesFuture;
  if (!rev.parsed.empty()) {
    pyflakesFuture = std::async(std::launch::async,
                                [&rev] { return alembic::runPyflakes(rev.text); });
  }
  auto inspect = inspectFuture.get();
  if (inspect) {
    state.inspect = std::move(*inspect);
  } else {
    addFinding(state, {code::kEnumValuesChanged, sev::kWarning,
                       "enum labels were not compared: " + inspect.error().message,
                       "pass --python with the interpreter that runs alembic", "", 0});
  }

  alembic::AnalysisContext ctx;
  ctx.file = rev.path;
  ctx.approveRawSQL = state.request.approvals.rawSQL;
  ctx.approveDestructive = state.request.approvals.destructive;
  ctx.largeTableRows = state.request.largeTableRows;
  if (state.baseline) {
    fillBaseline(*state.baseline, ctx);
  }
  if (state.inspect) {
    ctx.modelEnums = state.inspect->enums;
  }
  typeComparison(state);
  checkDrift(state);

  if (rev.parsed.empty()) {
    std::string diagnosis =
        "autogenerate compared the models with the schema at head" +
        (rev.parsed.downRevisions.empty() ? std::string{}
                                          : " (" + rev.parsed.downRevisionText() + ")") +
        " and found no difference";
    addFinding(state, {code::kNoModelChanges, sev::kInfo, diagnosis,
                       "nothing to migrate. If you expected a change: make sure the model's "
                       "module is imported from env.py, and that compare_type is on for type "
                       "changes; enum label changes are reported separately",
                       "", 0});
    for (auto& f : alembic::analyzeRevision(rev.parsed, ctx)) {
      addFinding(state, std::move(f));
    }
    if (auto removed = state.deps.workspace->removeFile(rev.path); removed) {
      rev.removed = true;
    }
    state.report.revision.reset();
    state.noChanges = true;
    finishStep(state, {type, "True", core::reason::kNoChanges, diagnosis});
    return StepOutcome::kContinue;
  }

  // What the upgrade does to the live database's rows: row counts into ctx, findings out.
  for (auto& f : database::checkLiveData(*state.db, state.resolved->connection.database,
                                         rev.parsed, ctx)) {
    addFinding(state, std::move(f));
  }
  undefinedNames(state, ctx, pyflakesFuture.get());
  if (sqlFuture.valid()) {
    lintSql(state, ctx, range, sqlFuture.get());
  }
  for (auto& f : alembic::analyzeRevision(rev.parsed, ctx)) {
    addFinding(state, std::move(f));
  }

  std::vector<std::string> escalations;
  for (const auto& f : state.report.findings) {
    if (f.severity == sev::kEscalation) {
      escalations.push_back(f.code);
    }
  }
  std::string summary = std::to_string(rev.parsed.upgradeOps.size()) + " operation(s) in upgrade, " +
                        std::to_string(rev.parsed.downgradeOps.size()) + " in downgrade";
  if (escalations.empty()) {
    finishStep(state, {type, "True", core::reason::kNoEscalations, summary});
  } else {
    finishStep(state, {type, "False", escalations.front(),
                       summary + "; " + std::to_string(escalations.size()) +
                           " finding(s) need a human decision"});
  }
  return StepOutcome::kContinue;
}

}  // namespace alembic_sidecar::pipeline
