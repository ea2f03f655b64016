#include <regex>

#include "alembic/linters.h"
#include "alembic/revision_analysis.h"
#include "alembic/uncompared_findings.h"
#include "core/reasons.h"
#include "database/drift.h"
#include "database/key_widening.h"
#include "database/live_data.h"
#include "pipeline/steps.h"

namespace alembic_sidecar::pipeline {
namespace {

namespace sev = core::severity;
namespace code = core::finding;

constexpr char kNoChangesAdvice[] =
    "nothing to migrate. If you expected a change: make sure the model's module is imported "
    "from env.py, and that compare_type is on for type changes; enum label changes are "
    "reported separately";

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

/** pyflakes in the app's interpreter; where it is not installed, the machine's own. */
void undefinedNames(RunState& state, alembic::AnalysisContext& ctx) {
  const auto& rev = *state.revision;
  auto report = state.driver->pyflakes(rev.text, rev.path);
  if (report) {
    ctx.undefinedNames = alembic::parsePyflakes(*report);
    return;
  }
  auto local = alembic::runPyflakes(rev.text);
  if (!local) {
    addFinding(state, {code::kPyflakesNotInstalled, sev::kInfo,
                       "undefined names were not checked: " + report.error().message + "; " +
                           local.error().message,
                       "install pyflakes in the app's environment (or python3-pyflakes where "
                       "alembic-sidecar runs)",
                       "", 0});
    return;
  }
  ctx.undefinedNames = *local;
}

/** The alembic range whose offline SQL is this revision's; empty for merges. */
std::string sqlRange(const alembic::ParsedRevision& parsed) {
  if (parsed.downRevisions.size() > 1) {
    return {};  // a merge revision carries no DDL of its own
  }
  return parsed.downRevisions.empty() ? parsed.revision
                                      : parsed.downRevisions.front() + ":" + parsed.revision;
}

/** The revision's upgrade as offline SQL (alembic upgrade <range> --sql); nullopt after a note. */
std::optional<std::string> renderSql(RunState& state, const std::string& range) {
  std::string sql;
  auto rendered = state.driver->offlineSql(range, sql);
  if (!rendered || !rendered->ok) {
    addFinding(state, {code::kLintSkipped, sev::kInfo,
                       "the revision's SQL was not linted: it could not be rendered offline "
                       "(alembic upgrade " + range + " --sql): " +
                           (rendered ? rendered->describe(2) : rendered.error().message),
                       "make env.py's run_migrations_offline() work (alembic --sql mode) to "
                       "get SQL lint",
                       state.revision->path, 0});
    return std::nullopt;
  }
  return sql;
}

/** Lints the revision's offline SQL with squawk. */
void lintSql(RunState& state, alembic::AnalysisContext& ctx, const std::string& sql) {
  auto lint = alembic::runSquawk(sql);
  if (!lint) {
    addFinding(state, {code::kSquawkNotInstalled, sev::kInfo,
                       "SQL lint skipped: " + lint.error().message,
                       "install squawk (npm install squawk-cli) to lint the rendered SQL", "", 0});
    return;
  }
  ctx.lint = *lint;
}

/** "schema.table" of an op's table (public unless the op names a schema). */
std::string opTable(const alembic::RevisionOp& op) {
  return (op.details.schema.empty() ? std::string("public") : op.details.schema) + "." + op.table;
}

/** What the models have that the history lacks, as fingerprint objects: the revision's ops. */
database::ModelObjects modelObjects(const RunState& state) {
  database::ModelObjects models;
  for (const auto& key : state.modelTables) {
    models.tables.insert("table " + (key.find('.') == std::string::npos ? "public." + key : key));
  }
  if (!state.revision) {
    return models;
  }
  for (const auto& op : state.revision->parsed.upgradeOps) {
    if (op.op == "add_column") {
      models.objects.insert("column " + opTable(op) + "." + op.column);
    } else if (op.op == "create_index") {
      models.objects.insert("index " + opTable(op) + "." + op.name);
    } else if (op.op == "create_unique_constraint" || op.op == "create_foreign_key" ||
               op.op == "create_check_constraint" || op.op == "create_primary_key") {
      models.objects.insert("constraint " + opTable(op) + "." + op.name);
    } else if (op.op == "create_table") {
      models.tables.insert("table " + opTable(op));
    }
  }
  return models;
}

/** Compares the live database with the history's schema when both are at the same head. */
void checkDrift(RunState& state) {
  if (state.request.isolation != kIsolationScratch || !state.baseline) {
    return;
  }
  if (state.report.baseline && state.report.baseline->source == kBaselineLiveSchema) {
    return;  // the scratch database is the live schema (LiveSchemaCopyIncomplete tells)
  }
  const std::string live = state.resolved->connection.database;
  auto liveRevisions = state.db->appliedRevisions(live, state.versionTable);
  auto headRevisions =
      state.db->appliedRevisions(state.target.connection.database, state.versionTable);
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
  auto fingerprint = fingerprintOf(state, live);
  if (!fingerprint) {
    return;
  }
  for (auto& f : database::driftFindings(*fingerprint, *state.baseline, 20, modelObjects(state))) {
    addFinding(state, std::move(f));
  }
}

/**
 * A widened key whose owned sequence or referencing foreign-key columns stay narrower: asked
 * of the schema the history builds (the scratch database at head; the app's in place).
 */
void checkKeyWidening(RunState& state, const alembic::ParsedRevision& parsed) {
  auto widenings = database::integerWidenings(parsed);
  if (widenings.empty()) {
    return;
  }
  auto answer = state.db->queryReadOnly(state.target.connection.database,
                                        {database::keyWideningQuery(widenings)}, {});
  if (!answer || answer->empty() || !answer->front()) {
    std::string why = !answer           ? answer.error().message
                      : answer->empty() ? std::string("no answer")
                                        : answer->front().error().message;
    addFinding(state, {code::kLiveCheckIncomplete, sev::kEscalation,
                       "the sequences and foreign keys of the widened key(s) could not be read "
                       "from the schema at head: " + why,
                       "check by hand that every sequence the column owns and every "
                       "foreign-key column that references it is as wide as the column",
                       state.revision->path, widenings.front().op->line});
    return;
  }
  for (auto& f : database::keyWideningFindings(widenings, *answer->front(), parsed,
                                               state.revision->path)) {
    addFinding(state, std::move(f));
  }
}

void typeComparison(RunState& state) {
  bool on = state.compared && state.compared->compareType
                ? *state.compared->compareType
                : compareTypeInEnvPy(state.project().envPySource);
  std::string version = state.project().alembicVersion;
  if (on || alembicComparesTypesByDefault(version)) {
    return;
  }
  addFinding(state, {code::kTypeComparisonDisabled, sev::kWarning,
                     "env.py does not pass compare_type=True and alembic " +
                         (version.empty() ? std::string("< 1.12") : version) +
                         " does not compare column types by default: type changes in the "
                         "models produce no migration",
                     "pass compare_type=True to context.configure() in " + state.project().envPy,
                     state.project().envPy, 0});
}

/** What the models say beyond the file: native enum labels, compare_type, and what
 *  autogenerate does not compare (into state.compared). */
void compareModels(RunState& state) {
  if (state.compared) {
    return;  // read by the revision's own env.py run
  }
  state.driver->setTimeout(state.remaining());
  auto compared = state.driver->compare(state.target);
  if (compared && compared->ok) {
    state.compared = std::move(*compared);
    return;
  }
  const std::string why = compared ? compared->describe(2) : compared.error().message;
  addFinding(state, {code::kEnumValuesChanged, sev::kWarning, "enum labels were not compared: " + why,
                     "make env.py work with alembic's EnvironmentContext (it does for "
                     "`alembic check`-style tools)",
                     "", 0});
  addFinding(state, {code::kUncomparedCheckSkipped, sev::kInfo,
                     "server defaults, CHECK constraints, Computed columns and index predicates "
                     "were not compared with the schema at head: " + why,
                     "make env.py work with alembic's EnvironmentContext", "", 0});
}

/**
 * Escalates every difference autogenerate does not compare that `revision` (nullptr: none
 * was written) does not carry: without it the migration is silently incomplete.
 */
void checkUncompared(RunState& state, const alembic::ParsedRevision* revision) {
  if (!state.compared) {
    return;  // compareModels said why
  }
  if (!state.compared->uncomparedChecked) {
    addFinding(state, {code::kUncomparedCheckSkipped, sev::kInfo,
                       "server defaults, CHECK constraints, Computed columns and index "
                       "predicates were not compared with the schema at head" +
                           (state.compared->uncomparedError.empty()
                                ? std::string(" (env.py gave no target_metadata)")
                                : ": " + state.compared->uncomparedError),
                       "make target_metadata in env.py the models' MetaData", "", 0});
    return;
  }
  alembic::UncomparedContext ctx;
  ctx.revision = revision;
  ctx.file = revision != nullptr && state.revision ? state.revision->path : std::string{};
  ctx.envPy = state.project().envPy.empty() ? "env.py" : state.project().envPy;
  for (auto& f : alembic::uncomparedFindings(state.compared->uncompared, ctx)) {
    addFinding(state, std::move(f));
  }
}

/** The first escalation's code, or empty. */
std::string firstEscalation(const core::Report& report) {
  for (const auto& f : report.findings) {
    if (f.severity == sev::kEscalation) {
      return f.code;
    }
  }
  return {};
}

}  // namespace

std::string roundTripDatabase(const RunState& state) {
  if (state.request.isolation == kIsolationInplace) {
    return {};
  }
  if (state.report.baseline && state.report.baseline->source == kBaselineLiveSchema) {
    return "the scratch copy of the live schema, which has no rows";
  }
  return "the scratch database, which has no rows";
}

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

StepOutcome validate(RunState& state) {
  const char* type = core::condition::kValidated;
  if (!state.revision) {
    // No file at all (env.py dropped the empty revision).
    addFinding(state, {code::kNoModelChanges, sev::kInfo,
                       "autogenerate compared the models with the schema at head and found no "
                       "difference",
                       kNoChangesAdvice, "", 0});
    compareModels(state);
    checkUncompared(state, nullptr);
    if (auto escalation = firstEscalation(state.report); !escalation.empty()) {
      finishStep(state, {type, "False", escalation,
                         "no revision, but the models differ from the schema at head in what "
                         "autogenerate does not compare"});
    } else {
      finishStep(state, {type, "True", core::reason::kNoChanges, "no revision to validate"});
    }
    return StepOutcome::kContinue;
  }
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

  compareModels(state);

  alembic::AnalysisContext ctx;
  ctx.file = rev.path;
  ctx.approveRawSQL = state.request.approvals.rawSQL;
  ctx.approveDestructive = state.request.approvals.destructive;
  ctx.largeTableRows = state.request.largeTableRows;
  ctx.sqlmodelTables = state.sqlmodelTables;
  ctx.roundTripDatabase = roundTripDatabase(state);
  if (state.baseline) {
    fillBaseline(*state.baseline, ctx);
  }
  if (state.compared) {
    ctx.modelEnums = state.compared->enums;
  }
  typeComparison(state);
  checkDrift(state);

  if (rev.parsed.empty()) {
    std::string diagnosis =
        "autogenerate compared the models with the schema at head" +
        (rev.parsed.downRevisions.empty() ? std::string{}
                                          : " (" + rev.parsed.downRevisionText() + ")") +
        " and found no difference";
    addFinding(state, {code::kNoModelChanges, sev::kInfo, diagnosis, kNoChangesAdvice, "", 0});
    for (auto& f : alembic::analyzeRevision(rev.parsed, ctx)) {
      addFinding(state, std::move(f));
    }
    checkUncompared(state, &rev.parsed);
    if (auto removed = state.files().removeFile(rev.path); removed) {
      rev.removed = true;
    }
    state.report.revision.reset();
    state.noChanges = true;
    if (auto escalation = firstEscalation(state.report); !escalation.empty()) {
      finishStep(state, {type, "False", escalation,
                         diagnosis + ", but the models differ from it in what autogenerate "
                                     "does not compare; the empty revision was removed"});
    } else {
      finishStep(state, {type, "True", core::reason::kNoChanges, diagnosis});
    }
    return StepOutcome::kContinue;
  }

  std::optional<std::string> upgradeSql;
  if (const std::string range = sqlRange(rev.parsed); !range.empty()) {
    upgradeSql = renderSql(state, range);
  }
  // What the upgrade does to the live database's rows: row counts into ctx, findings out.
  database::LiveCheckLimits limits;
  limits.query.statementTimeout = state.request.liveCheckTimeout;
  limits.query.role = state.request.liveRole;
  for (auto& f : database::checkLiveData(*state.db, state.resolved->connection.database,
                                         rev.parsed, ctx, limits, upgradeSql.value_or(""))) {
    addFinding(state, std::move(f));
  }
  checkKeyWidening(state, rev.parsed);
  undefinedNames(state, ctx);
  if (upgradeSql) {
    lintSql(state, ctx, *upgradeSql);
  }
  for (auto& f : alembic::analyzeRevision(rev.parsed, ctx)) {
    addFinding(state, std::move(f));
  }
  checkUncompared(state, &rev.parsed);

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
