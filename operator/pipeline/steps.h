#pragma once

#include "pipeline/run_state.h"

namespace alembic_sidecar::pipeline {

// The six steps. Each reads what earlier steps left in RunState, records its condition,
// and says whether the run goes on.

/** 1. Resolve a connection and probe it: condition DatabaseReady. */
StepOutcome resolveDatabase(RunState& state);
/** 2. Every mapped class is imported from env.py: condition ModelsRegistered. */
StepOutcome checkModels(RunState& state);
/** 3. Isolate, upgrade to head, autogenerate: condition RevisionGenerated. */
StepOutcome generate(RunState& state);
/** 4. Parse and analyse the new revision; empty ones are removed: condition Validated. */
StepOutcome validate(RunState& state);
/** 5. upgrade head, downgrade -1, upgrade head with schema fingerprints: RoundTripPassed. */
StepOutcome roundTrip(RunState& state);
/** 6. Decide the phase from the findings: condition Ready. */
StepOutcome escalate(RunState& state);

// The steps of check, roundtrip and upgrade (the existing history, no new revision).

/** Scratch database at head; compare_metadata through the helper: condition ModelsInSync. */
StepOutcome checkSync(RunState& state);
/** Every revision analysed (the last N at full severity) and its SQL linted: Validated. */
StepOutcome lintHistory(RunState& state);
/** downgrade -N, compare with the schema built forward to there, upgrade head: RoundTripPassed. */
StepOutcome roundTripHistory(RunState& state);
/** alembic upgrade head on the app's own database: condition DatabaseUpgraded. */
StepOutcome upgradeLive(RunState& state);
/** Phase of a check / roundtrip / upgrade run from its failures and findings: Ready. */
StepOutcome conclude(RunState& state);

}  // namespace alembic_sidecar::pipeline
