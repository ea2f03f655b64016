// Steps of the actions that work on the existing history rather than a new revision:
// check (CI), roundtrip and upgrade.

#include <algorithm>
#include <map>
#include <regex>
#include <sstream>

#include "alembic/linters.h"
#include "alembic/revision_analysis.h"
#include "core/reasons.h"
#include "database/scratch.h"
#include "pipeline/steps.h"

namespace alembic_sidecar::pipeline {
namespace {

namespace sev = core::severity;

struct HistoryRevision {
  std::string path;
  alembic::ParsedRevision parsed;
};

/** The history from base to head along down_revision links (single head). */
core::Result<std::vector<HistoryRevision>> readHistory(RunState& state) {
  std::map<std::string, HistoryRevision> byId;
  workspace::FileMap files;
  for (const auto& dir : state.layout->ini.versionLocations) {
    workspace::TreeOptions tree;
    tree.skipDirs = {"__pycache__"};
    tree.maxDepth = 0;  // alembic reads the version directory itself, not subdirectories
    auto found = state.deps.workspace->readTree(dir, tree);
    if (!found) {
      return found.error();
    }
    files.merge(*found);
  }
  for (const auto& [path, text] : files) {
    auto parsed = alembic::parseRevisionFile(text);
    if (!parsed) {
      return core::Error::terminal(parsed.error().reason, path + ": " + parsed.error().message);
    }
    std::string id = parsed->revision;  // read before the move below
    byId[id] = HistoryRevision{path, std::move(*parsed)};
  }
  std::set<std::string> parents;
  for (const auto& [id, rev] : byId) {
    parents.insert(rev.parsed.downRevisions.begin(), rev.parsed.downRevisions.end());
  }
  std::vector<std::string> heads;
  for (const auto& [id, rev] : byId) {
    if (!parents.count(id)) {
      heads.push_back(id);
    }
  }
  std::vector<HistoryRevision> chain;
  if (heads.size() != 1) {
    return chain;  // empty history, or several heads (upgrade head reported that already)
  }
  std::string current = heads.front();
  std::set<std::string> seen;
  while (!current.empty() && byId.count(current) && seen.insert(current).second) {
    chain.push_back(byId[current]);
    const auto& downs = byId[current].parsed.downRevisions;
    current = downs.empty() ? "" : downs.front();  // merges: follow the first parent
  }
  std::reverse(chain.begin(), chain.end());
  return chain;
}

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
  auto python = state.request.pythonCommand.empty()
                    ? alembic::pythonFor(*state.deps.workspace, state.request.alembic.command)
                    : state.request.pythonCommand;
  auto inspect = alembic::runInspect(*state.deps.workspace, python,
                                     state.request.alembic.configFile,
                                     state.request.alembic.urlEnvVar, state.target, true,
                                     state.remaining(), state.deps.redactor);
  if (!inspect) {
    return failStep(state, type, inspect.error().reason, inspect.error().message);
  }
  state.inspect = std::move(*inspect);
  if (state.inspect->inSync) {
    finishStep(state, {type, "True", core::reason::kInSync,
                       "the models match the migrations at head (compare_metadata found no "
                       "difference)"});
    return StepOutcome::kContinue;
  }
  std::string list;
  for (const auto& op : state.inspect->pendingOps) {
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
  state.alembic->setTimeout(state.remaining());
  auto sql = state.alembic->run({"upgrade", "head", "--sql"}, state.target);
  if (sql && sql->succeeded()) {
    auto sections = sqlSections(sql->out);
    if (auto lint = alembic::runSquawk(sql->out)) {
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
    addFinding(state, {core::finding::kSquawkNotInstalled, sev::kInfo,
                       "the history's SQL could not be rendered offline: " +
                           (sql ? sql->tail(3) : sql.error().message),
                       "make env.py's run_migrations_offline() work to get SQL lint", "", 0});
  }
  std::string message = std::to_string(history->size()) + " revision(s) linted, the last " +
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

StepOutcome roundTripHistory(RunState& state) {
  const char* type = core::condition::kRoundTripPassed;
  auto& rt = state.report.roundTrip;
  if (!state.baseline) {
    if (state.report.phase == core::phase::kFailed) {
      finishStep(state, {type, "Unknown", core::reason::kNotRun, "the history is not at head"});
      return StepOutcome::kContinue;
    }
    if (auto failed = prepareHead(state, type)) {
      return *failed;
    }
  }
  auto history = readHistory(state);
  size_t length = history ? history->size() : 0;
  if (length == 0) {
    finishStep(state, {type, "Unknown", core::reason::kNotRun, "no revisions to round-trip"});
    return StepOutcome::kContinue;
  }
  size_t steps = std::min(static_cast<size_t>(std::max(state.request.roundtripLast, 1)), length);
  std::string target = steps == length ? "base" : "-" + std::to_string(steps);
  const auto start = std::chrono::steady_clock::now();
  auto finishTiming = [&] {
    rt.durationMs = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - start)
                        .count();
  };
  auto fail = [&](const std::string& reason, const std::string& message) {
    finishTiming();
    state.roundTripFailed = true;
    failStep(state, type, reason, message);
    return StepOutcome::kContinue;
  };

  rt.upgrade = "Passed";  // the history reached head in the previous step
  state.alembic->setTimeout(state.remaining());
  auto down = state.alembic->downgrade(target, state.target);
  if (!down || !down->succeeded()) {
    rt.downgrade = "Failed";
    return fail(core::reason::kDowngradeFailed,
                "alembic downgrade " + target + " failed: " +
                    (down ? down->tail() : down.error().message));
  }
  rt.downgrade = "Passed";
  auto afterDowngrade = state.db->fingerprint(state.target.database);
  auto at = state.db->appliedRevisions(state.target.database);
  if (!afterDowngrade || !at) {
    return fail(core::reason::kDatabaseUnavailable, "cannot read the schema after the downgrade");
  }

  // The schema the downgrade should have left: a second scratch database upgraded to there.
  std::string refName = database::scratchDatabaseName(state.resolved->connection.database,
                                                      state.deps.now(), state.deps.randomSuffix());
  std::vector<database::FingerprintDifference> restoreDiffs;
  if (auto created = state.db->createDatabase(refName)) {
    state.extraScratch.push_back(refName);
    auto ref = state.target.withDatabase(refName);
    bool ok = true;
    if (!at->empty()) {
      auto up = state.alembic->upgrade(at->front(), ref);
      ok = up && up->succeeded();
    }
    auto refPrint = ok ? state.db->fingerprint(refName)
                       : core::Result<database::SchemaFingerprint>(core::Error::terminal(
                             core::reason::kUpgradeFailed, "reference upgrade failed"));
    if (refPrint) {
      restoreDiffs = database::diffFingerprints(*refPrint, *afterDowngrade);
    }
  }

  const std::string atName = at->empty() ? std::string("base") : at->front();
  std::string summary;
  for (const auto& d : restoreDiffs) {
    std::string text =
        database::describeDifference(d, "at " + atName + " built forward", "after downgrade " + target);
    addFinding(state, {core::finding::kRoundTripDifference, sev::kError, text,
                       "a downgrade() in the last " + std::to_string(steps) +
                           " revision(s) does not undo its upgrade()",
                       "", 0});
    summary += (summary.empty() ? "" : "; ") + text;
  }

  // Re-upgrade even after a mismatch: whether it works is part of the diagnosis.
  state.alembic->setTimeout(state.remaining());
  auto again = state.alembic->upgrade("head", state.target);
  rt.reupgrade = again && again->succeeded() ? "Passed" : "Failed";
  if (rt.reupgrade == "Failed") {
    std::string error = again ? again->tail() : again.error().message;
    if (!summary.empty()) {
      return fail(core::reason::kRoundTripSchemaMismatch,
                  "downgrade " + target + " did not restore the schema of " + atName + ": " +
                      summary + ". The re-upgrade then failed too: " + error);
    }
    return fail(core::reason::kReupgradeFailed,
                "alembic upgrade head after downgrade " + target + " failed: " + error);
  }
  auto afterReupgrade = state.db->fingerprint(state.target.database);
  if (!afterReupgrade) {
    return fail(afterReupgrade.error().reason, afterReupgrade.error().message);
  }
  finishTiming();
  for (const auto& d : database::diffFingerprints(*state.baseline, *afterReupgrade)) {
    std::string text = database::describeDifference(d, "at head", "after the re-upgrade");
    addFinding(state, {core::finding::kRoundTripDifference, sev::kError, text,
                       "an upgrade() is not repeatable after its downgrade()", "", 0});
    summary += (summary.empty() ? "" : "; ") + text;
  }
  if (!summary.empty()) {
    return fail(core::reason::kRoundTripSchemaMismatch,
                "downgrade " + target + " then upgrade head did not reproduce the schemas: " +
                    summary);
  }
  rt.schemaRestored = true;
  finishStep(state, {type, "True", core::reason::kSchemaRestored,
                     "downgrade " + target + " restored the schema of " + atName +
                         " and upgrade head reproduced head"});
  return StepOutcome::kContinue;
}

StepOutcome upgradeLive(RunState& state) {
  const char* type = core::condition::kDatabaseUpgraded;
  state.alembic = std::make_unique<alembic::AlembicRunner>(*state.deps.workspace,
                                                           state.request.alembic,
                                                           state.deps.redactor);
  const auto& live = state.resolved->connection;
  auto before = state.db->appliedRevisions(live.database);
  state.alembic->setTimeout(state.remaining());
  auto up = state.alembic->upgrade("head", live);
  if (!up) {
    return failStep(state, type, up.error().reason, up.error().message);
  }
  if (!up->succeeded()) {
    return failAlembic(state, type, core::reason::kUpgradeFailed, "alembic upgrade head", *up);
  }
  auto after = state.db->appliedRevisions(live.database);
  auto describe = [](const core::Result<std::vector<std::string>>& revs) {
    return !revs || revs->empty() ? std::string("base") : revs->front();
  };
  std::string from = describe(before);
  std::string to = describe(after);
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
