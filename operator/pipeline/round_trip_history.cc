// The round trip of check and roundtrip: the newest N revisions of every head are
// downgraded, the schema left behind is compared with a scratch database built forward to
// the same point, and upgrading to the heads again must reproduce them.

#include <algorithm>
#include <map>
#include <set>

#include "core/reasons.h"
#include "database/scratch.h"
#include "pipeline/history_reader.h"
#include "pipeline/steps.h"

namespace alembic_sidecar::pipeline {
namespace {

namespace sev = core::severity;

/** The newest revisions of one head that may be round-tripped, newest first. */
struct Segment {
  const HistoryRevision* head = nullptr;
  std::vector<const HistoryRevision*> revisions;
  /** The newest upgrade-only revision that cut the segment short, if any. */
  const HistoryRevision* upgradeOnly = nullptr;
};

/**
 * Walks from `head` along first parents, at most `limit` revisions, stopping before a
 * revision other branches also build on (a branch point belongs to every branch, so no
 * branch's round trip may take it down) and above an upgrade-only revision.
 */
Segment segmentOf(const HistoryRevision& head, const std::vector<HistoryRevision>& history,
                  size_t limit) {
  std::map<std::string, const HistoryRevision*> byId;
  std::map<std::string, int> children;
  for (const auto& rev : history) {
    byId[rev.parsed.revision] = &rev;
    for (const auto& down : rev.parsed.downRevisions) {
      ++children[down];
    }
  }
  Segment segment;
  segment.head = &head;
  const HistoryRevision* current = &head;
  while (current != nullptr && segment.revisions.size() < limit) {
    if (current != &head && children[current->parsed.revision] > 1) {
      break;
    }
    if (current->parsed.upgradeOnly()) {
      segment.upgradeOnly = current;
      break;
    }
    segment.revisions.push_back(current);
    const auto& downs = current->parsed.downRevisions;
    current = downs.empty() || !byId.count(downs.front()) ? nullptr : byId[downs.front()];
  }
  return segment;
}

std::string joined(const std::vector<std::string>& items, const std::string& empty) {
  std::string out;
  for (const auto& i : items) {
    out += (out.empty() ? "" : ",") + i;
  }
  return out.empty() ? empty : out;
}

}  // namespace

StepOutcome roundTripHistory(RunState& state) {
  const char* type = core::condition::kRoundTripPassed;
  auto& rt = state.report.roundTrip;
  if (state.request.roundtripLast == 0) {
    finishStep(state, {type, "Unknown", core::reason::kNotRun,
                       "round trips are off (--roundtrip-last 0)"});
    return StepOutcome::kContinue;
  }
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
  if (!history || history->empty()) {
    finishStep(state, {type, "Unknown", core::reason::kNotRun,
                       history ? "no revisions to round-trip" : history.error().message});
    return StepOutcome::kContinue;
  }
  std::vector<const HistoryRevision*> heads;
  for (const auto& rev : *history) {
    if (rev.entry.isHead) {
      heads.push_back(&rev);
    }
  }
  const size_t limit = static_cast<size_t>(state.request.roundtripLast);
  const std::string scratch = state.target.connection.database;
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

  rt.upgrade = "Passed";  // the history reached its heads in the previous step
  const bool liveSchema =
      state.report.baseline && state.report.baseline->source == kBaselineLiveSchema;
  std::vector<std::string> forwardSkipped;
  std::vector<std::string> done;
  std::vector<std::string> upgradeOnly;
  std::string summary;
  for (const auto* head : heads) {
    Segment segment = segmentOf(*head, *history, limit);
    const auto& labels = head->entry.branchLabels;
    const std::string branch = labels.empty() ? head->parsed.revision : labels.front();
    if (segment.upgradeOnly != nullptr && segment.revisions.empty()) {
      upgradeOnly.push_back(branch + " (" + segment.upgradeOnly->parsed.revision + ")");
      continue;
    }
    if (segment.revisions.empty()) {
      continue;
    }
    const size_t k = segment.revisions.size();
    // One head: relative to it (or all the way to base); several: relative to the branch.
    const bool toBase = heads.size() == 1 && segment.revisions.back()->parsed.downRevisions.empty();
    const std::string target = heads.size() == 1 ? (toBase ? "base" : "-" + std::to_string(k))
                                                 : branch + "@-" + std::to_string(k);

    state.driver->setTimeout(state.remaining());
    auto down = state.driver->downgrade(state.target, target);
    if (!down) {
      rt.downgrade = "Failed";
      return fail(down.error().reason, down.error().message);
    }
    if (!down->ok) {
      rt.downgrade = "Failed";
      finishTiming();
      state.roundTripFailed = true;
      failAlembic(state, type, core::reason::kDowngradeFailed, "alembic downgrade " + target,
                  *down);
      return StepOutcome::kContinue;
    }
    rt.downgrade = "Passed";
    auto afterDowngrade = fingerprintOf(state, scratch);
    auto current = state.driver->current(state.target);
    if (!afterDowngrade || !current || !current->ok) {
      return fail(core::reason::kDatabaseUnavailable,
                  "cannot read the schema and version after downgrade " + target);
    }
    const std::string at = joined(current->heads, "base");

    // The schema the downgrade should have left: a second scratch database built forward.
    // Not when the history does not build the schema from empty (a live-schema baseline):
    // then the re-upgrade below must reproduce the copy, and that is what is verified.
    if (liveSchema) {
      forwardSkipped.push_back(at);
    } else {
      std::string refName = database::scratchDatabaseName(
          state.resolved->connection.database, state.deps.now(), state.deps.randomSuffix());
      if (auto created = state.db->createDatabase(refName); !created) {
        return fail(
            core::reason::kScratchDatabaseFailed,
            "cannot create the reference database " + refName + ": " + created.error().message);
      }
      state.extraScratch.push_back(refName);
      auto ref = targetFor(state, state.target.connection.withDatabase(refName));
      if (!ref) {
        return fail(ref.error().reason, ref.error().message);
      }
      for (const auto& rev : current->heads) {
        auto up = state.driver->upgrade(*ref, rev);
        if (!up || !up->ok) {
          return fail(core::reason::kUpgradeFailed,
                      "building the reference schema of " + at +
                          " failed: " + (up ? up->describe(4) : up.error().message));
        }
      }
      auto refPrint = fingerprintOf(state, refName);
      if (!refPrint) {
        return fail(refPrint.error().reason, refPrint.error().message);
      }
      for (const auto& d : database::diffFingerprints(*refPrint, *afterDowngrade)) {
        std::string text = database::describeDifference(d, "at " + at + " built forward",
                                                        "after downgrade " + target);
        addFinding(state, {core::finding::kRoundTripDifference, sev::kError, text,
                           "a downgrade() in the last " + std::to_string(k) + " revision(s) of " +
                               branch + " does not undo its upgrade()",
                           "", 0});
        summary += (summary.empty() ? "" : "; ") + text;
      }
    }

    // Re-upgrade even after a mismatch: whether it works is part of the diagnosis.
    state.driver->setTimeout(state.remaining());
    auto again = state.driver->upgrade(state.target, "heads");
    rt.reupgrade = again && again->ok ? "Passed" : "Failed";
    if (rt.reupgrade == "Failed") {
      std::string error = again ? again->describe(4) : again.error().message;
      if (!summary.empty()) {
        return fail(core::reason::kRoundTripSchemaMismatch,
                    "downgrade " + target + " did not restore the schema of " + at + ": " +
                        summary + ". The re-upgrade then failed too: " + error);
      }
      return fail(core::reason::kReupgradeFailed,
                  "alembic upgrade heads after downgrade " + target + " failed: " + error);
    }
    auto afterReupgrade = fingerprintOf(state, scratch);
    if (!afterReupgrade) {
      return fail(afterReupgrade.error().reason, afterReupgrade.error().message);
    }
    for (const auto& d : database::diffFingerprints(*state.baseline, *afterReupgrade)) {
      std::string text = database::describeDifference(d, "at head", "after the re-upgrade");
      addFinding(state, {core::finding::kRoundTripDifference, sev::kError, text,
                         "an upgrade() is not repeatable after its downgrade()", "", 0});
      summary += (summary.empty() ? "" : "; ") + text;
    }
    if (!summary.empty()) {
      return fail(core::reason::kRoundTripSchemaMismatch,
                  "downgrade " + target + " then upgrade heads did not reproduce the schemas: " +
                      summary);
    }
    done.push_back("downgrade " + target + (liveSchema ? " reached " : " restored ") + at);
  }
  finishTiming();

  std::string message;
  for (const auto& d : done) {
    message += (message.empty() ? "" : "; ") + d;
  }
  if (!upgradeOnly.empty()) {
    message += (message.empty() ? "" : "; ") +
               std::string("upgrade-only by design, verified forward only: ") +
               joined(upgradeOnly, "");
  }
  if (done.empty()) {
    finishStep(state, {type, "True", core::reason::kUpgradeOnly, message});
    return StepOutcome::kContinue;
  }
  rt.schemaRestored = true;
  if (!forwardSkipped.empty()) {
    message += " (the schema at " + joined(forwardSkipped, "") +
               " was not compared with one built forward from empty, which this history "
               "cannot build; the live-schema baseline was reproduced by the re-upgrade)";
  }
  finishStep(state, {type, "True", core::reason::kSchemaRestored,
                     message + "; upgrade heads reproduced the heads"});
  return StepOutcome::kContinue;
}

}  // namespace alembic_sidecar::pipeline
