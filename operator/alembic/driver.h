#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "alembic/revision_analysis.h"
#include "core/report.h"
#include "core/result.h"
#include "database/connection_url.h"
#include "workspace/workspace.h"

namespace alembic_sidecar::alembic {

/** The database a request may reach: the URL env.py is offered, and the fence's identity. */
struct DriverTarget {
  database::ConnectionInfo connection;
  /** "name:oid:start" of the one database connections may reach; empty: none at all. */
  std::string identity;
};

/** How one alembic operation went. Transport failures are Result errors instead. */
struct OpOutcome {
  bool ok = false;
  /** The exception's type (CommandError, ProgrammingError, IsolationBreached, ...). */
  std::string errorType;
  /** The line that says what failed: alembic's "FAILED: ..." or "Type: first line". */
  std::string errorLine;
  /** A short tail: alembic's output and the end of the traceback. */
  std::string tail;
  /** alembic's and env.py's output during the operation. */
  std::string output;
  /** Set when the fence refused a connection env.py tried: what it tried. */
  std::optional<std::string> breach;
  int64_t durationMs = 0;

  /** "errorLine" plus up to `tailLines` lines of tail, for messages. */
  std::string describe(size_t tailLines = 6) const;
};

/** What the driver learned at start (hello). */
struct DriverInfo {
  std::string python;
  std::string pythonVersion;
  std::string alembicVersion;
  std::string sqlalchemyVersion;
  /** PostgreSQL DBAPI modules the app's interpreter can import (asyncpg, psycopg2...). */
  std::vector<std::string> drivers;
  bool asyncEnv = false;
  std::string scriptLocation;
  std::string envPy;
  std::string envPySource;
  std::vector<std::string> versionLocations;
  /** The run-private directory new revisions are written to; empty when none. */
  std::string staging;
};

struct RevisionOutcome : OpOutcome {
  /** The generated file (relative to the project), empty when env.py produced none. */
  std::string file;
  std::string text;
  std::string revision;
  std::vector<std::string> downRevisions;
  /** The version location alembic itself would have written it to. */
  std::string destination;
  /** autogenerate found nothing to write. */
  bool empty = false;
  std::vector<core::Operation> operations;
};

struct HistoryEntry {
  std::string revision;
  std::vector<std::string> downRevisions;
  std::vector<std::string> branchLabels;
  std::vector<std::string> dependsOn;
  std::string path;
  bool isHead = false;
  bool isMerge = false;
};

struct HistoryOutcome : OpOutcome {
  std::vector<HistoryEntry> revisions;  // base first
  std::vector<std::string> heads;
};

/**
 * One difference between the models and the schema at head of a kind autogenerate does not
 * compare (see driver/alembic_sidecar_uncompared.py). `model` / `database` are the two texts;
 * empty where that side has none (a constraint only the models declare, say).
 */
struct UncomparedDifference {
  std::string kind;  // server_default, check_constraint, computed, identity, index_predicate,
                     // comment
  std::string schema;
  std::string table;
  std::string column;  // server_default, computed, identity, a column's comment
  std::string name;    // check_constraint, index_predicate
  std::string model;
  std::string database;
};

struct CompareOutcome : OpOutcome {
  std::optional<bool> compareType;
  std::optional<bool> compareServerDefault;
  std::vector<ModelEnum> enums;
  bool inSync = true;
  std::vector<core::Operation> pendingOps;
  /** What autogenerate leaves out, compared; meaningful when uncomparedChecked. */
  std::vector<UncomparedDifference> uncompared;
  bool uncomparedChecked = false;
  /** Why the comparison did not run (the exception's line), when it did not. */
  std::string uncomparedError;
  /** Server defaults were compared by the driver (env.py leaves compare_server_default off). */
  bool serverDefaultsCompared = false;
};

struct CurrentOutcome : OpOutcome {
  /** The target's applied revisions (one per branch). */
  std::vector<std::string> heads;
};

struct UnregisteredModel {
  std::string className;
  std::string module;
  std::string table;
  std::string file;
  int line = 0;
  std::string fix;
  bool otherMetadata = false;
};

struct ModelImportFailure {
  std::string module;
  std::string file;
  std::string line;
};

struct ModelsOutcome : OpOutcome {
  /** How env.py was loaded: "offline" or "online" (fenced, no connection allowed). */
  std::string source;
  std::vector<std::string> tables;
  /** The tables mapped by SQLModel classes: the project's idiom for advice is Field(...). */
  std::vector<std::string> sqlmodelTables;
  std::string metadataModule;
  std::string metadataFile;
  std::vector<std::string> modules;
  std::vector<UnregisteredModel> unregistered;
  std::vector<ModelImportFailure> importFailures;
  /** env.py's version table: `table` or `schema.table`. */
  std::string versionTable = "alembic_version";
};

/**
 * Every Python-side operation of one run, served by one interpreter (see the modules in driver/).
 * Methods block until the driver answers or the timeout set with setTimeout() passes; an
 * error result means the driver is gone (crashed, timed out, cancelled), never that alembic
 * failed (that is an OpOutcome with ok false).
 */
class Driver {
 public:
  virtual ~Driver() = default;

  virtual const DriverInfo& info() const = 0;
  /** Bounds every later request (the run's remaining time). */
  virtual void setTimeout(std::chrono::milliseconds timeout) = 0;
  /** The SQLAlchemy scheme of the run (postgresql+asyncpg...), for offline work's URL. */
  virtual void setScheme(const std::string& scheme) = 0;

  virtual core::Result<OpOutcome> upgrade(const DriverTarget& target,
                                          const std::string& revision) = 0;
  virtual core::Result<OpOutcome> downgrade(const DriverTarget& target,
                                            const std::string& revision) = 0;
  /**
   * `alembic revision --autogenerate -m message [--head head] [--rev-id revId]`, written to
   * staging.
   */
  virtual core::Result<RevisionOutcome> revision(const DriverTarget& target,
                                                 const std::string& message,
                                                 const std::string& head,
                                                 const std::string& revId) = 0;
  virtual core::Result<HistoryOutcome> history() = 0;
  /** The target's applied revisions, read through env.py (its version table). */
  virtual core::Result<CurrentOutcome> current(const DriverTarget& target) = 0;
  /** compare_metadata against the target, with the models' enum labels. */
  virtual core::Result<CompareOutcome> compare(const DriverTarget& target) = 0;
  /** `alembic upgrade <range> --sql`: the offline SQL, in `sql` on success. */
  virtual core::Result<OpOutcome> offlineSql(const std::string& range, std::string& sql) = 0;
  /** pyflakes on a file's text; its report lines. Error: pyflakes is not importable. */
  virtual core::Result<std::string> pyflakes(const std::string& source,
                                             const std::string& filename) = 0;
  /** Step 2: every mapped table against target_metadata (see alembic_sidecar_models.py). */
  virtual core::Result<ModelsOutcome> models(const std::vector<std::string>& declared) = 0;
  /** Moves a staged revision into `destination`; returns its new path. */
  virtual core::Result<std::string> adopt(const std::string& file,
                                          const std::string& destination) = 0;
  /** Removes the staging directory. */
  virtual core::Status discard() = 0;
  /** The project's files, read through the driver (no further exec session in a pod). */
  virtual workspace::Workspace& files() = 0;
  /** Ends the driver (it exits; the project lock is released). Idempotent. */
  virtual void shutDown() = 0;
};

}  // namespace alembic_sidecar::alembic
