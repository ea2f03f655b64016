// Steps of the actions that work on the existing history rather than a new revision:
// check (CI), roundtrip and upgrade.

#include <algorithm>
#include <map>
#include <regex>
#include <sstream>

#include "alembic/linters.h"
#include "alembic/revision_analysis.h"
#include "alembic/uncompared_findings.h"
#include "core/reasons.h"
#include "database/scratch.h"
#include "pipeline/history_reader.h"
#include "pipeline/steps.h"

namespace alembic_sidecar::pipeline {
namespace {

namespace sev = core::severity;

/** Splits offline SQL at alembic's "-- Running upgrade A -> B" comments: line -> revision. */
std::vector<std::pair<int, std::string>> sqlSections(const std::string& sql) {
  static const std::regex kMarker(R"(^-- Running upgrade .*-> (\S+))");
  std::vector<std::pair<int, std::string>> sections;
  std::istringstream in(sql);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    std::smatch m;
    if (std::regex_search(line, m, kMarker)) {
      sections.emplace_back(n, m[1].str());
    }
  }
  return sections;
}

std::string revisionAtLine(const std::vector<std::pair<int, std::string>>& sections, int line) {
  std::string revision;
  for (const auto& [start, id] : sections) {
    if (start > line) {
      break;
    }
    revision = id;
  }
  return revision;
}

}  // namespace

StepOutcome checkSync(RunState& state) {
  const char* type = core::condition::kModelsInSync;
  if (auto failed = prepareHead(state, type)) {
    return *failed;
  }
  state.driver->setTimeout(state.remaining());
  auto compared = state.driver->compare(state.target);
  if (!compared) {
    return failDriver(state, type, compared.error());
  }
  if (!compared->ok) {
    return failAlembic(state, type, core::reason::kAutogenerateFailed,
                       "comparing the models with the migrations", *compared);
  }
  state.compared = std::move(*compared);
  // Enum labels: autogenerate is blind to them, so compare the models with the database.
  alembic::AnalysisContext enums;
  fillBaseline(*state.baseline, enums);
  enums.modelEnums = state.compared->enums;
  std::vector<std::string> blindChanges;
  for (auto f : alembic::analyzeRevision(alembic::ParsedRevision{}, enums)) {
    if (f.code == core::finding::kEnumValuesChanged) {
      f.severity = sev::kError;
      blindChanges.push_back(f.message);
      addFinding(state, std::move(f));
    }
  }
  // What autogenerate does not compare (server defaults, CHECK constraints, ...): no
  // revision would carry it, so it is out of sync just the same.
  alembic::UncomparedContext uncompared;
  uncompared.envPy = state.project().envPy.empty() ? "env.py" : state.project().envPy;
  for (auto f : alembic::uncomparedFindings(state.compared->uncompared, uncompared)) {
    f.severity = sev::kError;
    blindChanges.push_back(f.message);
    addFinding(state, std::move(f));
  }
  if (state.compared->inSync && !blindChanges.empty()) {
    failStep(state, type, core::reason::kModelsOutOfSync,
             "the models differ from the migrations in what autogenerate cannot see: " +
                 blindChanges.front());
    return StepOutcome::kContinue;
  }
  if (state.compared->inSync) {
    const bool copy =
        state.report.baseline && state.report.baseline->source == kBaselineLiveSchema;
    finishStep(state, {type, "True", core::reason::kInSync,
                       std::string("the models match the migrations at head (compare_metadata "
                                   "found no difference") +
                           (copy ? "; the schema at head is the copy of the live database's)"
                                 : ")")});
    return StepOutcome::kContinue;
  }
  std::string list;
  for (const auto& op : state.compared->pendingOps) {
    state.report.operations.push_back(op);
    std::string what = op.op + " " + op.table + (op.column.empty() ? "" : "." + op.column) +
                       (op.name.empty() ? "" : " [" + op.name + "]");
    list += (list.empty() ? "" : "; ") + what;
    addFinding(state, {core::finding::kModelsOutOfSync, sev::kError,
                       "the models need an operation no migration contains: " + what,
                       "run `alembic-sidecar revision -m \"...\"` and commit the revision", "",
                       0});
  }
  failStep(state, type, core::reason::kModelsOutOfSync,
           "the models and the migrations disagree; autogenerate would write: " + list);
  return StepOutcome::kContinue;  // still lint and round-trip: CI wants the whole picture
}

