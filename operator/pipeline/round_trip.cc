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

}  // namespace

StepOutcome roundTrip(RunState& state) {
  const char* type = core::condition::kRoundTripPassed;
  if (state.noChanges) {
    finishStep(state, {type, "Unknown", core::reason::kNotRun, "nothing to round-trip"});
    return StepOutcome::kContinue;
  }
  // A failed leg ends the round trip, not the run: escalate() still weighs the findings.
  auto failed = [&state](StepOutcome) {
    state.roundTripFailed = true;
    return StepOutcome::kContinue;
  };
  auto& rt = state.report.roundTrip;
  auto& db = *state.db;
  const auto& parsed = state.revision->parsed;
  const std::string dbName = state.target.database;
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
                         const alembic::AlembicRun& run) {
    elapsed();
    return failStep(state, type, run.timedOut ? std::string(core::reason::kTimeout) : reason,
                    what + " failed (exit " + std::to_string(run.exitCode) + "):\n" + run.tail());
  };
  auto fingerprintOrFail = [&](std::optional<database::SchemaFingerprint>& out) {
    auto fp = db.fingerprint(dbName);
    if (fp) {
      out = std::move(*fp);
      return true;
    }
    failStep(state, type, fp.error().reason, fp.error().message);
    return false;
  };

  state.alembic->setTimeout(state.remaining());
  auto up = state.alembic->upgrade("head", state.target);
  if (!up) {
    return failed(failStep(state, type, up.error().reason, up.error().message));
  }
  if (!up->succeeded()) {
    rt.upgrade = kFailed;
    return failed(failCommand(core::reason::kUpgradeFailed, "alembic upgrade head", *up));
  }
  rt.upgrade = kPassed;
  std::optional<database::SchemaFingerprint> afterUpgrade;
  if (!fingerprintOrFail(afterUpgrade)) {
    return failed(StepOutcome::kFailed);
  }

  state.alembic->setTimeout(state.remaining());
  auto down = state.alembic->downgrade(downTarget, state.target);
  if (!down) {
    return failed(failStep(state, type, down.error().reason, down.error().message));
  }
  if (!down->succeeded()) {
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
  state.alembic->setTimeout(state.remaining());
  auto again = state.alembic->upgrade("head", state.target);
  if (!again) {
    return failed(failStep(state, type, again.error().reason, again.error().message));
  }
  rt.reupgrade = again->succeeded() ? kPassed : kFailed;
  std::optional<database::SchemaFingerprint> afterReupgrade;
  if (again->succeeded() && !fingerprintOrFail(afterReupgrade)) {
    return failed(StepOutcome::kFailed);
  }
  elapsed();

  if (!restoreDiffs.empty()) {
    std::string summary = reportDifferences(
        state, restoreDiffs, "before the upgrade", "after the downgrade",
        "the revision's downgrade() does not undo its upgrade(); fix the model or env.py "
        "settings that produced it and generate again (never edit the file by hand)");
    std::string message = "downgrade " + downTarget + " did not restore the schema: " + summary;
    if (!again->succeeded()) {
      message += ". The re-upgrade then failed too:\n" + again->tail(6);
    }
    return failed(failStep(state, type, core::reason::kRoundTripSchemaMismatch, message));
  }
  if (!again->succeeded()) {
    return failed(failCommand(core::reason::kReupgradeFailed,
                              "alembic upgrade head (after downgrade " + downTarget + ")", *again));
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
  finishStep(state, {type, "True", core::reason::kSchemaRestored,
                     "upgrade, downgrade " + downTarget +
                         ", upgrade: schema fingerprints match (" +
                         afterUpgrade->sha256().substr(0, 12) + ")"});
  return StepOutcome::kContinue;
}

}  // namespace alembic_sidecar::pipeline
