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

}  // namespace alembic_sidecar::pipeline
