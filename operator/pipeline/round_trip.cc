#include "core/reasons.h"
#include "pipeline/steps.h"

namespace alembic_sidecar::pipeline {
namespace {

constexpr size_t kMaxListedDifferences = 20;
constexpr char kPassed[] = "Passed";
constexpr char kFailed[] = "Failed";

/** Adds one finding per differing object; returns a one-line summary. */
std::string reportDifferences(RunState& state,
                              const std::vector<database::FingerprintDifference>& diffs,
                              const std::string& beforeLabel, const std::string& afterLabel,
                              const std::string& recommendation) {
  std::string summary;
  for (size_t i = 0; i < diffs.size(); ++i) {
    if (i < kMaxListedDifferences) {
      std::string text = database::describeDifference(diffs[i], beforeLabel, afterLabel);
      addFinding(state, {core::finding::kRoundTripDifference, core::severity::kError, text,
                         recommendation, state.revision->path, 0});
      summary += (summary.empty() ? "" : "; ") + text;
    }
  }
  if (diffs.size() > kMaxListedDifferences) {
    summary += "; and " + std::to_string(diffs.size() - kMaxListedDifferences) + " more";
  }
  return summary;
}

/**
 * Why running the revision on the app's database itself could lose data before anyone
 * reviewed it: every escalation, every destructive change even when approved, and every
 * drop or raw SQL statement of its upgrade. Empty: nothing found.
 */
std::vector<std::string> inplaceRisks(const RunState& state) {
  std::vector<std::string> risks;
  for (const auto& f : state.report.findings) {
    if (f.severity == core::severity::kEscalation || f.code == core::finding::kDestructiveChange ||
        f.code == core::finding::kProbableRename) {
      risks.push_back(f.code + " (" + f.message + ")");
    }
  }
  for (const auto& op : state.revision->parsed.upgradeOps) {
    if (op.op == "drop_table" || op.op == "drop_column" || op.op == "execute") {
      risks.push_back(op.op + " " + op.table + (op.column.empty() ? "" : "." + op.column));
    }
  }
  return risks;
}

}  // namespace

StepOutcome roundTrip(RunState& state) {
  const char* type = core::condition::kRoundTripPassed;
  if (state.noChanges) {
    finishStep(state, {type, "Unknown", core::reason::kNotRun, "nothing to round-trip"});
    return StepOutcome::kContinue;
  }
  if (state.request.isolation == kIsolationInplace) {
    // In place the round trip runs on the app's own rows: never a revision that may lose them
    // before a person has looked at it.
    if (auto risks = inplaceRisks(state); !risks.empty()) {
      state.inplaceRefused = true;
      const std::string live = state.target.connection.database;
      std::string list;
      for (size_t i = 0; i < risks.size() && i < 5; ++i) {
        list += (list.empty() ? "" : "; ") + risks[i];
      }
      addFinding(state, {core::finding::kInplaceRoundTripRefused, core::severity::kEscalation,
                         "--isolation inplace: the round trip was not run, because it would run "
                         "this revision on the app's database " +
                             live + " itself and the revision may lose data there: " + list +
                             ". Nothing of the revision was applied",
                         "review the revision; generate and round-trip it without --isolation "
                         "inplace (a scratch database, or --baseline live-schema for a copy of "
                         "the live schema) before applying it",
                         state.revision->path, 0});
      finishStep(state, {type, "Unknown", core::reason::kRefusedInPlace,
                         "not run in place: the revision may lose data on " + live +
                             " (nothing of it was applied)"});
      return StepOutcome::kContinue;
    }
  }
  // A failed leg ends the round trip, not the run: escalate() still weighs the findings.
  auto failed = [&state](StepOutcome) {
    state.roundTripFailed = true;
    return StepOutcome::kContinue;
  };
  auto& rt = state.report.roundTrip;
  const auto& parsed = state.revision->parsed;
  const std::string dbName = state.target.connection.database;
  const std::string downTarget =
      parsed.downRevisions.size() == 1 ? parsed.downRevisions.front()
      : parsed.downRevisions.empty()   ? "base"
                                       : "-1";
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    rt.durationMs = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - start)
                        .count();
  };
  auto failCommand = [&](const std::string& reason, const std::string& what,
                         const alembic::OpOutcome& outcome) {
    elapsed();
    return failAlembic(state, type, reason, what, outcome);
  };
  auto fingerprintOrFail = [&](std::optional<database::SchemaFingerprint>& out) {
    auto fp = fingerprintOf(state, dbName);
    if (fp) {
      out = std::move(*fp);
      return true;
    }
    failStep(state, type, fp.error().reason, fp.error().message);
    return false;
  };

  state.driver->setTimeout(state.remaining());
  auto up = state.driver->upgrade(state.target, parsed.revision);
  if (!up) {
    return failed(failDriver(state, type, up.error()));
  }
  auto& legs = state.observed[state.revision->path];
  legs.upgrade = up->ok;
  if (!up->ok) {
    rt.upgrade = kFailed;
    return failed(
        failCommand(core::reason::kUpgradeFailed, "alembic upgrade " + parsed.revision, *up));
  }
  rt.upgrade = kPassed;
  std::optional<database::SchemaFingerprint> afterUpgrade;
  if (!fingerprintOrFail(afterUpgrade)) {
    return failed(StepOutcome::kFailed);
  }
  if (parsed.upgradeOnly()) {
    // Nothing to downgrade by design (DowngradeNotProvided): the upgrade ran on the schema
    // at head, and that is all there is to verify.
    elapsed();
    checkRepeatable(state, *afterUpgrade);
    finishStep(state, {type, "True", core::reason::kUpgradeOnly,
                       "upgrade-only revision: upgrade " + parsed.revision +
                           " passed on the schema at head; no downgrade to verify"});
    return StepOutcome::kContinue;
  }

  state.driver->setTimeout(state.remaining());
  auto down = state.driver->downgrade(state.target, downTarget);
  if (!down) {
    return failed(failDriver(state, type, down.error()));
  }
  legs.downgrade = down->ok;
  if (!down->ok) {
    rt.downgrade = kFailed;
    return failed(
        failCommand(core::reason::kDowngradeFailed, "alembic downgrade " + downTarget, *down));
  }
  rt.downgrade = kPassed;
  std::optional<database::SchemaFingerprint> afterDowngrade;
  if (!fingerprintOrFail(afterDowngrade)) {
    return failed(StepOutcome::kFailed);
  }
  auto restoreDiffs = database::diffFingerprints(*state.baseline, *afterDowngrade);

  // Re-upgrade even after a mismatch: whether it works is part of the diagnosis.
  state.driver->setTimeout(state.remaining());
  auto again = state.driver->upgrade(state.target, parsed.revision);
  if (!again) {
    return failed(failDriver(state, type, again.error()));
  }
  rt.reupgrade = again->ok ? kPassed : kFailed;
  legs.reupgrade = again->ok;
  std::optional<database::SchemaFingerprint> afterReupgrade;
  if (again->ok && !fingerprintOrFail(afterReupgrade)) {
    return failed(StepOutcome::kFailed);
  }
  elapsed();

  if (!restoreDiffs.empty()) {
    std::string summary = reportDifferences(
        state, restoreDiffs, "before the upgrade", "after the downgrade",
        "the revision's downgrade() does not undo its upgrade(); fix the model or env.py "
        "settings that produced it and generate again (never edit the file by hand)");
    std::string message = "downgrade " + downTarget + " did not restore the schema: " + summary;
    if (!again->ok) {
      message += ". The re-upgrade then failed too: " + again->describe(4);
    }
    return failed(failStep(state, type, core::reason::kRoundTripSchemaMismatch, message));
  }
  if (!again->ok) {
    return failed(failCommand(core::reason::kReupgradeFailed,
                              "alembic upgrade " + parsed.revision + " (after downgrade " +
                                  downTarget + ")",
                              *again));
  }
  auto reupgradeDiffs = database::diffFingerprints(*afterUpgrade, *afterReupgrade);
  if (!reupgradeDiffs.empty()) {
    std::string summary = reportDifferences(
        state, reupgradeDiffs, "after the first upgrade", "after the re-upgrade",
        "upgrade() is not repeatable after its own downgrade(); generate again after fixing "
        "the cause");
    return failed(failStep(state, type, core::reason::kRoundTripSchemaMismatch,
                           "the re-upgrade produced a different schema: " + summary));
  }
  rt.schemaRestored = true;
  checkRepeatable(state, *afterReupgrade);
  finishStep(state, {type, "True", core::reason::kSchemaRestored,
                     "upgrade, downgrade " + downTarget +
                         ", upgrade: schema fingerprints match (" +
                         afterUpgrade->sha256().substr(0, 12) + ")"});
  return StepOutcome::kContinue;
}

}  // namespace alembic_sidecar::pipeline
