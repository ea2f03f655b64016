#pragma once

#include <functional>
#include <memory>

#include "core/redactor.h"
#include "database/database.h"

namespace alembic_sidecar::database {

struct PgLeaseState;

/**
 * What every session this adapter opens runs with, from its first statement: PostgreSQL reads
 * them from the connection's startup packet (libpq `options`), so no method (and no statement
 * a caller hands to queryReadOnly) runs without them. A statement that cannot get its lock
 * within lockTimeout fails (SQLSTATE 55P03) instead of queueing behind an ALTER TABLE, and
 * never makes the app's own queries queue behind it.
 */
struct SessionLimits {
  std::chrono::milliseconds statementTimeout{30000};
  std::chrono::milliseconds lockTimeout{1000};
  /** A session left inside a transaction (its ACCESS SHARE locks held) is ended. */
  std::chrono::milliseconds idleInTransactionTimeout{30000};
  /** CREATE / DROP DATABASE may copy a template or wait for ended sessions to go. */
  std::chrono::milliseconds adminStatementTimeout{120000};
};

/** Database over libpqxx. Every libpqxx exception is caught here and becomes an Error. */
class PgDatabase : public Database {
 public:
  using Sleeper = std::function<void(std::chrono::milliseconds)>;

  PgDatabase(ConnectionInfo connection, core::RedactorPtr redactor, Sleeper sleeper = {},
             SessionLimits limits = {});
  ~PgDatabase() override;

  core::Status probe(const ProbePolicy& policy) override;
  core::Status createDatabase(const std::string& name) override;
  core::Status dropDatabase(const std::string& name) override;
  core::Result<std::vector<std::string>> listDatabases(const std::string& prefix) override;
  core::Result<SchemaFingerprint> fingerprint(const std::string& dbName) override;
  core::Result<int64_t> countRows(const std::string& dbName, const std::string& schema,
                                  const std::string& table, int64_t limit) override;
  core::Result<std::vector<std::string>> enumLabels(const std::string& dbName,
                                                    const std::string& typeName) override;
  core::Result<std::vector<std::string>> appliedRevisions(const std::string& dbName,
                                                          const std::string& versionTable) override;
  core::Result<std::string> identity(const std::string& dbName) override;
  core::Result<std::unique_ptr<ScratchLease>> claimScratch(const std::string& name) override;
  core::Result<std::vector<ScratchDatabase>> listScratch(const std::string& prefix) override;
  core::Result<std::vector<core::Result<QueryRows>>> queryReadOnly(
      const std::string& dbName, const std::vector<ReadOnlyQuery>& queries,
      const ReadOnlyLimits& limits) override;
  core::Status buildSchema(const std::string& name, const SchemaScript& script) override;
  const ConnectionInfo& connection() const override { return connection_; }

  /** The pg_catalog rows behind fingerprint(); exposed for tests of the queries. */
  core::Result<std::vector<CatalogObject>> readCatalog(const std::string& dbName);

 private:
  struct Sessions;

  /** Read-only sessions (default_transaction_read_only) or the few that create and drop. */
  enum class Access { kReadOnly, kAdmin };

  /**
   * The libpq conninfo of every connection this adapter opens: `dbName` (empty: the app's
   * database) with the session limits, and read-only unless `access` is kAdmin.
   */
  std::string conninfo(const std::string& dbName, Access access = Access::kReadOnly,
                       int connectTimeoutSeconds = 5) const;

  /** The exception's text with every known secret masked. */
  std::string describe(const std::exception& e) const;
  core::Error translate(const std::exception& e, const std::string& what) const;

  ConnectionInfo connection_;
  core::RedactorPtr redactor_;
  Sleeper sleeper_;
  SessionLimits limits_;
  /**
   * One open connection per database the run reads repeatedly (the scratch database's four
   * fingerprints, its identity, its alembic_version), closed before that database is dropped.
   */
  std::unique_ptr<Sessions> sessions_;
  /** The lease claimScratch() handed out, while it lives: createDatabase() marks with it. */
  std::weak_ptr<PgLeaseState> lease_;
};

}  // namespace alembic_sidecar::database