StepOutcome lintHistory(RunState& state) {
  const char* type = core::condition::kValidated;
  auto history = readHistory(state);
  if (!history) {
    failStep(state, type, history.error().reason, history.error().message);
    return StepOutcome::kContinue;
  }
  const size_t recent = static_cast<size_t>(std::max(state.request.roundtripLast, 1));
  alembic::AnalysisContext ctx;
  ctx.sqlmodelTables = state.sqlmodelTables;
  ctx.roundTripDatabase = roundTripDatabase(state);
  ctx.approveRawSQL = state.request.approvals.rawSQL;
  ctx.approveDestructive = state.request.approvals.destructive;
  std::map<std::string, std::string> pathById;
  size_t escalations = 0;
  for (size_t i = 0; i < history->size(); ++i) {
    const auto& rev = (*history)[i];
    pathById[rev.parsed.revision] = rev.path;
    ctx.file = rev.path;
    bool isRecent = i + recent >= history->size();
    for (auto f : alembic::analyzeRevision(rev.parsed, ctx)) {
      if (f.severity == sev::kEscalation && !isRecent) {
        f.severity = sev::kWarning;  // applied history: report, do not block
        f.message = "(applied history) " + f.message;
      }
      escalations += f.severity == sev::kEscalation;
      addFinding(state, std::move(f));
    }
    // What exists after this revision, for the next one's analysis.
    for (const auto& op : rev.parsed.upgradeOps) {
      if (op.op == "create_table") {
        ctx.existingTables.insert(op.table);
      } else if (op.op == "drop_table") {
        ctx.existingTables.erase(op.table);
      }
      for (const auto& e : op.enumTypes) {
        ctx.existingEnums.emplace(e, std::vector<std::string>{});
      }
      if (op.op == "drop_enum") {
        ctx.existingEnums.erase(op.name);
      }
    }
  }

  // SQL lint of the whole history rendered offline, each result mapped to its revision.
  state.driver->setTimeout(state.remaining());
  std::string sqlText;
  auto sql = state.driver->offlineSql("heads", sqlText);
  size_t linted = 0;
  if (sql && sql->ok) {
    auto sections = sqlSections(sqlText);
    if (auto lint = alembic::runSquawk(sqlText)) {
      linted = history->size();
      // One finding per revision and rule; statements before the first revision are
      // alembic's own version table.
      std::map<std::pair<std::string, std::string>, std::pair<alembic::LintResult, int>> grouped;
      for (const auto& l : *lint) {
        std::string id = revisionAtLine(sections, l.sqlLine);
        if (id.empty()) {
          continue;
        }
        auto [it, inserted] = grouped.try_emplace({id, l.rule}, l, 0);
        ++it->second.second;
      }
      for (auto& [key, entry] : grouped) {
        auto finding = alembic::lintFinding(entry.first, pathById[key.first]);
        if (entry.second > 1) {
          finding.message += " and " + std::to_string(entry.second - 1) + " more statement(s)";
        }
        addFinding(state, std::move(finding));
      }
    } else {
      addFinding(state, {core::finding::kSquawkNotInstalled, sev::kInfo,
                         "SQL lint skipped: " + lint.error().message,
                         "install squawk (npm install squawk-cli) to lint the rendered SQL", "",
                         0});
    }
  } else {
    addFinding(state, {core::finding::kLintSkipped, sev::kInfo,
                       "the history's SQL was not linted: it could not be rendered offline "
                       "(alembic upgrade heads --sql): " +
                           (sql ? sql->describe(2) : sql.error().message),
                       "make env.py's run_migrations_offline() work (alembic --sql mode) to get "
                       "SQL lint",
                       "", 0});
  }
  std::string message = std::to_string(history->size()) + " revision(s) analysed, " +
                        std::to_string(linted) + " SQL-linted, the last " +
                        std::to_string(std::min(recent, history->size())) + " at full severity";
  if (escalations == 0) {
    finishStep(state, {type, "True", core::reason::kNoEscalations, message});
  } else {
    finishStep(state, {type, "False", core::reason::kEscalationRequired,
                       message + "; " + std::to_string(escalations) +
                           " finding(s) need a human decision"});
  }
  return StepOutcome::kContinue;
}

StepOutcome upgradeLive(RunState& state) {
  const char* type = core::condition::kDatabaseUpgraded;
  auto target = targetFor(state, state.resolved->connection);
  if (!target) {
    return failStep(state, type, target.error().reason, target.error().message);
  }
  state.target = *target;
  auto version = [&state] {
    auto current = state.driver->current(state.target);
    std::string text;
    for (const auto& r : current && current->ok ? current->heads : std::vector<std::string>{}) {
      text += (text.empty() ? "" : ",") + r;
    }
    return text.empty() ? std::string("base") : text;
  };
  state.driver->setTimeout(state.remaining());
  std::string from = version();
  auto up = state.driver->upgrade(state.target, "heads");
  if (!up) {
    return failDriver(state, type, up.error());
  }
  if (!up->ok) {
    return failAlembic(state, type, core::reason::kUpgradeFailed, "alembic upgrade heads", *up);
  }
  std::string to = version();
  finishStep(state, {type, "True", core::reason::kUpgraded,
                     from == to ? "already at head " + to : "upgraded from " + from + " to " + to});
  return StepOutcome::kContinue;
}

StepOutcome conclude(RunState& state) {
  auto& report = state.report;
  if (report.phase == core::phase::kFailed) {
    return StepOutcome::kFailed;
  }
  std::vector<std::string> codes;
  for (const auto& f : report.findings) {
    if (f.severity == sev::kEscalation) {
      codes.push_back(f.code);
    }
  }
  if (!codes.empty()) {
    std::string list;
    for (const auto& c : codes) {
      list += (list.empty() ? "" : ", ") + c;
    }
    report.phase = core::phase::kEscalated;
    report.reason = codes.front();
    report.message = std::to_string(codes.size()) + " finding(s) need a human decision: " + list;
    finishStep(state, {core::condition::kReady, "False", report.reason, report.message});
    return StepOutcome::kDone;
  }
  report.phase = core::phase::kSucceeded;
  if (report.action == kActionUpgrade) {
    report.reason = core::reason::kUpgraded;
    report.message = report.condition(core::condition::kDatabaseUpgraded)->message;
  } else if (report.action == kActionCheck) {
    report.reason = core::reason::kInSync;
    report.message = "models and migrations agree; the history lints clean of escalations and "
                     "its last revision(s) round-trip";
  } else {
    report.reason = core::reason::kRoundTripVerified;
    report.message = report.condition(core::condition::kRoundTripPassed)->message;
  }
  finishStep(state, {core::condition::kReady, "True", report.reason, report.message});
  return StepOutcome::kDone;
}

}  // namespace alembic_sidecar::pipeline
