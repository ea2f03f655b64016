#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "alembic/alembic_settings.h"

namespace alembic_sidecar::pipeline {

inline constexpr char kActionRevision[] = "revision";
inline constexpr char kActionCheck[] = "check";
inline constexpr char kActionUpgrade[] = "upgrade";
inline constexpr char kActionRoundTrip[] = "roundtrip";

inline constexpr char kIsolationScratch[] = "scratch";
inline constexpr char kIsolationInplace[] = "inplace";

// Where the scratch database starts (docs/baselines.md).
inline constexpr char kBaselineAuto[] = "auto";
/** `upgrade head` from an empty database: the history builds the schema. */
inline constexpr char kBaselineHistory[] = "history";
/** A schema-only copy of the live database at its revision (create_all + stamp head apps). */
inline constexpr char kBaselineLiveSchema[] = "live-schema";

/** Changes a human must approve before the tool lets them through. */
struct Approvals {
  bool rawSQL = false;
  bool destructive = false;
};

/** What one run is asked to do; the same for the CLI, the controller and CI. */
struct RunRequest {
  std::string action = kActionRevision;
  std::string message;  // the revision message, passed to alembic verbatim
  alembic::AlembicSettings alembic;
  /** The interpreter that runs the driver; empty: derived from the alembic command. */
  std::vector<std::string> pythonCommand;
  /** Model modules (dotted names) or paths to import and check; empty: every models package. */
  std::vector<std::string> modelPaths;
  /** revision: the head the new revision goes on (alembic's --head, e.g. "expand@head"). */
  std::string head;
  /** revision: the new revision's id (alembic's --rev-id); empty: alembic makes one up. */
  std::string revId;
  /** How long a run waits for another run's project lock before ProjectLocked. */
  std::chrono::seconds lockWait{60};
  /** The run's id (status, lock holder, staging directory name); empty: made up. */
  std::string runId;
  std::string isolation = kIsolationScratch;
  /** What the scratch database starts from: auto, history or live-schema. */
  std::string baseline = kBaselineAuto;
  Approvals approvals;
  int roundtripLast = 1;
  /** Live tables with at least this many rows count as large (NonConcurrentIndex). */
  int64_t largeTableRows = 100000;
  /** statement_timeout of each live-data check on the app's database. */
  std::chrono::milliseconds liveCheckTimeout{10000};
  /** The role (without superuser) the live-data checks SET ROLE to; empty: the app's user. */
  std::string liveRole;
  std::chrono::seconds timeout{900};
};

}  // namespace alembic_sidecar::pipeline
