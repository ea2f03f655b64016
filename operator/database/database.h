#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "database/connection_url.h"
#include "database/fingerprint.h"
#include "database/schema_script.h"
#include "database/scratch_owner.h"

namespace alembic_sidecar::database {

/** How long and how often to try reaching the server before giving up. */
struct ProbePolicy {
  std::chrono::milliseconds deadline{std::chrono::seconds(15)};
  std::chrono::milliseconds initialDelay{200};
  std::chrono::milliseconds maxDelay{2000};
  int connectTimeoutSeconds = 3;
};

/** A statement for queryReadOnly(): SQL with $1, $2, ... placeholders and their values. */
struct ReadOnlyQuery {
  std::string sql;
  std::vector<std::string> params;
};

/** Rows of a result as text, column by column; a NULL is nullopt. */
using QueryRows = std::vector<std::vector<std::optional<std::string>>>;

/**
 * How long a read-only query may run, and wait for a lock, before PostgreSQL cancels it; and
 * the role it runs as.
 */
struct ReadOnlyLimits {
  std::chrono::milliseconds statementTimeout{10000};
  std::chrono::milliseconds lockTimeout{1000};
  /**
   * SET ROLE to this role for the whole session (empty: the connecting user). A role with
   * superuser is refused: the checks then run with no more than its own privileges.
   */
  std::string role;
};

/**
 * One PostgreSQL server as the pipeline needs it, reached with the credentials of the
 * app's database. Methods taking a database name connect to that database on the same
 * server with the same credentials.
 */
class Database {
 public:
  virtual ~Database() = default;

  /** SELECT 1 on the app's database, retried within the policy's deadline. */
  virtual core::Status probe(const ProbePolicy& policy) = 0;
  virtual core::Status createDatabase(const std::string& name) = 0;
  /** Drops the database, ending any session still connected to it. Missing is fine. */
  virtual core::Status dropDatabase(const std::string& name) = 0;
  /** Names of databases starting with `prefix`. */
  virtual core::Result<std::vector<std::string>> listDatabases(const std::string& prefix) = 0;
  virtual core::Result<SchemaFingerprint> fingerprint(const std::string& dbName) = 0;
  /** Rows in schema.table, counted up to `limit` (a cheap "is it populated"). */
  virtual core::Result<int64_t> countRows(const std::string& dbName, const std::string& schema,
                                          const std::string& table, int64_t limit) = 0;
  /** Labels of a native enum type in sort order; empty when the type does not exist. */
  virtual core::Result<std::vector<std::string>> enumLabels(const std::string& dbName,
                                                            const std::string& typeName) = 0;
  /**
   * Rows of the version table, `table` or `schema.table` as env.py configures it (empty when
   * the table does not exist).
   */
  virtual core::Result<std::vector<std::string>> appliedRevisions(
      const std::string& dbName, const std::string& versionTable) = 0;
  /**
   * "name:oid:start" of the database: its name, its pg_database oid and the server's start
   * time. Two connections that read the same identity reach the same database of the same
   * server incarnation (the driver's isolation fence compares them).
   */
  virtual core::Result<std::string> identity(const std::string& dbName) = 0;
  /**
   * Creates the scratch database `name`, owned by the caller: takes the lock of a new
   * ScratchLease (a session-level advisory lock on a dedicated connection to the app's
   * database), creates the database and marks it with the owner (COMMENT ON DATABASE).
   * While the lease lives, createDatabase() on this object marks every database it creates
   * with the same owner. Errors: ScratchDatabaseFailed (no CREATEDB, name or lock taken),
   * DatabaseUnavailable (transient).
   */
  virtual core::Result<std::unique_ptr<ScratchLease>> claimScratch(const std::string& name) = 0;
  /** Databases starting with `prefix`, each with its owner mark and whether the owner lives. */
  virtual core::Result<std::vector<ScratchDatabase>> listScratch(const std::string& prefix) = 0;
  /**
   * Runs each query on dbName, over one connection (as limits.role when set), each in its own
   * transaction that is READ ONLY, with statement_timeout and lock_timeout set for that
   * transaction, as exactly one statement (extended protocol: a second statement cannot ride
   * along). The outer error: no connection, or the role cannot be taken. An inner error: that
   * query failed (reason Timeout when statement_timeout or lock_timeout cancelled it); the
   * next query still runs.
   */
  virtual core::Result<std::vector<core::Result<QueryRows>>> queryReadOnly(
      const std::string& dbName, const std::vector<ReadOnlyQuery>& queries,
      const ReadOnlyLimits& limits) = 0;
  /**
   * Runs `script` on the scratch database `name` in one transaction: each statement under a
   * savepoint; one that fails (an object it needs comes later) is tried again after the others,
   * until a pass makes no progress. Refuses any database that is not a scratch database of
   * the app's (scratchPrefix). Error LiveSchemaCopyFailed names the statements that did not run.
   */
  virtual core::Status buildSchema(const std::string& name, const SchemaScript& script) = 0;
  /** The app's connection (with password: never print it, use redactedUrl()). */
  virtual const ConnectionInfo& connection() const = 0;
};

}  // namespace alembic_sidecar::database
